package master

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestScheduler(nMap, nReduce int) *Scheduler {
	tasks := make([][]mr.Split, nMap)
	for i := range tasks {
		tasks[i] = []mr.Split{{File: fmt.Sprintf("in-%d", i), Length: 10, Whole: true}}
	}
	return NewScheduler(Config{Tasks: tasks, NReduce: nReduce, TaskTimeout: 10 * time.Second, WorkerTimeout: time.Hour, MaxAttempts: 3, MaxLost: 5, Start: t0})
}

// runs lists the map outputs reduce task r is told to read, in map task
// order, as it names them in reports.
func runs(t *testing.T, r mr.Task) []mr.Segment {
	t.Helper()
	srcs, err := r.Locations.Sources(r.NMap)
	if err != nil {
		t.Fatal(err)
	}
	segs := make([]mr.Segment, r.NMap)
	for _, src := range srcs {
		for _, rg := range src.Maps {
			for id := rg.First; id < rg.First+rg.Count; id++ {
				segs[id] = mr.Segment{Path: rg.Ref(id).File("m"), Addr: src.Addr, Map: id}
			}
		}
	}
	return segs
}

// readsFrom lists the map outputs r reads as "name@addr", in map task order.
func readsFrom(t *testing.T, r mr.Task) string {
	t.Helper()
	var out []string
	for _, s := range runs(t, r) {
		out = append(out, s.Path+"@"+s.Addr)
	}
	return strings.Join(out, " ")
}

func ok(w string, t mr.Task, nReduce int) mr.ReportArgs {
	rep := mr.ReportArgs{Worker: w, Task: t.TaskRef}
	if t.Kind == mr.MapTask {
		rep.Output = t.File("m")
	} else {
		rep.Output = fmt.Sprintf("out%d-a%d", t.ID, t.Attempt)
	}
	return rep
}

func mustAssign(t *testing.T, s *Scheduler, w string, now time.Time, kind mr.TaskKind, id int) mr.Task {
	t.Helper()
	action, task := s.Assign(w, now)
	if action != mr.Run || task.Kind != kind || task.ID != id {
		t.Fatalf("Assign(%s) = %v %v task %d; want run %v task %d", w, action, task.Kind, task.ID, kind, id)
	}
	return task
}

func TestHappyPath(t *testing.T) {
	s := newTestScheduler(2, 2)
	m0 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	m1 := mustAssign(t, s, "b", t0, mr.MapTask, 1)
	if m0.Splits[0].File != "in-0" || m0.Attempt != 1 || m0.NReduce != 2 || m0.NMap != 2 {
		t.Fatalf("map task = %+v", m0)
	}
	if a, _ := s.Assign("c", t0); a != mr.Wait {
		t.Fatalf("with maps running, Assign = %v; want wait: reduces start only after every map commits", a)
	}
	if o := s.Complete(ok("a", m0, 2), t0); o != Accepted {
		t.Fatalf("Complete(m0) = %v", o)
	}
	if a, _ := s.Assign("c", t0); a != mr.Wait {
		t.Fatalf("with one map left, Assign = %v; want wait", a)
	}
	s.Complete(ok("b", m1, 2), t0)
	r0 := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	if got, want := readsFrom(t, r0), "m0-a1@ m1-a1@"; got != want {
		t.Fatalf("reduce reads %s; want %s", got, want)
	}
	r1 := mustAssign(t, s, "b", t0, mr.ReduceTask, 1)
	if o := s.Complete(ok("a", r0, 2), t0); o != Accepted {
		t.Fatalf("Complete(r0) = %v", o)
	}
	if s.Done() {
		t.Fatal("done while reduce 0 is still committing")
	}
	if s.Output(0) != "out0-a1" {
		t.Fatalf("Output(0) = %q", s.Output(0))
	}
	s.Committed(0, nil, time.Time{})
	s.Complete(ok("b", r1, 2), t0)
	s.Committed(1, nil, time.Time{})
	if !s.Done() || s.Failure() != "" {
		t.Fatalf("Done = %v, Failure = %q", s.Done(), s.Failure())
	}
	if a, _ := s.Assign("a", t0); a != mr.Exit {
		t.Fatalf("after the job, Assign = %v; want exit", a)
	}
}

