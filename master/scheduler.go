package master

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

// taskState orders a task's life. A task only moves forward, except that a
// running task whose attempts were all lost or failed goes back to idle,
// and a reduce whose output could not be moved into place goes back too.
type taskState int

const (
	taskIdle       taskState = iota // queued, waiting for a worker
	taskRunning                     // at least one attempt in flight
	taskCommitting                  // reduce: an attempt won; its output is being moved into place
	taskDone                        // committed
)

func (s taskState) String() string {
	return [...]string{"idle", "running", "committing", "done"}[s]
}

// attemptState separates an attempt that was lost (its worker died or went
// silent: run it again, the app is not to blame) from one that failed (the
// app reported an error: count it against the task).
type attemptState int

const (
	attemptRunning attemptState = iota
	attemptOK
	attemptFailed
	attemptLost
	attemptSuperseded // it finished after another attempt had committed; its output is unused
)

func (s attemptState) String() string {
	return [...]string{"running", "ok", "failed", "lost", "superseded"}[s]
}

type attempt struct {
	worker    string
	state     attemptState
	lastHeard time.Time
	seq       int // the scheduler's sequence number when it started
	started   time.Time
	ended     time.Time // when it reported or was given up; zero while running
	backup    bool      // started as a backup of a slow attempt; see backup.go
	// stats and counters are what the attempt has counted: live from its
	// heartbeats while it runs, final from its report.
	stats    mr.Stats
	counters map[string]int64
	mark     *mr.Mark // where its app code was last; see skip.go
	size     int64    // a reduce's map output to merge, once it has said
}

type task struct {
	ref      mr.TaskRef // Attempt unused
	state    taskState
	attempts []attempt // attempt n is attempts[n-1]
	failures int       // failed attempts so far
	lost     int       // lost attempts since the last attempt that was not lost
	lostEver int       // lost attempts in all
	lastErr  string
	output   string     // the winning attempt's output file
	wrote    mr.TaskRef // map: the attempt that wrote output, which names its file
	addr     string     // map: the shuffle server holding output; "" when shared
	owner    string     // map: the worker that wrote output
	avoid    string     // a worker not to run this task again, if another can: its output could not be fetched, or its disk failed it
	won      int        // the committing attempt, 1-based; 0 while none has
	backedUp bool       // a backup attempt was started since the task last became idle
	listed   bool       // in Scheduler.live

	// skip is what the task knows of its bad records; nil until an
	// attempt crashes in app code with the job skipping them (skip.go).
	skip *taskSkip
}

// holds reports whether seg, as a reduce task names it, is in map task
// t's committed output. A reducer knows a map output by its file's name
// (mr.MapRange), not by the path on the worker that wrote it.
func (t *task) holds(seg mr.Segment) bool {
	return t.output != "" && filepath.Base(t.output) == filepath.Base(seg.Path) && t.addr == seg.Addr
}

// intern returns the one copy of name the scheduler keeps: each RPC
// decodes a worker's name afresh, and a job of 200,000 tasks would
// otherwise hold as many copies of a few thousand names.
func (s *Scheduler) intern(name string) string {
	if n, ok := s.names[name]; ok {
		return n
	}
	s.names[name] = name
	return name
}

// running reports whether any attempt is still in flight.
func (t *task) running() bool {
	for _, a := range t.attempts {
		if a.state == attemptRunning {
			return true
		}
	}
	return false
}

// Config is what a Scheduler needs to know about the job.
type Config struct {
	Tasks       [][]mr.Split // the inputs of each map task
	NReduce     int
	TaskTimeout time.Duration // silence after which an attempt is lost
	// WorkerTimeout is the silence after which a worker is dead: its
	// attempts are lost, the map output it holds is written again, and
	// it must rejoin under a new name. Default TaskTimeout.
	WorkerTimeout time.Duration
	MaxAttempts   int       // failed attempts of one task before the job fails
	MaxLost       int       // consecutive lost attempts of one task before the job fails
	Start         time.Time // when the job started, for the status page
	// Backups lets the scheduler start a second attempt of a straggler
	// near the end of a phase; see backup.go.
	Backups bool
	// Epoch is how often the job has been resumed; see mr.TaskRef.
	Epoch int
	// Nonce makes the IDs of map output locations (mr.Task.LocationsID)
	// this scheduler hands out differ from any other's, such as those of
	// an earlier master on the same address: a worker must never take
	// another job's locations for this one's.
	Nonce uint64
	// SkipBadRecords is how many bad records the job may leave out; 0
	// leaves out none. TextStarts says where the text of each text split
	// not at its file's start begins. See skip.go.
	SkipBadRecords int
	TextStarts     map[mr.Split]int64
}

