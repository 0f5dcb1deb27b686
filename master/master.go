package master

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/internal/format"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/scratch"
	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// ErrJobFailed wraps the reason a job failed, as returned by Run.
var ErrJobFailed = errors.New("job failed")

// Options configure a Master. Zero values take the documented defaults.
type Options struct {
	Inputs      []string      // regular files, as returned by inputs.Expand
	NReduce     int           // default 10
	Listen      string        // default mr.DefaultAddr
	OutDir      string        // default "."
	TaskTimeout time.Duration // default 10s
	// WorkerTimeout is how long a worker may stay silent before it is
	// dead: its tasks run elsewhere, and so do the map tasks whose output
	// it held. Default TaskTimeout.
	WorkerTimeout time.Duration
	MaxAttempts   int // default 4
	// Fresh discards an unfinished job's state in OutDir rather than
	// resume it; see journal.go.
	Fresh bool
	// StateDir, for an OutDir in an object store (s3://...), is the local
	// directory for the job's lock, journal and scratch files. Default:
	// one per output URL under the user's cache directory; see output.go.
	StateDir string
	// NoBackups turns off backup attempts of stragglers; see backup.go.
	NoBackups   bool
	SplitSize   int64             // bytes; 0 means never split
	MapMemory   int               // map-side sort buffer, bytes; default 64 MiB
	MergeFactor int               // most runs merged at once; default 64
	Params      map[string]string // passed to every task
	// Secret, when set, must be proven by every connecting worker; see
	// internal/auth.
	Secret []byte
	// TLS, when set, makes the master serve TLS only.
	TLS *tls.Config
	// ShipInputs makes workers read their splits from the master, which
	// serves the job's splits and nothing else.
	ShipInputs bool
	// CollectOutput makes reduce workers send their output to the
	// master, which writes OUT/mr-out-R itself.
	CollectOutput bool
	// App, when set, is the job's app plugin: the master serves it to
	// workers started without one, and refuses workers that run another.
	App string
	// Output is the format of the job's output files: text (the default),
	// parquet or arrow; see internal/format. Compression is the codec of
	// Parquet output: zstd (the default), snappy, gzip or none.
	Output      string
	Compression string
	// Columns, when set, are the only columns of Parquet and Arrow inputs
	// that map tasks read, in this order; see internal/format. Planning
	// fails when an input lacks one.
	Columns []string
	// HTTP, when set, is where to serve the status page, its JSON API
	// and Prometheus metrics (host:port). Anything but a loopback address
	// requires Secret, from which the page's token is derived.
	HTTP string
	// HTTPGrace is how long to keep serving the status page after the
	// job ends, so that its last state can be read. Run returns early,
	// with the job's outcome, if its context ends meanwhile.
	HTTPGrace time.Duration
	// Flags are the command-line flags the job was started with, by
	// name, for the job summary.
	Flags map[string]string
	// Logf reports events worth a human's attention. Default: discard.
	Logf func(format string, args ...any)

	// SkipBadRecords is how many bad records the job may leave out: a
	// line of input, or a reduce key, that crashed two attempts. 0, the
	// default, leaves out none. See skip.go.
	SkipBadRecords int
}

