package worker

import (
	"context"
	"iter"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/shuffle"
	"gomr.dev/mr"
)

// The inputs of the counter tests, with what a count by hand finds in
// them: "the cat\nthe dog\n" is 16 bytes, 2 lines and 4 words; "a cat",
// without a final newline, 5 bytes, 1 line and 2 words; "dog\n" 4 bytes,
// 1 line and 1 word. The 7 words are 4 distinct ones: a 1, cat 2, dog 2,
// the 2.
var counterInputs = []string{"the cat\nthe dog\n", "a cat", "dog\n"}

func writeCounterInputs(t *testing.T) []mr.Split {
	t.Helper()
	dir := t.TempDir()
	var splits []mr.Split
	for i, s := range counterInputs {
		path := filepath.Join(dir, "in"+strconv.Itoa(i))
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		splits = append(splits, mr.Split{File: path, Length: int64(len(s)), Whole: true})
	}
	return splits
}

// fieldsApp is a word count in the lab's form, with a Combine if asked.
func fieldsApp(combine bool) *app.App {
	a := &app.App{
		Map: func(_, contents string) []mr.KeyValue {
			var kvs []mr.KeyValue
			for _, w := range strings.Fields(contents) {
				kvs = append(kvs, mr.KeyValue{Key: w, Value: "1"})
			}
			return kvs
		},
		Reduce:    func(_ string, values []string) string { return strconv.Itoa(len(values)) },
		Partition: mr.DefaultPartition,
	}
	if combine {
		a.Combine = func(_ string, values []string) string {
			n := 0
			for _, v := range values {
				x, _ := strconv.Atoi(v)
				n += x
			}
			return strconv.Itoa(n)
		}
	}
	return a
}

func mapTask(dir string, id int, splits []mr.Split) mr.Task {
	return mr.Task{TaskRef: mr.TaskRef{Kind: mr.MapTask, ID: id, Attempt: 1}, Splits: splits,
		NReduce: 1, MapMemory: 1 << 20, MergeFactor: 4, Dir: dir}
}

