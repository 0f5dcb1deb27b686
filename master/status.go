package master

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"gomr.dev/mr"
)

// JobStatus is the job as the status API (/api/job) and the job summary
// (OUT/mr-job.json) show it. Its JSON field names are a public interface:
// add to them, never rename one.
type JobStatus struct {
	State    string        `json:"state"` // running, succeeded or failed
	Phase    string        `json:"phase"` // sample, map, reduce or done; a failed job's is where it failed
	Failure  string        `json:"failure,omitempty"`
	Started  time.Time     `json:"started"`
	Ended    *time.Time    `json:"ended,omitempty"`
	Now      time.Time     `json:"now"`
	Elapsed  float64       `json:"elapsed_seconds"`
	Phases   []PhaseStatus `json:"phases"` // in the order they run; no sample phase when the job has none
	Counters Counters      `json:"counters"`
	// Running is what attempts still in flight have counted so far. It
	// is not part of Counters, which holds committed attempts only, and
	// it is empty once the job is over.
	Running Counters      `json:"running_counters"`
	Workers WorkerList    `json:"workers"`
	Tasks   TaskPage      `json:"tasks"`
	Events  []EventStatus `json:"events"` // the latest lost and failed attempts and re-runs, oldest first
	Job     *JobSpec      `json:"job,omitempty"`

	// Skipped lists the bad records the job left out (--skip-bad-records),
	// in the order it decided to; absent when it left out none.
	Skipped []SkippedRecord `json:"skipped_records,omitempty"`
}

// Counters are a job's built-in counters (every name of mr.Stat, zeros
// included) and its app's counters (mr.Counter), by name.
type Counters struct {
	Builtin map[string]int64 `json:"builtin"`
	User    map[string]int64 `json:"user"`
}

// PhaseStatus is one phase's progress. Bytes are input bytes for the
// sample and map phases, and map output (compressed) for the reduce.
type PhaseStatus struct {
	Kind      string     `json:"kind"`
	Tasks     int        `json:"tasks"`
	Idle      int        `json:"idle"`
	Running   int        `json:"running"` // committing reduces included
	Done      int        `json:"done"`
	Progress  float64    `json:"progress"` // 0 to 1, counting work inside running tasks
	Bytes     int64      `json:"bytes"`
	BytesDone int64      `json:"bytes_done"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	Seconds   float64    `json:"seconds"`               // since the phase started, to its end
	Rate      float64    `json:"bytes_per_second"`      // BytesDone over Seconds
	ETA       *float64   `json:"eta_seconds,omitempty"` // time left at the rate so far; absent when unknown
}

// TaskStatus is one task: its state and its latest attempt.
type TaskStatus struct {
	Kind      string     `json:"kind"`
	ID        int        `json:"id"`
	State     string     `json:"state"` // idle, running, committing or done
	Input     string     `json:"input"`
	Attempts  int        `json:"attempts"`
	Failures  int        `json:"failures"` // failed attempts
	Lost      int        `json:"lost"`     // lost attempts
	Worker    string     `json:"worker,omitempty"`
	Started   *time.Time `json:"started,omitempty"`
	Seconds   float64    `json:"seconds"`  // the committed attempt's run time, or the latest one's so far
	BytesIn   int64      `json:"bytes_in"` // map: input read; reduce: map output read
	BytesOut  int64      `json:"bytes_out"`
	Progress  float64    `json:"progress"`
	LastError string     `json:"last_error,omitempty"`
	// History lists every attempt, oldest first. Only the job summary
	// (mr-job.json) has it.
	History []AttemptStatus `json:"history,omitempty"`
}

// AttemptStatus is one attempt of a task.
type AttemptStatus struct {
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker"`
	Outcome string    `json:"outcome"` // running, ok, failed, lost or superseded (finished after another attempt committed)
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Backup  bool      `json:"backup,omitempty"` // started as a backup of a slow attempt
}

// TaskPage is one page of the task table, filtered by kind and state.
type TaskPage struct {
	Kind   string         `json:"kind,omitempty"`  // the filter: sample, map, reduce, or "" for all
	State  string         `json:"state,omitempty"` // the filter: idle, running, committing, done, troubled, or "" for all
	Total  int            `json:"total"`           // tasks that match the filter
	Offset int            `json:"offset"`
	Limit  int            `json:"limit"`
	Tasks  []TaskStatus   `json:"tasks"`
	Counts map[string]int `json:"counts"` // tasks of the kind filter by state, troubled included
}

// WorkerList is the workers the master has heard from.
type WorkerList struct {
	Alive   int            `json:"alive"`
	Dead    int            `json:"dead"`
	Total   int            `json:"total"`
	Workers []WorkerStatus `json:"workers"` // alive first, then by name; at most the query's limit
}

