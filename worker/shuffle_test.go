package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/shuffle"
	"gomr.dev/mr"
)

// writeOutputs runs the counter inputs' map tasks ids into dir, with
// nReduce partitions, and returns their output files.
func writeOutputs(t *testing.T, dir string, nReduce int, ids ...int) []string {
	t.Helper()
	splits := writeCounterInputs(t)
	var out []string
	for _, id := range ids {
		task := mapTask(dir, id, []mr.Split{splits[id%len(splits)]})
		task.NReduce = nReduce
		rep := runMap(fieldsApp(false), task, inputs.Read, &progress{})
		if rep.Failure != "" {
			t.Fatal(rep.Failure)
		}
		out = append(out, rep.Output)
	}
	return out
}

// serve starts a shuffle server with secret on dir, publishing files.
func serve(t *testing.T, secret []byte, dir string, files ...string) *shuffleServer {
	t.Helper()
	s, err := startShuffle(ShuffleOptions{Listen: "127.0.0.1:0", Secret: secret}, dir, "127.0.0.1", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	for _, f := range files {
		s.publish(filepath.Base(f))
	}
	return s
}

// located says map tasks [first, first+n) are attempt 1, at addr.
func located(addr string, first, n int) mr.Source {
	return mr.Source{Addr: addr, Maps: []mr.MapRange{{First: first, Count: n, Attempt: 1}}}
}

// reduceTask is partition p of nReduce, of nMap map outputs at srcs.
func reduceTask(dir string, p, nReduce, nMap int, srcs ...mr.Source) mr.Task {
	return mr.Task{TaskRef: mr.TaskRef{Kind: mr.ReduceTask, ID: p, Attempt: 1}, NReduce: nReduce, NMap: nMap,
		MergeFactor: 4, Dir: dir, Locations: mr.EncodeLocations(srcs)}
}

// bytesOf reads a segment.
func bytesOf(t *testing.T, s mr.Segment) string {
	t.Helper()
	f, err := os.Open(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, s.Length)
	if _, err := f.ReadAt(b, s.Offset); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A reduce task reads shared map output in place and asks each worker
// once for its partition of every map output the worker holds, getting
// each run whole and in map task order.
func TestGatherFetchesOncePerWorker(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	shared, d1, d2 := t.TempDir(), t.TempDir(), t.TempDir()
	files := writeOutputs(t, shared, 2, 0)
	files = append(files, writeOutputs(t, d1, 2, 1, 2, 3)...)
	files = append(files, writeOutputs(t, d2, 2, 4)...)
	s1 := serve(t, secret, d1, files[1:4]...)
	s2 := serve(t, secret, d2, files[4])
	var requests atomic.Int64
	for _, s := range []*shuffleServer{s1, s2} {
		h := s.srv.Handler
		s.srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); h.ServeHTTP(w, r) })
	}
	f := newFetcher(secret, nil)
	defer f.close()
	for p := range 2 {
		requests.Store(0)
		var fetched atomic.Int64
		g := &gatherer{t: reduceTask(shared, p, 2, 5, located("", 0, 1), located(s1.addr, 1, 3), located(s2.addr, 4, 1)),
			f: f, off: &writtenOff{}, fetched: &fetched}
		in, err := g.gather(context.Background(), t.TempDir(), "")
		if err != nil || len(in.unreachable) != 0 || len(in.corrupt) != 0 {
			t.Fatalf("gather: %v, unreachable %v, corrupt %v", err, in.unreachable, in.corrupt)
		}
		if n := requests.Load(); n != 2 {
			t.Errorf("partition %d: %d requests; want one per worker", p, n)
		}
		var want []string
		var remote int64
		for id, file := range files {
			seg, err := shuffle.PartitionOf(file, id, 2, p)
			if err != nil {
				t.Fatal(err)
			}
			if seg.Length > 0 {
				want = append(want, fmt.Sprintf("%d:%s", id, bytesOf(t, seg)))
				if id > 0 {
					remote += seg.Length
				}
			}
		}
		var got []string
		for _, r := range in.runs {
			got = append(got, fmt.Sprintf("%d:%s", r.given.Map, bytesOf(t, r.local)))
			if r.given.Map == 0 && r.local.Path != files[0] {
				t.Errorf("shared map output was copied to %s", r.local.Path)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("partition %d: runs\n%q\nwant\n%q", p, got, want)
		}
		if fetched.Load() != remote || in.size() == 0 {
			t.Errorf("partition %d: fetched %d bytes, size %d; want %d fetched", p, fetched.Load(), in.size(), remote)
		}
	}
}

