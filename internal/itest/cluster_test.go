// Package itest runs a master and workers in one process, over a real unix
// socket, with apps built from plain Go funcs instead of plugins, so the
// race detector can watch the whole protocol.
package itest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

func wordCount() *app.App {
	return &app.App{
		Map: func(file, contents string) []mr.KeyValue {
			var kvs []mr.KeyValue
			for _, w := range strings.FieldsFunc(contents, func(r rune) bool { return !unicode.IsLetter(r) }) {
				kvs = append(kvs, mr.KeyValue{Key: w, Value: "1"})
			}
			return kvs
		},
		Reduce:    func(key string, values []string) string { return strconv.Itoa(len(values)) },
		Partition: mr.DefaultPartition,
	}
}

// writeInputs makes n small files of words whose counts differ per file.
func writeInputs(t *testing.T, dir string, n int) []string {
	var files []string
	for i := range n {
		var b strings.Builder
		for j := range 200 + 50*i {
			fmt.Fprintf(&b, "w%c%c alpha beta%d\n", 'a'+rune(j%26), 'a'+rune(i%26), j%7)
		}
		path := filepath.Join(dir, fmt.Sprintf("in-%d.txt", i))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// sortedOutput returns the sorted lines of every mr-out-* in dir.
func sortedOutput(t *testing.T, dir string) []string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "mr-out-*"))
	var lines []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	sort.Strings(lines)
	return lines
}

func reference(t *testing.T, a *app.App, files []string) []string {
	t.Helper()
	dir := t.TempDir()
	if err := worker.Sequential(a, files, dir, worker.SeqOptions{}); err != nil {
		t.Fatal(err)
	}
	return sortedOutput(t, dir)
}

type cluster struct {
	t    *testing.T
	m    *master.Master
	out  string
	ctx  context.Context
	done chan error
}

func startMaster(t *testing.T, opt master.Options) *cluster {
	t.Helper()
	dir := t.TempDir()
	opt.OutDir = filepath.Join(dir, "out")
	if opt.Listen == "" {
		opt.Listen = "unix:" + filepath.Join(dir, "m.sock")
	}
	m, err := master.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := &cluster{t: t, m: m, out: opt.OutDir, ctx: ctx, done: make(chan error, 1)}
	go func() { c.done <- m.Run(ctx) }()
	return c
}

// worker runs a worker goroutine; its result arrives on the returned channel.
func (c *cluster) worker(ctx context.Context, a *app.App, id string) <-chan error {
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		defer client.Close()
		res <- worker.Run(ctx, worker.Options{App: a, Master: client, ID: id, ConnectTimeout: 3 * time.Second})
	}()
	return res
}

// runWorkers runs n workers to the end of the job, failing the test if the
// master or any worker does not finish cleanly.
func (c *cluster) runWorkers(a *app.App, n int) {
	c.t.Helper()
	var ws []<-chan error
	for i := range n {
		ws = append(ws, c.worker(c.ctx, a, fmt.Sprint("w", i)))
	}
	if err := c.wait(); err != nil {
		c.t.Fatalf("master: %v", err)
	}
	for _, w := range ws {
		if err := <-w; err != nil {
			c.t.Errorf("worker: %v", err)
		}
	}
}

func (c *cluster) wait() error {
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		c.t.Fatal("master did not finish in 60s")
		return nil
	}
}

func TestClusterMatchesSequential(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 6)
	a := wordCount()
	want := reference(t, a, files)
	c := startMaster(t, master.Options{Inputs: files, NReduce: 4, SplitSize: 1000})
	c.runWorkers(a, 3)
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential: got %d lines, want %d", len(got), len(want))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(c.out, ".mr-*")); len(leftovers) > 0 {
		t.Errorf("scratch left behind: %v", leftovers)
	}
}