// Scheduler is the master's state machine. It does no I/O, takes no locks
// and never reads the clock: callers pass the time in and serialise calls.
type Scheduler struct {
	cfg         Config
	maps        []task
	reduces     []task
	mapQueue    []int // map tasks to run again, in that order; may hold stale entries
	reduceQueue []int
	// Map tasks never started are handed out in claims; see claims.go.
	fresh   []span           // ids never started nor claimed
	claims  map[string]*span // each worker's claim, of ids not yet started
	claimed int              // ids in claims
	locs    mr.Locations     // where the map outputs are, for reduce tasks; nil when it must be built again
	locsID  uint64           // names locs; see mr.Task.LocationsID
	locsSeq uint64           // how many times locs was built
	// live holds every task with an attempt in flight (and some that
	// have none since), so that the periodic checks need not walk every
	// task of a job with hundreds of thousands.
	live []*task
	// redos lists map outputs lost, by sequence number, so that a reduce
	// attempt's heartbeat learns those lost since it started.
	redos       []redoNote
	mapsLeft    int
	reducesLeft int
	failure     string               // why the job failed; "" while it has not
	workers     map[string]time.Time // live workers, by when last heard from
	dead        map[string]bool      // workers declared dead; they must rejoin
	events      []Event              // decisions not yet handed out by Events
	seq         int                  // counts attempts started and outputs lost, to order them
	sample      samplePhase          // see sample.go
	// What the job has counted: the built-in and the app's counters of
	// every committed map and reduce attempt, and attempts failed and lost.
	totals   mr.Stats
	counters map[string]int64
	info     map[string]*workerInfo // every worker ever heard from, dead ones too
	recent   []Event                // the latest noteworthy events, oldest first, at most maxRecent
	phases   [4]phaseTimes          // by mr.TaskKind
	sizes    []int64                // bytes of input of each map task
	took     [4]durations           // how long each committed task took, by mr.TaskKind; see backup.go
	recheck  [4]time.Time           // when backup may next look for stragglers, by mr.TaskKind
	names    map[string]string      // one copy of each worker's name and address; see intern
	ended    time.Time              // when the job ended; zero while it runs
	skipped  []SkippedRecord        // the bad records left out, in the order decided (skip.go)
}

// workerInfo is what the status page shows of a worker.
type workerInfo struct {
	addr               string    // where its calls come from, as the master sees it
	last               time.Time // when last heard from
	done, failed, lost int       // its attempts that committed, failed and were lost
}

// phaseTimes is when a phase's first attempt started and its last task
// committed; end is zero while the phase has tasks left.
type phaseTimes struct{ start, end time.Time }

// Event is something the scheduler decided on its own, such as giving up
// on a silent attempt, for the master to log.
type Event struct {
	Time   time.Time
	Task   mr.TaskRef
	Worker string
	What   string
}

func (e Event) String() string {
	return fmt.Sprintf("%v task %d attempt %d on worker %s: %s", e.Task.Kind, e.Task.ID, e.Task.Attempt, e.Worker, e.What)
}

// NewScheduler queues one map task per split and cfg.NReduce reduce tasks.
func NewScheduler(cfg Config) *Scheduler {
	if cfg.WorkerTimeout <= 0 {
		cfg.WorkerTimeout = cfg.TaskTimeout
	}
	s := &Scheduler{
		cfg:         cfg,
		maps:        make([]task, len(cfg.Tasks)),
		reduces:     make([]task, cfg.NReduce),
		mapsLeft:    len(cfg.Tasks),
		reducesLeft: cfg.NReduce,
		workers:     make(map[string]time.Time),
		dead:        make(map[string]bool),
		sample:      samplePhase{plan: samplePlan(cfg.Tasks)},
		counters:    make(map[string]int64),
		info:        make(map[string]*workerInfo),
		sizes:       make([]int64, len(cfg.Tasks)),
		claims:      make(map[string]*span),
		names:       make(map[string]string),
		fresh:       []span{{0, len(cfg.Tasks)}},
	}
	for i := range s.maps {
		s.maps[i].ref = mr.TaskRef{Kind: mr.MapTask, ID: i}
		for _, sp := range cfg.Tasks[i] {
			s.sizes[i] += sp.Length
		}
	}
	for i := range s.reduces {
		s.reduces[i].ref = mr.TaskRef{Kind: mr.ReduceTask, ID: i}
		s.reduceQueue = append(s.reduceQueue, i)
	}
	return s
}

// Done reports whether every task has committed.
func (s *Scheduler) Done() bool { return s.mapsLeft == 0 && s.reducesLeft == 0 }

// Failure returns why the job failed, or "" if it has not.
func (s *Scheduler) Failure() string { return s.failure }