func TestRunMapCounts(t *testing.T) {
	splits := writeCounterInputs(t)
	for _, combine := range []bool{false, true} {
		dir := t.TempDir()
		prog := &progress{}
		// The first two inputs: 3 lines, 21 bytes, 6 words of 16 bytes
		// each with a value of 1 byte.
		rep := runMap(fieldsApp(combine), mapTask(dir, 0, splits[:2]), inputs.Read, prog)
		if rep.Failure != "" {
			t.Fatal(rep.Failure)
		}
		last, err := shuffle.PartitionOf(rep.Output, 0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want mr.Stats
		want[mr.MapInputRecords] = 3
		want[mr.MapInputBytes] = 21
		want[mr.MapOutputRecords] = 6
		want[mr.MapOutputBytes] = 16 + 6
		want[mr.MapOutputMaterialized] = last.Offset + last.Length // where the runs end
		if combine {
			// Nothing spills, so Combine sees each of the 4 keys once,
			// with all its values.
			want[mr.CombineInputRecords] = 6
			want[mr.CombineOutputRecords] = 4
		}
		if rep.Stats != want {
			t.Errorf("combine %v: stats\n%v\nwant\n%v", combine, rep.Stats.Map(), want.Map())
		}
		live := prog.Stats()
		for _, s := range mapStats {
			if live[s] != want[s] {
				t.Errorf("combine %v: published %v = %d; want %d", combine, s, live[s], want[s])
			}
		}
	}
}

// localEnv is where a reduce task with only shared map output gets its
// input and puts its files.
func localEnv(t *testing.T, task mr.Task) reduceEnv {
	g := &gatherer{t: task, off: &writtenOff{}}
	return reduceEnv{scratch: t.TempDir(), gather: func(dir, kept string) (gathered, error) {
		return g.gather(context.Background(), dir, kept)
	}}
}

func TestRunReduceCounts(t *testing.T) {
	splits := writeCounterInputs(t)
	dir := t.TempDir()
	var shuffled int64
	for i, s := range splits {
		rep := runMap(fieldsApp(false), mapTask(dir, i, []mr.Split{s}), inputs.Read, &progress{})
		if rep.Failure != "" {
			t.Fatal(rep.Failure)
		}
		seg, err := shuffle.PartitionOf(rep.Output, i, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		shuffled += seg.Length
	}
	first := func(_ string, values iter.Seq[string]) string {
		for v := range values {
			return v
		}
		return ""
	}
	for _, tc := range []struct {
		name    string
		app     *app.App
		out     string
		records int64 // values handed to Reduce
	}{
		{"lab", fieldsApp(false), "a 1\ncat 2\ndog 2\nthe 2\n", 7},
		{"iterator", &app.App{ReduceIter: func(_ string, values iter.Seq[string]) string {
			n := 0
			for range values {
				n++
			}
			return strconv.Itoa(n)
		}}, "a 1\ncat 2\ndog 2\nthe 2\n", 7},
		{"iterator, first value", &app.App{ReduceIter: first}, "a 1\ncat 1\ndog 1\nthe 1\n", 4},
		{"iterator, no values", &app.App{ReduceIter: func(string, iter.Seq[string]) string { return "x" }}, "a x\ncat x\ndog x\nthe x\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := reduceTask(dir, 0, 1, len(splits), located("", 0, len(splits)))
			task.MergeFactor = 2
			env := localEnv(t, task)
			prog := &progress{}
			rep := runReduce(tc.app, task, env, prog)
			if rep.Failure != "" {
				t.Fatal(rep.Failure)
			}
			if b, _ := os.ReadFile(rep.Output); string(b) != tc.out {
				t.Fatalf("output %q; want %q", b, tc.out)
			}
			var want mr.Stats
			want[mr.ShuffleBytes] = shuffled
			// With a merge factor of 2, the first pass merges the
			// first two runs: 4 + 2 records.
			want[mr.SpilledRecords] = 6
			want[mr.SpilledBytes] = rep.Stats[mr.SpilledBytes]
			want[mr.ReduceInputGroups] = 4
			want[mr.ReduceInputRecords] = tc.records
			want[mr.OutputRecords] = 4
			want[mr.OutputBytes] = int64(len(tc.out))
			if rep.Stats != want || want[mr.SpilledBytes] == 0 {
				t.Errorf("stats\n%v\nwant\n%v, with spilled bytes", rep.Stats.Map(), want.Map())
			}
			if live := prog.Stats(); live != want {
				t.Errorf("published\n%v\nwant\n%v", live.Map(), want.Map())
			}
		})
	}
}

// watchMaster hands out one task and records its heartbeats and report.
type watchMaster struct {
	Master
	task   mr.Task
	gave   bool
	beats  chan mr.HeartbeatArgs
	report chan mr.ReportArgs
}

func (m *watchMaster) GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error) {
	if m.gave {
		return mr.GetTaskReply{Action: mr.Exit}, nil
	}
	m.gave = true
	return mr.GetTaskReply{Action: mr.Run, Task: m.task}, nil
}

func (m *watchMaster) Heartbeat(ctx context.Context, args mr.HeartbeatArgs) (mr.HeartbeatReply, error) {
	select {
	case m.beats <- args:
	default:
	}
	return mr.HeartbeatReply{}, nil
}

func (m *watchMaster) Report(ctx context.Context, args mr.ReportArgs) (mr.ReportReply, error) {
	m.report <- args
	return mr.ReportReply{Accepted: true}, nil
}