// A worker that stalls inside Map stops heartbeating only if its process
// stops; here the whole worker is frozen by blocking Map and cancelling its
// context, so its heartbeats stop like a SIGSTOPped process's would. The
// task must move to the healthy worker, and the stalled attempt's late
// report must not corrupt the output.
func TestStalledWorkerIsReplaced(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 3)
	good := wordCount()
	want := reference(t, good, files)

	release := make(chan struct{})
	var stalled atomic.Bool
	stuck := wordCount()
	inner := stuck.Map
	stuck.Map = func(file, contents string) []mr.KeyValue {
		if stalled.CompareAndSwap(false, true) {
			<-release
		}
		return inner(file, contents)
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 2, TaskTimeout: 300 * time.Millisecond})
	stuckCtx, freeze := context.WithCancel(c.ctx)
	stuckDone := c.worker(stuckCtx, stuck, "stuck")
	for !stalled.Load() {
		time.Sleep(time.Millisecond)
	}
	freeze() // its heartbeats stop
	goodDone := c.worker(c.ctx, good, "good")
	if err := c.wait(); err != nil {
		t.Fatalf("master: %v", err)
	}
	close(release)
	if err := <-goodDone; err != nil {
		t.Errorf("good worker: %v", err)
	}
	if err := <-stuckDone; !errors.Is(err, context.Canceled) {
		t.Errorf("stuck worker: %v; want context.Canceled", err)
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}

func TestPanickingMapFailsTheJob(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 2)
	a := wordCount()
	var calls atomic.Int32
	a.Map = func(file, contents string) []mr.KeyValue {
		if strings.HasSuffix(file, "in-1.txt") {
			calls.Add(1)
			var m map[string]int
			m["boom"]++ // a nil-map write: a runtime panic
		}
		return nil
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 1, MaxAttempts: 3})
	w1, w2 := c.worker(c.ctx, a, "w1"), c.worker(c.ctx, a, "w2")
	err := c.wait()
	if !errors.Is(err, master.ErrJobFailed) {
		t.Fatalf("master: %v; want job failed", err)
	}
	for _, want := range []string{"map task 1", "in-1.txt", "failed 3 times", "assignment to entry in nil map", "cluster_test.go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("Map of the bad input ran %d times; want exactly --max-attempts = 3", n)
	}
	for _, w := range []<-chan error{w1, w2} {
		if err := <-w; !errors.Is(err, worker.ErrJobFailed) {
			t.Errorf("worker: %v; want job failed", err)
		}
	}
}

func TestValueOrderIsInputOrder(t *testing.T) {
	// Reduce sees values in input order: map task order, then emission
	// order, however the tasks were scheduled.
	dir := t.TempDir()
	var files []string
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		os.WriteFile(p, []byte(fmt.Sprintf("%d-a\n%d-b\n", i, i)), 0o644)
		files = append(files, p)
	}
	a := &app.App{
		Map: func(file, contents string) []mr.KeyValue {
			var kvs []mr.KeyValue
			for _, l := range strings.Fields(contents) {
				kvs = append(kvs, mr.KeyValue{Key: "k", Value: l})
			}
			return kvs
		},
		Reduce:    func(key string, values []string) string { return strings.Join(values, ",") },
		Partition: mr.DefaultPartition,
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 1})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		w := c.worker(c.ctx, a, fmt.Sprint("w", i))
		go func() { defer wg.Done(); <-w }()
	}
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := sortedOutput(t, c.out)
	want := "k 0-a,0-b,1-a,1-b,2-a,2-b,3-a,3-b,4-a,4-b"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

func TestWorkerGivesUpOnUnreachableMaster(t *testing.T) {
	client, _ := worker.NewClient("unix:"+filepath.Join(t.TempDir(), "none.sock"), time.Second, nil)
	start := time.Now()
	err := worker.Run(context.Background(), worker.Options{App: wordCount(), Master: client, ID: "w", ConnectTimeout: 300 * time.Millisecond})
	if !errors.Is(err, worker.ErrMasterUnreachable) {
		t.Fatalf("err = %v; want ErrMasterUnreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

// One worker process with several slots runs tasks concurrently and ends
// cleanly with the job.
func TestWorkerSlots(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 8)
	a := wordCount()
	want := reference(t, a, files)
	var running, most atomic.Int32
	inner := a.Map
	a.Map = func(file, contents string) []mr.KeyValue {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond) // let the slots overlap
		return inner(file, contents)
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 3})
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(c.ctx, worker.Options{App: a, Master: client, ID: "w", Slots: 3, ConnectTimeout: 3 * time.Second})
	}()
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if most.Load() < 2 {
		t.Errorf("at most %d maps ran at once with 3 slots", most.Load())
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}

