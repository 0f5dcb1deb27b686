package itest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

// faultyMaster stands between a worker and the master, to damage data at
// set points: beforeReduce runs before the worker sees a reduce task, and
// put may change a piece of collected output on its way. It records the
// map attempts that committed.
type faultyMaster struct {
	worker.Master
	beforeReduce func(mr.Task)
	put          func(*mr.PutOutputArgs)
	mu           sync.Mutex    // guards mapAttempts
	mapAttempts  map[int][]int // committed map attempts, by task
	sink         *faultyMaster // where workers sharing this record go; nil: itself
}

func (f *faultyMaster) GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error) {
	reply, err := f.Master.GetTask(ctx, args)
	if err == nil && reply.Action == mr.Run && reply.Task.Kind == mr.ReduceTask && f.beforeReduce != nil {
		f.beforeReduce(reply.Task)
	}
	return reply, err
}

func (f *faultyMaster) PutOutput(ctx context.Context, args mr.PutOutputArgs) (mr.PutOutputReply, error) {
	if f.put != nil {
		args.Data = bytes.Clone(args.Data) // the worker's buffer is not ours to damage
		f.put(&args)
	}
	return f.Master.PutOutput(ctx, args)
}

func (f *faultyMaster) Report(ctx context.Context, rep mr.ReportArgs) (mr.ReportReply, error) {
	reply, err := f.Master.Report(ctx, rep)
	if err == nil && reply.Accepted && rep.Task.Kind == mr.MapTask {
		s := f
		if f.sink != nil {
			s = f.sink
		}
		s.mu.Lock()
		if s.mapAttempts == nil {
			s.mapAttempts = make(map[int][]int)
		}
		s.mapAttempts[rep.Task.ID] = append(s.mapAttempts[rep.Task.ID], rep.Task.Attempt)
		s.mu.Unlock()
	}
	return reply, err
}

// faultyWorker runs a worker whose calls to the master go through a copy
// of f. With secret set it shares nothing with the master but the network
// (see startNetMaster): it keeps its map output in workDir and serves it.
func (c *cluster) faultyWorker(a *app.App, id string, f *faultyMaster, secret []byte, workDir string) <-chan error {
	client, err := worker.NewClient(c.m.Addr(), 5*time.Second, secret)
	if err != nil {
		c.t.Fatal(err)
	}
	fm := &faultyMaster{Master: client, beforeReduce: f.beforeReduce, put: f.put, sink: f}
	o := worker.Options{App: a, Master: fm, ID: id, ConnectTimeout: 3 * time.Second}
	if secret != nil {
		o.WorkDir = workDir
		o.Shuffle = worker.ShuffleOptions{Listen: "127.0.0.1:0", Secret: secret}
	}
	res := make(chan error, 1)
	go func() {
		defer client.Close()
		res <- worker.Run(c.ctx, o)
	}()
	return res
}

// mapOutput matches the name of a committed map output file.
var mapOutput = regexp.MustCompile(`^m(\d+)-a\d+$`)

// flipMapOutputs flips one byte in the middle of every map output file
// under the dirs, and returns the map tasks whose output it damaged.
func flipMapOutputs(t *testing.T, dirs ...string) []int {
	var maps []int
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			m := mapOutput.FindStringSubmatch(d.Name())
			if err != nil || d.IsDir() || m == nil {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil || len(data) == 0 {
				t.Errorf("map output %s: %v, %d bytes", path, err, len(data))
				return nil
			}
			data[len(data)/2] ^= 0x5a
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Error(err)
			}
			id, _ := strconv.Atoi(m[1])
			maps = append(maps, id)
			return nil
		})
	}
	slices.Sort(maps)
	return maps
}

// checkRerun checks that exactly the damaged map tasks committed twice,
// and every other map task once.
func checkRerun(t *testing.T, f *faultyMaster, nMaps int, damaged []int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for m := range nMaps {
		want := 1
		if slices.Contains(damaged, m) {
			want = 2
		}
		if n := len(f.mapAttempts[m]); n != want {
			t.Errorf("map task %d committed %d times (attempts %v); want %d", m, n, f.mapAttempts[m], want)
		}
	}
}