// While a map task is in its third split, its heartbeats carry the input
// of the first two, and every line the app has counted so far, the third
// split's included: the app counts before it blocks.
func TestHeartbeatCarriesProgress(t *testing.T) {
	splits := writeCounterInputs(t)
	lines := mr.Counter("worker-test-heartbeat-lines")
	release := make(chan struct{})
	a := &app.App{
		MapEmit: func(file, contents string, emit func(string, string)) {
			lines.Add(int64(strings.Count(contents, "\n")))
			if file == splits[2].File {
				<-release
			}
			for _, w := range strings.Fields(contents) {
				emit(w, "1")
			}
		},
		Partition: mr.DefaultPartition,
	}
	task := mapTask(t.TempDir(), 0, splits)
	task.Heartbeat = 5 * time.Millisecond
	m := &watchMaster{task: task, beats: make(chan mr.HeartbeatArgs, 1), report: make(chan mr.ReportArgs, 1)}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), Options{App: a, Master: m, ID: "w"}) }()
	timeout := time.After(10 * time.Second)
	for waiting := true; waiting; {
		select {
		case hb := <-m.beats:
			// 16 + 5 bytes, 3 lines in all, 2 + 0 + 1 of them ending
			// in a newline.
			if hb.Stats[mr.MapInputBytes] == 21 && hb.Stats[mr.MapInputRecords] == 3 &&
				hb.Stats[mr.MapOutputRecords] == 6 && hb.Counters[lines.Name()] == 3 {
				waiting = false
			}
		case <-timeout:
			t.Fatal("no heartbeat with the first two splits' counts in 10s")
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep := <-m.report
	if rep.Stats[mr.MapInputBytes] != 25 || rep.Stats[mr.MapInputRecords] != 4 || rep.Counters[lines.Name()] != 3 {
		t.Errorf("report: %d bytes, %d records, %d lines counted; want 25, 4, 3",
			rep.Stats[mr.MapInputBytes], rep.Stats[mr.MapInputRecords], rep.Counters[lines.Name()])
	}
}

// A fetch takes back the bytes of a run that does not arrive whole. (That
// it counts what it copies, and not the copies it finds kept, is
// TestGatherFetchesOncePerWorker's and TestFetchReusesKeptCopies'.)
func TestFetchCountsBytes(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	// A server that sends 3 bytes of a run of 5 it promises, then hangs up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	short := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{partOK, 5, '2', '3', '4'})
	})}
	go short.Serve(&authListener{Listener: ln, secret: secret, logf: t.Logf})
	defer short.Close()
	f := newFetcher(secret, nil)
	defer f.close()
	var fetched atomic.Int64
	g := &gatherer{t: reduceTask(t.TempDir(), 0, 1, 1, located(ln.Addr().String(), 0, 1)), f: f, off: &writtenOff{}, fetched: &fetched}
	in, err := g.gather(context.Background(), t.TempDir(), "")
	if err != nil || len(in.unreachable) != 1 {
		t.Fatalf("fetch of a short run: %v, unreachable %v", err, in.unreachable)
	}
	if n := fetched.Load(); n != 0 {
		t.Errorf("fetched %d bytes of a run that never arrived whole", n)
	}
}

// stopMaster hands out one task and answers a heartbeat that shows progress
// inside a Map call with Done, as a master does once another attempt of
// the task has committed.
type stopMaster struct {
	watchMaster
	mid chan int64 // the MapInputBytes of the heartbeat answered with Done
}

func (m *stopMaster) Heartbeat(ctx context.Context, args mr.HeartbeatArgs) (mr.HeartbeatReply, error) {
	if n := args.Stats[mr.MapInputBytes]; n > 0 {
		select {
		case m.mid <- n:
		default:
		}
		return mr.HeartbeatReply{Done: true}, nil
	}
	return mr.HeartbeatReply{}, nil
}

// A map attempt whose task another attempt has committed stops inside its
// Map call, at an emit, and reports that; before that its heartbeats
// placed it inside its input by where the keys it emits lie.
func TestSupersededMapStopsInsideMap(t *testing.T) {
	text := strings.Repeat("abcd ", 1<<16)
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	a := &app.App{
		// Emits the words of contents over and over, for up to 20s.
		MapEmit: func(file, contents string, emit func(string, string)) {
			for time.Now().Before(deadline) {
				for i := 0; i+4 <= len(contents); i += 5 {
					emit(contents[i:i+4], "1")
				}
			}
		},
		Partition: mr.DefaultPartition,
	}
	task := mapTask(t.TempDir(), 0, []mr.Split{{File: path, Length: int64(len(text)), Whole: true}})
	task.Heartbeat = 5 * time.Millisecond
	m := &stopMaster{watchMaster: watchMaster{task: task, report: make(chan mr.ReportArgs, 1)}, mid: make(chan int64, 1)}
	if err := Run(context.Background(), Options{App: a, Master: m, ID: "w"}); err != nil {
		t.Fatal(err)
	}
	rep := <-m.report
	if !time.Now().Before(deadline) {
		t.Fatal("Map ran to its deadline: the attempt did not stop")
	}
	if rep.Failure != errSuperseded.Error() || rep.Output != "" {
		t.Fatalf("report: failure %q, output %q; want %q and none", rep.Failure, rep.Output, errSuperseded)
	}
	if mid := <-m.mid; mid <= 0 || mid >= int64(len(text)) {
		t.Fatalf("mid-Map progress %d bytes; want inside the %d-byte input", mid, len(text))
	}
}
