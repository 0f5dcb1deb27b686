package master

import (
	"testing"
	"time"

	"gomr.dev/mr"
)

// backupScheduler has n map tasks of 10 bytes each and backups on.
func backupScheduler(nMap, nReduce int) *Scheduler {
	s := newTestScheduler(nMap, nReduce)
	s.cfg.Backups = true
	return s
}

// beat sends a heartbeat of t on w with read bytes of input read (of 10,
// for a reduce).
func beat(s *Scheduler, w string, t mr.Task, read int64, now time.Time) bool {
	var st mr.Stats
	var size int64
	if t.Kind == mr.MapTask {
		st[mr.MapInputBytes] = read
	} else {
		st[mr.ShuffleBytes] = read
		size = 10 // its partition of the one map output
	}
	done, _ := s.Heartbeat(mr.HeartbeatArgs{Worker: w, Task: t.TaskRef, Stats: st, Size: size}, now)
	return done
}

func wantWait(t *testing.T, s *Scheduler, w string, now time.Time, why string) {
	t.Helper()
	if a, task := s.Assign(w, now); a != mr.Wait {
		t.Fatalf("Assign(%s) = %v task %v; want wait: %s", w, a, task.TaskRef, why)
	}
}

// startMaps assigns map task i to worker ws[i] at t0 and commits all but
// the last at t0+took.
func startMaps(t *testing.T, s *Scheduler, ws []string, took time.Duration) []mr.Task {
	t.Helper()
	var tasks []mr.Task
	for i, w := range ws {
		tasks = append(tasks, mustAssign(t, s, w, t0, mr.MapTask, i))
	}
	for i, task := range tasks[:len(tasks)-1] {
		if o := s.Complete(ok(ws[i], task, 2), t0.Add(took)); o != Accepted {
			t.Fatalf("Complete(map %d) = %v", i, o)
		}
	}
	return tasks
}

func TestBackupOfSlowMapByProgress(t *testing.T) {
	s := backupScheduler(4, 2)
	ws := []string{"a", "b", "c", "d"}
	tasks := startMaps(t, s, ws, time.Second)
	slow := tasks[3]
	// At 1.5s, 1 byte of 10 read: 15s in all at this rate, ten times the
	// others' second.
	beat(s, "d", slow, 1, t0.Add(1500*time.Millisecond))
	wantWait(t, s, "d", t0.Add(1500*time.Millisecond), "never a backup on the original's worker")
	b := mustAssign(t, s, "a", t0.Add(1500*time.Millisecond), mr.MapTask, 3)
	if b.Attempt != 2 || len(b.Splits) != 1 {
		t.Fatalf("backup = attempt %d with %d splits; want attempt 2 with the task's split", b.Attempt, len(b.Splits))
	}
	wantWait(t, s, "b", t0.Add(1600*time.Millisecond), "one backup per task, and the cap is one in flight")
	// The backup commits first; the original hears so at its next
	// heartbeat, and its late report is superseded, not counted.
	if o := s.Complete(ok("a", b, 2), t0.Add(2500*time.Millisecond)); o != Accepted {
		t.Fatalf("Complete(backup) = %v", o)
	}
	if !beat(s, "d", slow, 3, t0.Add(2600*time.Millisecond)) {
		t.Fatal("the original's heartbeat after the backup committed did not say done")
	}
	if o := s.Complete(ok("d", slow, 2), t0.Add(3*time.Second)); o != Ignored {
		t.Fatalf("Complete(original, late) = %v; want ignored", o)
	}
	if got := s.maps[3].attempts[0].state; got != attemptSuperseded {
		t.Fatalf("original attempt = %v; want superseded", got)
	}
	if !s.maps[3].attempts[1].backup || s.maps[3].attempts[0].backup {
		t.Fatal("the backup attempt is not marked as one")
	}
	if s.mapsLeft != 0 || s.maps[3].output != "m3-a2" {
		t.Fatalf("maps left %d, map 3's output %q; want 0 and the backup's", s.mapsLeft, s.maps[3].output)
	}
}

func TestNoBackup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backups bool
		read    int64         // bytes of 10 the slow attempt has read
		at      time.Duration // when it reports them and a worker asks
	}{
		{"off", false, 1, 5 * time.Second},
		// 6 of 10 bytes in 1.2s: 2s in all, not twice the typical second.
		{"not slow enough", true, 6, 1200 * time.Millisecond},
		// 1 of 10 at 0.9s would take 9s, but it has not run a second yet.
		{"too early", true, 1, 900 * time.Millisecond},
		// Nothing known of its progress, and it has run under three
		// typical tasks' time: as the lab's job-count test, whose maps
		// sleep 2 to 5 seconds, must see it.
		{"unknown progress", true, 0, 2900 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScheduler(4, 2)
			s.cfg.Backups = tc.backups
			tasks := startMaps(t, s, []string{"a", "b", "c", "d"}, time.Second)
			beat(s, "d", tasks[3], tc.read, t0.Add(tc.at))
			wantWait(t, s, "a", t0.Add(tc.at), tc.name)
		})
	}
}

