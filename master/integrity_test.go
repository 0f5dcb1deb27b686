package master

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

// corruptReport is reduce attempt task's report that segs were damaged.
func corruptReport(w string, task mr.Task, segs ...mr.Segment) mr.ReportArgs {
	rep := mr.ReportArgs{Worker: w, Task: task.TaskRef}
	for _, s := range segs {
		rep.Corrupt = append(rep.Corrupt, mr.CorruptSegment{Segment: s, Why: "codec: corrupt run: s2: corrupt input, crc mismatch"})
	}
	return rep
}

// A reduce that finds segments corrupt is lost, not failed, and the map
// tasks that wrote them run again, elsewhere if possible, whether their
// output was kept on a worker or in the shared directory (which a dead
// worker's output would outlive).
func TestCorruptOutputRunsAgain(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			s, r0 := deathScheduler(t, shared)
			now := t0.Add(time.Second)
			if o := s.Complete(corruptReport("b", r0, runs(t, r0)...), now); o != Retrying {
				t.Fatalf("Complete(corrupt) = %v; want retrying", o)
			}
			ev := s.Events()
			if len(ev) != 2 {
				t.Fatalf("events = %v; want both maps run again", ev)
			}
			for i, e := range ev {
				if e.Task.Kind != mr.MapTask || e.Task.ID != i || !strings.Contains(e.What, "corrupt") {
					t.Fatalf("event %d = %v; want map %d run again for corrupt output", i, e, i)
				}
			}
			st := s.Status()
			if st.MapsDone != 0 || st.Failure != "" || st.Stats[mr.AttemptsLost] != 1 || st.Stats[mr.AttemptsFailed] != 0 {
				t.Fatalf("status = %+v; want no maps done, one attempt lost, none failed", st)
			}
			// Each map goes to the worker that did not write the corrupt copy.
			mustAssign(t, s, "a", now, mr.MapTask, 1)
			mustAssign(t, s, "b", now, mr.MapTask, 0)
			if a, _ := s.Assign("c", now); a != mr.Wait {
				t.Fatalf("Assign = %v; want wait for the maps", a)
			}
		})
	}
}

// A report naming segments that are no longer a map task's output (it
// already ran again) loses the reduce attempt but runs nothing again.
func TestStaleCorruptReport(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	now := t0.Add(time.Second)
	s.Complete(corruptReport("b", r0, runs(t, r0)[0]), now)
	s.Events()
	m0 := mustAssign(t, s, "b", now, mr.MapTask, 0)
	s.Complete(kept("b", "10.0.0.2:7000", m0, 2), now)
	r0b := mustAssign(t, s, "b", now, mr.ReduceTask, 0)
	if o := s.Complete(corruptReport("b", r0b, runs(t, r0)[0]), now); o != Retrying {
		t.Fatalf("Complete(stale corrupt) = %v; want retrying", o)
	}
	if ev := s.Events(); len(ev) != 0 || s.Status().MapsDone != 2 {
		t.Fatalf("events = %v, maps done %d; a stale segment must not run a map again", ev, s.Status().MapsDone)
	}
	// A corrupt report is never mistaken for a duplicate success.
	if o := s.Complete(corruptReport("b", r0b, runs(t, r0)[0]), now); o != Ignored {
		t.Fatalf("second report of a lost attempt = %v; want ignored", o)
	}
}

// Storage that corrupts every output cannot keep a job going for ever:
// MaxLost consecutive losses of the reduce fail the job, saying why.
func TestRepeatedCorruptionFailsTheJob(t *testing.T) {
	s := newTestScheduler(1, 1) // MaxLost 5
	now := t0
	var o Outcome
	for i := range 5 {
		m := mustAssign(t, s, "a", now, mr.MapTask, 0)
		s.Complete(ok("a", m, 1), now)
		r := mustAssign(t, s, "a", now, mr.ReduceTask, 0)
		if r.Attempt != i+1 {
			t.Fatalf("reduce attempt %d; want %d", r.Attempt, i+1)
		}
		if o = s.Complete(corruptReport("a", r, runs(t, r)[0]), now); o != Retrying && i < 4 {
			t.Fatalf("loss %d: %v; want retrying", i+1, o)
		}
		now = now.Add(time.Second)
	}
	if o != JobFailed || !strings.Contains(s.Failure(), "lost 5 times in a row") || !strings.Contains(s.Failure(), "corrupt") {
		t.Fatalf("after 5 losses: %v, failure %q; want the job failed for corrupt map output", o, s.Failure())
	}
}

// Collected output that arrives damaged loses the attempt, and the task
// runs again; only a running reduce attempt can be so lost.
func TestDamagedCollectedOutputIsLost(t *testing.T) {
	s := newTestScheduler(1, 1)
	m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	if o := s.Damaged(ok("a", m, 1), "damaged", t0); o != Ignored {
		t.Fatalf("Damaged(map) = %v; want ignored", o)
	}
	s.Complete(ok("a", m, 1), t0)
	r := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	if o := s.Damaged(ok("intruder", r, 1), "damaged", t0); o != Ignored {
		t.Fatalf("Damaged from another worker = %v; want ignored", o)
	}
	if o := s.Damaged(ok("a", r, 1), "its output arrived damaged", t0); o != Retrying {
		t.Fatalf("Damaged = %v; want retrying", o)
	}
	st := s.Status()
	if st.Stats[mr.AttemptsLost] != 1 || st.Stats[mr.AttemptsFailed] != 0 || st.ReducesDone != 0 {
		t.Fatalf("status = %+v; want one attempt lost, none failed", st)
	}
	if o := s.Damaged(ok("a", r, 1), "again", t0); o != Ignored {
		t.Fatalf("Damaged of a lost attempt = %v; want ignored", o)
	}
	r2 := mustAssign(t, s, "b", t0, mr.ReduceTask, 0)
	if o := s.Complete(ok("b", r2, 1), t0); o != Accepted || s.Output(0) != "out0-a2" {
		t.Fatalf("Complete(attempt 2) = %v, output %q", o, s.Output(0))
	}
}
