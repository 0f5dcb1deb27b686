package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/auth"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/scratch"
	"gomr.dev/mr"
)

var (
	// ErrJobFailed wraps the master's reason when it ends a failed job.
	ErrJobFailed = errors.New("job failed")
	// ErrRefused wraps the master's reason when it will not take this
	// worker at all.
	ErrRefused = errors.New("refused by the master")
	// ErrMasterUnreachable is returned when the master stays silent for
	// longer than the connect timeout.
	ErrMasterUnreachable = errors.New("master unreachable")
)

// Options configure Run.
type Options struct {
	App    *app.App
	Master Master
	// ID names this worker to the master; it must be unique per process.
	ID string
	// ConnectTimeout is how long the master may stay unreachable before
	// the worker gives up. Default 10s.
	ConnectTimeout time.Duration
	// Logf reports each task and problem. Default: discard.
	Logf func(format string, args ...any)
	// AppSHA256 is the hex SHA-256 of the app's file, which the master
	// checks against the job's app when it serves one.
	AppSHA256 string
	// Slots is how many tasks run at once in this process. Default 1.
	// Each slot polls the master on its own, under the worker's ID.
	Slots int
	// WorkDir, when set, is where this worker keeps its map output, which
	// it then serves to reducers itself. When empty, map output goes to
	// the master's job directory if this worker can see it, and otherwise
	// under the system's temporary directory, served the same way.
	WorkDir string
	// Shuffle configures the server for map output kept here.
	Shuffle ShuffleOptions
	// LocalHost returns this host's address as the master sees it, to
	// advertise to other workers. Default: 127.0.0.1.
	LocalHost func() string
}

// Run asks the master for tasks and runs them until the master says the
// job is over (nil, or an error wrapping ErrJobFailed), the master stays
// unreachable (ErrMasterUnreachable), or ctx ends. A task already running
// when ctx ends is finished first: app code cannot be interrupted.
func Run(ctx context.Context, o Options) error {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.LocalHost == nil {
		o.LocalHost = func() string { return "127.0.0.1" }
	}
	p := &process{Options: o, id: o.ID}
	defer p.close()
	if o.Slots <= 1 {
		return (&worker{p}).loop(ctx)
	}
	// The first slot to end the run, for good or ill, ends the others:
	// they would hear the same from the master.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, o.Slots)
	for range o.Slots {
		go func() { errs <- (&worker{p}).loop(ctx) }()
	}
	first := <-errs
	cancel()
	for range o.Slots - 1 {
		if err := <-errs; first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return first
}

// process is what a worker's slots share: its name with the master, and
// the map output it keeps and serves.
type process struct {
	Options
	mu      sync.Mutex     // guards the fields below
	id      string         // the name the master knows this worker by
	rejoins int            // how often the master declared it dead
	dir     string         // where this worker keeps its files; "" until needed
	shuffle *shuffleServer // nil until map output is first kept here
	fetch   *fetcher       // nil until a reduce first fetches
	// held are the map output locations of the latest reduce tasks,
	// newest last, so that the master need not send them again; see
	// mr.Task.LocationsID.
	held []heldLocations
}

type heldLocations struct {
	id   uint64
	locs mr.Locations
}

// maxHeld bounds the map output locations a worker keeps. They change
// only when map output is lost while reduce tasks run, and a slot whose
// task's locations were dropped meanwhile gives the task back.
const maxHeld = 4

// locations returns the ID of the newest locations this worker holds, or
// 0 for none.
func (p *process) locations() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.held) == 0 {
		return 0
	}
	return p.held[len(p.held)-1].id
}

// withLocations completes a reduce task that came without its map output
// locations, because this worker held them, or keeps those it came with.
// It reports false when they came without and are no longer held.
func (p *process) withLocations(t *mr.Task) bool {
	if t.Kind != mr.ReduceTask || t.LocationsID == 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.held {
		if h.id == t.LocationsID {
			if len(t.Locations) == 0 {
				t.Locations = h.locs
			}
			return true
		}
	}
	if len(t.Locations) == 0 {
		return false
	}
	p.held = append(p.held, heldLocations{t.LocationsID, t.Locations})
	if len(p.held) > maxHeld {
		p.held = p.held[1:]
	}
	return true
}

