package master

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

// skipScheduler has one map task over a text split that starts at byte
// 1000 of its file, whose text starts at 1010, and one reduce task; a task
// fails the job after 2 failures or 2 losses in a row.
func skipScheduler(n int) *Scheduler {
	sp := mr.Split{File: "in.txt", Offset: 1000, Length: 5000}
	return NewScheduler(Config{Tasks: [][]mr.Split{{sp}}, NReduce: 1, TaskTimeout: 10 * time.Second, WorkerTimeout: time.Hour,
		MaxAttempts: 2, MaxLost: 2, Start: t0, SkipBadRecords: n, TextStarts: map[mr.Split]int64{sp: 1010}})
}

// rng is a map mark of lines [start, end); line a mark of one line.
func rng(start, end int64) *mr.Mark { return &mr.Mark{Start: start, End: end} }
func line(start, end int64) *mr.Mark {
	return &mr.Mark{Start: start, End: end, Record: true, Text: "BAD", Line: 7}
}

// batch is a reduce mark of keys from key on; key one key.
func batch(key string) *mr.Mark { return &mr.Mark{Key: key, Keys: 4096} }
func key(k string) *mr.Mark     { return &mr.Mark{Key: k, Keys: 1, Record: true} }

// planString shows a skip plan compactly: "-" for none, else the suspect
// and the records to skip.
func planString(p *mr.SkipPlan) string {
	if p == nil {
		return "-"
	}
	show := func(m mr.Mark) string {
		if m.Keys > 0 {
			return fmt.Sprintf("%s+%d", m.Key, m.Keys)
		}
		return fmt.Sprintf("%d-%d", m.Start, m.End)
	}
	s := "suspect "
	if p.Suspect == nil {
		s += "none"
	} else {
		s += show(*p.Suspect)
	}
	var recs []string
	for _, r := range p.Records {
		recs = append(recs, show(r))
	}
	return s + " skip [" + strings.Join(recs, " ") + "]"
}

// crash is how one attempt ends: it dies (its marks were sent, then it
// went silent) or reports a panic, in app code at mark; a nil mark is a
// failure outside app code, such as an unreadable input.
type crash struct {
	die  bool
	mark *mr.Mark
	// what the scheduler must do: the outcome of a reported failure
	// (Retrying or JobFailed; for a death, JobFailed or not), and the plan
	// the next attempt gets.
	want Outcome
	plan string
}