// countLines counts the log lines holding substr.
func (l *logBuf) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// A byte flipped in every map output file in the shared job directory,
// after the map phase and before any reduce reads it: the reducers find
// the damage, every damaged map task runs again, exactly once, no attempt
// is counted as failed, and the output is exact.
func TestCorruptMapOutputRunsAgain(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 6)
	a := wordCount()
	want := reference(t, a, files)
	logs := &logBuf{}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 4, Logf: logs.logf})
	var once sync.Once
	var damaged []int
	f := &faultyMaster{beforeReduce: func(task mr.Task) {
		once.Do(func() { damaged = flipMapOutputs(t, task.Dir) })
	}}
	var ws []<-chan error
	for i := range 3 {
		ws = append(ws, c.faultyWorker(a, "w"+strconv.Itoa(i), f, nil, ""))
	}
	if err := c.wait(); err != nil {
		t.Fatalf("master: %v\n%s", err, logs)
	}
	for _, w := range ws {
		if err := <-w; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if len(damaged) != len(files) {
		t.Fatalf("damaged map outputs %v; want all %d", damaged, len(files))
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential\n%s", logs)
	}
	checkRerun(t, f, len(files), damaged)
	if n := logs.count("corrupt map output: "); n != len(damaged) {
		t.Errorf("%d corrupt map output lines in the log; want one per damaged segment, %d:\n%s", n, len(damaged), logs)
	}
	st := c.m.Status().Stats
	if st[mr.AttemptsFailed] != 0 || st[mr.AttemptsLost] == 0 {
		t.Errorf("attempts failed %d, lost %d; want none failed and some lost", st[mr.AttemptsFailed], st[mr.AttemptsLost])
	}
}

// The same over the network: each worker keeps its map output and serves
// it, so reducers meet the damage in fetched copies and in their own
// output read in place; output comes back through the master, which
// checks its CRC-32C.
func TestCorruptFetchedMapOutputRunsAgain(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 6)
	a := wordCount()
	want := reference(t, a, files)
	logs := &logBuf{}
	c := startNetMaster(t, files, logs)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	var once sync.Once
	var damaged []int
	f := &faultyMaster{beforeReduce: func(mr.Task) {
		once.Do(func() { damaged = flipMapOutputs(t, dirs...) })
	}}
	var ws []<-chan error
	for i, dir := range dirs {
		ws = append(ws, c.faultyWorker(a, "w"+strconv.Itoa(i), f, testSecret, dir))
	}
	if err := c.wait(); err != nil {
		t.Fatalf("master: %v\n%s", err, logs)
	}
	for _, w := range ws {
		if err := <-w; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if len(damaged) != len(files) {
		t.Fatalf("damaged map outputs %v; want all %d", damaged, len(files))
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential\n%s", logs)
	}
	checkRerun(t, f, len(files), damaged)
	if !logs.has("served by 127.0.0.1:") {
		t.Errorf("no corrupt segment reported from a shuffle server:\n%s", logs)
	}
	if logs.has("arrived damaged") {
		t.Errorf("collected output reported damaged:\n%s", logs)
	}
}

// Collected output damaged on its way to the master is caught by its
// CRC-32C before the master commits it; the attempt is lost and the task
// runs again, and the output is exact.
func TestDamagedCollectedOutputIsNotCommitted(t *testing.T) {
	files := writeInputs(t, t.TempDir(), 3)
	a := wordCount()
	want := reference(t, a, files)
	logs := &logBuf{}
	c := startNetMaster(t, files, logs)
	var once sync.Once
	damaged := false
	f := &faultyMaster{put: func(args *mr.PutOutputArgs) {
		if len(args.Data) > 0 {
			once.Do(func() {
				args.Data[len(args.Data)/2] ^= 0x01
				damaged = true
			})
		}
	}}
	var ws []<-chan error
	for i := range 2 {
		ws = append(ws, c.faultyWorker(a, "w"+strconv.Itoa(i), f, testSecret, t.TempDir()))
	}
	if err := c.wait(); err != nil {
		t.Fatalf("master: %v\n%s", err, logs)
	}
	for _, w := range ws {
		if err := <-w; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	if !damaged {
		t.Fatal("no output piece was damaged")
	}
	if n := logs.count("arrived damaged"); n != 1 {
		t.Errorf("%d lines say output arrived damaged; want 1:\n%s", n, logs)
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential\n%s", logs)
	}
	st := c.m.Status().Stats
	if st[mr.AttemptsFailed] != 0 || st[mr.AttemptsLost] != 1 {
		t.Errorf("attempts failed %d, lost %d; want 0 and 1", st[mr.AttemptsFailed], st[mr.AttemptsLost])
	}
}