func TestTimeoutReassigns(t *testing.T) {
	s := newTestScheduler(1, 1)
	first := mustAssign(t, s, "slow", t0, mr.MapTask, 0)
	// Heartbeats keep it alive past the timeout.
	s.Heartbeat(mr.HeartbeatArgs{Worker: "slow", Task: first.TaskRef}, t0.Add(8*time.Second))
	if ev := s.Expire(t0.Add(15 * time.Second)); len(ev) != 0 {
		t.Fatalf("expired a task heard from 7s ago: %v", ev)
	}
	if a, _ := s.Assign("b", t0.Add(15*time.Second)); a != mr.Wait {
		t.Fatalf("Assign = %v; want wait while the map is alive", a)
	}
	ev := s.Expire(t0.Add(18*time.Second + time.Millisecond))
	if len(ev) != 1 || ev[0].Worker != "slow" || ev[0].Task.Attempt != 1 {
		t.Fatalf("Expire = %v; want attempt 1 on slow lost", ev)
	}
	second := mustAssign(t, s, "b", t0.Add(19*time.Second), mr.MapTask, 0)
	if second.Attempt != 2 {
		t.Fatalf("attempt = %d; want 2", second.Attempt)
	}
	// The lost attempt reports late; its output is complete, so it wins.
	if o := s.Complete(ok("slow", first, 1), t0.Add(20*time.Second)); o != Accepted {
		t.Fatalf("late first report = %v; want accepted (first commit wins)", o)
	}
	if o := s.Complete(ok("b", second, 1), t0.Add(21*time.Second)); o != Ignored {
		t.Fatalf("second report = %v; want ignored", o)
	}
	r := mustAssign(t, s, "b", t0.Add(22*time.Second), mr.ReduceTask, 0)
	if got := readsFrom(t, r); got != "m0-a1@" {
		t.Fatalf("reduce reads %s; want the first attempt's run", got)
	}
	// The slow attempt's heartbeat now learns the task is done.
	if done, _ := s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: second.TaskRef}, t0.Add(23*time.Second)); !done {
		t.Fatal("Heartbeat of a superseded attempt did not report done")
	}
}

func TestDuplicateReports(t *testing.T) {
	s := newTestScheduler(1, 1)
	m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	s.Complete(ok("a", m, 1), t0)
	if o := s.Complete(ok("a", m, 1), t0); o != Duplicate {
		t.Fatalf("retried report = %v; want duplicate", o)
	}
	r := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	s.Complete(ok("a", r, 1), t0)
	if o := s.Complete(ok("a", r, 1), t0); o != Duplicate {
		t.Fatalf("retried reduce report = %v; want duplicate", o)
	}
	if o := s.Committed(0, nil, time.Time{}); o != Accepted || !s.Done() {
		t.Fatalf("Committed = %v, Done = %v", o, s.Done())
	}
	if o := s.Committed(0, nil, time.Time{}); o != Ignored {
		t.Fatalf("second Committed = %v; want ignored", o)
	}
	if s.Status().ReducesDone != 1 {
		t.Fatalf("status = %+v", s.Status())
	}
}

func TestUnknownReportsAreIgnored(t *testing.T) {
	s := newTestScheduler(1, 1)
	mustAssign(t, s, "a", t0, mr.MapTask, 0)
	for _, ref := range []mr.TaskRef{
		{Kind: mr.MapTask, ID: 0, Attempt: 2},    // never issued
		{Kind: mr.MapTask, ID: 7, Attempt: 1},    // no such task
		{Kind: mr.ReduceTask, ID: 0, Attempt: 1}, // not issued yet
		{Kind: 0, ID: 0, Attempt: 1},
	} {
		if o := s.Complete(mr.ReportArgs{Worker: "x", Task: ref, Output: "x"}, t0); o != Ignored {
			t.Errorf("Complete(%+v) = %v; want ignored", ref, o)
		}
	}
}

