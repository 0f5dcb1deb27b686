package itest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

// These tests run workers that share nothing with the master but the
// network: each keeps its map output in a work directory of its own and
// serves it, inputs come through the master (ShipInputs) and output goes
// back to it (CollectOutput). The master runs on loopback TCP.

var testSecret = []byte("itest-shared-secret-0123456789")

// logBuf collects a master's log lines.
type logBuf struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) has(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func startNetMaster(t *testing.T, files []string, logs *logBuf) *cluster {
	return startMaster(t, master.Options{
		Inputs: files, NReduce: 4, Listen: "127.0.0.1:0",
		ShipInputs: true, CollectOutput: true, Secret: testSecret,
		TaskTimeout: 2 * time.Second, WorkerTimeout: 500 * time.Millisecond,
		// These tests follow a reduce that cannot fetch, or whose map
		// output died, to the map tasks run again; a backup of that
		// reduce on the worker that holds the output would fetch nothing
		// and end the story early.
		NoBackups: true,
		Logf:      logs.logf,
	})
}

// checkingMaster checks that a worker's map output stays in its own work
// directory, and signals its first committed map task.
type checkingMaster struct {
	*worker.Client
	t        *testing.T
	workDir  string
	reads    atomic.Int32
	firstMap chan struct{}
	once     sync.Once
}

func (m *checkingMaster) ReadSplit(ctx context.Context, s mr.Split) ([]byte, error) {
	m.reads.Add(1)
	return m.Client.ReadSplit(ctx, s)
}

func (m *checkingMaster) Report(ctx context.Context, rep mr.ReportArgs) (mr.ReportReply, error) {
	if rep.Task.Kind == mr.MapTask && rep.Failure == "" {
		if rep.Addr == "" || !strings.HasPrefix(rep.Output, m.workDir+string(filepath.Separator)) {
			m.t.Errorf("map output %s served at %q; want it in %s, served", rep.Output, rep.Addr, m.workDir)
		}
	}
	reply, err := m.Client.Report(ctx, rep)
	if err == nil && reply.Accepted && rep.Task.Kind == mr.MapTask {
		m.once.Do(func() { close(m.firstMap) })
	}
	return reply, err
}

// netWorker runs a worker that keeps its map output in a fresh work
// directory and serves it from ln (nil: a new loopback listener).
func (c *cluster) netWorker(ctx context.Context, a *app.App, id string, ln net.Listener) (*checkingMaster, <-chan error) {
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, testSecret)
	if err != nil {
		c.t.Fatal(err)
	}
	m := &checkingMaster{Client: client, t: c.t, workDir: c.t.TempDir(), firstMap: make(chan struct{})}
	res := make(chan error, 1)
	go func() {
		defer client.Close()
		res <- worker.Run(ctx, worker.Options{
			App: a, Master: m, ID: id, ConnectTimeout: 3 * time.Second,
			WorkDir: m.workDir,
			Shuffle: worker.ShuffleOptions{Listen: "127.0.0.1:0", Listener: ln, Secret: testSecret},
		})
	}()
	return m, res
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A worker dies after committing map output that reducers still need. Its
// output dies with it, so the master must run those map tasks again, and
// the result must still equal the sequential one.
func TestNetworkShuffleSurvivesAWorkerDeath(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 8)
	a := wordCount()
	want := reference(t, a, files)
	logs := &logBuf{}
	c := startNetMaster(t, files, logs)

	victimCtx, kill := context.WithCancel(c.ctx)
	victim, victimDone := c.netWorker(victimCtx, wordCount(), "victim", nil)
	waitFor(t, victim.firstMap, "the victim's first map task")

	// The survivors' first Reduce call waits until the victim is dead.
	reducing, dead := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := wordCount()
	reduce := slow.Reduce
	slow.Reduce = func(key string, values []string) string {
		once.Do(func() { close(reducing) })
		<-dead
		return reduce(key, values)
	}
	var survivors []<-chan error
	var checked []*checkingMaster
	for i := range 2 {
		m, done := c.netWorker(c.ctx, slow, fmt.Sprint("w", i), nil)
		checked, survivors = append(checked, m), append(survivors, done)
	}
	waitFor(t, reducing, "a reduce task")
	kill()
	if err := <-victimDone; !errors.Is(err, context.Canceled) {
		t.Errorf("victim: %v; want context.Canceled", err)
	}
	close(dead)

	if err := c.wait(); err != nil {
		t.Fatalf("master: %v\n%s", err, logs)
	}
	for _, done := range survivors {
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if !logs.has("lost with its worker") && !logs.has("could not fetch") {
		t.Errorf("no map task ran again after the victim died; master log:\n%s", logs)
	}
	if left, _ := os.ReadDir(victim.workDir); len(left) != 0 {
		t.Errorf("the victim left %d files in its work directory", len(left))
	}
	if n := victim.reads.Load() + checked[0].reads.Load() + checked[1].reads.Load(); n < int32(len(files)) {
		t.Errorf("%d splits read through the master; want at least %d", n, len(files))
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}

// dropListener accepts connections and, once dropping, closes them at
// once, like a shuffle port behind a broken firewall.
type dropListener struct {
	net.Listener
	dropping atomic.Bool
}

func (l *dropListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.dropping.Load() {
			return c, err
		}
		c.Close()
	}
}

// A live worker whose shuffle server cannot be reached: the reducers report
// it, the master runs its map tasks again on another worker, and the job
// still finishes with the right output.
func TestUnreachableShuffleServer(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 6)
	a := wordCount()
	want := reference(t, a, files)
	logs := &logBuf{}
	c := startNetMaster(t, files, logs)

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &dropListener{Listener: raw}
	bad, badDone := c.netWorker(c.ctx, a, "bad", ln)
	waitFor(t, bad.firstMap, "the first map task")
	ln.dropping.Store(true)
	_, goodDone := c.netWorker(c.ctx, a, "good", nil)

	if err := c.wait(); err != nil {
		t.Fatalf("master: %v\n%s", err, logs)
	}
	for _, done := range []<-chan error{badDone, goodDone} {
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if !logs.has("could not fetch its output") {
		t.Errorf("no map task ran again for unreachable output; master log:\n%s", logs)
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}
