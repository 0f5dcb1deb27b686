package master

import (
	"fmt"
	"testing"
	"time"

	"gomr.dev/mr"
)

// counted is a report of task t by w that counted n "lines", and n input
// records.
func counted(rep mr.ReportArgs, n int64) mr.ReportArgs {
	rep.Counters = map[string]int64{"lines": n}
	rep.Stats[mr.MapInputRecords] = n
	return rep
}

func TestCountersOnlyFromCommittingAttempts(t *testing.T) {
	s := newTestScheduler(3, 1)
	s.cfg.WorkerTimeout = 5 * time.Second
	lines := func() int64 { return s.Snapshot(t0, Query{}).Counters.User["lines"] }

	// m0: the first attempt counts 10 lines, then fails; the second commits.
	m0 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	s.Heartbeat(mr.HeartbeatArgs{Worker: "a", Task: m0.TaskRef, Counters: map[string]int64{"lines": 4}}, t0)
	if js := s.Snapshot(t0, Query{}); js.Running.User["lines"] != 4 || js.Counters.User["lines"] != 0 {
		t.Fatalf("in flight: running %v, committed %v; want 4 running, none committed", js.Running.User, js.Counters.User)
	}
	failed := counted(ok("a", m0, 1), 10)
	failed.Failure = "panic: bad record"
	s.Complete(failed, t0)
	if js := s.Snapshot(t0, Query{}); js.Counters.User["lines"] != 0 || js.Running.User["lines"] != 0 {
		t.Fatalf("after a failed attempt: committed %v, running %v; want no lines either way", js.Counters.User, js.Running.User)
	}
	// Failed tasks go to the back of the queue: m1 and m2 start first.
	m1a := mustAssign(t, s, "c", t0, mr.MapTask, 1)
	m2 := mustAssign(t, s, "d", t0, mr.MapTask, 2)
	m0 = mustAssign(t, s, "b", t0, mr.MapTask, 0)
	s.Complete(counted(ok("b", m0, 1), 10), t0)

	// m1: the first attempt is lost to silence, then reports late, after
	// the second committed.
	s.Heartbeat(mr.HeartbeatArgs{Worker: "b"}, t0.Add(9*time.Second))
	s.Heartbeat(mr.HeartbeatArgs{Worker: "d", Task: m2.TaskRef}, t0.Add(9*time.Second))
	now := t0.Add(11 * time.Second)
	s.Expire(now)
	if n := lines(); n != 10 {
		t.Fatalf("lines = %d; want 10", n)
	}
	m1b := mustAssign(t, s, "b", now, mr.MapTask, 1)
	s.Complete(counted(ok("b", m1b, 1), 7), now)
	s.Complete(counted(ok("c", m1a, 1), 7), now) // c is dead by now; ignored either way

	// m2 commits with its output kept on worker d, which then dies before
	// the reduce reads it: m2 runs again, and counts once.
	s.Complete(counted(kept("d", "10.0.0.4:7000", m2, 1), 3), now)
	if n := lines(); n != 20 {
		t.Fatalf("lines = %d; want 20", n)
	}
	later := now.Add(6 * time.Second)
	s.Heartbeat(mr.HeartbeatArgs{Worker: "b"}, later)
	s.Expire(later)
	if n := lines(); n != 17 {
		t.Fatalf("after m2's output was lost, lines = %d; want 17", n)
	}
	m2 = mustAssign(t, s, "b", later, mr.MapTask, 2)
	s.Complete(counted(ok("b", m2, 1), 3), later)

	r0 := mustAssign(t, s, "b", later, mr.ReduceTask, 0)
	rep := ok("b", r0, 1)
	rep.Stats[mr.OutputRecords] = 5
	rep.Counters = map[string]int64{"keys": 5}
	s.Complete(rep, later)
	if js := s.Snapshot(later, Query{}); js.Counters.User["keys"] != 0 || js.Counters.Builtin["output_records"] != 0 {
		t.Fatalf("a committing reduce counted before its output was in place: %v", js.Counters)
	}
	s.Committed(0, nil, later)

	js := s.Snapshot(later, Query{})
	if js.State != "succeeded" || js.Phase != "done" {
		t.Fatalf("state %s, phase %s; want succeeded, done", js.State, js.Phase)
	}
	want := map[string]int64{"lines": 20, "keys": 5}
	if fmt.Sprint(js.Counters.User) != fmt.Sprint(want) {
		t.Fatalf("user counters = %v; want %v", js.Counters.User, want)
	}
	b := js.Counters.Builtin
	if b["map_input_records"] != 20 || b["output_records"] != 5 || b["attempts_failed"] != 1 || b["attempts_lost"] != 1 {
		t.Fatalf("built-in counters = %v; want 20 map input records, 5 output records, 1 failed and 1 lost attempt", b)
	}
	if len(js.Running.User) != 0 {
		t.Fatalf("running counters after the job = %v; want none", js.Running.User)
	}
	if got := len(b); got != int(mr.NumStats) {
		t.Fatalf("%d built-in counters; want all %d, zeros included", got, mr.NumStats)
	}
}