// Over reports whether the job has ended, well or badly.
func (s *Scheduler) Over() bool { return s.Done() || s.failure != "" }

func (s *Scheduler) task(ref mr.TaskRef) *task {
	switch ref.Kind {
	case mr.MapTask:
		if ref.ID >= 0 && ref.ID < len(s.maps) {
			return &s.maps[ref.ID]
		}
	case mr.ReduceTask:
		if ref.ID >= 0 && ref.ID < len(s.reduces) {
			return &s.reduces[ref.ID]
		}
	case mr.SampleTask:
		if ref.ID >= 0 && ref.ID < len(s.sample.tasks) {
			return &s.sample.tasks[ref.ID]
		}
	}
	return nil
}

// attempt returns the attempt ref names, or nil if it was never issued.
func (s *Scheduler) attempt(ref mr.TaskRef) (*task, *attempt) {
	t := s.task(ref)
	if t == nil || ref.Epoch != s.cfg.Epoch || ref.Attempt < 1 || ref.Attempt > len(t.attempts) {
		return nil, nil
	}
	return t, &t.attempts[ref.Attempt-1]
}

// Assign gives worker the next task to run: the sample tasks first, if
// the job has a sample phase (see Poll), then a map task while any is
// queued, then reduce tasks once every map has committed. It returns
// mr.Wait when nothing can start yet and mr.Exit once the job is over.
// The returned task carries the scheduling fields only (TaskRef, Splits,
// Runs, NMap, NReduce, SampleSize, Cuts). Called before any Poll, it
// decides that the job has no sample phase.
func (s *Scheduler) Assign(worker string, now time.Time) (mr.Action, mr.Task) {
	return s.assign(worker, 0, now)
}

// assign is Assign for a worker that holds the map output locations
// named held (0 for none): a reduce task that would carry the same ones
// carries only their ID.
func (s *Scheduler) assign(worker string, held uint64, now time.Time) (mr.Action, mr.Task) {
	defer s.stamp(now)
	if !s.heard(worker, now) {
		return mr.Wait, mr.Task{}
	}
	s.declare(worker, s.sample.asked) // agrees with any decision; decides "off" if none yet
	if s.Over() {
		return mr.Exit, mr.Task{}
	}
	if s.sampling() {
		return s.assignSample(worker, now)
	}
	if id, ok := s.popMap(worker); ok {
		t := s.start(&s.maps[id], worker, now)
		t.Splits = s.cfg.Tasks[id]
		return mr.Run, t
	}
	if s.mapsLeft > 0 {
		if id, ok := s.backup(mr.MapTask, worker, now); ok {
			t := s.startBackup(mr.MapTask, id, worker, now)
			t.Splits = s.cfg.Tasks[id]
			return mr.Run, t
		}
		return mr.Wait, mr.Task{}
	}
	if id, ok := s.popReduce(worker); ok {
		return mr.Run, s.withLocations(s.start(&s.reduces[id], worker, now), held)
	}
	if id, ok := s.backup(mr.ReduceTask, worker, now); ok {
		return mr.Run, s.withLocations(s.startBackup(mr.ReduceTask, id, worker, now), held)
	}
	return mr.Wait, mr.Task{}
}

// withLocations tells reduce task t where every map output is, unless
// its worker holds the same locations already (held).
func (s *Scheduler) withLocations(t mr.Task, held uint64) mr.Task {
	locs := s.locations()
	t.LocationsID = s.locsID
	if held != s.locsID {
		t.Locations = locs
	}
	return t
}

// popMap takes the next map task worker should run: one of its claim or
// a new one (see claims.go), else one queued to run again, else one of
// another worker's claim.
func (s *Scheduler) popMap(worker string) (int, bool) {
	if id, ok := s.claimMap(worker, false); ok {
		return id, true
	}
	if id, ok := s.popQueued(worker); ok {
		return id, true
	}
	return s.claimMap(worker, true)
}

// popQueued takes the first queued map task that worker should run. A task
// whose output on worker could not be fetched goes to another worker,
// if there is one, lest it land on the same broken server again.
func (s *Scheduler) popQueued(worker string) (int, bool) {
	for i := 0; i < len(s.mapQueue); {
		id := s.mapQueue[i]
		t := &s.maps[id]
		switch {
		case t.state != taskIdle && i == 0:
			s.mapQueue = s.mapQueue[1:] // stale entry
		case t.state != taskIdle || (t.avoid == worker && len(s.workers) > 1):
			i++
		case i == 0:
			s.mapQueue = s.mapQueue[1:]
			return id, true
		default:
			s.mapQueue = append(s.mapQueue[:i], s.mapQueue[i+1:]...)
			return id, true
		}
	}
	return 0, false
}