// name is the worker's current name with the master.
func (p *process) name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// rejoin takes a new name after the master declared old dead, and drops
// the map output kept under the old one, which the master no longer uses.
// Slots that heard the news together rejoin once.
func (p *process) rejoin(old string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.id != old {
		return
	}
	p.rejoins++
	p.id = fmt.Sprintf("%s~%d", p.ID, p.rejoins)
	if p.shuffle != nil {
		p.shuffle.forget()
	}
	p.Logf("the master declared this worker dead; rejoining as %s", p.id)
}

// workDir returns this worker's own directory, making it on first use.
func (p *process) workDir() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir != "" {
		return p.dir, nil
	}
	parent := p.WorkDir
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("--workdir: %w", err)
	}
	dir, err := scratch.Make(parent, "mr-worker-", fmt.Sprint(os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("--workdir: %w", err)
	}
	p.dir = dir
	return dir, nil
}

// server returns the shuffle server, starting it on first use.
func (p *process) server() (*shuffleServer, error) {
	dir, err := p.workDir()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shuffle == nil {
		if p.shuffle, err = startShuffle(p.Shuffle, dir, p.LocalHost(), p.Logf); err != nil {
			return nil, err
		}
		p.Logf("serving map output at %s", p.shuffle.addr)
	}
	return p.shuffle, nil
}

// selfAddr is the address of this worker's shuffle server, or "" when it
// has none.
func (p *process) selfAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shuffle == nil {
		return ""
	}
	return p.shuffle.addr
}

// fetcher returns the client for other workers' shuffle servers.
func (p *process) fetcher() *fetcher {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fetch == nil {
		p.fetch = newFetcher(p.Shuffle.Secret, p.Shuffle.ClientTLS)
	}
	return p.fetch
}