func TestSkipBadRecords(t *testing.T) {
	tests := []struct {
		name    string
		kind    mr.TaskKind
		skip    int // --skip-bad-records
		crashes []crash
		skipped []string // the records the job left out, as described
		failure string   // what the job's failure says, if it fails
	}{{
		name: "a panic narrows down to a line, which is skipped after two",
		kind: mr.MapTask, skip: 1,
		crashes: []crash{
			{mark: rng(0, 4000), want: Retrying, plan: "suspect 0-4000 skip []"},
			{mark: rng(1000, 1016), want: Retrying, plan: "suspect 1000-1016 skip []"},
			{mark: line(1004, 1008), want: Retrying, plan: "suspect 1004-1008 skip []"},
			{mark: line(1004, 1008), want: Retrying, plan: "suspect none skip [1004-1008]"},
		},
		skipped: []string{`in.txt byte 2014: "BAD"`},
	}, {
		name: "deaths narrow down to a line too",
		kind: mr.MapTask, skip: 1,
		crashes: []crash{
			{die: true, mark: rng(0, 4000), plan: "suspect 0-4000 skip []"},
			{die: true, mark: rng(1000, 1016), plan: "suspect 1000-1016 skip []"},
			{die: true, mark: line(1004, 1008), plan: "suspect 1004-1008 skip []"},
			{mark: line(1004, 1008), want: Retrying, plan: "suspect none skip [1004-1008]"},
		},
		skipped: []string{`in.txt byte 2014: "BAD"`},
	}, {
		name: "two bad lines in one task",
		kind: mr.MapTask, skip: 2,
		crashes: []crash{
			{mark: line(0, 10), want: Retrying, plan: "suspect 0-10 skip []"},
			{die: true, mark: line(0, 10), plan: "suspect none skip [0-10]"},
			{die: true, mark: rng(10, 4000), plan: "suspect 10-4000 skip [0-10]"},
			{mark: line(20, 30), want: Retrying, plan: "suspect 20-30 skip [0-10]"},
			{mark: line(20, 30), want: Retrying, plan: "suspect none skip [0-10 20-30]"},
		},
		skipped: []string{`in.txt byte 1010: "BAD"`, `in.txt byte 1030: "BAD"`},
	}, {
		name: "one bad record more than allowed fails the job",
		kind: mr.MapTask, skip: 1,
		crashes: []crash{
			{mark: line(0, 10), want: Retrying, plan: "suspect 0-10 skip []"},
			{mark: line(0, 10), want: Retrying, plan: "suspect none skip [0-10]"},
			{mark: line(20, 30), want: Retrying, plan: "suspect 20-30 skip [0-10]"},
			{mark: line(20, 30), want: JobFailed},
		},
		skipped: []string{`in.txt byte 1010: "BAD"`},
		failure: `map task 0 (input in.txt bytes 1000-6000) crashed twice on in.txt byte 1030: "BAD", one bad record more than --skip-bad-records 1 allows`,
	}, {
		name: "crashes that do not narrow count as failures",
		kind: mr.MapTask, skip: 5,
		crashes: []crash{
			{mark: rng(0, 1000), want: Retrying, plan: "suspect 0-1000 skip []"},
			{mark: rng(2000, 3000), want: Retrying, plan: "suspect 2000-3000 skip []"},
			{mark: rng(0, 1000), want: JobFailed},
		},
		failure: "failed 2 times",
	}, {
		name: "deaths that do not narrow count as losses",
		kind: mr.MapTask, skip: 5,
		crashes: []crash{
			{die: true, mark: rng(0, 1000), plan: "suspect 0-1000 skip []"},
			{die: true, mark: rng(2000, 3000), plan: "suspect 2000-3000 skip []"},
			{die: true, mark: rng(0, 1000), want: JobFailed},
		},
		failure: "lost 2 times in a row",
	}, {
		name: "failures outside app code count as before",
		kind: mr.MapTask, skip: 5,
		crashes: []crash{
			{want: Retrying, plan: "suspect none skip []"},
			{want: JobFailed},
		},
		failure: "failed 2 times",
	}, {
		name: "a death after app code is done is no crash",
		kind: mr.MapTask, skip: 5,
		crashes: []crash{
			{die: true, mark: &mr.Mark{}, plan: "suspect none skip []"},
			{die: true, mark: &mr.Mark{}, want: JobFailed},
		},
		failure: "lost 2 times in a row",
	}, {
		name: "off: crashes fail the job as before",
		kind: mr.MapTask, skip: 0,
		crashes: []crash{
			{mark: line(0, 10), want: Retrying, plan: "-"},
			{mark: line(0, 10), want: JobFailed},
		},
		failure: "failed 2 times",
	}, {
		name: "a reduce key: a batch, then the key, then skipped",
		kind: mr.ReduceTask, skip: 1,
		crashes: []crash{
			{die: true, mark: batch("apple"), plan: "suspect apple+4096 skip []"},
			{die: true, mark: key("banana"), plan: "suspect banana+1 skip []"},
			{mark: key("banana"), want: Retrying, plan: "suspect none skip [banana+1]"},
		},
		skipped: []string{`key "banana"`},
	}, {
		name: "a reduce crash in another batch does not narrow",
		kind: mr.ReduceTask, skip: 1,
		crashes: []crash{
			{die: true, mark: batch("apple"), plan: "suspect apple+4096 skip []"},
			{die: true, mark: batch("cherry"), plan: "suspect cherry+4096 skip []"},
			{die: true, mark: batch("apple"), want: JobFailed},
		},
		failure: "lost 2 times in a row",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := skipScheduler(tc.skip)
			now := t0
			if tc.kind == mr.ReduceTask {
				m := mustAssign(t, s, "w", now, mr.MapTask, 0)
				s.Complete(ok("w", m, 1), now)
			}
			want := map[bool]string{true: "suspect none skip []", false: "-"}[tc.skip > 0]
			for i, c := range tc.crashes {
				task := mustAssign(t, s, "w", now, tc.kind, 0)
				if got := planString(task.Skip); got != want {
					t.Fatalf("attempt %d's plan: %s; want %s", i+1, got, want)
				}
				var got Outcome
				if c.die {
					if c.mark != nil {
						s.Mark(mr.MarkArgs{Worker: "w", Task: task.TaskRef, Mark: withSeq(c.mark, 1)})
					}
					now = now.Add(11 * time.Second)
					s.Expire(now)
					if s.Failure() != "" {
						got = JobFailed
					}
				} else {
					got = s.Complete(mr.ReportArgs{Worker: "w", Task: task.TaskRef, Failure: "panic: boom", Mark: c.mark}, now)
				}
				if got != c.want {
					t.Fatalf("crash %d: outcome %v; want %v (job failure %q)", i+1, got, c.want, s.Failure())
				}
				if got == JobFailed {
					break
				}
				want = c.plan
			}
			if !strings.Contains(s.Failure(), tc.failure) || (tc.failure == "") != (s.Failure() == "") {
				t.Fatalf("job failure %q; want %q", s.Failure(), tc.failure)
			}
			var where []string
			for _, r := range s.Skipped() {
				where = append(where, r.Where)
			}
			if fmt.Sprint(where) != fmt.Sprint(tc.skipped) {
				t.Fatalf("skipped %q; want %q", where, tc.skipped)
			}
			if n := s.Status().Stats[mr.RecordsSkipped]; n != int64(len(tc.skipped)) {
				t.Fatalf("records_skipped = %d; want %d", n, len(tc.skipped))
			}
		})
	}
}