// popReduce takes the first queued reduce task that is still idle,
// preferring one whose last attempt ran on worker: a reduce that could not
// fetch all its input leaves the copies it did fetch there.
func (s *Scheduler) popReduce(worker string) (int, bool) {
	for n, id := range s.reduceQueue {
		t := &s.reduces[id]
		if t.state == taskIdle && len(t.attempts) > 0 && t.attempts[len(t.attempts)-1].worker == worker && t.avoid != worker {
			s.reduceQueue = slices.Delete(s.reduceQueue, n, n+1)
			return id, true
		}
	}
	if len(s.workers) > 1 {
		for n, id := range s.reduceQueue {
			switch t := &s.reduces[id]; {
			case t.state != taskIdle && n == 0:
				s.reduceQueue = s.reduceQueue[1:] // stale: drop it, so the next poll need not walk it
				return s.popReduce(worker)
			case t.state == taskIdle && t.avoid != worker && n == 0:
				s.reduceQueue = s.reduceQueue[1:]
				return id, true
			case t.state == taskIdle && t.avoid != worker:
				s.reduceQueue = slices.Delete(s.reduceQueue, n, n+1)
				return id, true
			}
		}
		return 0, false // another worker will take what is left
	}
	return pop(&s.reduceQueue, s.reduces)
}

// pop takes the first queued task that is still idle.
func pop(q *[]int, tasks []task) (int, bool) {
	for len(*q) > 0 {
		id := (*q)[0]
		*q = (*q)[1:]
		if tasks[id].state == taskIdle {
			return id, true
		}
	}
	return 0, false
}

func (s *Scheduler) start(t *task, worker string, now time.Time) mr.Task {
	t.state = taskRunning
	if !t.listed {
		t.listed = true
		s.live = append(s.live, t)
	}
	s.seq++
	t.attempts = append(t.attempts, attempt{worker: s.intern(worker), state: attemptRunning, lastHeard: now, seq: s.seq, started: now})
	if p := &s.phases[t.ref.Kind]; p.start.IsZero() {
		p.start = now
	}
	ref := t.ref
	ref.Attempt = len(t.attempts)
	ref.Epoch = s.cfg.Epoch
	return mr.Task{TaskRef: ref, NMap: len(s.maps), NReduce: len(s.reduces), Cuts: s.sample.cuts, Skip: s.skipPlan(t)}
}

// Heartbeat records that an attempt is alive. It returns done when the
// task has already been committed, so the attempt can stop, and, for a
// reduce attempt, lost: the map tasks whose output it was given that have
// since been lost, so that it stops fetching them.
func (s *Scheduler) Heartbeat(hb mr.HeartbeatArgs, now time.Time) (done bool, lost []int) {
	worker, ref := hb.Worker, hb.Task
	if !s.heard(worker, now) {
		return false, nil
	}
	if ref.Epoch != s.cfg.Epoch {
		return true, nil // an attempt of a master that crashed: the job has moved on
	}
	t, a := s.attempt(ref)
	if t == nil || a.worker != worker {
		return false, nil
	}
	a.lastHeard = now
	if a.state == attemptRunning {
		a.stats, a.counters = hb.Stats, hb.Counters
		if hb.Size > 0 {
			a.size = hb.Size
		}
	}
	if ref.Kind == mr.ReduceTask {
		lost = s.lostSince(a.seq)
	}
	return t.state >= taskCommitting, lost
}

// redoNote says that map task id's output was lost at sequence number seq.
type redoNote struct{ seq, id int }

// lostSince lists the map tasks whose output was lost after sequence
// number seq.
func (s *Scheduler) lostSince(seq int) []int {
	i, _ := slices.BinarySearchFunc(s.redos, seq+1, func(r redoNote, seq int) int { return cmp.Compare(r.seq, seq) })
	var ids []int
	for _, r := range s.redos[i:] {
		ids = append(ids, r.id)
	}
	return ids
}

// Outcome is what a report did to the schedule.
type Outcome int

const (
	Ignored   Outcome = iota // stale, duplicate or unknown: nothing changed
	Accepted                 // the task committed (a reduce: is committing)
	Duplicate                // this attempt had already committed: a retried report
	Retrying                 // the attempt failed; the task will run again
	JobFailed                // the attempt failed and the task has no tries left
)

func (o Outcome) String() string {
	return [...]string{"ignored", "accepted", "duplicate", "retrying", "job failed"}[o]
}

