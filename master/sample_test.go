package master

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

func TestCutPoints(t *testing.T) {
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[(i*37)%100] = fmt.Sprintf("k%02d", i) // shuffled
	}
	for _, tc := range []struct {
		name string
		keys []string
		n    int
		want []string
	}{
		{"quintiles", hundred, 5, []string{"k20", "k40", "k60", "k80"}},
		{"halves", hundred, 2, []string{"k50"}},
		{"one partition", hundred, 1, nil},
		{"no keys", nil, 5, nil},
		{"uneven", []string{"j", "a", "g", "d", "b", "e", "h", "c", "i", "f"}, 3, []string{"d", "g"}},
		{"more partitions than keys", []string{"b", "a"}, 4, []string{"a", "b", "b"}},
		{"a common key repeats", []string{"a", "m", "m", "m", "m", "m", "m", "z"}, 4, []string{"m", "m", "m"}},
		{"byte order", []string{"b", "B", "a", "A"}, 2, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := slices.Clone(tc.keys)
			if got := cutPoints(keys, tc.n); !slices.Equal(got, tc.want) {
				t.Fatalf("cutPoints(%d) = %q; want %q", tc.n, got, tc.want)
			}
		})
	}
}

// Each cut point splits the sample into ranges that differ by at most one
// key: the quantiles are exact.
func TestCutPointsBalance(t *testing.T) {
	for _, m := range []int{1, 7, 99, 1000, 1001} {
		for _, n := range []int{2, 3, 10, 16} {
			keys := make([]string, m)
			for i := range keys {
				keys[i] = fmt.Sprintf("%06d", (i*7919)%m)
			}
			cuts := cutPoints(keys, n)
			counts := make([]int, n)
			for _, k := range keys {
				counts[sortSearch(cuts, k)]++
			}
			lo, hi := slices.Min(counts), slices.Max(counts)
			if m >= n && hi-lo > 1 {
				t.Errorf("%d keys into %d: counts %v", m, n, counts)
			}
		}
	}
}

// sortSearch is mr.RangePartition's rule without the global cut points.
func sortSearch(cuts []string, key string) int {
	p := 0
	for p < len(cuts) && cuts[p] <= key {
		p++
	}
	return p
}

func TestSamplePlan(t *testing.T) {
	whole := func(f string, n int64) []mr.Split { return []mr.Split{{File: f, Length: n, Whole: true}} }
	t.Run("small input is read whole", func(t *testing.T) {
		plan := samplePlan([][]mr.Split{whole("a", 100), whole("empty", 0), whole("b", 50), whole("c", 10), whole("d", 1), whole("e", 1)})
		want := [][]mr.Split{whole("a", 100), whole("b", 50), whole("c", 10), {whole("d", 1)[0], whole("e", 1)[0]}}
		if fmt.Sprint(plan) != fmt.Sprint(want) {
			t.Fatalf("plan = %v; want %v", plan, want)
		}
	})
	t.Run("no input", func(t *testing.T) {
		if plan := samplePlan([][]mr.Split{whole("empty", 0)}); len(plan) != 0 {
			t.Fatalf("plan = %v; want none", plan)
		}
	})
	t.Run("large input is sampled in evenly spaced chunks", func(t *testing.T) {
		// One 16 MiB file cut into four splits, packed with a 1 MiB file
		// and another 16 MiB file: 33 MiB in all, so 64 stripes of 528 KiB.
		const mib = 1 << 20
		var tasks [][]mr.Split
		for off := int64(0); off < 16*mib; off += 4 * mib {
			tasks = append(tasks, []mr.Split{{File: "big", Offset: off, Length: 4 * mib}})
		}
		tasks = append(tasks, append(whole("small", mib), whole("big2", 16*mib)...))
		plan := samplePlan(tasks)
		if len(plan) != sampleTasks {
			t.Fatalf("%d sample tasks; want %d", len(plan), sampleTasks)
		}
		var chunks []mr.Split
		for _, p := range plan {
			if len(p) != sampleChunks/sampleTasks {
				t.Fatalf("a task of %d chunks; want %d", len(p), sampleChunks/sampleTasks)
			}
			chunks = append(chunks, p...)
		}
		size := map[string]int64{"big": 16 * mib, "small": mib, "big2": 16 * mib}
		start := map[string]int64{"big": 0, "small": 16 * mib, "big2": 17 * mib}
		const stripe = 33 * mib / sampleChunks
		for k, c := range chunks {
			at := start[c.File] + c.Offset
			if want := int64(k)*stripe + (stripe-sampleChunk)/2; at != want {
				t.Errorf("chunk %d starts at %d of the input; want %d", k, at, want)
			}
			if c.Whole || c.Length <= 0 || c.Length > sampleChunk || c.Offset+c.Length > size[c.File] {
				t.Errorf("chunk %d = %+v: outside its file or too long", k, c)
			}
		}
		// Chunk 31 starts at 16600 KiB and chunk 32 at 17128 KiB, both in
		// small, which spans [16384, 17408) KiB.
		if got := []string{chunks[30].File, chunks[31].File, chunks[32].File, chunks[33].File}; !slices.Equal(got, []string{"big", "small", "small", "big2"}) {
			t.Errorf("chunks 30 to 33 in %v; want big, small, small, big2", got)
		}
	})
}

