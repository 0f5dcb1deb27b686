package master

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// The simulation drives a real Master, through its net/rpc service over
// loopback, with many simulated workers: each is a goroutine with a
// connection of its own that asks for a task, sends a heartbeat and
// reports success at once, so that the master is the only thing that
// takes time. Map output is "kept" on the simulated workers (each report
// names a shuffle server nobody dials), which is the case where the
// master must say which worker holds which map output; reduce tasks
// decode and check that. The workers run in a child process (this test
// binary again), so that the master's memory is measured alone.
//
//	go test -run '^$' -bench Simulate -benchtime 1x ./master
//
// runs the paper's shape (M = 200,000 map tasks, R = 5,000 reduce tasks,
// 2,000 workers) and a bigger one; make sim does the same. With
// GOMR_SIM_HEAP=FILE set, it writes a heap profile to FILE once the map
// phase is over; with GOMR_SIM_WORKER_PROFILE=FILE, the simulated workers
// write a CPU profile to FILE.

// simShapes are the jobs BenchmarkSimulate runs.
var simShapes = []struct{ maps, reduces, workers int }{
	{200_000, 5_000, 2_000},
	{1_000_000, 10_000, 500},
	{20_000, 5_000, 2_000}, // reduce-heavy, for profiling the reduce phase
}

func BenchmarkSimulate(b *testing.B) {
	for _, sh := range simShapes {
		b.Run(fmt.Sprintf("M=%d,R=%d,W=%d", sh.maps, sh.reduces, sh.workers), func(b *testing.B) {
			for range b.N {
				r := simulate(b, sh.maps, sh.reduces, sh.workers)
				b.ReportMetric(r.rate, "rpc/s")
				b.ReportMetric(r.slowest, "min-rpc/s")
				b.ReportMetric(float64(r.peakRSS)/(1<<20), "peak-MiB")
				b.ReportMetric(float64(r.heap)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(r.maxReply)/1024, "max-reply-KiB")
				b.ReportMetric(r.wall.Seconds(), "job-s")
			}
		})
	}
}

// A small simulation, run with the unit tests, checks that the harness
// and the master agree on the protocol and that every task commits once.
func TestSimulateSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it starts a child process")
	}
	r := simulate(t, 3000, 50, 40)
	if r.rpcs < 3*3000+3*50 {
		t.Fatalf("%d RPCs; want at least three per task", r.rpcs)
	}
}

type simResult struct {
	wall     time.Duration
	rpcs     int64
	rate     float64 // RPCs per second over the job
	slowest  float64 // RPCs in the slowest whole second
	peakRSS  int64   // the master process's, bytes
	heap     uint64  // live heap at the end of the map phase, bytes
	maxReply int64   // bytes
}

// simReport is what the child process says when its workers are done.
type simReport struct {
	RPCs     int64            `json:"rpcs"`
	Seconds  float64          `json:"seconds"`      // from the first call to the last
	Reduces  float64          `json:"reduces_from"` // when the first reduce task came, seconds after the first call
	PerSec   []int64          `json:"per_sec"`
	MaxReply map[string]int64 `json:"max_reply"`
	// Waited is the mean time a call took, by method and phase ("map"
	// until the first reduce task, then "reduce"), in milliseconds.
	Waited map[string]float64 `json:"waited_ms"`
	Errors   []string         `json:"errors"`
}