// Complete applies a worker's report. The first successful report of a
// task wins, even from an attempt already given up as lost, since its
// output is complete; later ones are ignored. A successful reduce enters
// taskCommitting, and the caller must follow up with Committed once it has
// moved rep.Output into place.
func (s *Scheduler) Complete(rep mr.ReportArgs, now time.Time) Outcome {
	defer s.stamp(now)
	if !s.heard(rep.Worker, now) {
		return Ignored // a dead worker's report: its output may be gone
	}
	t, a := s.attempt(rep.Task)
	if t == nil || a.worker != rep.Worker {
		return Ignored
	}
	if a.state == attemptOK && rep.Failure == "" && len(rep.Unreachable) == 0 && len(rep.Corrupt) == 0 {
		return Duplicate
	}
	if t.state >= taskCommitting && a.state == attemptRunning {
		a.state, a.ended = attemptSuperseded, now
	}
	if s.failure != "" || t.state >= taskCommitting || a.state == attemptOK || a.state == attemptFailed || a.state == attemptSuperseded {
		return Ignored
	}
	if len(rep.Unreachable) > 0 && rep.Failure == "" && t.ref.Kind == mr.ReduceTask {
		return s.unreachable(t, a, rep, now)
	}
	if len(rep.Corrupt) > 0 && rep.Failure == "" && t.ref.Kind == mr.ReduceTask {
		return s.corrupt(t, a, rep, now)
	}
	a.ended = now
	if rep.Failure != "" && rep.WorkerFault {
		s.lose(t, a, now)
		t.avoid = a.worker
		s.note(Event{now, rep.Task, a.worker, "lost: the worker could not keep its files: " + rep.Failure})
		if t.lost >= s.cfg.MaxLost {
			s.fail(t, fmt.Sprintf("lost %d times in a row; last: the worker could not keep its files: %s", t.lost, rep.Failure))
			s.settle(t)
			return JobFailed
		}
		s.settle(t)
		return Retrying
	}
	if rep.Failure != "" {
		a.state = attemptFailed
		s.totals[mr.AttemptsFailed]++
		s.info[a.worker].failed++
		s.note(Event{now, rep.Task, a.worker, "failed: " + rep.Failure})
		t.failures++
		t.lost = 0
		t.lastErr = rep.Failure
		if o, ok := s.skipFailed(t, a, rep.Task, rep.Mark, now); ok {
			return o // it crashed on a bad record; see skip.go
		}
		if t.failures >= s.cfg.MaxAttempts {
			s.fail(t, fmt.Sprintf("failed %d times; last error: %s", t.failures, rep.Failure))
			s.settle(t) // idle, not running: nothing of it is in flight
			return JobFailed
		}
		s.settle(t)
		return Retrying
	}
	a.state = attemptOK
	a.stats, a.counters = rep.Stats, rep.Counters
	t.lost = 0
	t.won = rep.Task.Attempt
	s.took[t.ref.Kind].add(a.ended.Sub(a.started))
	if t.ref.Kind == mr.SampleTask {
		s.info[a.worker].done++
		s.commitSample(t, rep.Sample)
		s.phaseEnd(t, s.sample.left, now)
		return Accepted
	}
	if t.ref.Kind == mr.MapTask {
		t.state = taskDone
		t.output, t.wrote, t.addr, t.owner = rep.Output, rep.Task, s.intern(rep.Addr), s.intern(rep.Worker)
		s.locs = nil
		s.mapsLeft--
		s.count(t, 1)
		s.phaseEnd(t, s.mapsLeft, now)
		return Accepted
	}
	t.state = taskCommitting
	t.output = rep.Output
	return Accepted
}

// count adds the committing attempt of t to the job's totals, or with
// sign -1 takes it back out.
func (s *Scheduler) count(t *task, sign int64) {
	a := &t.attempts[t.won-1]
	if sign > 0 {
		s.totals.Add(a.stats)
	} else {
		s.totals.Sub(a.stats)
	}
	for name, v := range a.counters {
		s.counters[name] += sign * v
	}
	if w := s.info[a.worker]; w != nil {
		w.done += int(sign)
	}
}

// phaseEnd notes when the last task of t's phase committed.
func (s *Scheduler) phaseEnd(t *task, left int, now time.Time) {
	if left == 0 {
		s.phases[t.ref.Kind].end = now
	}
}

// maxRecent bounds the events the status page shows.
const maxRecent = 100

// note records e among the recent events, and hands it to Events too.
func (s *Scheduler) note(e Event) {
	if len(s.recent) == maxRecent {
		s.recent = append(s.recent[:0], s.recent[1:]...)
	}
	s.recent = append(s.recent, e)
}

