package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/auth"
	"gomr.dev/internal/inputs"
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
	// Each slot polls the master on its own, as worker ID/slot.
	Slots int
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
	if o.Slots <= 1 {
		return (&worker{Options: o}).loop(ctx)
	}
	// The first slot to end the run, for good or ill, ends the others:
	// they would hear the same from the master.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, o.Slots)
	for i := range o.Slots {
		so := o
		so.ID = fmt.Sprintf("%s/%d", o.ID, i)
		go func() { errs <- (&worker{Options: so}).loop(ctx) }()
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

// loop is one slot: it polls for tasks and runs them one at a time.
func (w *worker) loop(ctx context.Context) error {
	o := w.Options
	args := mr.GetTaskArgs{Worker: o.ID, AppSHA256: o.AppSHA256}
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
			if err := w.run(ctx, reply.Task); err != nil {
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

type worker struct {
	Options
}

// run executes one task with a heartbeat beside it and reports the result.
// Only a report that cannot reach the master is an error.
func (w *worker) run(ctx context.Context, t mr.Task) error {
	w.Logf("%v task %d attempt %d: start", t.Kind, t.ID, t.Attempt)
	mr.SetParams(t.Params)
	mr.SetCuts(t.Cuts)
	stop := w.heartbeat(ctx, t)
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
		rep = runMap(w.App, t, read)
	case mr.SampleTask:
		rep = runSample(w.App, t, read)
	default:
		rep = runReduce(w.App, t, func(args mr.PutOutputArgs) (mr.PutOutputReply, error) {
			return w.Master.PutOutput(ctx, args)
		})
	}
	stop()
	if rep.Stats.InputBytes > 8<<20 {
		// The task's input and buffer are garbage now. Collect them before
		// the next task reads its input, rather than holding both at once.
		debug.FreeOSMemory()
	}
	rep.Worker, rep.Task = w.ID, t.TaskRef
	if len(rep.Failure) > maxFailure {
		rep.Failure = rep.Failure[:maxFailure] + "..."
	}
	if rep.Failure != "" {
		w.Logf("%v task %d attempt %d: failed: %s", t.Kind, t.ID, t.Attempt, rep.Failure)
	}
	reply, err := w.report(ctx, rep)
	if err != nil {
		return err
	}
	w.Logf("%v task %d attempt %d: done in %v (accepted: %v)", t.Kind, t.ID, t.Attempt, time.Since(start).Round(time.Millisecond), reply.Accepted)
	// A report that lost the race leaves its files behind on purpose: the
	// master removes the whole scratch directory when the job ends, and
	// deleting here could race with a retried report that did commit.
	return nil
}

// heartbeat tells the master every t.Heartbeat that the task is alive,
// until the returned stop is called; stop waits for the goroutine to end.
func (w *worker) heartbeat(ctx context.Context, t mr.Task) (stop func()) {
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
				// Errors are left to the report, which retries.
				w.Master.Heartbeat(ctx, mr.HeartbeatArgs{Worker: w.ID, Task: t.TaskRef})
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