// WorkerStatus is one worker process, under one name: a worker declared
// dead that comes back rejoins under a new name ("NAME~N").
type WorkerStatus struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr,omitempty"`
	State     string    `json:"state"` // alive, dead, or rejoined (alive under a new name)
	LastHeard time.Time `json:"last_heard"`
	Silent    float64   `json:"silent_seconds"`
	Running   int       `json:"running"`
	Done      int       `json:"tasks_done"` // committed attempts
	Failed    int       `json:"failed"`
	Lost      int       `json:"lost"`
}

// EventStatus is a lost or failed attempt, or a map task run again.
type EventStatus struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Task    int       `json:"task"`
	Attempt int       `json:"attempt"`
	Worker  string    `json:"worker,omitempty"`
	What    string    `json:"what"`
}

// JobSpec is what the job was asked to do, as the master was started.
type JobSpec struct {
	Inputs     []InputFile       `json:"inputs"`
	InputBytes int64             `json:"input_bytes"`
	Flags      map[string]string `json:"flags"`
	Params     map[string]string `json:"params,omitempty"`
}

// InputFile is one of the job's input files.
type InputFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// Query picks what a snapshot shows of the task and worker tables.
type Query struct {
	Kind, State string // task filters, as in TaskPage; "" for all
	Offset      int
	Limit       int  // tasks on the page; 0 for DefaultLimit, negative for all
	Workers     int  // workers to list; 0 for DefaultLimit, negative for all
	History     bool // list every attempt of each task listed
}

// DefaultLimit is the tasks, and the workers, a snapshot lists unless the
// query asks for another number.
const DefaultLimit = 100

// Snapshot describes the job at now. It walks every task once.
func (s *Scheduler) Snapshot(now time.Time, q Query) JobStatus {
	end := s.clock(now)
	js := JobStatus{
		State:    s.state(),
		Failure:  s.failure,
		Started:  s.cfg.Start,
		Now:      now,
		Elapsed:  end.Sub(s.cfg.Start).Seconds(),
		Counters: Counters{Builtin: s.totals.Map(), User: maps.Clone(s.counters)},
		Running:  Counters{Builtin: map[string]int64{}, User: map[string]int64{}},
		Events:   make([]EventStatus, 0, len(s.recent)),
	}
	if s.Over() {
		js.Ended = &end
	}

	var running mr.Stats
	kinds := s.kinds()
	page := TaskPage{Kind: q.Kind, State: q.State, Offset: max(q.Offset, 0), Limit: limit(q.Limit), Counts: map[string]int{}}
	busy := map[string]int{}
	for _, kind := range kinds {
		tasks := s.tasksOf(kind)
		ps := PhaseStatus{Kind: kind.String(), Tasks: len(tasks)}
		var weight, done float64
		for i := range tasks {
			t := &tasks[i]
			size := s.taskBytes(t)
			progress := s.progress(t, size)
			ps.Bytes += size
			switch t.state {
			case taskIdle:
				ps.Idle++
			case taskDone:
				ps.Done++
			default:
				ps.Running++
			}
			ps.BytesDone += int64(progress * float64(size))
			weight += float64(size)
			done += progress * float64(size)
			for n := range t.attempts {
				if a := &t.attempts[n]; a.state == attemptRunning && t.state == taskRunning {
					busy[a.worker]++
					if kind != mr.SampleTask {
						running.Add(a.stats)
						for name, v := range a.counters {
							js.Running.User[name] += v
						}
					}
				}
			}
			if q.Kind != "" && q.Kind != kind.String() {
				continue
			}
			state := t.state.String()
			page.Counts[state]++
			troubled := t.failures > 0 || t.lostEver > 0
			if troubled {
				page.Counts["troubled"]++
			}
			if q.State != "" && q.State != state && !(q.State == "troubled" && troubled) {
				continue
			}
			if page.Total >= page.Offset && (page.Limit < 0 || len(page.Tasks) < page.Limit) {
				ts := s.taskStatus(t, progress, end)
				if q.History {
					ts.History = history(t, end)
				}
				page.Tasks = append(page.Tasks, ts)
			}
			page.Total++
		}
		switch {
		case weight > 0:
			ps.Progress = done / weight
		case ps.Tasks > 0:
			ps.Progress = float64(ps.Done) / float64(ps.Tasks)
		}
		pt := s.phases[kind]
		if !pt.start.IsZero() {
			start := pt.start
			ps.Started = &start
			stop := end
			if !pt.end.IsZero() && ps.Done == ps.Tasks {
				e := pt.end
				ps.Ended, stop = &e, e
			}
			ps.Seconds = stop.Sub(start).Seconds()
			if ps.Seconds > 0 {
				ps.Rate = float64(ps.BytesDone) / ps.Seconds
			}
			if ps.Ended == nil && !s.Over() && ps.Progress > 0 && ps.Seconds > 0 {
				eta := ps.Seconds * (1 - ps.Progress) / ps.Progress
				ps.ETA = &eta
			}
		}
		js.Phases = append(js.Phases, ps)
	}
	if page.Tasks == nil {
		page.Tasks = []TaskStatus{}
	}
	js.Tasks = page
	// The phase that has tasks left: where the job is, or where it failed.
	js.Phase = "done"
	if !s.Done() {
		for _, ps := range js.Phases {
			if ps.Done < ps.Tasks {
				js.Phase = ps.Kind
				break
			}
		}
	}
	if !s.Over() {
		js.Running.Builtin = running.Map()
	} else {
		js.Running.User = map[string]int64{}
	}
	js.Workers = s.workerList(now, busy, q.Workers)
	js.Skipped = s.Skipped()
	for _, e := range s.recent {
		js.Events = append(js.Events, EventStatus{Time: e.Time, Kind: e.Task.Kind.String(), Task: e.Task.ID, Attempt: e.Task.Attempt, Worker: e.Worker, What: e.What})
	}
	return js
}