// unreachable handles a reduce attempt that could not fetch some of its
// segments. The attempt is lost rather than failed, since the app is not
// to blame, and each map task whose current output was unreachable runs
// again; the reduce task waits for it. Segments that no longer match a
// map task's output (it was already run again) are ignored.
func (s *Scheduler) unreachable(t *task, a *attempt, rep mr.ReportArgs, now time.Time) Outcome {
	s.lose(t, a, now)
	s.note(Event{now, rep.Task, a.worker, fmt.Sprintf("lost: could not fetch %d map outputs (first from %s)", len(rep.Unreachable), rep.Unreachable[0].Addr)})
	for _, seg := range rep.Unreachable {
		if seg.Map < 0 || seg.Map >= len(s.maps) {
			continue
		}
		mt := &s.maps[seg.Map]
		if mt.state == taskDone && mt.holds(seg) {
			mt.avoid = mt.owner
			s.redo(mt, fmt.Sprintf("reduce task %d could not fetch its output from %s; running it again", t.ref.ID, seg.Addr), now)
		}
	}
	if t.lost >= s.cfg.MaxLost {
		s.fail(t, fmt.Sprintf("lost %d times in a row; last: could not fetch %d map outputs", t.lost, len(rep.Unreachable)))
		return JobFailed
	}
	s.settle(t)
	return Retrying
}

// corrupt handles a reduce attempt that found some of its segments
// damaged, as unreachable handles one that could not fetch them: the
// attempt is lost, and each map task whose current output was damaged runs
// again, on another worker if there is one, even when that output is in
// the shared directory. A reduce that keeps finding damage is bounded by
// MaxLost, like any other.
//
// A report from an attempt already lost (a retried report, or one given up
// for silence) is not counted again, but its segments still run again.
func (s *Scheduler) corrupt(t *task, a *attempt, rep mr.ReportArgs, now time.Time) Outcome {
	again := a.state != attemptRunning
	why := fmt.Sprintf("corrupt output from map tasks %v (map task %d's: %s)", corruptMaps(rep.Corrupt), rep.Corrupt[0].Map, rep.Corrupt[0].Why)
	if !again {
		s.lose(t, a, now)
		s.note(Event{now, rep.Task, a.worker, "lost: " + why})
	}
	redone := 0
	for _, seg := range rep.Corrupt {
		if seg.Map < 0 || seg.Map >= len(s.maps) {
			continue
		}
		mt := &s.maps[seg.Map]
		if mt.state == taskDone && mt.holds(seg.Segment) {
			mt.avoid = mt.owner
			s.redo(mt, fmt.Sprintf("reduce task %d found its output corrupt; running it again", t.ref.ID), now)
			redone++
		}
	}
	if again {
		if redone > 0 {
			return Retrying
		}
		return Ignored
	}
	if t.lost >= s.cfg.MaxLost {
		s.fail(t, fmt.Sprintf("lost %d times in a row; last: %s", t.lost, why))
		return JobFailed
	}
	s.settle(t)
	return Retrying
}

// corruptMaps lists the map tasks that wrote segs.
func corruptMaps(segs []mr.CorruptSegment) []int {
	ids := make([]int, len(segs))
	for i, s := range segs {
		ids[i] = s.Map
	}
	return ids
}

// Damaged handles the report of a reduce attempt whose output reached the
// master damaged: collected output whose CRC-32C is not what the worker
// sent. The attempt is lost, not failed, since the app is not to blame,
// and the task runs again. A report Complete would ignore is ignored.
func (s *Scheduler) Damaged(rep mr.ReportArgs, why string, now time.Time) Outcome {
	defer s.stamp(now)
	if !s.heard(rep.Worker, now) {
		return Ignored
	}
	t, a := s.attempt(rep.Task)
	if t == nil || a.worker != rep.Worker || t.ref.Kind != mr.ReduceTask {
		return Ignored
	}
	if t.state >= taskCommitting && a.state == attemptRunning {
		a.state, a.ended = attemptSuperseded, now
	}
	if s.failure != "" || t.state >= taskCommitting || a.state != attemptRunning {
		return Ignored
	}
	s.lose(t, a, now)
	s.note(Event{now, rep.Task, a.worker, "lost: " + why})
	if t.lost >= s.cfg.MaxLost {
		s.fail(t, fmt.Sprintf("lost %d times in a row; last: %s", t.lost, why))
		return JobFailed
	}
	s.settle(t)
	return Retrying
}

// redo returns a committed map task to the queue because its output is
// gone, and notes why.
func (s *Scheduler) redo(t *task, why string, now time.Time) {
	ref := t.ref
	ref.Attempt = len(t.attempts)
	s.event(Event{now, ref, t.owner, why})
	s.count(t, -1)
	t.won = 0
	t.state = taskIdle
	t.backedUp = false
	t.output, t.wrote, t.addr, t.owner = "", mr.TaskRef{}, "", ""
	s.locs = nil
	s.seq++
	s.redos = append(s.redos, redoNote{s.seq, t.ref.ID})
	s.mapsLeft++
	s.phases[mr.MapTask].end = time.Time{}
	s.mapQueue = append(s.mapQueue, t.ref.ID)
}