func TestShuffleServerRefusesStrangers(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	dir := t.TempDir()
	files := writeOutputs(t, dir, 1, 3)
	os.WriteFile(filepath.Join(dir, "secret-notes"), []byte("private"), 0o644)
	s := serve(t, secret, dir, files...)

	// Plain HTTP without the handshake gets no response.
	if resp, err := http.Post("http://"+s.addr+"/part?p=0&n=1", "text/plain", strings.NewReader("m3-a1\n")); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("plain HTTP got %s %q", resp.Status, body)
	}
	gather := func(f *fetcher, name string) gathered {
		t.Helper()
		g := &gatherer{t: reduceTask(dir, 0, 1, 1), f: f, off: &writtenOff{}}
		var in gathered
		if _, err := g.stream(context.Background(), s.addr, []wanted{{0, name}}, t.TempDir(), &in); err != nil && !errors.Is(err, errUnreachable) {
			t.Fatal(err)
		}
		return in
	}
	for name, f := range map[string]*fetcher{
		"wrong secret": newFetcher([]byte("not-the-secret-at-all-1234"), nil),
		"no secret":    newFetcher(nil, nil),
	} {
		if in := gather(f, "m3-a1"); len(in.runs) != 0 {
			t.Errorf("%s: got %v", name, in.runs)
		}
		f.close()
	}
	// With the secret, only published files.
	f := newFetcher(secret, nil)
	defer f.close()
	if in := gather(f, "m3-a1"); len(in.runs) != 1 {
		t.Fatalf("published output: got %+v; want its run", in)
	}
	for _, bad := range []string{"secret-notes", "..", "../m3-a1", "m4-a1"} {
		if in := gather(f, bad); len(in.runs) != 0 || len(in.unreachable) != 1 {
			t.Errorf("fetch %q = %+v; want it unreachable", bad, in)
		}
	}
	// A dropped file is no longer served.
	s.forget()
	if in := gather(f, "m3-a1"); len(in.runs) != 0 || len(in.unreachable) != 1 {
		t.Error("a forgotten file was still served")
	}
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Errorf("forget left the file: %v", err)
	}
}

// A map output whose index is damaged is reported corrupt, by the server
// that holds it or by the reducer that reads it in place.
func TestDamagedIndexIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	files := writeOutputs(t, dir, 2, 0)
	data, _ := os.ReadFile(files[0])
	data[len(data)-30] ^= 0xff // inside the index entries
	os.WriteFile(files[0], data, 0o644)
	s := serve(t, nil, dir, files...)
	f := newFetcher(nil, nil)
	defer f.close()
	for _, addr := range []string{s.addr, ""} {
		var bad bool
		for p := range 2 {
			g := &gatherer{t: reduceTask(dir, p, 2, 1, located(addr, 0, 1)), f: f, off: &writtenOff{}}
			in, err := g.gather(context.Background(), t.TempDir(), "")
			if err != nil || len(in.unreachable) != 0 {
				t.Fatalf("gather from %q: %v, unreachable %v", addr, err, in.unreachable)
			}
			want := filepath.Base(files[0]) // a remote output is known by its name
			if addr == "" {
				want = files[0]
			}
			if len(in.corrupt) == 1 && in.corrupt[0].Map == 0 && in.corrupt[0].Addr == addr && in.corrupt[0].Path == want {
				bad = true
			}
		}
		if !bad {
			t.Errorf("from %q: the damaged entry was not reported corrupt", addr)
		}
	}
}

