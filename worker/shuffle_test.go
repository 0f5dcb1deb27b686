package worker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// serveOne starts a shuffle server with secret that has published one
// file, and returns it with the segment that names the file's middle.
func serveOne(t *testing.T, secret []byte) (*shuffleServer, mr.Segment) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m3-a1"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "secret-notes"), []byte("private"), 0o644)
	s, err := startShuffle(ShuffleOptions{Listen: "127.0.0.1:0", Secret: secret}, dir, "127.0.0.1", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	s.publish("m3-a1")
	return s, mr.Segment{Path: "/elsewhere/m3-a1", Offset: 2, Length: 5, Addr: s.addr, Map: 3}
}

func TestFetchCopiesASegment(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	s, seg := serveOne(t, secret)
	f := newFetcher(secret, nil)
	defer f.close()
	shared := mr.Segment{Path: "/shared/m0-a1", Length: 7}
	local, unreachable, err := f.fetch(context.Background(), []mr.Segment{shared, seg}, t.TempDir(), "", "", &writtenOff{}, nil)
	if err != nil || len(unreachable) != 0 {
		t.Fatalf("fetch: %v, unreachable %v", err, unreachable)
	}
	if local[0] != shared {
		t.Errorf("a shared segment was changed to %+v", local[0])
	}
	if b, _ := os.ReadFile(local[1].Path); string(b) != "23456" || local[1].Offset != 0 || local[1].Length != 5 {
		t.Errorf("copy = %q as %+v; want 23456 from offset 0", b, local[1])
	}
	// Its own segments a worker reads in place.
	local, _, _ = f.fetch(context.Background(), []mr.Segment{seg}, t.TempDir(), "", s.addr, &writtenOff{}, nil)
	if local[0] != seg {
		t.Errorf("own segment became %+v", local[0])
	}
}

func TestShuffleServerRefusesStrangers(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	s, seg := serveOne(t, secret)

	// Plain HTTP without the handshake gets no response.
	if resp, err := http.Get("http://" + s.addr + "/map/m3-a1?off=0&len=10"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("plain HTTP got %s %q", resp.Status, body)
	}
	for name, f := range map[string]*fetcher{
		"wrong secret": newFetcher([]byte("not-the-secret-at-all-1234"), nil),
		"no secret":    newFetcher(nil, nil),
	} {
		path := filepath.Join(t.TempDir(), "copy")
		if err := f.get(context.Background(), seg, path, nil); !errors.Is(err, errUnreachable) {
			t.Errorf("%s: fetch = %v; want it refused", name, err)
		}
		if b, _ := os.ReadFile(path); len(b) != 0 {
			t.Errorf("%s: got %q", name, b)
		}
		f.close()
	}

	// With the secret, only published files, and only inside them.
	f := newFetcher(secret, nil)
	defer f.close()
	for _, bad := range []mr.Segment{
		{Path: "secret-notes", Length: 3},
		{Path: "..", Length: 1},
		{Path: "m3-a1", Offset: 8, Length: 5},
	} {
		bad.Addr = s.addr
		if err := f.get(context.Background(), bad, filepath.Join(t.TempDir(), "copy"), nil); !errors.Is(err, errUnreachable) {
			t.Errorf("fetch %+v = %v; want refused", bad, err)
		}
	}
	// A dropped file is no longer served.
	s.forget()
	if err := f.get(context.Background(), seg, filepath.Join(t.TempDir(), "copy"), nil); err == nil {
		t.Error("a forgotten file was still served")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "m3-a1")); !os.IsNotExist(err) {
		t.Errorf("forget left the file: %v", err)
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
	seg := mr.Segment{Path: "m1-a1", Length: 10, Addr: dark.Addr().String(), Map: 1}
	off := &writtenOff{}
	f := newFetcher(nil, nil)
	defer f.close()
	done := make(chan struct{})
	var unreachable []mr.Segment
	go func() {
		defer close(done)
		_, unreachable, err = f.fetch(context.Background(), []mr.Segment{seg}, t.TempDir(), "", "", off, nil)
	}()
	off.add([]int{0, 1})
	off.add([]int{1}) // again: harmless
	<-done
	if err != nil || len(unreachable) != 1 || unreachable[0] != seg {
		t.Fatalf("fetch = %v, unreachable %v; want the segment unreachable", err, unreachable)
	}
}

// A complete copy left by an earlier attempt is used, not fetched again;
// an incomplete one is fetched again.
func TestFetchReusesKeptCopies(t *testing.T) {
	secret := []byte("a-secret-of-16-bytes-or-more")
	_, seg := serveOne(t, secret)
	dark := mr.Segment{Path: "/elsewhere/m4-a1", Length: 3, Addr: "127.0.0.1:1", Map: 4} // nobody listens
	kept := t.TempDir()
	os.WriteFile(filepath.Join(kept, copyName(dark)), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(kept, copyName(seg)), []byte("234"), 0o644) // 3 of 5 bytes
	f := newFetcher(secret, nil)
	defer f.close()
	local, unreachable, err := f.fetch(context.Background(), []mr.Segment{dark, seg}, t.TempDir(), kept, "", &writtenOff{}, nil)
	if err != nil || len(unreachable) != 0 {
		t.Fatalf("fetch: %v, unreachable %v", err, unreachable)
	}
	for i, want := range []string{"old", "23456"} {
		if b, _ := os.ReadFile(local[i].Path); string(b) != want {
			t.Errorf("copy %d = %q; want %q", i, b, want)
		}
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