// needed reports whether committed map output is still to be read: some
// reduce task has not committed. (Whether the output holds anything for
// that reduce task is in the file's index, which the master does not
// keep.)
func (s *Scheduler) needed() bool {
	for r := range s.reduces {
		if s.reduces[r].state < taskCommitting {
			return true
		}
	}
	return false
}

// heard notes that worker is alive, unless it was declared dead, in which
// case it must rejoin under a new name and heard returns false.
func (s *Scheduler) heard(worker string, now time.Time) bool {
	if s.dead[worker] {
		return false
	}
	s.workers[worker] = now
	w := s.info[worker]
	if w == nil {
		w = &workerInfo{}
		s.info[worker] = w
	}
	w.last = now
	return true
}

// Address notes where a worker's calls come from, for the status page.
func (s *Scheduler) Address(worker, addr string) {
	if w := s.info[worker]; w != nil && addr != "" {
		w.addr = addr
	}
}

// event notes e for Events, and among the recent events.
func (s *Scheduler) event(e Event) {
	s.events = append(s.events, e)
	s.note(e)
}

// lose marks a running attempt of t lost.
func (s *Scheduler) lose(t *task, a *attempt, now time.Time) {
	a.state = attemptLost
	a.ended = now
	t.lost++
	t.lostEver++
	s.totals[mr.AttemptsLost]++
	if w := s.info[a.worker]; w != nil {
		w.lost++
	}
}

// stamp notes when the job ended, the first time it is seen over.
func (s *Scheduler) stamp(now time.Time) {
	if s.ended.IsZero() && s.Over() {
		s.ended = now
	}
}

// Dead reports whether worker was declared dead and must rejoin.
func (s *Scheduler) Dead(worker string) bool { return s.dead[worker] }

// Events hands out the decisions the scheduler took on its own since the
// last call, such as running a map task again, for the master to log.
func (s *Scheduler) Events() []Event {
	e := s.events
	s.events = nil
	return e
}

// Committed finishes a reduce left in taskCommitting by Complete. A non-nil
// err means its output could not be moved into place; that counts as a
// failed attempt.
func (s *Scheduler) Committed(id int, err error, now time.Time) Outcome {
	defer s.stamp(now)
	if id < 0 || id >= len(s.reduces) || s.reduces[id].state != taskCommitting {
		return Ignored
	}
	t := &s.reduces[id]
	if err == nil {
		t.state = taskDone
		s.reducesLeft--
		s.count(t, 1)
		s.phaseEnd(t, s.reducesLeft, now)
		return Accepted
	}
	for i := range t.attempts {
		if a := &t.attempts[i]; a.state == attemptOK {
			a.state = attemptFailed
			s.totals[mr.AttemptsFailed]++
			s.info[a.worker].failed++
		}
	}
	t.won = 0
	s.note(Event{now, mr.TaskRef{Kind: mr.ReduceTask, ID: id}, "", "failed: commit output: " + err.Error()})
	t.state = taskRunning
	t.failures++
	t.lastErr = "commit output: " + err.Error()
	if t.failures >= s.cfg.MaxAttempts {
		s.fail(t, fmt.Sprintf("failed %d times; last error: %s", t.failures, t.lastErr))
		return JobFailed
	}
	s.settle(t)
	return Retrying
}

// Expire declares workers silent for longer than the worker timeout dead,
// and gives up on attempts not heard from for longer than the task
// timeout, so that their tasks run again elsewhere. A dead worker's
// attempts are lost, and the map output it holds, which died with it, is
// written again if a reduce task still needs it; output in the shared
// directory outlives its worker and is kept. It returns what it decided,
// with anything else Events would have returned.
func (s *Scheduler) Expire(now time.Time) []Event {
	defer s.stamp(now)
	for w, seen := range s.workers {
		if silent := now.Sub(seen); silent > s.cfg.WorkerTimeout {
			s.bury(w, silent, now)
		}
	}
	events := s.Events()
	s.prune()
	for _, t := range s.live {
		if t.state != taskRunning {
			continue
		}
		for n := range t.attempts {
			a := &t.attempts[n]
			silent := now.Sub(a.lastHeard)
			if a.state != attemptRunning || silent <= s.cfg.TaskTimeout {
				continue
			}
			s.lose(t, a, now)
			s.skipLost(t, n+1, now)
			ref := t.ref
			ref.Attempt = n + 1
			e := Event{now, ref, a.worker, fmt.Sprintf("lost after %v of silence; running it again", silent.Round(time.Millisecond))}
			s.note(e)
			events = append(events, e)
			if t.lost >= s.cfg.MaxLost && s.failure == "" {
				s.fail(t, fmt.Sprintf("lost %d times in a row: the workers running it keep dying or going silent (last: %s)", t.lost, a.worker))
			}
		}
		s.settle(t)
	}
	return events
}