// kinds lists the job's phases in the order they run.
func (s *Scheduler) kinds() []mr.TaskKind {
	if len(s.sample.tasks) > 0 {
		return []mr.TaskKind{mr.SampleTask, mr.MapTask, mr.ReduceTask}
	}
	return []mr.TaskKind{mr.MapTask, mr.ReduceTask}
}

// Tasks lists up to n tasks from the off-th, in the order an unfiltered
// Snapshot lists them, each with every attempt: a page of the job
// summary, found without walking every task as Snapshot does.
func (s *Scheduler) Tasks(now time.Time, off, n int) []TaskStatus {
	end := s.clock(now)
	var out []TaskStatus
	for _, kind := range s.kinds() {
		tasks := s.tasksOf(kind)
		for i := off; i < len(tasks) && len(out) < n; i++ {
			t := &tasks[i]
			ts := s.taskStatus(t, s.progress(t, s.taskBytes(t)), end)
			ts.History = history(t, end)
			out = append(out, ts)
		}
		off = max(off-len(tasks), 0)
	}
	return out
}

// state is the job's state: running, succeeded or failed.
func (s *Scheduler) state() string {
	switch {
	case s.failure != "":
		return "failed"
	case s.Done():
		return "succeeded"
	}
	return "running"
}

// clock is the time the job's clock shows at now: now while it runs, the
// moment it ended once it is over.
func (s *Scheduler) clock(now time.Time) time.Time {
	if s.Over() && !s.ended.IsZero() {
		return s.ended
	}
	return now
}

// elapsed is the job's run time so far, or in all once it is over.
func (s *Scheduler) elapsed(now time.Time) time.Duration { return s.clock(now).Sub(s.cfg.Start) }

func limit(n int) int {
	if n == 0 {
		return DefaultLimit
	}
	return n
}

func (s *Scheduler) tasksOf(kind mr.TaskKind) []task {
	switch kind {
	case mr.SampleTask:
		return s.sample.tasks
	case mr.MapTask:
		return s.maps
	}
	return s.reduces
}

// taskBytes is the work a task has to do, in bytes, for weighing its
// progress: its input for a map, its partition of the map output for a
// reduce (0 until an attempt has found and said how much that is),
// nothing for a sample task.
func (s *Scheduler) taskBytes(t *task) int64 {
	switch t.ref.Kind {
	case mr.MapTask:
		return s.sizes[t.ref.ID]
	case mr.ReduceTask:
		if t.won > 0 {
			return t.attempts[t.won-1].stats[mr.ShuffleBytes] // all it read
		}
		var most int64
		for i := range t.attempts {
			most = max(most, t.attempts[i].size)
		}
		return most
	}
	return 0
}

// shown is the attempt the status page shows of t: the one that
// committed, else the latest; nil when none has started.
func (t *task) shown() *attempt {
	switch {
	case t.won > 0:
		return &t.attempts[t.won-1]
	case len(t.attempts) > 0:
		return &t.attempts[len(t.attempts)-1]
	}
	return nil
}

// progress is how much of t is done, from 0 to 1, for a task of size
// bytes: the bytes its running attempt has read so far, short of 1 until
// it commits.
func (s *Scheduler) progress(t *task, size int64) float64 {
	switch {
	case t.state >= taskCommitting:
		return 1
	case t.state != taskRunning || size <= 0:
		return 0
	}
	var read int64
	for n := range t.attempts {
		if a := &t.attempts[n]; a.state == attemptRunning {
			read = max(read, bytesIn(t.ref.Kind, a))
		}
	}
	return min(float64(read)/float64(size), 0.99)
}

// bytesIn and bytesOut are the bytes an attempt read and wrote.
func bytesIn(kind mr.TaskKind, a *attempt) int64 {
	if kind == mr.ReduceTask {
		return a.stats[mr.ShuffleBytes]
	}
	return a.stats[mr.MapInputBytes]
}

