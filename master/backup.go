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
// of, and reports whether there is one. It looks only at tasks in flight,
// and, once it has found no straggler at all, not again for backupRecheck:
// at the end of a phase every idle worker's poll lands here, and a job may
// have thousands of both.
func (s *Scheduler) backup(kind mr.TaskKind, worker string, now time.Time) (int, bool) {
	if !s.cfg.Backups || now.Before(s.recheck[kind]) {
		return 0, false
	}
	typical, ok := s.took[kind].median()
	if !ok {
		return 0, false
	}
	s.prune()
	inFlight := 0
	for _, t := range s.live {
		if t.ref.Kind == kind && t.state == taskRunning && t.backedUp && t.running() {
			inFlight++
		}
	}
	if inFlight >= max(1, len(s.workers)/backupShare) {
		return 0, false
	}
	best, bestLeft, any := -1, time.Duration(0), false
	for _, t := range s.live {
		if t.ref.Kind != kind || t.state != taskRunning || t.backedUp {
			continue
		}
		a, _ := t.only()
		if a == nil {
			continue
		}
		left, slow := s.timeLeft(t, a, typical, now)
		any = any || slow
		if slow && a.worker != worker && left > bestLeft {
			best, bestLeft = t.ref.ID, left
		}
	}
	if !any {
		s.recheck[kind] = now.Add(backupRecheck)
	}
	return best, best >= 0
}

// backupRecheck is how long backup waits to look again after finding no
// straggler.
const backupRecheck = 100 * time.Millisecond

// durations are how long the committed tasks of a phase took, with their
// median kept until their number has grown by an eighth, so that asking
// for it costs little however many there are.
type durations struct {
	all   []time.Duration
	mid   time.Duration
	sized int // len(all) when mid was computed
}

func (d *durations) add(t time.Duration) { d.all = append(d.all, t) }

// median returns the median duration, or false when there is none.
func (d *durations) median() (time.Duration, bool) {
	if len(d.all) == 0 {
		return 0, false
	}
	if d.sized == 0 || len(d.all) > d.sized+d.sized/8 {
		sorted := slices.Clone(d.all)
		slices.Sort(sorted)
		d.mid, d.sized = sorted[len(sorted)/2], len(d.all)
	}
	return d.mid, true
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