func TestFailuresCountAndFailTheJob(t *testing.T) {
	s := newTestScheduler(1, 1)
	for attempt := 1; attempt <= 3; attempt++ {
		m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
		want := Retrying
		if attempt == 3 {
			want = JobFailed
		}
		rep := mr.ReportArgs{Worker: "a", Task: m.TaskRef, Failure: fmt.Sprintf("panic: boom %d", attempt)}
		if o := s.Complete(rep, t0); o != want {
			t.Fatalf("failure %d: %v; want %v", attempt, o, want)
		}
	}
	f := s.Failure()
	for _, want := range []string{"map task 0", "input in-0", "failed 3 times", "panic: boom 3"} {
		if !strings.Contains(f, want) {
			t.Errorf("Failure() = %q; want it to mention %q", f, want)
		}
	}
	if a, _ := s.Assign("b", t0); a != mr.Exit {
		t.Fatalf("Assign after failure = %v; want exit", a)
	}
}

func TestLostIsNotFailed(t *testing.T) {
	// Losses do not use up MaxAttempts (3), but a long run of them fails
	// the job rather than loop for ever (MaxLost 5).
	s := newTestScheduler(1, 1)
	now := t0
	for i := 1; i <= 5; i++ {
		mustAssign(t, s, "w", now, mr.MapTask, 0)
		now = now.Add(11 * time.Second)
		s.Expire(now)
		if i < 5 && s.Failure() != "" {
			t.Fatalf("job failed after %d losses: %s", i, s.Failure())
		}
	}
	if !strings.Contains(s.Failure(), "lost 5 times in a row") {
		t.Fatalf("Failure() = %q; want lost 5 times", s.Failure())
	}
}

func TestLossCountResetsOnOtherOutcome(t *testing.T) {
	s := newTestScheduler(1, 1)
	now := t0
	lose := func(n int) {
		for range n {
			mustAssign(t, s, "w", now, mr.MapTask, 0)
			now = now.Add(11 * time.Second)
			s.Expire(now)
		}
	}
	lose(4)
	m := mustAssign(t, s, "w", now, mr.MapTask, 0)
	s.Complete(mr.ReportArgs{Worker: "w", Task: m.TaskRef, Failure: "boom"}, now)
	lose(4)
	if s.Failure() != "" {
		t.Fatalf("failed after 4+4 losses split by a failure: %s", s.Failure())
	}
	m = mustAssign(t, s, "w", now, mr.MapTask, 0)
	if o := s.Complete(ok("w", m, 1), now); o != Accepted {
		t.Fatalf("= %v", o)
	}
}

func TestFailedCommitRetries(t *testing.T) {
	s := newTestScheduler(1, 1)
	m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	s.Complete(ok("a", m, 1), t0)
	r := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	s.Complete(ok("a", r, 1), t0)
	if o := s.Committed(0, fmt.Errorf("disk full"), time.Time{}); o != Retrying {
		t.Fatalf("Committed(err) = %v; want retrying", o)
	}
	r2 := mustAssign(t, s, "b", t0, mr.ReduceTask, 0)
	if r2.Attempt != 2 {
		t.Fatalf("attempt = %d", r2.Attempt)
	}
	s.Complete(ok("b", r2, 1), t0)
	s.Committed(0, nil, time.Time{})
	if !s.Done() {
		t.Fatal("not done")
	}
}

func TestFailureOfLostAttemptWhileRetryRuns(t *testing.T) {
	s := newTestScheduler(1, 1)
	first := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	s.Expire(t0.Add(11 * time.Second))
	second := mustAssign(t, s, "b", t0.Add(11*time.Second), mr.MapTask, 0)
	// The lost attempt now reports an app failure: counted, but the task
	// keeps its running attempt rather than being queued twice.
	if o := s.Complete(mr.ReportArgs{Worker: "a", Task: first.TaskRef, Failure: "panic"}, t0.Add(12*time.Second)); o != Retrying {
		t.Fatalf("= %v", o)
	}
	if a, _ := s.Assign("c", t0.Add(12*time.Second)); a != mr.Wait {
		t.Fatalf("Assign = %v; want wait: attempt 2 is still running", a)
	}
	if o := s.Complete(ok("b", second, 1), t0.Add(13*time.Second)); o != Accepted {
		t.Fatalf("= %v", o)
	}
}