func TestSupersededAttempt(t *testing.T) {
	// The first attempt is lost to silence, the second starts, and then
	// the first reports: it commits, and the second, when it reports, is
	// superseded and counts nothing.
	s := newTestScheduler(1, 1)
	m0a := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	now := t0.Add(11 * time.Second)
	s.Expire(now)
	m0b := mustAssign(t, s, "b", now, mr.MapTask, 0)
	if o := s.Complete(counted(ok("a", m0a, 1), 2), now); o != Accepted {
		t.Fatalf("late report of the lost attempt = %v; want accepted", o)
	}
	if o := s.Complete(counted(ok("b", m0b, 1), 2), now.Add(time.Second)); o != Ignored {
		t.Fatalf("report of the second attempt = %v; want ignored", o)
	}
	js := s.Snapshot(now, Query{History: true})
	h := js.Tasks.Tasks[0].History
	if len(h) != 2 || h[0].Outcome != "ok" || h[1].Outcome != "superseded" || h[1].Seconds != 1 {
		t.Fatalf("history = %+v; want ok on a, then superseded on b after 1 s", h)
	}
	if js.Counters.User["lines"] != 2 || js.Counters.Builtin["attempts_lost"] != 1 {
		t.Fatalf("counters = %v; want 2 lines, 1 lost attempt", js.Counters)
	}
	if w := js.Workers.Workers; w[0].ID != "a" || w[0].Done != 1 || w[0].Lost != 1 || w[1].Done != 0 {
		t.Fatalf("workers = %+v; want a with 1 done and 1 lost, b with none done", w)
	}
}

func TestSnapshotPagesAndFilters(t *testing.T) {
	s := newTestScheduler(250, 3)
	var started []mr.Task // ids as the claims give them out (claims.go)
	for i := range 4 {
		a, task := s.Assign(fmt.Sprintf("w%d", i), t0)
		if a != mr.Run || task.Kind != mr.MapTask {
			t.Fatalf("Assign = %v %v; want a map task", a, task.TaskRef)
		}
		started = append(started, task)
	}
	js := s.Snapshot(t0, Query{})
	if len(js.Tasks.Tasks) != DefaultLimit || js.Tasks.Total != 253 || js.Tasks.Tasks[0].ID != 0 {
		t.Fatalf("default page: %d tasks of %d, first %d; want %d of 253 from map 0", len(js.Tasks.Tasks), js.Tasks.Total, js.Tasks.Tasks[0].ID, DefaultLimit)
	}
	js = s.Snapshot(t0, Query{Kind: "map", Offset: 200})
	if len(js.Tasks.Tasks) != 50 || js.Tasks.Total != 250 || js.Tasks.Tasks[0].ID != 200 {
		t.Fatalf("last page: %d tasks of %d; want 50 of 250 from map 200", len(js.Tasks.Tasks), js.Tasks.Total)
	}
	js = s.Snapshot(t0, Query{State: "running", Limit: -1})
	if js.Tasks.Total != 4 || len(js.Tasks.Tasks) != 4 || js.Tasks.Tasks[3].Worker != "w3" {
		t.Fatalf("running tasks: %+v; want 4 maps on w0-w3", js.Tasks)
	}
	if c := js.Tasks.Counts; c["running"] != 4 || c["idle"] != 249 {
		t.Fatalf("counts = %v; want 4 running, 249 idle", c)
	}
	s.Complete(mr.ReportArgs{Worker: "w1", Task: started[1].TaskRef, Failure: "boom"}, t0)
	js = s.Snapshot(t0, Query{State: "troubled"})
	if js.Tasks.Total != 1 || js.Tasks.Tasks[0].ID != started[1].ID || js.Tasks.Tasks[0].LastError != "boom" || js.Tasks.Tasks[0].State != "idle" {
		t.Fatalf("troubled tasks: %+v; want w1's map, idle again, last error boom", js.Tasks)
	}
	if len(js.Events) != 1 || js.Events[0].What != "failed: boom" || js.Events[0].Worker != "w1" {
		t.Fatalf("events = %+v; want the failure", js.Events)
	}
	js = s.Snapshot(t0, Query{Workers: 2})
	if js.Workers.Total != 4 || len(js.Workers.Workers) != 2 || js.Workers.Workers[0].ID != "w0" {
		t.Fatalf("workers: %+v; want 2 of 4 listed, from w0", js.Workers)
	}
}