// prune drops from live the tasks with no attempt in flight.
func (s *Scheduler) prune() {
	kept := s.live[:0]
	for _, t := range s.live {
		if t.running() {
			kept = append(kept, t)
		} else {
			t.listed = false
		}
	}
	clear(s.live[len(kept):])
	s.live = kept
}

// bury declares worker dead after silent of silence.
func (s *Scheduler) bury(worker string, silent time.Duration, now time.Time) {
	delete(s.workers, worker)
	s.dead[worker] = true
	s.release(worker)
	s.prune()
	for _, t := range s.live {
		for n := range t.attempts {
			a := &t.attempts[n]
			if a.worker != worker || a.state != attemptRunning {
				continue
			}
			s.lose(t, a, now)
			s.skipLost(t, n+1, now)
			ref := t.ref
			ref.Attempt = n + 1
			s.event(Event{now, ref, worker, fmt.Sprintf("lost: the worker was silent for %v and is dead; running it again", silent.Round(time.Millisecond))})
			if t.lost >= s.cfg.MaxLost && s.failure == "" {
				s.fail(t, fmt.Sprintf("lost %d times in a row: the workers running it keep dying or going silent (last: %s)", t.lost, worker))
			}
		}
		s.settle(t)
	}
	if s.Over() || !s.needed() {
		return
	}
	for i := range s.maps {
		t := &s.maps[i]
		if t.state == taskDone && t.owner == worker && t.addr != "" {
			s.redo(t, "its output was lost with its worker; running it again", now)
		}
	}
}

// settle returns a running task with no attempt in flight to the queue.
func (s *Scheduler) settle(t *task) {
	if t.state != taskRunning || t.running() {
		return
	}
	t.state = taskIdle
	switch t.ref.Kind {
	case mr.MapTask:
		s.mapQueue = append(s.mapQueue, t.ref.ID)
	case mr.ReduceTask:
		s.reduceQueue = append(s.reduceQueue, t.ref.ID)
	case mr.SampleTask:
		s.sample.queue = append(s.sample.queue, t.ref.ID)
	}
}

func (s *Scheduler) fail(t *task, why string) {
	s.failure = fmt.Sprintf("%v task %d (%s) %s", t.ref.Kind, t.ref.ID, s.describe(t), why)
}

// describe names a task's input for humans.
func (s *Scheduler) describe(t *task) string {
	if t.ref.Kind == mr.ReduceTask {
		return fmt.Sprintf("partition %d of %d", t.ref.ID, len(s.reduces))
	}
	if t.ref.Kind == mr.SampleTask {
		return s.describeSample(t.ref.ID)
	}
	splits := s.cfg.Tasks[t.ref.ID]
	if len(splits) > 1 {
		return fmt.Sprintf("%d inputs, %s to %s", len(splits), splits[0].File, splits[len(splits)-1].File)
	}
	return inputs.Describe(splits[0])
}

// Output returns the file the committing reduce id wants moved into place.
func (s *Scheduler) Output(id int) string { return s.reduces[id].output }

// Status is a snapshot of the job's progress.
type Status struct {
	Samples, SamplesDone, SamplesRunning int // 0, 0, 0 when the job has no sample phase
	Maps, MapsDone, MapsRunning          int
	Reduces, ReducesDone, ReducesRunning int
	Workers                              int // heard from within the task timeout
	Failure                              string
	Stats                                mr.Stats // the job's built-in counters so far
}

// Over reports whether the job has ended, well or badly.
func (st Status) Over() bool {
	return st.Failure != "" || (st.MapsDone == st.Maps && st.ReducesDone == st.Reduces)
}

func (s *Scheduler) Status() Status {
	st := Status{Maps: len(s.maps), Reduces: len(s.reduces), Workers: len(s.workers), Failure: s.failure,
		Stats: s.totals}
	st.MapsDone = len(s.maps) - s.mapsLeft
	st.ReducesDone = len(s.reduces) - s.reducesLeft
	for i := range s.maps {
		if s.maps[i].state == taskRunning {
			st.MapsRunning++
		}
	}
	st.Samples = len(s.sample.tasks)
	st.SamplesDone = st.Samples - s.sample.left
	for i := range s.sample.tasks {
		if s.sample.tasks[i].state == taskRunning {
			st.SamplesRunning++
		}
	}
	for i := range s.reduces {
		if s.reduces[i].state == taskRunning {
			st.ReducesRunning++
		}
	}
	return st
}