func TestWorkersAreForgotten(t *testing.T) {
	s := newTestScheduler(1, 1)
	s.cfg.WorkerTimeout = 10 * time.Second
	s.Assign("a", t0)
	s.Assign("b", t0.Add(5*time.Second))
	s.Expire(t0.Add(12 * time.Second))
	if n := s.Status().Workers; n != 1 {
		t.Fatalf("workers = %d; want 1 (a silent for 12s is gone)", n)
	}
}

// kept is a successful map report whose output stays on worker w, served
// from addr.
func kept(w, addr string, task mr.Task, nReduce int) mr.ReportArgs {
	rep := ok(w, task, nReduce)
	rep.Addr = addr
	return rep
}

// deathScheduler has two map tasks committed, m0 on worker a (kept there,
// or in the shared directory when shared is true) and m1 on b, and reduce
// task 0 running on b.
func deathScheduler(t *testing.T, shared bool) (*Scheduler, mr.Task) {
	t.Helper()
	s := newTestScheduler(2, 2)
	s.cfg.WorkerTimeout = 5 * time.Second
	m0 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	m1 := mustAssign(t, s, "b", t0, mr.MapTask, 1)
	rep := kept("a", "10.0.0.1:7000", m0, 2)
	if shared {
		rep.Addr = ""
	}
	s.Complete(rep, t0)
	s.Complete(kept("b", "10.0.0.2:7000", m1, 2), t0)
	return s, mustAssign(t, s, "b", t0, mr.ReduceTask, 0)
}

func TestDeadWorkersMapOutputRunsAgain(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	// b keeps talking; a goes silent.
	s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: r0.TaskRef}, t0.Add(4*time.Second))
	ev := s.Expire(t0.Add(6 * time.Second))
	if len(ev) != 1 || ev[0].Task.Kind != mr.MapTask || ev[0].Task.ID != 0 || !strings.Contains(ev[0].What, "lost with its worker") {
		t.Fatalf("Expire = %v; want map task 0 run again", ev)
	}
	if st := s.Status(); st.MapsDone != 1 || st.Workers != 1 {
		t.Fatalf("status = %+v; want 1 map done, 1 worker", st)
	}
	// The reduce running on b hears that map 0's output is gone.
	if _, lost := s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: r0.TaskRef}, t0.Add(6*time.Second)); fmt.Sprint(lost) != "[0]" {
		t.Fatalf("heartbeat lost = %v; want [0]", lost)
	}
	// Reduce 1 may not start until map 0 is written again.
	m0 := mustAssign(t, s, "b", t0.Add(6*time.Second), mr.MapTask, 0)
	if a, _ := s.Assign("c", t0.Add(6*time.Second)); a != mr.Wait {
		t.Fatalf("Assign = %v; want wait for map 0", a)
	}
	// The dead worker is told to rejoin, and its word counts for nothing.
	if !s.Dead("a") || s.Complete(kept("a", "10.0.0.1:7000", m0, 2), t0.Add(7*time.Second)) != Ignored {
		t.Fatalf("a dead worker's report was not ignored")
	}
	if a, _ := s.Assign("a", t0.Add(7*time.Second)); a != mr.Wait {
		t.Fatalf("a dead worker was given %v", a)
	}
	if o := s.Complete(kept("b", "10.0.0.2:7000", m0, 2), t0.Add(7*time.Second)); o != Accepted {
		t.Fatalf("Complete(m0 again) = %v", o)
	}
	r1 := mustAssign(t, s, "a2", t0.Add(7*time.Second), mr.ReduceTask, 1)
	if got, want := readsFrom(t, r1), "m0-a2@10.0.0.2:7000 m1-a1@10.0.0.2:7000"; got != want {
		t.Fatalf("reduce reads %s; want %s", got, want)
	}
	if st := s.Status(); st.Stats != (mr.Stats{}) || st.MapsDone != 2 {
		t.Fatalf("status = %+v", st)
	}
}