// Parquet and Arrow splits are sampled by row group, never at byte
// offsets: all of them when small, else the first row group of 64 splits
// spread over them; text beside them is sampled as before.
func TestSamplePlanColumnar(t *testing.T) {
	const mib = 1 << 20
	whole := func(f string, n int64) []mr.Split { return []mr.Split{{File: f, Length: n, Whole: true}} }
	col := func(file string, first, count int, length int64) mr.Split {
		return mr.Split{File: file, Format: "parquet", First: first, Count: count, Length: length, Columns: "a"}
	}
	small := [][]mr.Split{{col("p", 0, 2, mib)}, {col("q", 0, 0, 0)}, whole("t", 100)[:1]}
	var chunks []mr.Split
	for _, p := range samplePlan(small) {
		chunks = append(chunks, p...)
	}
	if want := []mr.Split{whole("t", 100)[0], col("p", 0, 2, mib)}; !slices.Equal(chunks, want) {
		t.Errorf("small: chunks %+v; want %+v", chunks, want)
	}
	var big [][]mr.Split
	for i := range 128 {
		big = append(big, []mr.Split{col("big", 4*i, 4, 4*mib)})
	}
	chunks = nil
	for _, p := range samplePlan(big) {
		chunks = append(chunks, p...)
	}
	if len(chunks) != sampleChunks {
		t.Fatalf("big: %d chunks; want %d", len(chunks), sampleChunks)
	}
	for k, c := range chunks {
		if want := col("big", 8*k, 1, mib); c != want {
			t.Errorf("chunk %d = %+v; want %+v", k, c, want)
		}
	}
}

// sampled makes a scheduler whose first poll asks for n keys; it has
// min(nMap, 4) sample tasks of equal size.
func sampled(t *testing.T, nMap, nReduce, n int) *Scheduler {
	t.Helper()
	s := newTestScheduler(nMap, nReduce)
	action, task := s.Poll(mr.GetTaskArgs{Worker: "a", SampleSize: n}, t0)
	if action != mr.Run || task.Kind != mr.SampleTask || task.ID != 0 {
		t.Fatalf("first poll = %v %v task %d; want sample task 0", action, task.Kind, task.ID)
	}
	return s
}

func sampleOK(w string, t mr.Task, keys ...string) mr.ReportArgs {
	return mr.ReportArgs{Worker: w, Task: t.TaskRef, Sample: keys}
}

func TestMapsWaitForSamples(t *testing.T) {
	s := newTestScheduler(2, 3)
	s0 := mustPoll(t, s, "a", 90, t0, mr.SampleTask, 0)
	if s0.Splits[0].File != "in-0" || s0.SampleSize != 45 || s0.Cuts != nil {
		t.Fatalf("sample task = %+v; want in-0, 45 keys (half of 90), no cuts", s0)
	}
	s1 := mustPoll(t, s, "b", 90, t0, mr.SampleTask, 1)
	if a, _ := s.Poll(mr.GetTaskArgs{Worker: "c", SampleSize: 90}, t0); a != mr.Wait {
		t.Fatalf("with samples running, Poll = %v; want wait: maps start only after every sample commits", a)
	}
	if st := s.Status(); st.Samples != 2 || st.SamplesRunning != 2 || st.SamplesDone != 0 {
		t.Fatalf("status = %+v", st)
	}
	if o := s.Complete(sampleOK("a", s0, "k5", "k1", "k3"), t0); o != Accepted {
		t.Fatalf("Complete(s0) = %v", o)
	}
	if a, _ := s.Assign("c", t0); a != mr.Wait {
		t.Fatalf("with a sample left, Assign = %v; want wait", a)
	}
	if c, _ := s.Cuts(); c != nil {
		t.Fatalf("cuts %q before the last sample", c)
	}
	s.Complete(sampleOK("b", s1, "k2", "k6", "k4"), t0)
	if c, n := s.Cuts(); !slices.Equal(c, []string{"k3", "k5"}) || n != 6 {
		t.Fatalf("Cuts() = %q from %d keys; want [k3 k5] from 6", c, n)
	}
	m0 := mustPoll(t, s, "a", 90, t0, mr.MapTask, 0)
	m1 := mustPoll(t, s, "b", 90, t0, mr.MapTask, 1)
	if !slices.Equal(m0.Cuts, []string{"k3", "k5"}) {
		t.Fatalf("map task cuts = %q", m0.Cuts)
	}
	s.Complete(ok("a", m0, 3), t0)
	s.Complete(ok("b", m1, 3), t0)
	r := mustPoll(t, s, "a", 90, t0, mr.ReduceTask, 0)
	if len(r.Cuts) != 2 {
		t.Fatalf("reduce task cuts = %q", r.Cuts)
	}
	if st := s.Status(); st.SamplesDone != 2 || st.MapsDone != 2 {
		t.Fatalf("status = %+v", st)
	}
}

