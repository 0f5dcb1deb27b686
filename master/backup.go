package master

import (
	"fmt"
	"slices"
	"time"

	"gomr.dev/mr"
)

// Backup tasks. Near the end of a phase, when a worker asks for work and
// none is queued, the scheduler may start a second attempt of a running
// task that is clearly slower than its peers, as the MapReduce paper does
// (section 3.6); the first attempt to commit wins, and heartbeats tell the
// other to stop. Which task to back up follows LATE (Zaharia et al., OSDI
// 2008): estimate each attempt's time left from its progress rate, and back
// up the one that would finish last, if a fresh attempt would beat it.
//
// The rule is conservative, since a backup costs a slot and, for an app
// with side effects, a second run:
//   - only map and reduce tasks, only once at least one task of the phase
//     has committed, which gives the time a task takes here (the median of
//     the committed ones);
//   - an attempt whose progress is known is a straggler when it has run
//     for backupMinRun and its progress rate says it will take more than
//     backupSlowRate times that median in all, with more than the median
//     still to go;
//   - an attempt whose progress is unknown (its Map has not returned and
//     emitted nothing we can place) is a straggler only after it has run
//     backupSlowTime times the median;
//   - one backup per task, never on the worker running the original, and
//     at most one backup in flight per backupShare live workers (one at
//     least).
const (
	backupSlowRate = 2
	backupSlowTime = 3
	backupMinRun   = time.Second
	backupShare    = 10
)

// backup picks a running task of kind for worker to run a second attempt
// of, and reports whether there is one.
func (s *Scheduler) backup(kind mr.TaskKind, worker string, now time.Time) (int, bool) {
	if !s.cfg.Backups {
		return 0, false
	}
	tasks := s.tasksOf(kind)
	var took []time.Duration
	inFlight := 0
	for i := range tasks {
		t := &tasks[i]
		if t.won > 0 {
			a := &t.attempts[t.won-1]
			took = append(took, a.ended.Sub(a.started))
		}
		if t.state == taskRunning && t.backedUp && t.running() {
			inFlight++
		}
	}
	if len(took) == 0 || inFlight >= max(1, len(s.workers)/backupShare) {
		return 0, false
	}
	slices.Sort(took)
	typical := took[len(took)/2]
	best, bestLeft := -1, time.Duration(0)
	for i := range tasks {
		t := &tasks[i]
		if t.state != taskRunning || t.backedUp {
			continue
		}
		a, _ := t.only()
		if a == nil || a.worker == worker {
			continue
		}
		left, slow := s.timeLeft(t, a, typical, now)
		if slow && left > bestLeft {
			best, bestLeft = i, left
		}
	}
	return best, best >= 0
}

// only returns t's one running attempt and its number, or nil if it has
// none or several.
func (t *task) only() (*attempt, int) {
	var one *attempt
	num := 0
	for n := range t.attempts {
		if a := &t.attempts[n]; a.state == attemptRunning {
			if one != nil {
				return nil, 0
			}
			one, num = a, n+1
		}
	}
	return one, num
}

// timeLeft estimates how long attempt a of t still needs, and reports
// whether it is a straggler worth a backup, given that a task of its phase
// typically takes typical.
func (s *Scheduler) timeLeft(t *task, a *attempt, typical time.Duration, now time.Time) (time.Duration, bool) {
	ran := now.Sub(a.started)
	var p float64
	if size := s.taskBytes(t); size > 0 {
		p = min(float64(bytesIn(t.ref.Kind, a))/float64(size), 1)
	}
	if p <= 0 {
		// Nothing to go on but the time it has taken: it is slow once it
		// has run several typical tasks' time, and a fresh attempt would
		// take one.
		if ran < backupSlowTime*typical || ran < backupMinRun {
			return 0, false
		}
		return ran, true
	}
	total := time.Duration(float64(ran) / p)
	left := total - ran
	return left, ran >= backupMinRun && total > backupSlowRate*typical && left > typical
}

// startBackup starts a second attempt of task id of kind on worker.
func (s *Scheduler) startBackup(kind mr.TaskKind, id int, worker string, now time.Time) mr.Task {
	t := &s.tasksOf(kind)[id]
	orig, num := t.only()
	ref := t.ref
	ref.Attempt = num
	why := fmt.Sprintf("slow: %.0f%% done after %v; starting a backup attempt on worker %s",
		100*s.progress(t, s.taskBytes(t)), now.Sub(orig.started).Round(time.Millisecond), worker)
	s.event(Event{now, ref, orig.worker, why})
	t.backedUp = true
	task := s.start(t, worker, now)
	t.attempts[len(t.attempts)-1].backup = true
	return task
}