func simulate(tb testing.TB, maps, reduces, workers int) simResult {
	tb.Helper()
	dir := tb.TempDir()
	// One sparse input file of maps splits: nothing ever reads it.
	in := filepath.Join(dir, "input")
	const split = 1 << 10
	f, err := os.Create(in)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(int64(maps) * split); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	resetPeakRSS()
	m, err := New(Options{
		Inputs: []string{in}, SplitSize: split, NReduce: reduces, OutDir: filepath.Join(dir, "out"),
		Listen: "127.0.0.1:0", TaskTimeout: 5 * time.Minute, WorkerTimeout: 5 * time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if got := len(m.sched.maps); got != maps {
		tb.Fatalf("%d map tasks; want %d", got, maps)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- m.Run(ctx) }()

	var heap atomic.Uint64
	go func() { // the live heap once the map phase is over, when the master holds the most
		for ctx.Err() == nil {
			m.mu.Lock()
			left := m.sched.mapsLeft
			m.mu.Unlock()
			if left == 0 {
				heap.Store(liveHeap())
				if path := os.Getenv("GOMR_SIM_HEAP"); path != "" {
					if f, err := os.Create(path); err == nil {
						pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	args := []string{"-test.run=^TestSimWorkers$"}
	if prof := os.Getenv("GOMR_SIM_WORKER_PROFILE"); prof != "" {
		args = append(args, "-test.cpuprofile="+prof)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GOMR_SIM="+fmt.Sprintf("%s,%d,%d,%d", m.Addr(), workers, maps, reduces), "GOMR_SIM_DIR="+m.jobDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("simulated workers: %v\n%s", err, out)
	}
	if err := <-done; err != nil {
		tb.Fatalf("job: %v", err)
	}

	wall := time.Since(start)
	var rep simReport
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "SIM ") {
			if err := json.Unmarshal([]byte(line[4:]), &rep); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if len(rep.Errors) > 0 {
		tb.Fatalf("simulated workers: %d errors, first: %s", len(rep.Errors), rep.Errors[0])
	}
	outs, _ := filepath.Glob(filepath.Join(dir, "out", "mr-out-*"))
	if len(outs) != reduces {
		tb.Fatalf("%d outputs; want %d", len(outs), reduces)
	}
	r := simResult{wall: wall, rpcs: rep.RPCs, rate: float64(rep.RPCs) / rep.Seconds, peakRSS: peakRSS(), heap: heap.Load()}
	for _, n := range rep.MaxReply {
		r.maxReply = max(r.maxReply, n)
	}
	if len(rep.PerSec) > 2 {
		r.slowest = float64(rep.PerSec[0])
		for _, n := range rep.PerSec[:len(rep.PerSec)-1] { // the last second is not a whole one
			r.slowest = min(r.slowest, float64(n))
		}
	}
	tb.Logf("RPCs in each second: %v; reduce tasks from second %.1f; mean wait in ms %v", rep.PerSec, rep.Reduces, rep.Waited)
	tb.Logf("M=%d R=%d W=%d: job %v, workers busy %.1fs, %d RPCs, %.0f/s (slowest second %.0f), peak RSS %d MiB, live heap %d MiB, largest replies %v",
		maps, reduces, workers, wall.Round(time.Millisecond), rep.Seconds, rep.RPCs, r.rate, r.slowest, r.peakRSS>>20, r.heap>>20, rep.MaxReply)
	return r
}

// TestSimWorkers is the child process of a simulation: with GOMR_SIM set
// to "addr,workers,maps,reduces" and GOMR_SIM_DIR to the job directory,
// it runs that many simulated workers against the master at addr until it says the job is over, then
// prints a SIM line. It makes the first attempts' reduce output files
// before the first call: thousands of creators at once in one directory
// cost the kernel more than the whole master, and they are the workers'
// work, not the master's.
func TestSimWorkers(t *testing.T) {
	spec := os.Getenv("GOMR_SIM")
	if spec == "" {
		t.Skip("the child process of a simulation; see BenchmarkSimulate")
	}
	parts := strings.Split(spec, ",")
	addr := parts[0]
	workers, _ := strconv.Atoi(parts[1])
	nMap, _ := strconv.Atoi(parts[2])
	nReduce, _ := strconv.Atoi(parts[3])
	jobDir := os.Getenv("GOMR_SIM_DIR")
	for r := range nReduce {
		ref := mr.TaskRef{Kind: mr.ReduceTask, ID: r, Attempt: 1}
		if err := os.WriteFile(filepath.Join(jobDir, ref.File("out")), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu     sync.Mutex // guards rep
		rep       = simReport{MaxReply: map[string]int64{}, Waited: map[string]float64{}}
		allWaited = map[string]time.Duration{}
		allCalls  = map[string]int{}
		rpcs    atomic.Int64
		start   time.Time // of the first call
		startMu sync.Once
		last    atomic.Int64 // when the last call returned, ns after start
		reduces atomic.Int64 // when the first reduce task came, ns after start
		perSec  [3600]atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(rep.Errors) < 10 {
			rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("sim-%d", w)
			conn, err := net.Dial("tcp", addr)
			if err == nil {
				err = auth.Client(conn, nil, 10*time.Second)
			}
			if err != nil {
				fail("%s: connect: %v", name, err)
				return
			}
			cc := &countingConn{Conn: conn}
			c := rpc.NewClient(cc)
			defer c.Close()
			// What this worker saw, merged into rep as it ends: a lock
			// taken by 2,000 workers on every call held the simulation
			// back more than the master did.
			maxReply, waited, calls := map[string]int64{}, map[string]time.Duration{}, map[string]int{}
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				for k, n := range maxReply {
					rep.MaxReply[k] = max(rep.MaxReply[k], n)
				}
				for k, d := range waited {
					allWaited[k] += d
					allCalls[k] += calls[k]
				}
			}()
			call := func(method string, args, reply any) bool {
				startMu.Do(func() { start = time.Now() })
				began := time.Now()
				before := cc.read.Load()
				if err := c.Call(mr.ServiceName+"."+method, args, reply); err != nil {
					fail("%s: %s: %v", name, method, err)
					return false
				}
				n := cc.read.Load() - before
				rpcs.Add(1)
				since := time.Since(start)
				perSec[min(int(since/time.Second), len(perSec)-1)].Add(1)
				for l := last.Load(); int64(since) > l && !last.CompareAndSwap(l, int64(since)); l = last.Load() {
				}
				maxReply[method] = max(maxReply[method], n)
				phase := "map"
				if r := reduces.Load(); r != 0 && int64(since) > r {
					phase = "reduce"
				}
				waited[method+"/"+phase] += time.Since(began)
				calls[method+"/"+phase]++
				return true
			}
			shuffleAddr := fmt.Sprintf("10.%d.%d.%d:7070", w>>16&255, w>>8&255, w&255) // never dialed
			var held uint64 // the map output locations this worker holds, as a worker does
			for {
				var task mr.GetTaskReply
				if !call("GetTask", mr.GetTaskArgs{Worker: name, Locations: held}, &task) {
					return
				}
				if task.Action == mr.Exit {
					return
				}
				if task.Action != mr.Run {
					continue
				}
				t := task.Task
				var hb mr.HeartbeatReply
				if !call("Heartbeat", mr.HeartbeatArgs{Worker: name, Task: t.TaskRef}, &hb) {
					return
				}
				report := mr.ReportArgs{Worker: name, Task: t.TaskRef}
				switch t.Kind {
				case mr.MapTask:
					report.Output, report.Addr = filepath.Join("/sim", t.File("m")), shuffleAddr
				case mr.ReduceTask:
					reduces.CompareAndSwap(0, int64(time.Since(start)))
					var err error
					switch {
					case len(t.Locations) > 0:
						_, err = t.Locations.Sources(t.NMap) // names every map task once, or fails
						held = t.LocationsID
					case t.LocationsID != held:
						err = fmt.Errorf("locations %x came without their bytes; this worker holds %x", t.LocationsID, held)
					}
					if err == nil && t.NMap != nMap {
						err = fmt.Errorf("told of %d map tasks; the job has %d", t.NMap, nMap)
					}
					if err != nil {
						fail("%s: reduce %d: %v", name, t.ID, err)
						return
					}
					report.Output = filepath.Join(t.Dir, t.File("out"))
					if _, err := os.Stat(report.Output); err != nil {
						if err := os.WriteFile(report.Output, nil, 0o644); err != nil {
							fail("%s: %v", name, err)
							return
						}
					}
				}
				var rr mr.ReportReply
				if !call("Report", report, &rr) {
					return
				}
			}
		}()
	}
	wg.Wait()
	rep.RPCs = rpcs.Load()
	for k, d := range allWaited {
		rep.Waited[k] = float64(d.Milliseconds()) / float64(allCalls[k])
	}
	rep.Seconds = time.Duration(last.Load()).Seconds()
	rep.Reduces = time.Duration(reduces.Load()).Seconds()
	for i := range int(time.Duration(last.Load())/time.Second) + 1 {
		rep.PerSec = append(rep.PerSec, perSec[min(i, len(perSec)-1)].Load())
	}
	line, _ := json.Marshal(rep)
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "\nSIM %s\n", line)
	w.Flush()
}

// countingConn counts the bytes read from a connection: a simulated
// worker makes one call at a time, so the count across a call is the
// size of its reply.
type countingConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// resetPeakRSS makes the kernel forget this process's peak RSS, so that
// peakRSS measures from here on.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is this process's peak resident set size (VmHWM), in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// liveHeap collects garbage and returns the bytes of heap still in use.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