func TestSnapshotProgress(t *testing.T) {
	s := newTestScheduler(2, 1) // two map tasks of 10 bytes each
	m0 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	m1 := mustAssign(t, s, "b", t0, mr.MapTask, 1)
	s.Complete(ok("a", m0, 1), t0.Add(time.Second))
	var hb mr.HeartbeatArgs
	hb.Worker, hb.Task = "b", m1.TaskRef
	hb.Stats[mr.MapInputBytes] = 5
	s.Heartbeat(hb, t0.Add(2*time.Second))
	js := s.Snapshot(t0.Add(3*time.Second), Query{})
	mp := js.Phases[0]
	if mp.Kind != "map" || mp.Progress != 0.75 || mp.BytesDone != 15 || mp.Bytes != 20 || mp.Done != 1 || mp.Running != 1 {
		t.Fatalf("map phase = %+v; want 3/4 done: 15 of 20 bytes", mp)
	}
	// 3 s for 3/4 of the work: 1 s to go.
	if mp.ETA == nil || *mp.ETA != 1 || mp.Seconds != 3 || mp.Rate != 5 {
		t.Fatalf("map phase timing = %+v; want 3 s so far, 5 B/s, ETA 1 s", mp)
	}
	if js.Phase != "map" || js.Phases[1].Started != nil {
		t.Fatalf("phase %s, reduce started %v; want map, not started", js.Phase, js.Phases[1].Started)
	}
	if ts := js.Tasks.Tasks[1]; ts.Progress != 0.5 || ts.BytesIn != 5 || ts.Seconds != 3 {
		t.Fatalf("map 1 = %+v; want half done, 5 bytes in, 3 s", ts)
	}
	s.Complete(ok("b", m1, 1), t0.Add(4*time.Second))
	js = s.Snapshot(t0.Add(5*time.Second), Query{})
	if mp := js.Phases[0]; mp.Ended == nil || mp.Seconds != 4 || mp.ETA != nil || mp.Progress != 1 {
		t.Fatalf("finished map phase = %+v; want ended after 4 s, no ETA", mp)
	}
	if js.Phase != "reduce" {
		t.Fatalf("phase %s; want reduce", js.Phase)
	}
}

// BenchmarkSnapshot10k is one status page refresh of a job with 9,000 map
// and 1,000 reduce tasks, half the maps done and 100 running.
func BenchmarkSnapshot10k(b *testing.B) {
	s := newTestScheduler(9000, 1000)
	for i := range 4600 {
		w := fmt.Sprintf("w%d", i%100)
		task := mustAssignB(b, s, w)
		if i < 4500 {
			rep := ok(w, task, 1000)
			rep.Counters = map[string]int64{"lines": 10}
			s.Complete(rep, t0)
		}
	}
	b.ResetTimer()
	for range b.N {
		s.Snapshot(t0, Query{})
	}
}

func mustAssignB(b *testing.B, s *Scheduler, w string) mr.Task {
	action, task := s.Assign(w, t0)
	if action != mr.Run {
		b.Fatalf("Assign = %v", action)
	}
	return task
}

func TestFailedJobSnapshot(t *testing.T) {
	s := newTestScheduler(2, 1) // MaxAttempts 3
	m1 := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	mustAssign(t, s, "b", t0, mr.MapTask, 1)
	for n := range 3 {
		now := t0.Add(time.Duration(n) * time.Second)
		if n > 0 {
			m1 = mustAssign(t, s, "a", now, mr.MapTask, 0)
		}
		s.Complete(mr.ReportArgs{Worker: "a", Task: m1.TaskRef, Failure: "boom"}, now)
	}
	// Ten seconds later, the job ended at t0+2s: the snapshot does not age.
	js := s.Snapshot(t0.Add(12*time.Second), Query{})
	if js.State != "failed" || js.Phase != "map" || js.Elapsed != 2 {
		t.Fatalf("state %s, phase %s, elapsed %v; want failed in the map phase after 2 s", js.State, js.Phase, js.Elapsed)
	}
	m0, mb := js.Tasks.Tasks[0], js.Tasks.Tasks[1]
	if m0.State != "idle" || m0.Failures != 3 {
		t.Fatalf("the failed task: %+v; want idle, 3 failures", m0)
	}
	if mb.State != "running" || mb.Seconds != 2 {
		t.Fatalf("the task in flight when the job failed: %+v; want running for 2 s, the job's whole life", mb)
	}
}