// close stops the shuffle server and removes the worker's files.
func (p *process) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shuffle != nil {
		p.shuffle.close()
	}
	if p.fetch != nil {
		p.fetch.close()
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// keeps reports whether map output should stay on this worker rather
// than go to the master's job directory dir.
func (p *process) keeps(dir string) bool {
	if p.WorkDir != "" {
		return true
	}
	fi, err := os.Stat(dir)
	return err != nil || !fi.IsDir()
}

// loop is one slot: it polls for tasks and runs them one at a time.
func (w *worker) loop(ctx context.Context) error {
	o := w.Options
	args := mr.GetTaskArgs{AppSHA256: o.AppSHA256}
	var err error
	if args.SampleSize, err = sampleSize(o.App); err != nil {
		return fmt.Errorf("SampleSize: %v", err)
	}
	lastOK := time.Now()
	backoff := 50 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		args.Worker, args.Locations = w.name(), w.locations()
		reply, err := o.Master.GetTask(ctx, args)
		if err != nil {
			if auth.Permanent(err) {
				return err // retrying cannot mend a configuration mismatch
			}
			if silent := time.Since(lastOK); silent > o.ConnectTimeout {
				return fmt.Errorf("%w for %v: %v", ErrMasterUnreachable, silent.Round(time.Second), err)
			}
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		lastOK, backoff = time.Now(), 50*time.Millisecond
		if reply.Rejoin {
			w.rejoin(args.Worker)
			continue
		}
		switch reply.Action {
		case mr.Exit:
			if reply.Refused != "" {
				return fmt.Errorf("%w: %s", ErrRefused, reply.Refused)
			}
			if reply.Failure != "" {
				return fmt.Errorf("%w: %s", ErrJobFailed, reply.Failure)
			}
			return nil
		case mr.Run:
			if err := w.run(ctx, args.Worker, reply.Task); err != nil {
				return err
			}
			lastOK = time.Now()
		case mr.Wait:
			// The master long-polls, so asking again at once is fine.
		}
	}
}

// maxFailure bounds the failure text sent to the master, which prints it.
const maxFailure = 2000

// worker is one slot of a worker process.
type worker struct {
	*process
}

// run executes one task, assigned to the worker under the name id, with a
// heartbeat beside it, and reports the result. Only a report that cannot
// reach the master, or a shuffle server that cannot start, is an error.
func (w *worker) run(ctx context.Context, id string, t mr.Task) error {
	if t.Kind != mr.SampleTask && !t.CollectOutput && t.Out == "" {
		// The master renames reduce output into place, so a worker that
		// cannot see the job directory could never finish a reduce task.
		// Better to say so at once than to fail the job's reduces one by
		// one; the attempt is lost and runs elsewhere.
		if fi, err := os.Stat(t.Dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("this worker cannot see the master's job directory %s, where reduce output goes; start the master with --collect-output, or share its --out directory with the workers", t.Dir)
		}
	}
	w.Logf("%v task %d attempt %d: start", t.Kind, t.ID, t.Attempt)
	mr.SetParams(t.Params)
	mr.SetCuts(t.Cuts)
	off := &writtenOff{}
	prog := &progress{marks: newMarker(t.Skip, w.App, id, t.TaskRef, w.Master)}
	stop := w.heartbeat(ctx, id, t, off, prog)
	start := time.Now()
	var rep mr.ReportArgs
	read := inputs.Read
	if t.ShipInputs {
		read = func(s mr.Split) ([]byte, error) {
			data, err := w.Master.ReadSplit(ctx, s)
			if err != nil {
				return nil, fmt.Errorf("read %s from the master: %w", s.File, err)
			}
			return data, nil
		}
	}
	switch t.Kind {
	case mr.MapTask:
		if !w.keeps(t.Dir) {
			rep = runMap(w.App, t, read, prog)
			break
		}
		srv, err := w.server()
		if err != nil {
			stop()
			prog.claim() // so that what the attempt counted does not go to the next one
			return err
		}
		t.Dir = srv.dir
		if rep = runMap(w.App, t, read, prog); rep.Failure == "" {
			srv.publish(filepath.Base(rep.Output))
			rep.Addr = srv.addr
		}
	case mr.SampleTask:
		rep = runSample(w.App, t, read, prog)
	default:
		if !w.withLocations(&t) {
			// Lost, not failed: the master sends them along next time.
			rep = mr.ReportArgs{Failure: "this worker no longer holds the task's map output locations", WorkerFault: true}
			break
		}
		rep = w.reduce(ctx, t, off, prog)
	}
	stop()
	// The heartbeat has stopped, so this is the attempt's last claim. A
	// sample task's counters are sent too, and the master discards them:
	// claiming them keeps them from the next attempt.
	rep.Counters = prog.claim()
	if rep.Stats[mr.MapInputBytes] > 8<<20 {
		// The task's input and buffer are garbage now. Collect them before
		// the next task reads its input, rather than holding both at once.
		debug.FreeOSMemory()
	}
	rep.Worker, rep.Task = id, t.TaskRef
	if len(rep.Failure) > maxFailure {
		rep.Failure = rep.Failure[:maxFailure] + "..."
	}
	rep.WorkerFault = rep.Failure != "" && (rep.WorkerFault || diskFault(rep.Failure))
	switch {
	case prog.stop.Load() && rep.Failure != "":
		rep.Failure = errSuperseded.Error() // whatever the error says, this is why
		w.Logf("%v task %d attempt %d: %v", t.Kind, t.ID, t.Attempt, errSuperseded)
	case rep.Failure != "":
		w.Logf("%v task %d attempt %d: failed: %s", t.Kind, t.ID, t.Attempt, rep.Failure)
	}
	for _, s := range rep.Unreachable {
		w.Logf("%v task %d attempt %d: could not fetch map %d output from %s", t.Kind, t.ID, t.Attempt, s.Map, s.Addr)
	}
	for _, s := range rep.Corrupt {
		w.Logf("%v task %d attempt %d: map %d output %s is damaged: %s", t.Kind, t.ID, t.Attempt, s.Map, s.Path, s.Why)
	}
	reply, err := w.report(ctx, rep)
	if err != nil {
		return err
	}
	if reply.Rejoin {
		w.rejoin(id)
	}
	w.Logf("%v task %d attempt %d: done in %v (accepted: %v)", t.Kind, t.ID, t.Attempt, time.Since(start).Round(time.Millisecond), reply.Accepted)
	if t.Kind == mr.MapTask && rep.Failure == "" && !reply.Accepted {
		// Another attempt committed first, such as the backup of this one,
		// or the job is over: nothing will read this output. A retried
		// report of an attempt that did commit is accepted, so this never
		// removes output in use.
		w.discard(rep)
	}
	if t.Out != "" && t.Kind == mr.ReduceTask && rep.Output != "" && !reply.Accepted {
		discardUpload(ctx, rep.Output) // the same, for output uploaded to a store
	}
	return nil
}

// diskErrors are the errors that mean this worker's disk, not the app,
// failed a task.
var diskErrors = []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO}

