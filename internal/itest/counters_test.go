package itest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gomr.dev/master"
	"gomr.dev/mr"
)

// A job's counters count each task once, however many attempts it took:
// the first attempt at half the inputs panics after its Map has counted
// its lines, and a worker that had counted lines and sent them in
// heartbeats is cancelled mid-task and its attempt lost. The final "lines"
// counter and map_input_records must both be the inputs' true number of
// lines, and the other built-ins must agree with each other and the output.
//
// The registry of mr.Counter is process-wide, and every worker here is in
// this one process, so at most one task counts at a time: the cancelled
// worker blocks, having counted, before the healthy one starts, and there
// is one healthy worker with one slot. With tasks counting concurrently in
// a process, a failed attempt may carry away another's increments (see
// worker's progress.claim).
func TestCountersCountCommittedAttemptsOnly(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 6) // one map task each
	var wantLines, wantBytes int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		wantLines += int64(strings.Count(string(b), "\n"))
		wantBytes += int64(len(b))
	}
	lines := mr.Counter("itest-lines")
	before := mr.CounterValues()[lines.Name()]

	var tried sync.Map // input file -> true once a healthy Map has seen it
	good := wordCount()
	inner := good.Map
	good.Map = func(file, contents string) []mr.KeyValue {
		lines.Add(int64(strings.Count(contents, "\n")))
		_, again := tried.LoadOrStore(file, true)
		if !again && (strings.HasSuffix(file, "-0.txt") || strings.HasSuffix(file, "-2.txt") || strings.HasSuffix(file, "-4.txt")) {
			panic("first try at " + filepath.Base(file))
		}
		return inner(file, contents)
	}

	release := make(chan struct{})
	var stalled atomic.Bool
	doomed := wordCount()
	doomed.Map = func(file, contents string) []mr.KeyValue {
		lines.Add(int64(strings.Count(contents, "\n")))
		if stalled.CompareAndSwap(false, true) {
			<-release
		}
		return inner(file, contents)
	}

	c := startMaster(t, master.Options{Inputs: files, NReduce: 3, TaskTimeout: 300 * time.Millisecond})
	doomedCtx, cancel := context.WithCancel(c.ctx)
	doomedDone := c.worker(doomedCtx, doomed, "doomed")
	// Its heartbeats carry the lines it counted to the master's live view.
	waitUntil(t, "the stalled attempt's lines in the running counters", func() bool {
		return c.m.Snapshot(master.Query{}).Running.User[lines.Name()] > 0
	})
	cancel() // its heartbeats stop: the attempt will be lost
	waitUntil(t, "the stalled attempt to be lost", func() bool {
		return c.m.Status().Stats[mr.AttemptsLost] >= 1
	})
	goodDone := c.worker(c.ctx, good, "good")
	if err := c.wait(); err != nil {
		t.Fatalf("master: %v", err)
	}
	if err := <-goodDone; err != nil {
		t.Errorf("good worker: %v", err)
	}
	close(release)
	<-doomedDone // cancelled: its report cannot be sent

	if counted := mr.CounterValues()[lines.Name()] - before; counted <= wantLines {
		t.Fatalf("the app counted %d lines in all; want more than the %d of the inputs, or the test tests nothing", counted, wantLines)
	}
	js := c.m.Snapshot(master.Query{})
	if got := js.Counters.User[lines.Name()]; got != wantLines {
		t.Errorf("user counter %q = %d; want %d, the inputs' lines", lines.Name(), got, wantLines)
	}
	st := c.m.Status().Stats
	b := js.Counters.Builtin
	for _, s := range []mr.Stat{mr.MapInputRecords, mr.MapInputBytes, mr.AttemptsFailed, mr.AttemptsLost} {
		if b[s.String()] != st[s] {
			t.Errorf("%v: %d in the snapshot, %d in Status", s, b[s.String()], st[s])
		}
	}
	if st[mr.MapInputRecords] != wantLines || st[mr.MapInputBytes] != wantBytes {
		t.Errorf("map input: %d records, %d bytes; want %d, %d", st[mr.MapInputRecords], st[mr.MapInputBytes], wantLines, wantBytes)
	}
	if st[mr.AttemptsFailed] != 3 || st[mr.AttemptsLost] < 1 {
		t.Errorf("%d attempts failed, %d lost; want 3, at least 1", st[mr.AttemptsFailed], st[mr.AttemptsLost])
	}
	// Each line of the inputs has three words; wordCount has no Combine.
	out := sortedOutput(t, c.out)
	var outBytes int64
	for _, l := range out {
		outBytes += int64(len(l) + 1)
	}
	for _, check := range []struct {
		what      string
		got, want int64
	}{
		{"map output records", st[mr.MapOutputRecords], 3 * wantLines},
		{"reduce input records", st[mr.ReduceInputRecords], 3 * wantLines},
		{"reduce input groups", st[mr.ReduceInputGroups], int64(len(out))},
		{"output records", st[mr.OutputRecords], int64(len(out))},
		{"output bytes", st[mr.OutputBytes], outBytes},
		{"combine input records", st[mr.CombineInputRecords], 0},
	} {
		if check.got != check.want {
			t.Errorf("%s = %d; want %d", check.what, check.got, check.want)
		}
	}
	if st[mr.ShuffleBytes] == 0 || st[mr.MapOutputMaterialized] != st[mr.ShuffleBytes] {
		t.Errorf("shuffle bytes %d; want all of the %d bytes of map output", st[mr.ShuffleBytes], st[mr.MapOutputMaterialized])
	}
}

// waitUntil polls cond until it holds, failing the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