func mustPoll(t *testing.T, s *Scheduler, w string, n int, now time.Time, kind mr.TaskKind, id int) mr.Task {
	t.Helper()
	action, task := s.Poll(mr.GetTaskArgs{Worker: w, SampleSize: n}, now)
	if action != mr.Run || task.Kind != kind || task.ID != id {
		t.Fatalf("Poll(%s, %d) = %v %v task %d; want run %v task %d", w, n, action, task.Kind, task.ID, kind, id)
	}
	return task
}

func TestNoSampleSizeNoSamplePhase(t *testing.T) {
	s := newTestScheduler(2, 2)
	m := mustPoll(t, s, "a", 0, t0, mr.MapTask, 0)
	if m.Cuts != nil {
		t.Fatalf("cuts = %q", m.Cuts)
	}
	if st := s.Status(); st.Samples != 0 {
		t.Fatalf("status = %+v; want no sample tasks", st)
	}
	// A negative SampleSize is no sample too.
	s = newTestScheduler(1, 2)
	mustPoll(t, s, "a", -5, t0, mr.MapTask, 0)
	if a, _ := s.Poll(mr.GetTaskArgs{Worker: "b"}, t0); a != mr.Wait || s.Failure() != "" {
		t.Fatalf("Poll = %v, failure %q; want wait", a, s.Failure())
	}
}

func TestLostSampleIsRetried(t *testing.T) {
	s := sampled(t, 1, 2, 10)
	now := t0.Add(11 * time.Second)
	ev := s.Expire(now)
	if len(ev) != 1 || ev[0].Task.Kind != mr.SampleTask || !strings.Contains(ev[0].String(), "sample task 0 attempt 1 on worker a: lost") {
		t.Fatalf("Expire = %v; want sample task 0 lost", ev)
	}
	again := mustPoll(t, s, "b", 10, now, mr.SampleTask, 0)
	if again.Attempt != 2 || again.SampleSize != 10 || again.Splits[0].File != "in-0" {
		t.Fatalf("retry = %+v", again)
	}
	if done, _ := s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: again.TaskRef}, now); done {
		t.Fatal("heartbeat says done before the sample committed")
	}
	if o := s.Complete(sampleOK("b", again, "x"), now); o != Accepted {
		t.Fatalf("= %v", o)
	}
	if done, _ := s.Heartbeat(mr.HeartbeatArgs{Worker: "b", Task: again.TaskRef}, now); !done {
		t.Fatal("heartbeat of a committed sample task does not say done")
	}
	if o := s.Complete(sampleOK("b", again, "x"), now); o != Duplicate {
		t.Fatalf("retried report = %v; want duplicate", o)
	}
	mustPoll(t, s, "b", 10, now, mr.MapTask, 0)
}

func TestFailedSampleFailsTheJob(t *testing.T) {
	s := newTestScheduler(1, 2)
	for attempt := 1; attempt <= 3; attempt++ {
		task := mustPoll(t, s, "a", 10, t0, mr.SampleTask, 0)
		want := Retrying
		if attempt == 3 {
			want = JobFailed
		}
		rep := mr.ReportArgs{Worker: "a", Task: task.TaskRef, Failure: "Map(in-0): panic: boom"}
		if o := s.Complete(rep, t0); o != want {
			t.Fatalf("failure %d: %v; want %v", attempt, o, want)
		}
	}
	f := s.Failure()
	for _, want := range []string{"sample task 0", "input in-0", "failed 3 times", "panic: boom"} {
		if !strings.Contains(f, want) {
			t.Errorf("Failure() = %q; want it to mention %q", f, want)
		}
	}
	if a, _ := s.Poll(mr.GetTaskArgs{Worker: "a", SampleSize: 10}, t0); a != mr.Exit {
		t.Fatalf("Poll after failure = %v; want exit", a)
	}
}

