package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/inputs"
	"gomr.dev/master"
	"gomr.dev/mr"
)

// runCmd is a local cluster in one command: the master runs in this
// process and the workers are child processes of this same binary, so they
// crash, stall and get killed independently, as on a real cluster.
func runCmd(ctx context.Context, args []string) error {
	fs := newFlags("run", "[flags] APP.so INPUTS...")
	var j jobFlags
	j.register(fs)
	workers := fs.Int("workers", runtime.NumCPU(), "number of worker processes")
	slots := fs.Int("slots", 1, "tasks each worker process runs at once")
	fs.StringVar(&j.http, "http", "127.0.0.1:0", "serve the status page, its JSON API and Prometheus metrics at host:port; \"\" for none")
	params, err := j.parse(fs, args)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return usageError(fs, "--workers %d: must be at least 1", *workers)
	}
	if *slots < 1 {
		return usageError(fs, "--slots %d: must be at least 1", *slots)
	}
	if fs.NArg() < 2 {
		return usageError(fs, "want APP.so and at least one input")
	}
	appPath := fs.Arg(0)
	// Load the app here first: a broken app is one clear error now, not
	// N workers failing one after another.
	if _, err := app.Load(appPath); err != nil {
		return err
	}
	files, err := inputs.Expand(fs.Args()[1:])
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	sockDir, err := os.MkdirTemp("", "mr-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(sockDir)

	ui := newProgress(os.Stderr)
	opt := j.options(fs, files, params)
	opt.Listen = "unix:" + filepath.Join(sockDir, "master.sock")
	opt.Logf = ui.Logf
	if opt.Secret, err = j.secret(); err != nil {
		return err
	}
	m, err := master.New(opt)
	if err != nil {
		return err
	}
	start := time.Now()
	if url := m.HTTPURL(); url != "" {
		ui.Logf("status page at %s", url)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pool := &workerPool{
		ctx:  ctx,
		argv: append(append([]string{self, "worker", "--master", opt.Listen, "--slots", fmt.Sprint(*slots)}, j.s3.args()...), secretArgs(j.secretFile, appPath)...),
		over: func() bool { return m.Status().Over() },
		logf: ui.Logf,
		// Workers whose app crashes now and then can run up a string of
		// restarts by chance (at even odds, 16 in a row happens once in
		// 65,000 strings); one that can never run still stops in seconds.
		budget:   max(16, 3**workers),
		progress: func() int { st := m.Status(); return st.SamplesDone + st.MapsDone + st.ReducesDone },
		onGiveUp: func(err error) { cancel(err) },
	}
	pool.start(*workers)
	ui.start(m.Status)
	runErr := m.Run(ctx)
	ui.stop()
	pool.stop()
	if cause := context.Cause(ctx); runErr != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		runErr = cause
	}
	printCounters(ui.Logf, m.Snapshot(master.Query{}))
	if runErr != nil {
		return runErr
	}
	st := m.Status()
	fmt.Fprintf(os.Stderr, "mr run: done: %d map and %d reduce tasks on %d workers in %v; output in %s/mr-out-*\n",
		st.Maps, st.Reduces, *workers, time.Since(start).Round(time.Millisecond), j.out)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	inter := st.Stats[mr.MapOutputMaterialized] + st.Stats[mr.SpilledBytes]
	fmt.Fprintf(os.Stderr, "mr run: peak RSS: master %.1f MiB, largest worker %.1f MiB; intermediate %.1f MiB written (%.3f of input); %d map spills\n",
		float64(ru.Maxrss)/1024, float64(pool.maxRSS())/1024, float64(inter)/(1<<20),
		float64(inter)/float64(max(st.Stats[mr.MapInputBytes], 1)), st.Stats[mr.MapSpills])
	return nil
}

// secretArgs ends a worker's command line: --secret-file when the job has
// one, then the app.
func secretArgs(secretFile, app string) []string {
	if secretFile == "" {
		return []string{app}
	}
	return []string{"--secret-file", secretFile, app}
}

// workerPool keeps N worker processes alive, starting a new one when one
// exits before the job is over. Restarts are limited only while the job
// makes no progress: a budget of them is allowed between two tasks
// committing, so an app that crashes now and then is seen through, and one
// that crashes every worker at once gives up instead of looping.
type workerPool struct {
	ctx      context.Context // no restarts once it ends
	argv     []string
	over     func() bool // reports whether the job has ended
	logf     func(string, ...any)
	budget   int        // restarts allowed without progress
	progress func() int // tasks committed so far
	onGiveUp func(error)

	mu       sync.Mutex // guards procs, stopped, restarts, lastDone, rss
	restarts int        // since the job last made progress
	lastDone int        // progress() at the last restart
	procs    map[int]*exec.Cmd
	stopped  bool
	rss      int64          // largest peak RSS of an exited worker, KiB
	wg       sync.WaitGroup // one per live process
}

func (p *workerPool) start(n int) {
	p.procs = make(map[int]*exec.Cmd)
	for i := range n {
		p.spawn(i)
	}
}

// spawn starts worker i and a goroutine that waits for it; the goroutine
// ends when the process does, and stop kills every process.
func (p *workerPool) spawn(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Stdout = os.Stdout
	last := &lastLine{prefix: fmt.Sprintf("worker %d: ", i), logf: p.logf}
	cmd.Stderr = last
	if err := cmd.Start(); err != nil {
		p.logf("start worker %d: %v", i, err)
		go p.onGiveUp(fmt.Errorf("start worker: %w", err))
		return
	}
	p.procs[i] = cmd
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		p.mu.Lock()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.rss = max(p.rss, ru.Maxrss)
		}
		stopped := p.stopped
		delete(p.procs, i)
		if done := p.progress(); done != p.lastDone {
			p.lastDone, p.restarts = done, 0
		}
		restart := !stopped && err != nil && p.restarts < p.budget && p.ctx.Err() == nil && !p.over()
		if restart {
			p.restarts++
		}
		p.mu.Unlock()
		if stopped || p.ctx.Err() != nil || err == nil || p.over() {
			return // the job is over, and the worker was told so
		}
		if !restart {
			p.onGiveUp(fmt.Errorf("worker %d exited (%v), and workers were restarted %d times with no task finishing; last message: %s", i, err, p.budget, last.String()))
			return
		}
		p.logf("worker %d exited (%v); starting another", i, exitStatus(err))
		p.spawn(i)
	}()
}

// stop lets workers leave on their own (the master tells them the job is
// over), then kills whatever is still running after a grace period.
func (p *workerPool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(3 * time.Second):
	}
	p.mu.Lock()
	for _, cmd := range p.procs {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	p.mu.Unlock()
	<-done
}

// maxRSS is the largest peak resident set of the workers that have
// exited, in KiB.
func (p *workerPool) maxRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rss
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lastLine forwards a worker's stderr, line by line, to logf and keeps the
// last line for error messages.
type lastLine struct {
	prefix string
	logf   func(string, ...any)
	mu     sync.Mutex // guards buf, last
	buf    []byte
	last   string
}

func (l *lastLine) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.last = string(l.buf[:i])
		l.buf = l.buf[i+1:]
		l.logf("%s%s", l.prefix, l.last)
	}
	return len(b), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == "" {
		return "(none)"
	}
	return l.last
}
