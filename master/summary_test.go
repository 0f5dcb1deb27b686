package master

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"

	"gomr.dev/mr"
)

// The summary, written a page of tasks at a time, is the JSON of the
// whole snapshot, byte for byte.
func TestSummaryStreamsEveryTask(t *testing.T) {
	defer func(n int) { summaryPage = n }(summaryPage)
	for _, page := range []int{1, 7, 25, 1000} {
		summaryPage = page
		s := newTestScheduler(20, 5)
		for range 8 {
			_, task := s.Assign("a", t0)
			s.Complete(ok("a", task, 5), t0)
		}
		s.Complete(mr.ReportArgs{Worker: "a", Task: mr.TaskRef{Kind: mr.MapTask, ID: 19, Attempt: 1}, Failure: `boom "tasks": []`}, t0)
		m := &Master{sched: s}
		want, err := json.MarshalIndent(m.Snapshot(Query{Limit: -1, Workers: -1, History: true}), "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := m.writeSummary(&got, m.Snapshot(Query{Limit: summaryPage, Workers: -1, History: true})); err != nil {
			t.Fatal(err)
		}
		if blank(got.String()) != blank(string(want)+"\n") {
			t.Fatalf("page %d: summary\n%s\nwant\n%s", page, got.String(), want)
		}
		if !json.Valid(got.Bytes()) {
			t.Fatalf("page %d: not JSON", page)
		}
	}
}

// clocked blanks what depends on when a snapshot was taken.
var clocked = regexp.MustCompile(`("(now|elapsed_seconds|seconds|bytes_per_second|eta_seconds|silent_seconds)": )[^,\n]*`).ReplaceAllString

func blank(s string) string { return clocked(s, "$1?") }