func TestBackupOfUnknownProgressAfterThreeTypical(t *testing.T) {
	s := backupScheduler(4, 2)
	tasks := startMaps(t, s, []string{"a", "b", "c", "d"}, time.Second)
	beat(s, "d", tasks[3], 0, t0.Add(3100*time.Millisecond))
	mustAssign(t, s, "b", t0.Add(3100*time.Millisecond), mr.MapTask, 3)
}

func TestBackupPicksTheLatestToFinish(t *testing.T) {
	s := backupScheduler(6, 2)
	ws := []string{"a", "b", "c", "d", "e", "f"}
	var tasks []mr.Task
	for i, w := range ws {
		tasks = append(tasks, mustAssign(t, s, w, t0, mr.MapTask, i))
	}
	for i := range 4 {
		s.Complete(ok(ws[i], tasks[i], 2), t0.Add(time.Second))
	}
	now := t0.Add(2 * time.Second)
	beat(s, "e", tasks[4], 2, now) // 10s in all: 8s left
	beat(s, "f", tasks[5], 1, now) // 20s in all: 18s left
	mustAssign(t, s, "a", now, mr.MapTask, 5)
}

func TestBackupOfSlowReduce(t *testing.T) {
	s := backupScheduler(1, 3)
	m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	s.Complete(ok("a", m, 3), t0)
	r0 := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	r1 := mustAssign(t, s, "b", t0, mr.ReduceTask, 1)
	r2 := mustAssign(t, s, "c", t0, mr.ReduceTask, 2)
	s.Complete(ok("a", r0, 3), t0.Add(time.Second))
	s.Committed(0, nil, t0.Add(time.Second))
	s.Complete(ok("b", r1, 3), t0.Add(time.Second))
	s.Committed(1, nil, t0.Add(time.Second))
	beat(s, "c", r2, 1, t0.Add(2*time.Second)) // 1 of 10 bytes of its partition
	b := mustAssign(t, s, "a", t0.Add(2*time.Second), mr.ReduceTask, 2)
	if b.Attempt != 2 || readsFrom(t, b) != "m0-a1@" {
		t.Fatalf("backup reduce = attempt %d reading %s; want attempt 2 reading m0-a1", b.Attempt, readsFrom(t, b))
	}
	// The original commits first this time; the backup is told to stop.
	if o := s.Complete(ok("c", r2, 3), t0.Add(3*time.Second)); o != Accepted {
		t.Fatalf("Complete(original) = %v", o)
	}
	if !beat(s, "a", b, 4, t0.Add(3*time.Second)) {
		t.Fatal("the backup's heartbeat after the original won did not say done")
	}
	s.Committed(2, nil, t0.Add(3*time.Second))
	if !s.Done() {
		t.Fatal("not done")
	}
}

// A task that fails for want of disk on its worker is lost, not failed,
// and goes to another worker.
func TestWorkerFaultIsLostAndMovesOn(t *testing.T) {
	s := newTestScheduler(1, 1)
	for _, w := range []string{"a", "b"} {
		s.heard(w, t0)
	}
	m := mustAssign(t, s, "a", t0, mr.MapTask, 0)
	rep := mr.ReportArgs{Worker: "a", Task: m.TaskRef, Failure: "write m0-a1: no space left on device", WorkerFault: true}
	if o := s.Complete(rep, t0); o != Retrying {
		t.Fatalf("Complete(disk full) = %v; want retrying", o)
	}
	if s.maps[0].failures != 0 || s.maps[0].attempts[0].state != attemptLost {
		t.Fatalf("failures %d, attempt %v; want 0 and lost", s.maps[0].failures, s.maps[0].attempts[0].state)
	}
	wantWait(t, s, "a", t0, "the full worker should not get the task again while another can run it")
	m2 := mustAssign(t, s, "b", t0, mr.MapTask, 0)
	s.Complete(ok("b", m2, 1), t0)
	r := mustAssign(t, s, "a", t0, mr.ReduceTask, 0)
	rep = mr.ReportArgs{Worker: "a", Task: r.TaskRef, Failure: "no space left on device", WorkerFault: true}
	s.Complete(rep, t0)
	wantWait(t, s, "a", t0, "nor the reduce")
	mustAssign(t, s, "b", t0, mr.ReduceTask, 0)
}