func withSeq(m *mr.Mark, seq int64) mr.Mark {
	c := *m
	c.Seq = seq
	return c
}

// An app that crashes at random, always inside the range it crashed in
// last, as if it were narrowing in, still fails the job: only maxNarrow
// crashes go uncounted.
func TestSkipNarrowingIsBounded(t *testing.T) {
	s := skipScheduler(5)
	now := t0
	for i := 0; ; i++ {
		task := mustAssign(t, s, "w", now, mr.MapTask, 0)
		o := s.Complete(mr.ReportArgs{Worker: "w", Task: task.TaskRef, Failure: "panic", Mark: rng(0, int64(4000-i))}, now)
		if o == JobFailed {
			if want := maxNarrow + 2; i+1 != want {
				t.Fatalf("job failed after %d crashes; want %d (%d narrowing, then --max-attempts)", i+1, want, maxNarrow)
			}
			return
		}
		if i > 100 {
			t.Fatal("the job never failed")
		}
	}
}

// Marks may arrive out of order, and only the attempt's own worker's
// count; a death is blamed on the latest.
func TestSkipMarksOrder(t *testing.T) {
	s := skipScheduler(1)
	task := mustAssign(t, s, "w", t0, mr.MapTask, 0)
	s.Mark(mr.MarkArgs{Worker: "w", Task: task.TaskRef, Mark: withSeq(rng(100, 200), 2)})
	s.Mark(mr.MarkArgs{Worker: "w", Task: task.TaskRef, Mark: withSeq(rng(0, 100), 1)})
	s.Mark(mr.MarkArgs{Worker: "x", Task: task.TaskRef, Mark: withSeq(rng(300, 400), 3)})
	bad := task.TaskRef
	bad.Attempt = 2
	s.Mark(mr.MarkArgs{Worker: "w", Task: bad, Mark: withSeq(rng(300, 400), 4)})
	s.Expire(t0.Add(11 * time.Second))
	_, next := s.Assign("w", t0.Add(11*time.Second))
	if got := planString(next.Skip); got != "suspect 100-200 skip []" {
		t.Fatalf("plan %s; want the latest mark of the attempt's own worker", got)
	}
}

// An attempt lost to silence that reports a failure later was blamed
// once already, and is not blamed again.
func TestSkipLostThenFailedIsOneCrash(t *testing.T) {
	s := skipScheduler(1)
	task := mustAssign(t, s, "w", t0, mr.MapTask, 0)
	s.Mark(mr.MarkArgs{Worker: "w", Task: task.TaskRef, Mark: withSeq(line(0, 10), 1)})
	now := t0.Add(11 * time.Second)
	s.Expire(now)
	s.Complete(mr.ReportArgs{Worker: "w", Task: task.TaskRef, Failure: "panic", Mark: line(0, 10)}, now)
	_, next := s.Assign("w", now)
	if got := planString(next.Skip); got != "suspect 0-10 skip []" {
		t.Fatalf("plan %s; want the line pinned once, not skipped", got)
	}
	if len(s.Skipped()) != 0 {
		t.Fatalf("skipped %v", s.Skipped())
	}
}

// A worker's mark must name records of its task; others are ignored.
func TestSkipInvalidMarks(t *testing.T) {
	s := skipScheduler(1)
	task := mustAssign(t, s, "w", t0, mr.MapTask, 0)
	o := s.Complete(mr.ReportArgs{Worker: "w", Task: task.TaskRef, Failure: "panic", Mark: &mr.Mark{Split: 3, Start: 0, End: 10}}, t0)
	if o != Retrying || s.maps[0].failures != 1 {
		t.Fatalf("outcome %v, failures %d; want a failure counted as usual", o, s.maps[0].failures)
	}
}

// Columnar records are named by their row in the split.
func TestSkippedColumnarRow(t *testing.T) {
	sp := mr.Split{File: "t.parquet", Format: "parquet", First: 2, Count: 2, Length: 100}
	s := NewScheduler(Config{Tasks: [][]mr.Split{{sp}}, NReduce: 1, TaskTimeout: time.Second, MaxAttempts: 2, MaxLost: 2, Start: t0, SkipBadRecords: 1})
	for range 2 {
		task := mustAssign(t, s, "w", t0, mr.MapTask, 0)
		s.Complete(mr.ReportArgs{Worker: "w", Task: task.TaskRef, Failure: "panic", Mark: line(40, 50)}, t0)
	}
	rec := s.Skipped()
	if len(rec) != 1 || rec[0].Where != `row 7 of input t.parquet row groups 2-3: "BAD"` || *rec[0].Row != 7 || rec[0].Offset != nil {
		t.Fatalf("skipped %+v", rec)
	}
}