func TestSharedMapOutputOutlivesItsWorker(t *testing.T) {
	s, r0 := deathScheduler(t, true)
	s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: r0.TaskRef}, t0.Add(4*time.Second))
	if ev := s.Expire(t0.Add(6 * time.Second)); len(ev) != 0 {
		t.Fatalf("Expire = %v; want nothing run again: the output is in the shared directory", ev)
	}
	if st := s.Status(); st.MapsDone != 2 {
		t.Fatalf("maps done = %d; want 2", st.MapsDone)
	}
}

func TestNoMapRunsAgainAfterTheJob(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	s.Complete(ok("b", r0, 2), t0)
	s.Committed(0, nil, time.Time{})
	r1 := mustAssign(t, s, "b", t0, mr.ReduceTask, 1)
	s.Complete(ok("b", r1, 2), t0)
	s.Committed(1, nil, time.Time{})
	if ev := s.Expire(t0.Add(time.Minute)); len(ev) != 0 || !s.Done() {
		t.Fatalf("Expire = %v, done %v; want nothing run again after the job", ev, s.Done())
	}
}

func TestDeadWorkersAttemptsAreLost(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	ev := s.Expire(t0.Add(6 * time.Second)) // both silent now
	var lost, again int
	for _, e := range ev {
		if e.Task.Kind == mr.ReduceTask && e.Task == r0.TaskRef && strings.Contains(e.What, "is dead") {
			lost++
		}
		if e.Task.Kind == mr.MapTask {
			again++
		}
	}
	if lost != 1 || again != 2 {
		t.Fatalf("Expire = %v; want reduce 0 lost and both maps run again", ev)
	}
	if o := s.Complete(ok("b", r0, 2), t0.Add(7*time.Second)); o != Ignored {
		t.Fatalf("dead worker's late reduce report = %v; want ignored", o)
	}
}

func TestUnreachableOutputRunsAgain(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	rep := mr.ReportArgs{Worker: "b", Task: r0.TaskRef, Unreachable: []mr.Segment{runs(t, r0)[0]}}
	if o := s.Complete(rep, t0.Add(time.Second)); o != Retrying {
		t.Fatalf("Complete(unreachable) = %v; want retrying", o)
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].Task.ID != 0 || !strings.Contains(ev[0].What, "could not fetch") {
		t.Fatalf("events = %v; want map 0 run again", ev)
	}
	if st := s.Status(); st.MapsDone != 1 || st.Failure != "" {
		t.Fatalf("status = %+v", st)
	}
	// Worker a, whose server failed, does not get the task back while
	// another worker can take it.
	if act, _ := s.Assign("a", t0.Add(time.Second)); act != mr.Wait {
		t.Fatalf("Assign(a) = %v; want wait: map 0's output on a was unreachable", act)
	}
	// A second report about the same, already replaced, output changes nothing.
	m0 := mustAssign(t, s, "b", t0.Add(time.Second), mr.MapTask, 0)
	s.Complete(kept("b", "10.0.0.2:7000", m0, 2), t0.Add(time.Second))
	// b gets reduce 0 back before reduce 1: its last attempt ran there.
	r0b := mustAssign(t, s, "b", t0.Add(time.Second), mr.ReduceTask, 0)
	mustAssign(t, s, "b", t0.Add(time.Second), mr.ReduceTask, 1)
	stale := mr.ReportArgs{Worker: "b", Task: r0b.TaskRef, Unreachable: []mr.Segment{runs(t, r0)[0]}}
	s.Complete(stale, t0.Add(2*time.Second))
	if ev := s.Events(); len(ev) != 0 || s.Status().MapsDone != 2 {
		t.Fatalf("events = %v, maps done %d; a stale segment must not run a map again", ev, s.Status().MapsDone)
	}
}

func TestOnlyTheAttemptsWorkerMayReport(t *testing.T) {
	s := newTestScheduler(1, 1)
	m0 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	if o := s.Complete(ok("intruder", m0, 1), t0); o != Ignored {
		t.Fatalf("report from another worker = %v; want ignored", o)
	}
}