func (o *Options) setDefaults() {
	if o.NReduce == 0 {
		o.NReduce = 10
	}
	if o.Listen == "" {
		o.Listen = mr.DefaultAddr
	}
	if o.OutDir == "" {
		o.OutDir = "."
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = 10 * time.Second
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 4
	}
	if o.WorkerTimeout == 0 {
		o.WorkerTimeout = o.TaskTimeout
	}
	if o.MapMemory == 0 {
		o.MapMemory = 64 << 20
	}
	if o.MergeFactor == 0 {
		o.MergeFactor = 64
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

func (o *Options) validate() error {
	switch {
	case len(o.Inputs) == 0:
		return inputs.ErrNoInputs
	case o.NReduce < 1:
		return fmt.Errorf("--nreduce %d: must be at least 1", o.NReduce)
	case o.TaskTimeout < 100*time.Millisecond:
		return fmt.Errorf("--task-timeout %v: must be at least 100ms", o.TaskTimeout)
	case o.WorkerTimeout < 100*time.Millisecond:
		return fmt.Errorf("--worker-timeout %v: must be at least 100ms", o.WorkerTimeout)
	case o.MaxAttempts < 1:
		return fmt.Errorf("--max-attempts %d: must be at least 1", o.MaxAttempts)
	case o.SkipBadRecords < 0:
		return fmt.Errorf("--skip-bad-records %d: must not be negative", o.SkipBadRecords)
	case o.SplitSize < 0:
		return fmt.Errorf("--split-size %d: must not be negative", o.SplitSize)
	case o.MapMemory < 4<<10:
		return fmt.Errorf("--map-memory %d: must be at least 4 KiB", o.MapMemory)
	case o.MergeFactor < 2:
		return fmt.Errorf("--merge-factor %d: must be at least 2", o.MergeFactor)
	}
	if _, err := format.OutputNamed(o.Output); err != nil {
		return err
	}
	return format.CheckOptions(format.OutputOptions{Compression: o.Compression})
}

// maxPollWait bounds how long GetTask holds a worker that has nothing to
// do, waiting for a task to free up, before telling it to ask again. The
// poll is also how an idle worker shows it is alive, so it is shorter
// still with a short worker timeout; see Master.pollWait.
const maxPollWait = time.Second

// closeGrace is how long a finished master waits for its workers to hang
// up before it closes their connections itself.
const closeGrace = time.Second

// handshakeTimeout bounds a new connection's authentication.
const handshakeTimeout = 5 * time.Second

// peer names a connection's far end for logs.
func peer(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "a local worker"
}

// exitGrace bounds how long a finished master lingers so that its workers
// hear "exit" from it rather than finding it gone.
const exitGrace = 5 * time.Second

// Master serves one job to workers over net/rpc.
type Master struct {
	opt    Options
	ln     net.Listener
	addr   string
	jobDir string

	mu      sync.Mutex    // guards the fields below
	sched   *Scheduler    //
	changed chan struct{} // closed and replaced when the schedule changes
	told    map[string]bool
	// sampled is set once the sample phase's decision is in the journal.
	sampled bool

	mapPhases atomic.Int32 // how often every map task has been committed

	app    mr.GetAppReply    // the app served to workers; empty without --app
	splits map[mr.Split]bool // the job's splits, which ReadSplit may serve

	journal *journal // where decisions go that a restarted master needs; see journal.go
	out     *output  // where the output files go; see output.go
	// journalFailed is set once a journal append has failed.
	journalFailed atomic.Bool

	unlock func()        // releases the lock on the output directory
	spec   JobSpec       // what the job was asked to do, for the status page and the summary
	http   *statusServer // nil without Options.HTTP

	closing chan struct{} // closed when Run is shutting down
	conns   sync.WaitGroup
	connMu  sync.Mutex // guards open
	open    map[net.Conn]bool
}

// New checks the options, creates the job's scratch directory and starts
// listening, so that workers can be started as soon as it returns. The
// caller must call Run, which releases all of it.
func New(opt Options) (*Master, error) {
	opt.setDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	tasks, err := inputs.Tasks(opt.Inputs, opt.SplitSize, opt.Columns...)
	if err != nil {
		return nil, err
	}
	var starts map[mr.Split]int64
	if opt.SkipBadRecords > 0 {
		if starts, err = textStarts(tasks); err != nil {
			return nil, err
		}
	}
	dest, out, err := openOutput(opt)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", opt.OutDir, err)
	}
	// One job per output directory: a second master would delete this
	// one's output as it starts. The lock holds until Run returns, or the
	// process dies.
	unlock, err := scratch.Lock(filepath.Join(out, lockFile))
	if errors.Is(err, scratch.ErrLocked) {
		return nil, fmt.Errorf("--out %s is %v, another master running a job there; wait for it to end, stop it, or give another --out", opt.OutDir, err)
	} else if err != nil {
		return nil, fmt.Errorf("--out %s: %w", opt.OutDir, err)
	}
	started := false
	defer func() {
		if !started {
			unlock()
		}
	}()
	var served mr.GetAppReply
	if opt.App != "" {
		data, err := os.ReadFile(opt.App)
		if err != nil {
			return nil, fmt.Errorf("--app: %w", err)
		}
		sum := sha256.Sum256(data)
		served = mr.GetAppReply{Name: filepath.Base(opt.App), SHA256: hex.EncodeToString(sum[:]), Data: data}
	}
	spec := specOf(opt, served.SHA256, tasks)
	job, err := openJob(out, opt, spec)
	if err != nil {
		return nil, err
	}
	// Until New succeeds, a new job's directory goes, and a resumed one's
	// stays for the next try.
	defer func() {
		if !started {
			job.journal.close()
			if job.resume == nil {
				os.RemoveAll(job.dir)
			}
		}
	}()
	if err := dest.start(job.dir, job.resume != nil); err != nil {
		return nil, err
	}
	ln, err := listen(opt.Listen)
	if err != nil {
		return nil, err
	}
	if opt.TLS != nil {
		ln = tls.NewListener(ln, opt.TLS)
	}
	epoch := 0
	if job.resume != nil {
		epoch = job.resume.epoch + 1
	}
	m := &Master{
		opt:     opt,
		ln:      ln,
		addr:    opt.Listen,
		jobDir:  job.dir,
		journal: job.journal,
		out:     dest,
		sched: NewScheduler(Config{
			Tasks:         tasks,
			NReduce:       opt.NReduce,
			TaskTimeout:   opt.TaskTimeout,
			WorkerTimeout: opt.WorkerTimeout,
			MaxAttempts:   opt.MaxAttempts,
			MaxLost:       3 * opt.MaxAttempts,
			Backups:       !opt.NoBackups,
			Epoch:         epoch,
			Nonce:         nonce(),
			Start:         time.Now(),

			SkipBadRecords: opt.SkipBadRecords,
			TextStarts:     starts,
		}),
		changed: make(chan struct{}),
		told:    make(map[string]bool),
		app:     served,
		splits:  make(map[mr.Split]bool),
		closing: make(chan struct{}),
		open:    make(map[net.Conn]bool),
	}
	for _, t := range tasks {
		for _, sp := range t {
			if opt.ShipInputs {
				m.splits[sp] = true
			}
		}
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		m.addr = tcp.String()
	}
	m.spec = jobSpec(opt)
	if job.resume != nil {
		m.resume(job.resume)
	}
	if err := m.journal.append(record{Epoch: &epoch}, true); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--out %s: write the job's journal: %w", opt.OutDir, err)
	}
	if opt.HTTP != "" {
		if err := m.startHTTP(); err != nil {
			ln.Close()
			return nil, err
		}
	}
	m.unlock, started = unlock, true
	return m, nil
}