func bytesOut(kind mr.TaskKind, a *attempt) int64 {
	switch kind {
	case mr.MapTask:
		return a.stats[mr.MapOutputMaterialized]
	case mr.ReduceTask:
		return a.stats[mr.OutputBytes]
	}
	return 0
}

func (s *Scheduler) taskStatus(t *task, progress float64, now time.Time) TaskStatus {
	ts := TaskStatus{Kind: t.ref.Kind.String(), ID: t.ref.ID, State: t.state.String(), Input: s.describe(t),
		Attempts: len(t.attempts), Failures: t.failures, Lost: t.lostEver, LastError: t.lastErr, Progress: progress}
	a := t.shown()
	if a == nil {
		return ts
	}
	started := a.started
	ts.Worker, ts.Started = a.worker, &started
	ts.Seconds = a.seconds(now)
	ts.BytesIn, ts.BytesOut = bytesIn(t.ref.Kind, a), bytesOut(t.ref.Kind, a)
	return ts
}

func history(t *task, now time.Time) []AttemptStatus {
	h := make([]AttemptStatus, len(t.attempts))
	for n := range t.attempts {
		a := &t.attempts[n]
		h[n] = AttemptStatus{Attempt: n + 1, Worker: a.worker, Outcome: a.state.String(), Started: a.started, Seconds: a.seconds(now), Backup: a.backup}
	}
	return h
}

// seconds is how long the attempt ran, or has run so far.
func (a *attempt) seconds(now time.Time) float64 {
	stop := a.ended
	if stop.IsZero() {
		stop = now
	}
	return stop.Sub(a.started).Seconds()
}

func (s *Scheduler) workerList(now time.Time, busy map[string]int, n int) WorkerList {
	wl := WorkerList{Total: len(s.info), Workers: []WorkerStatus{}}
	for id, w := range s.info {
		ws := WorkerStatus{ID: id, Addr: w.addr, State: "alive", Running: busy[id], Done: w.done, Failed: w.failed, Lost: w.lost}
		if s.dead[id] {
			ws.State = "dead"
			wl.Dead++
		} else {
			wl.Alive++
			if strings.Contains(id, "~") {
				ws.State = "rejoined"
			}
		}
		ws.LastHeard = w.last
		ws.Silent = now.Sub(w.last).Seconds()
		wl.Workers = append(wl.Workers, ws)
	}
	slices.SortFunc(wl.Workers, func(a, b WorkerStatus) int {
		if da, db := a.State == "dead", b.State == "dead"; da != db {
			if da {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if n = limit(n); n >= 0 && len(wl.Workers) > n {
		wl.Workers = wl.Workers[:n]
	}
	return wl
}

// Metrics is what the master's /metrics shows, counted in one walk over
// the tasks.
type Metrics struct {
	State     string               // as JobStatus.State
	Tasks     map[[2]string]int    // by kind and state
	Attempts  map[[2]string]int    // finished attempts by kind and outcome
	Running   map[string]int       // attempts in flight by kind
	Alive     int                  // live workers
	Dead      int                  // workers declared dead
	Durations map[string][]float64 // seconds of each committed attempt, by kind
	Stats     mr.Stats             // the job's totals
	Counters  map[string]int64     // the app's counters
}

// Metrics counts the job for the metrics endpoint at now.
func (s *Scheduler) Metrics(now time.Time) Metrics {
	m := Metrics{State: s.state(), Tasks: map[[2]string]int{}, Attempts: map[[2]string]int{}, Running: map[string]int{},
		Durations: map[string][]float64{}, Stats: s.totals, Counters: maps.Clone(s.counters), Dead: len(s.dead), Alive: len(s.workers)}
	for _, kind := range []mr.TaskKind{mr.SampleTask, mr.MapTask, mr.ReduceTask} {
		k := kind.String()
		for _, st := range []taskState{taskIdle, taskRunning, taskCommitting, taskDone} {
			m.Tasks[[2]string{k, st.String()}] = 0
		}
		for _, st := range []attemptState{attemptOK, attemptFailed, attemptLost, attemptSuperseded} {
			m.Attempts[[2]string{k, st.String()}] = 0
		}
		tasks := s.tasksOf(kind)
		for i := range tasks {
			t := &tasks[i]
			m.Tasks[[2]string{k, t.state.String()}]++
			for n := range t.attempts {
				a := &t.attempts[n]
				if a.state == attemptRunning {
					m.Running[k]++
					continue
				}
				m.Attempts[[2]string{k, a.state.String()}]++
			}
			if t.won > 0 && t.state == taskDone {
				m.Durations[k] = append(m.Durations[k], t.attempts[t.won-1].seconds(now))
			}
		}
	}
	return m
}