func TestSampleQuotaAndTruncation(t *testing.T) {
	// Three sample tasks over files of 10, 20 and 30 bytes share 7 keys in
	// proportion, rounding up: 2, 3 and 4.
	tasks := [][]mr.Split{{{File: "a", Length: 10, Whole: true}}, {{File: "b", Length: 20, Whole: true}}, {{File: "c", Length: 30, Whole: true}}}
	s := NewScheduler(Config{Tasks: tasks, NReduce: 2, TaskTimeout: 10 * time.Second, MaxAttempts: 3, MaxLost: 5})
	var got []int
	var st []mr.Task
	for i := range 3 {
		task := mustPoll(t, s, "w", 7, t0, mr.SampleTask, i)
		got = append(got, task.SampleSize)
		st = append(st, task)
	}
	if !slices.Equal(got, []int{2, 3, 4}) {
		t.Fatalf("quotas = %v; want [2 3 4]", got)
	}
	// Keys beyond a task's quota are dropped.
	s.Complete(sampleOK("w", st[0], "a1", "a2", "a3", "a4", "a5"), t0)
	s.Complete(sampleOK("w", st[1]), t0)
	s.Complete(sampleOK("w", st[2], "c1"), t0)
	if c, n := s.Cuts(); n != 3 || !slices.Equal(c, []string{"a2"}) {
		t.Fatalf("Cuts() = %q from %d keys; want [a2] from 3", c, n)
	}
}

func TestOneReduceSamplesNothing(t *testing.T) {
	s := newTestScheduler(2, 1)
	m := mustPoll(t, s, "w", 100, t0, mr.MapTask, 0)
	if m.Cuts != nil || s.Status().Samples != 0 {
		t.Fatalf("cuts %q, status %+v; want no sample tasks and no cuts", m.Cuts, s.Status())
	}
	// The decision stands: a worker with another app still fails the job.
	if a, _ := s.Poll(mr.GetTaskArgs{Worker: "x"}, t0); a != mr.Exit {
		t.Fatalf("Poll without SampleSize = %v; want exit", a)
	}
}

func TestEmptyInputSamplesNothing(t *testing.T) {
	s := NewScheduler(Config{Tasks: [][]mr.Split{{{File: "empty", Whole: true}}}, NReduce: 3, TaskTimeout: time.Second, MaxAttempts: 1, MaxLost: 1})
	m := mustPoll(t, s, "w", 100, t0, mr.MapTask, 0)
	if m.Cuts != nil || s.Status().Samples != 0 {
		t.Fatalf("cuts %q, status %+v; want no sample tasks and no cuts", m.Cuts, s.Status())
	}
}

// The first poll decides; a later poll that disagrees means the workers
// run different apps, and fails the job rather than mix partitionings.
func TestSampleSizeMismatchFailsTheJob(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second int
		want          string // "" for no failure
	}{
		{"same size", 100, 100, ""},
		{"neither samples", 0, 0, ""},
		{"negative is none", 0, -1, ""},
		{"sampler joins an unsampled job", 0, 100, "worker b runs an app that samples its input (SampleSize 100), but the job's first worker ran one that does not"},
		{"non-sampler joins a sampled job", 100, 0, "worker b runs an app that does not sample its input (no SampleSize), but the job's first worker ran one that does (SampleSize 100)"},
		{"different sizes", 100, 50, "worker b runs an app with SampleSize 50, but the job's first worker ran one with SampleSize 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestScheduler(2, 2)
			if a, _ := s.Poll(mr.GetTaskArgs{Worker: "a", SampleSize: tc.first}, t0); a != mr.Run {
				t.Fatalf("first poll = %v", a)
			}
			a, _ := s.Poll(mr.GetTaskArgs{Worker: "b", SampleSize: tc.second}, t0)
			if tc.want == "" {
				if a != mr.Run || s.Failure() != "" {
					t.Fatalf("second poll = %v, failure %q; want run", a, s.Failure())
				}
				return
			}
			if a != mr.Exit || !strings.Contains(s.Failure(), tc.want) || !strings.Contains(s.Failure(), "every worker of a job must run the same app") {
				t.Fatalf("second poll = %v, failure %q; want exit, %q", a, s.Failure(), tc.want)
			}
		})
	}
}

// One large file is one map task but four sample tasks; a failing one is
// described by its own chunks.
func TestSampleTaskDescribesItsChunks(t *testing.T) {
	s := NewScheduler(Config{Tasks: [][]mr.Split{{{File: "big", Length: 64 << 20, Whole: true}}}, NReduce: 2, TaskTimeout: time.Second, MaxAttempts: 1, MaxLost: 1})
	for i := range 4 {
		mustPoll(t, s, "w", 10, t0, mr.SampleTask, i)
	}
	s.Complete(mr.ReportArgs{Worker: "w", Task: mr.TaskRef{Kind: mr.SampleTask, ID: 3, Attempt: 1}, Failure: "boom"}, t0)
	if want := "sample task 3 (16 input chunks, big to big) failed 1 times; last error: boom"; s.Failure() != want {
		t.Fatalf("Failure() = %q; want %q", s.Failure(), want)
	}
}