// nonce is a random number, for Config.Nonce.
func nonce() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1 // room for the count after it
}

// jobSpec describes the job as it was asked for.
func jobSpec(opt Options) JobSpec {
	spec := JobSpec{Inputs: make([]InputFile, len(opt.Inputs)), Flags: opt.Flags, Params: opt.Params}
	for i, path := range opt.Inputs {
		spec.Inputs[i].Path = path
		if fi, err := store.Stat(context.Background(), path); err == nil {
			spec.Inputs[i].Bytes = fi.Size
			spec.InputBytes += fi.Size
		}
	}
	return spec
}

// Files of a job's output directory besides its mr-out-* files.
const (
	// lockFile is locked by the master running a job in the directory,
	// and names it.
	lockFile = ".mr-lock"
	// SummaryFile describes the job once it has ended, well or badly.
	SummaryFile = "mr-job.json"
	// SuccessFile is created, empty, after every other output file of a
	// job that succeeded, for scripts to wait for, as Hadoop's is.
	SuccessFile = "_SUCCESS"
)

var outputName = regexp.MustCompile(`^(mr-out-[0-9]+(\.parquet|\.arrow)?|` + SummaryFile + `|` + SuccessFile + `)$`)

// removeOldOutput deletes the output files left by an earlier job,
// _SUCCESS first, so the directory never mixes this job's output with
// stale partitions, and a script waiting for _SUCCESS never sees the old
// one.
func removeOldOutput(dir string) error {
	if err := os.Remove(filepath.Join(dir, SuccessFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old output: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	for _, e := range entries {
		if outputName.MatchString(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove old output: %w", err)
			}
		}
	}
	return nil
}

// listen opens addr. A unix socket file left by a master that died is
// removed, but one that still answers is someone else's: refuse it.
func listen(addr string) (net.Listener, error) {
	network, address, err := mr.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	if network == "unix" {
		if _, err := os.Stat(address); err == nil {
			if c, err := net.DialTimeout("unix", address, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("--listen %s: another master is already listening there; stop it or pick another address", addr)
			}
			os.Remove(address)
		}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	return ln, nil
}

// pollWait is how long GetTask holds an idle worker.
func (m *Master) pollWait() time.Duration { return min(maxPollWait, m.opt.WorkerTimeout/4) }

// heartbeat is how often a busy worker must show it is alive. It is also
// how soon the loser of a backup race hears that it lost, and so how long
// a finished job may wait for that worker to be told "exit": hence at most
// a second, whatever the timeouts.
func (m *Master) heartbeat() time.Duration {
	return min(time.Second, min(m.opt.TaskTimeout, m.opt.WorkerTimeout)/4)
}

// Addr is the address workers should dial.
func (m *Master) Addr() string { return m.addr }

// Status is a snapshot of the job's progress.
func (m *Master) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sched.Status()
}

// Run serves workers until every output is committed (nil), the job fails
// (an error wrapping ErrJobFailed), or ctx ends (ctx.Err()). Either way it
// writes the job summary, OUT/mr-job.json, then on success OUT/_SUCCESS,
// stops listening, closes every connection, waits for its goroutines and
// removes the scratch directory before it returns.
func (m *Master) Run(ctx context.Context) error {
	m.conns.Add(1)
	go m.accept()
	defer m.shutdown()
	if err := m.serve(ctx); err != nil {
		m.summarise(fmt.Sprintf("interrupted: %v", context.Cause(ctx)))
		return err
	}
	m.mu.Lock()
	failure := m.sched.Failure()
	m.mu.Unlock()
	if err := m.summarise(""); err != nil {
		if failure == "" {
			return fmt.Errorf("the job succeeded, but %w", err)
		}
		m.opt.Logf("%v", err)
	}
	m.linger(ctx)
	if m.http != nil && m.opt.HTTPGrace > 0 {
		m.opt.Logf("job over; serving the status page at %s for %v more", m.http.url, m.opt.HTTPGrace)
		select {
		case <-ctx.Done():
		case <-time.After(m.opt.HTTPGrace):
		}
	}
	if failure != "" {
		return fmt.Errorf("%w: %s", ErrJobFailed, failure)
	}
	return nil
}

// summarise writes the job summary, and _SUCCESS after it when the job
// succeeded. interrupted, when set, says why the job stopped before its
// end.
func (m *Master) summarise(interrupted string) error {
	js := m.Snapshot(Query{Limit: summaryPage, Workers: -1, History: true})
	if interrupted != "" {
		js.State, js.Failure = "interrupted", interrupted
	}
	m.out.clean() // uploads left in an object store go before the summary
	if err := m.out.write(SummaryFile, func(w io.Writer) error { return m.writeSummary(w, js) }); err != nil {
		return fmt.Errorf("could not write %s: %w", SummaryFile, err)
	}
	if js.State == "succeeded" {
		if err := m.out.write(SuccessFile, func(io.Writer) error { return nil }); err != nil {
			return fmt.Errorf("could not write %s: %w", SuccessFile, err)
		}
	}
	return nil
}

// summaryPage is how many tasks the summary encodes at a time.
var summaryPage = 10000

// writeSummary writes js as indented JSON with every task of the job in
// its task page, js holding the first summaryPage of them. The rest are
// read (Scheduler.Tasks) and encoded a page at a time, so that the summary of a job of a
// million tasks, some hundreds of megabytes of JSON, is never all in
// memory at once.
func (m *Master) writeSummary(w io.Writer, js JobStatus) error {
	tasks := js.Tasks.Tasks
	js.Tasks.Tasks = []TaskStatus{}
	js.Tasks.Limit = -1
	head, err := json.MarshalIndent(js, "", "\t")
	if err != nil {
		return err
	}
	// The task page's list is the one empty list named "tasks"; strings
	// cannot hold the marker, since their quotes are escaped.
	const marker = `"tasks": []`
	at := bytes.Index(head, []byte(marker))
	if at < 0 || len(tasks) == 0 {
		_, err := w.Write(append(head, '\n'))
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(head[:at+len(marker)-1])
	for off, sep := 0, ""; len(tasks) > 0; {
		for _, t := range tasks {
			b, err := json.MarshalIndent(t, "\t\t\t", "\t")
			if err != nil {
				return err
			}
			bw.WriteString(sep + "\n\t\t\t")
			bw.Write(b)
			sep = ","
		}
		if off += len(tasks); off >= js.Tasks.Total {
			break
		}
		m.locked(func() { tasks = m.sched.Tasks(time.Now(), off, summaryPage) })
	}
	bw.WriteString("\n\t\t]")
	bw.Write(head[at+len(marker):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeFile writes what write writes to path, durably, through a
// temporary file and a rename, so a reader never sees part of it.
func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// serve runs the job until it is over, or ctx ends (ctx.Err()).
func (m *Master) serve(ctx context.Context) error {
	tick := time.NewTicker(min(max(m.heartbeat(), 50*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		m.mu.Lock()
		over, changed := m.sched.Over(), m.changed
		m.mu.Unlock()
		if over {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case now := <-tick.C:
			m.mu.Lock()
			events := m.sched.Expire(now)
			if len(events) > 0 {
				m.broadcast()
			}
			m.mu.Unlock()
			for _, e := range events {
				m.opt.Logf("%v", e)
			}
		}
	}
}

// linger keeps serving for a moment after the job ends, until every
// worker that is still alive has been told to exit. Alive means heard from
// within two polls and a heartbeat, so a worker that died recently does
// not hold the master up; the wait is bounded by exitGrace in any case.
func (m *Master) linger(ctx context.Context) {
	alive := 2*m.pollWait() + m.heartbeat()
	deadline := time.Now().Add(exitGrace)
	for time.Now().Before(deadline) {
		now := time.Now()
		m.mu.Lock()
		all := true
		for w, seen := range m.sched.workers {
			if !m.told[w] && now.Sub(seen) < alive {
				all = false
			}
		}
		m.mu.Unlock()
		if all {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// broadcast wakes every GetTask waiting for the schedule to change. The
// caller holds m.mu.
func (m *Master) broadcast() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// accept serves each connection with an RPC server of its own, so that
// the service knows where its calls come from.
func (m *Master) accept() {
	defer m.conns.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			return // closed by shutdown
		}
		m.connMu.Lock()
		select {
		case <-m.closing:
			m.connMu.Unlock()
			conn.Close()
			return
		default:
		}
		m.open[conn] = true
		m.conns.Add(1)
		m.connMu.Unlock()
		go func() {
			defer m.conns.Done()
			if err := auth.Server(conn, m.opt.Secret, handshakeTimeout); err != nil {
				m.opt.Logf("refused a connection from %s: %v", peer(conn), err)
				conn.Close()
			} else {
				srv := rpc.NewServer()
				srv.RegisterName(mr.ServiceName, &service{m, peer(conn)})
				srv.ServeConn(conn)
			}
			m.connMu.Lock()
			delete(m.open, conn)
			m.connMu.Unlock()
		}()
	}
}

// shutdown stops accepting, gives connected workers a moment to hang up
// on their own (a worker just told "exit" may not have read the reply
// yet), then closes what is left and waits for every connection's
// goroutine.
func (m *Master) shutdown() {
	m.connMu.Lock()
	close(m.closing)
	m.ln.Close()
	m.connMu.Unlock()
	done := make(chan struct{})
	go func() { m.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		m.connMu.Lock()
		for c := range m.open {
			c.Close()
		}
		m.connMu.Unlock()
		<-done
	}
	m.stopHTTP()
	m.journal.close()
	os.RemoveAll(m.jobDir)
	m.out.clean()
	m.unlock()
}

// locked runs f under m.mu.
func (m *Master) locked(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// service is the RPC face of Master for one connection. Its methods hold
// m.mu only around scheduler calls, never across I/O.
type service struct {
	m    *Master
	peer string // the connection's far end, for the status page
}

func (s *service) GetTask(args mr.GetTaskArgs, reply *mr.GetTaskReply) error {
	m := s.m
	if m.app.SHA256 != "" && args.AppSHA256 != m.app.SHA256 {
		reply.Action = mr.Exit
		reply.Refused = fmt.Sprintf("this worker's app (sha256 %.12s) is not the job's %s (sha256 %.12s); start the worker without an app to fetch the job's, or with the same file", args.AppSHA256, m.app.Name, m.app.SHA256)
		m.opt.Logf("refused worker %s: it runs another app (sha256 %.12s)", args.Worker, args.AppSHA256)
		return nil
	}
	timer := time.NewTimer(m.pollWait())
	defer timer.Stop()
	for {
		var (
			dead    bool
			action  mr.Action
			task    mr.Task
			changed chan struct{}
			sample  *sampleRecord
		)
		m.locked(func() {
			if dead = m.sched.Dead(args.Worker); dead {
				return
			}
			over := m.sched.Over()
			action, task = m.sched.Poll(args, time.Now())
			m.sched.Address(args.Worker, s.peer)
			if !over && m.sched.Over() {
				m.broadcast() // this poll failed the job: its workers disagree on the app
			}
			changed = m.changed
			if action == mr.Exit {
				m.told[args.Worker] = true
				reply.Failure = m.sched.Failure()
			}
			sample = m.sampleDecision()
		})
		if dead {
			reply.Action, reply.Rejoin = mr.Wait, true
			return nil
		}
		if sample != nil {
			m.record(record{Sample: sample}) // before any map task with cut points can commit
		}
		if action != mr.Wait {
			reply.Action = action
			if action == mr.Run {
				task.Dir = m.jobDir
				task.Params = m.opt.Params
				task.Heartbeat = m.heartbeat()
				task.MapMemory = m.opt.MapMemory
				task.MergeFactor = m.opt.MergeFactor
				task.ShipInputs = m.opt.ShipInputs
				task.CollectOutput = m.opt.CollectOutput
				task.Output, task.Compression = m.opt.Output, m.opt.Compression
				task.Out = m.out.staging
				reply.Task = task
			}
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			m.locked(func() { m.sched.heard(args.Worker, time.Now()) }) // it waited here, alive
			reply.Action = mr.Wait
			return nil
		case <-m.closing:
			reply.Action = mr.Wait
			return nil
		}
	}
}

// ReadSplit sends the lines of one of the job's splits to a worker, when
// the master ships inputs. It serves only splits of the job's map tasks and
// of its sample tasks, so no other file can be read through it.
func (s *service) ReadSplit(args mr.ReadSplitArgs, reply *mr.ReadSplitReply) error {
	m := s.m
	if !m.opt.ShipInputs {
		return errors.New("this master does not ship inputs; start it with --ship-inputs")
	}
	m.mu.Lock()
	ok := m.splits[args.Split] || m.sched.sampleSplit(args.Split)
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s bytes %d-%d is not one of the job's inputs", args.Split.File, args.Split.Offset, args.Split.Offset+args.Split.Length)
	}
	data, err := inputs.Read(args.Split)
	if err != nil {
		return err
	}
	reply.Data = data
	return nil
}

// PutOutput writes a piece of a reduce attempt's output into the job
// directory, for a master that collects output. Only attempts the master
// issued may write, each to a file of its own.
func (s *service) PutOutput(args mr.PutOutputArgs, reply *mr.PutOutputReply) error {
	m := s.m
	if !m.opt.CollectOutput {
		return errors.New("this master does not collect output; start it with --collect-output")
	}
	m.mu.Lock()
	t, _ := m.sched.attempt(args.Task)
	m.mu.Unlock()
	if t == nil || args.Task.Kind != mr.ReduceTask || args.Offset < 0 {
		return fmt.Errorf("no reduce attempt %d of task %d was issued", args.Task.Attempt, args.Task.ID)
	}
	path := filepath.Join(m.jobDir, args.Task.File("col"))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(args.Data, args.Offset)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	reply.Path = path
	return err
}

// GetApp sends the job's app, if the master serves one.
func (s *service) GetApp(args mr.GetAppArgs, reply *mr.GetAppReply) error {
	*reply = s.m.app
	return nil
}

func (s *service) Heartbeat(args mr.HeartbeatArgs, reply *mr.HeartbeatReply) error {
	s.m.locked(func() {
		reply.Done, reply.Lost = s.m.sched.Heartbeat(args, time.Now())
		reply.Rejoin = s.m.sched.Dead(args.Worker)
	})
	return nil
}

func (s *service) Report(args mr.ReportArgs, reply *mr.ReportReply) error {
	m := s.m
	kept := args.Task.Kind == mr.MapTask && args.Addr != "" // on the worker, served by it
	if args.Failure == "" && len(args.Unreachable) == 0 && len(args.Corrupt) == 0 && args.Task.Kind != mr.SampleTask && !kept && filepath.Dir(args.Output) != m.jobDir && !m.out.staged(args) {
		args.Failure = fmt.Sprintf("task output %q is outside the job directory", args.Output)
	}
	for _, c := range args.Corrupt {
		m.opt.Logf("corrupt map output: map task %d's segment %s [%d, +%d) %s, read by reduce task %d attempt %d on worker %s: %s",
			c.Map, c.Path, c.Offset, c.Length, where(c.Segment), args.Task.ID, args.Task.Attempt, args.Worker, c.Why)
	}
	damaged := m.checkCollected(args) // reads the file: outside the lock
	var (
		dead, lastSample, mapsDone bool
		outcome                    Outcome
		events                     []Event
		cuts                       []string
		sampled, nMaps             int
		sample                     *sampleRecord
	)
	m.locked(func() {
		if dead = m.sched.Dead(args.Worker); dead {
			return
		}
		if damaged != "" {
			outcome = m.sched.Damaged(args, damaged, time.Now())
		} else {
			outcome = m.sched.Complete(args, time.Now())
		}
		if m.wakes(outcome, args.Task.Kind) {
			m.broadcast()
		}
		events = m.sched.Events()
		lastSample = outcome == Accepted && args.Task.Kind == mr.SampleTask && !m.sched.sampling()
		cuts, sampled = m.sched.Cuts()
		mapsDone, nMaps = m.sched.mapsLeft == 0, len(m.sched.maps) // Status would walk every task
		sample = m.sampleDecision()
	})
	if dead {
		reply.Rejoin = true
		return nil
	}
	if sample != nil {
		m.record(record{Sample: sample})
	}
	if outcome == Accepted && args.Task.Kind == mr.MapTask {
		m.record(record{Map: &taskRecord{ID: args.Task.ID, Output: args.Output, Attempt: args.Task.Attempt, Epoch: args.Task.Epoch, Addr: args.Addr,
			Owner: args.Worker, Stats: statsRecord(args.Stats), Counters: args.Counters}})
	}
	for _, e := range events {
		m.opt.Logf("%v", e)
	}
	if lastSample {
		m.opt.Logf("sampled %d keys; map tasks partition at %d cut points", sampled, len(cuts))
	}
	if outcome == Accepted && args.Task.Kind == mr.MapTask && mapsDone {
		if m.mapPhases.Add(1) == 1 {
			m.opt.Logf("map phase done: %d map tasks committed", nMaps)
		} else {
			m.opt.Logf("map phase done again, after map tasks whose output was lost ran again")
		}
	}
	reply.Accepted = outcome == Accepted || outcome == Duplicate
	switch {
	case outcome == Retrying && len(args.Unreachable) > 0:
		m.opt.Logf("%v task %d attempt %d could not fetch %d map outputs (first from %s); will retry", args.Task.Kind, args.Task.ID, args.Task.Attempt, len(args.Unreachable), args.Unreachable[0].Addr)
	case outcome == Retrying && len(args.Corrupt) > 0:
		m.opt.Logf("%v task %d attempt %d found corrupt output from map tasks %v; will retry", args.Task.Kind, args.Task.ID, args.Task.Attempt, corruptMaps(args.Corrupt))
	case outcome == Retrying && damaged != "":
		m.opt.Logf("%v task %d attempt %d: %s; will retry", args.Task.Kind, args.Task.ID, args.Task.Attempt, damaged)
	case outcome == Retrying:
		m.opt.Logf("%v task %d attempt %d failed, will retry: %s", args.Task.Kind, args.Task.ID, args.Task.Attempt, args.Failure)
	case outcome == Accepted && args.Task.Kind == mr.ReduceTask:
		// Commit outside the lock: the task is in taskCommitting, so no
		// other attempt can commit meanwhile and the job cannot end.
		err := m.out.commit(args.Output, args.Task.ID)
		if err == nil {
			m.record(record{Reduce: &taskRecord{ID: args.Task.ID, Stats: statsRecord(args.Stats), Counters: args.Counters}})
		}
		var o Outcome
		m.locked(func() {
			if o = m.sched.Committed(args.Task.ID, err, time.Now()); o == Retrying || m.sched.Over() {
				m.broadcast()
			}
		})
		if o == Retrying {
			m.opt.Logf("reduce task %d: %v; will retry", args.Task.ID, err)
		}
		reply.Accepted = err == nil
	}
	return nil
}

// wakes reports whether a report with outcome may have given waiting
// workers something to do, so that they must be woken. A map task that
// commits while others are still to commit does not, nor does a reduce
// task, which first commits (see Committed): at the end of a phase of a
// big job thousands of workers wait, and waking them all for every commit
// costs more than the commits. They ask again within a poll anyway. The
// caller holds m.mu.
func (m *Master) wakes(o Outcome, kind mr.TaskKind) bool {
	switch {
	case o == Ignored:
		return false
	case o != Accepted || m.sched.Over():
		return true
	case kind == mr.MapTask:
		return m.sched.mapsLeft == 0
	case kind == mr.ReduceTask:
		return false
	}
	return true
}

// where says where a segment lies, for the log.
func where(s mr.Segment) string {
	if s.Addr == "" {
		return "in the job directory"
	}
	return "served by " + s.Addr
}

// checkCollected checks the output a reduce attempt sent with PutOutput
// against the CRC-32C in its report, before the master commits it: pieces
// can be lost, or damaged on the way or on the master's disk. It returns
// why the output cannot be committed, or "" when it can or is not
// collected output.
func (m *Master) checkCollected(args mr.ReportArgs) string {
	if !m.opt.CollectOutput || args.Task.Kind != mr.ReduceTask || args.Failure != "" || len(args.Unreachable) > 0 || len(args.Corrupt) > 0 {
		return ""
	}
	m.mu.Lock()
	t, a := m.sched.attempt(args.Task)
	open := t != nil && a.worker == args.Worker && t.state < taskCommitting && (a.state == attemptRunning || a.state == attemptLost)
	m.mu.Unlock()
	if !open {
		return "" // a report Complete ignores, or a retried one whose output is in place
	}
	f, err := os.Open(args.Output)
	if err != nil {
		return fmt.Sprintf("its collected output is unreadable: %v", err)
	}
	defer f.Close()
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Sprintf("its collected output is unreadable: %v", err)
	}
	if sum := h.Sum32(); sum != args.OutputCRC {
		return fmt.Sprintf("its output arrived damaged: %d bytes with CRC-32C %08x, the worker sent %08x", n, sum, args.OutputCRC)
	}
	return ""
}