// A fetch from a host that has gone dark stops as soon as the master
// writes its output off, rather than waiting out every timeout.
func TestWrittenOffFetchStops(t *testing.T) {
	dark, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks
	if err != nil {
		t.Fatal(err)
	}
	defer dark.Close()
	off := &writtenOff{}
	f := newFetcher(nil, nil)
	defer f.close()
	done := make(chan struct{})
	var in gathered
	go func() {
		defer close(done)
		g := &gatherer{t: reduceTask(t.TempDir(), 0, 1, 2, located(dark.Addr().String(), 0, 2)), f: f, off: off}
		in, err = g.gather(context.Background(), t.TempDir(), "")
	}()
	time.Sleep(50 * time.Millisecond)
	off.add([]int{0, 1})
	off.add([]int{1}) // again: harmless
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the fetch did not stop when its map outputs were written off")
	}
	if err != nil || len(in.unreachable) != 2 || in.unreachable[0].Addr != dark.Addr().String() {
		t.Fatalf("gather = %v, unreachable %v; want both map outputs unreachable", err, in.unreachable)
	}
}

// Runs an attempt fetched are kept for the next attempt, which uses them
// rather than fetching them again, and fetches only the rest.
func TestFetchReusesKeptCopies(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	files := writeOutputs(t, d1, 1, 0, 1)
	files = append(files, writeOutputs(t, d2, 1, 2)...)
	s1 := serve(t, nil, d1, files[:2]...)
	dark, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	darkAddr := dark.Addr().String()
	dark.Close() // nobody listens: refused at once
	f := newFetcher(nil, nil)
	defer f.close()
	srcs := []mr.Source{located(s1.addr, 0, 2), located(darkAddr, 2, 1)}
	first := &gatherer{t: reduceTask(t.TempDir(), 0, 1, 3, srcs...), f: f, off: &writtenOff{}}
	fetched := t.TempDir()
	in, err := first.gather(context.Background(), fetched, "")
	if err != nil || len(in.unreachable) != 1 || in.unreachable[0].Map != 2 {
		t.Fatalf("first gather: %v, unreachable %v; want map 2 unreachable", err, in.unreachable)
	}
	// The next attempt finds map 2 on a live worker, and worker 1 gone.
	s1.close()
	s2 := serve(t, nil, d2, files[2])
	srcs = []mr.Source{located(s1.addr, 0, 2), located(s2.addr, 2, 1)}
	var n atomic.Int64
	second := &gatherer{t: reduceTask(t.TempDir(), 0, 1, 3, srcs...), f: f, off: &writtenOff{}, fetched: &n}
	in, err = second.gather(context.Background(), t.TempDir(), fetched)
	if err != nil || len(in.unreachable) != 0 || len(in.runs) != 3 {
		t.Fatalf("second gather: %v, unreachable %v, %d runs; want all 3 runs", err, in.unreachable, len(in.runs))
	}
	for i, r := range in.runs {
		want, _ := shuffle.PartitionOf(files[i], i, 1, 0)
		if r.given.Map != i || bytesOf(t, r.local) != bytesOf(t, want) {
			t.Errorf("run %d = map %d %q; want %q", i, r.given.Map, bytesOf(t, r.local), bytesOf(t, want))
		}
	}
	if want, _ := shuffle.PartitionOf(files[2], 2, 1, 0); n.Load() != want.Length {
		t.Errorf("fetched %d bytes; want only map 2's %d", n.Load(), want.Length)
	}
}

// oneTask hands out a single task, then says the job is over.
type oneTask struct {
	Master
	task mr.Task
	gave bool
}

func (m *oneTask) GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error) {
	if m.gave {
		return mr.GetTaskReply{Action: mr.Exit}, nil
	}
	m.gave = true
	return mr.GetTaskReply{Action: mr.Run, Task: m.task}, nil
}

// A worker that cannot see the job directory, in a job that does not
// collect output, says so and stops instead of failing tasks.
func TestWorkerThatCannotSeeTheJobStops(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	m := &oneTask{task: mr.Task{TaskRef: mr.TaskRef{Kind: mr.MapTask, Attempt: 1}, Dir: missing, NReduce: 1}}
	err := Run(context.Background(), Options{App: &app.App{}, Master: m, ID: "w", WorkDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cannot see the master's job directory") || !strings.Contains(err.Error(), "--collect-output") {
		t.Fatalf("Run = %v; want it to stop, naming the job directory and --collect-output", err)
	}
}