// The streaming forms end to end: Map emits through a callback and Reduce
// reads its values as a sequence; a hot key with many values gets through.
func TestStreamingForms(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		os.WriteFile(p, []byte(strings.Repeat("hot cold\n", 20000)), 0o644)
		files = append(files, p)
	}
	a := &app.App{
		MapEmit: func(file, contents string, emit func(k, v string)) {
			for _, w := range strings.Fields(contents) {
				emit(w, "1")
			}
		},
		ReduceIter: func(key string, values iter.Seq[string]) string {
			n := 0
			for range values {
				n++
			}
			return strconv.Itoa(n)
		},
		Partition: mr.DefaultPartition,
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 2, MapMemory: 64 << 10})
	w := c.worker(c.ctx, a, "w")
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-w; err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sortedOutput(t, c.out), "\n")
	if want := "cold 60000\nhot 60000"; got != want {
		t.Fatalf("got %q; want %q", got, want)
	}
	if seq := strings.Join(reference(t, a, files), "\n"); seq != got {
		t.Fatalf("Sequential gives %q", seq)
	}
}

// With ShipInputs the master serves the job's splits, and nothing else.
func TestShipInputsServesOnlyTheJob(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 2)
	c := startMaster(t, master.Options{Inputs: files, NReduce: 1, ShipInputs: true})
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	want, _ := os.ReadFile(files[1])
	fi, _ := os.Stat(files[1])
	got, err := client.ReadSplit(c.ctx, mr.Split{File: files[1], Length: fi.Size(), Whole: true})
	if err != nil || string(got) != string(want) {
		t.Fatalf("ReadSplit of a job input: %d bytes, %v", len(got), err)
	}
	for _, sp := range []mr.Split{
		{File: "/etc/hostname", Length: 1, Whole: true},
		{File: files[1], Length: fi.Size() - 1, Whole: true}, // not a split the job has
	} {
		if _, err := client.ReadSplit(c.ctx, sp); err == nil || !strings.Contains(err.Error(), "not one of the job's inputs") {
			t.Errorf("ReadSplit(%+v): %v; want a refusal", sp, err)
		}
	}
	w := c.worker(c.ctx, wordCount(), "w")
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if err := <-w; err != nil {
		t.Fatal(err)
	}
}

// With CollectOutput the reduce workers send their output to the master,
// in pieces, and the result is the same.
func TestCollectOutput(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 4)
	a := wordCount()
	want := reference(t, a, files)
	c := startMaster(t, master.Options{Inputs: files, NReduce: 3, CollectOutput: true, ShipInputs: true})
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	counted := &countingMaster{Client: client}
	if err := worker.Run(c.ctx, worker.Options{App: a, Master: counted, ID: "w", ConnectTimeout: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if counted.puts.Load() < 3 || counted.reads.Load() < 4 {
		t.Fatalf("%d PutOutput and %d ReadSplit calls; want one per reduce (3) and per input (4) at least", counted.puts.Load(), counted.reads.Load())
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}

// countingMaster counts the calls that carry data through the master.
type countingMaster struct {
	*worker.Client
	puts, reads atomic.Int32
}

func (m *countingMaster) PutOutput(ctx context.Context, args mr.PutOutputArgs) (mr.PutOutputReply, error) {
	m.puts.Add(1)
	return m.Client.PutOutput(ctx, args)
}

func (m *countingMaster) ReadSplit(ctx context.Context, s mr.Split) ([]byte, error) {
	m.reads.Add(1)
	return m.Client.ReadSplit(ctx, s)
}