// diskFault reports whether a task's failure came from this worker's disk.
// A failure arrives as text, flattened from errors wrapped on many paths
// (spills, merges, fetched copies, output), so this matches the errnos'
// messages.
func diskFault(failure string) bool {
	for _, e := range diskErrors {
		if strings.Contains(failure, e.Error()) {
			return true
		}
	}
	return false
}

// discard removes the output of a map attempt that did not commit.
func (w *worker) discard(rep mr.ReportArgs) {
	if rep.Addr != "" {
		if srv, err := w.server(); err == nil {
			srv.unpublish(filepath.Base(rep.Output))
		}
	}
	os.Remove(rep.Output)
}

// reduce runs a reduce task, fetching the runs that other workers hold.
// Its temporary files go to the job directory when map output goes there
// too, and to this worker's own directory otherwise.
func (w *worker) reduce(ctx context.Context, t mr.Task, off *writtenOff, prog *progress) mr.ReportArgs {
	g := &gatherer{t: t, off: off, fetched: &prog.stats[mr.ShuffleBytesFetched]}
	env := reduceEnv{
		scratch: t.Dir,
		gather: func(dir, kept string) (gathered, error) {
			return g.gather(ctx, dir, kept)
		},
		put: func(args mr.PutOutputArgs) (mr.PutOutputReply, error) {
			return w.Master.PutOutput(ctx, args)
		},
	}
	if t.Out != "" {
		env.upload = uploader(ctx, t)
	}
	srcs, err := t.Locations.Sources(t.NMap)
	if err != nil {
		return mr.ReportArgs{Failure: fmt.Sprintf("read the master's locations of map output: %v", err)}
	}
	remote := slices.ContainsFunc(srcs, func(s mr.Source) bool { return s.Addr != "" })
	if w.keeps(t.Dir) || remote {
		// Fetched copies and merge passes are this worker's business.
		dir, err := w.workDir()
		if err != nil {
			return mr.ReportArgs{Failure: err.Error()}
		}
		env.scratch = dir
		g.selfDir = dir
	}
	if remote {
		g.f, g.self = w.fetcher(), w.selfAddr()
	}
	return runReduce(w.App, t, env, prog)
}

// heartbeat tells the master every t.Heartbeat that the task is alive,
// with what it has counted so far in prog (and the app counter increments
// it claims), and passes on to off the map output the master has written
// off, until the returned stop is called or ctx ends; stop waits for the
// goroutine to end.
func (w *worker) heartbeat(ctx context.Context, id string, t mr.Task, off *writtenOff, prog *progress) (stop func()) {
	every := t.Heartbeat
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				if ctx.Err() != nil {
					return // the tick won the race with ctx.Done
				}
				// Errors are left to the report, which retries.
				args := mr.HeartbeatArgs{Worker: id, Task: t.TaskRef, Stats: prog.Stats(), Counters: prog.claim(), Size: prog.size.Load()}
				reply, err := w.Master.Heartbeat(ctx, args)
				if err == nil {
					off.add(reply.Lost)
					if reply.Done {
						prog.stop.Store(true)
					}
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// report delivers rep, retrying while the master is unreachable for up to
// the connect timeout.
func (w *worker) report(ctx context.Context, rep mr.ReportArgs) (mr.ReportReply, error) {
	first := time.Now()
	backoff := 50 * time.Millisecond
	for {
		reply, err := w.Master.Report(ctx, rep)
		if err == nil {
			return reply, nil
		}
		if silent := time.Since(first); silent > w.ConnectTimeout {
			return reply, fmt.Errorf("%w for %v while reporting %v task %d: %v", ErrMasterUnreachable, silent.Round(time.Second), rep.Task.Kind, rep.Task.ID, err)
		}
		if !sleep(ctx, backoff) {
			return reply, ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
