package master

import (
	"fmt"
	"testing"

	"gomr.dev/mr"
)

// Workers that take map tasks in turn end up holding runs of consecutive
// ones, so that a reduce task learns where they all are as a few ranges
// per worker, not one entry per map task.
func TestClaimsKeepEachWorkersMapsTogether(t *testing.T) {
	const maps, workers = 20000, 50
	s := newTestScheduler(maps, 1)
	ran := make([]string, maps)
	for n := 0; n < maps; n++ {
		w := fmt.Sprintf("w%d", n%workers)
		a, task := s.Assign(w, t0)
		if a != mr.Run || task.Kind != mr.MapTask || ran[task.ID] != "" {
			t.Fatalf("poll %d: %v %v; want a map task not run before", n, a, task.TaskRef)
		}
		ran[task.ID] = w
		if o := s.Complete(kept(w, w+":1", task, 1), t0); o != Accepted {
			t.Fatalf("Complete = %v", o)
		}
	}
	r := mustAssign(t, s, "w0", t0, mr.ReduceTask, 0)
	srcs, err := r.Locations.Sources(maps)
	if err != nil {
		t.Fatal(err)
	}
	ranges := 0
	for _, src := range srcs {
		ranges += len(src.Maps)
	}
	for id, seg := range runs(t, r) {
		if seg.Addr != ran[id]+":1" {
			t.Fatalf("map %d located at %s; it ran on %s", id, seg.Addr, ran[id])
		}
	}
	// Guided claims: about 2·workers·ln(maps/(2·workers)) runs, then the
	// last 2·workers one at a time.
	if len(srcs) != workers || ranges > maps/20 {
		t.Fatalf("%d sources, %d ranges for %d map tasks; want %d sources and few ranges", len(srcs), ranges, maps, workers)
	}
	t.Logf("%d map tasks on %d workers: %d ranges, %d bytes of locations", maps, workers, ranges, len(r.Locations))
}

// A worker whose claim runs out takes over half of the largest claim not
// yet started, and a dead worker's claim goes back to be claimed again.
func TestClaimsAreStolenAndReleased(t *testing.T) {
	s := newTestScheduler(64, 1)
	s.cfg.WorkerTimeout = 5 * s.cfg.TaskTimeout
	first := mustAssign(t, s, "a", t0, mr.MapTask, 0) // a alone: it claims half
	if c := s.claims["a"]; c.next != 1 || c.end != 32 {
		t.Fatalf("a's claim = %+v; want maps 1 to 31 left", *c)
	}
	// c takes the rest of the ids never started, in claims of its own.
	for unclaimed(s) > s.claimed {
		s.Assign("c", t0)
	}
	// b, new and with nothing left to claim, steals the back half of a's
	// claim, which is the largest not started.
	stolen := mustAssign(t, s, "b", t0, mr.MapTask, 16)
	if c := s.claims["a"]; c.next != 1 || c.end != 16 {
		t.Fatalf("after the theft a's claim = %+v; want maps 1 to 15", *c)
	}
	// a dies: its running task and its claim go back.
	later := t0.Add(s.cfg.WorkerTimeout + 1)
	s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: stolen.TaskRef}, later)
	s.Heartbeat(mr.HeartbeatArgs{Worker: "c"}, later)
	s.Expire(later)
	if !s.Dead("a") || s.claims["a"] != nil {
		t.Fatalf("a dead %v, claim %v; want it dead and its claim released", s.Dead("a"), s.claims["a"])
	}
	got := map[int]bool{}
	for {
		a, task := s.Assign("c", later)
		if a != mr.Run || task.Kind != mr.MapTask {
			break
		}
		got[task.ID] = true
	}
	for id := 1; id < 16; id++ {
		if !got[id] {
			t.Fatalf("map %d of a's released claim was not given out again; got %v", id, got)
		}
	}
	if !got[first.ID] {
		t.Fatalf("a's running map %d was not given out again", first.ID)
	}
}

// A worker that holds the current locations gets reduce tasks with their
// ID alone; once map output is lost and runs again, the ID changes and
// the locations come whole again.
func TestLocationsSentOncePerWorker(t *testing.T) {
	s, r0 := deathScheduler(t, false)
	if len(r0.Locations) == 0 || r0.LocationsID == 0 {
		t.Fatalf("first reduce task: %d bytes of locations, ID %x; want both", len(r0.Locations), r0.LocationsID)
	}
	_, r1 := s.Poll(mr.GetTaskArgs{Worker: "b", Locations: r0.LocationsID}, t0)
	if r1.Kind != mr.ReduceTask || len(r1.Locations) != 0 || r1.LocationsID != r0.LocationsID {
		t.Fatalf("second reduce task on b: %v, %d bytes, ID %x; want the ID alone", r1.TaskRef, len(r1.Locations), r1.LocationsID)
	}
	// Map 0's output is lost; reduce 0 runs again once map 0 has.
	rep := mr.ReportArgs{Worker: "b", Task: r0.TaskRef, Unreachable: []mr.Segment{runs(t, r0)[0]}}
	s.Complete(rep, t0)
	m0 := mustAssign(t, s, "b", t0, mr.MapTask, 0)
	s.Complete(kept("b", "10.0.0.2:7000", m0, 2), t0)
	_, again := s.Poll(mr.GetTaskArgs{Worker: "b", Locations: r0.LocationsID}, t0)
	if again.Kind != mr.ReduceTask || len(again.Locations) == 0 || again.LocationsID == r0.LocationsID {
		t.Fatalf("after map 0 ran again: %v, %d bytes, ID %x; want new locations, whole", again.TaskRef, len(again.Locations), again.LocationsID)
	}
	if got := readsFrom(t, again); got != "m0-a2@10.0.0.2:7000 m1-a1@10.0.0.2:7000" {
		t.Fatalf("reads %s", got)
	}
}

// unclaimed counts map tasks neither started nor queued to run again.
func unclaimed(s *Scheduler) int {
	n := s.claimed
	for _, f := range s.fresh {
		n += f.len()
	}
	return n
}
