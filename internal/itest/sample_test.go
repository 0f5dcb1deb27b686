package itest

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

// sortApp is apps/sort in funcs: key = the first 10 bytes of a line, every
// record output in key order, range-partitioned on a sample of n keys.
func sortApp(n int) *app.App {
	return &app.App{
		MapEmit: func(file, contents string, emit func(k, v string)) {
			for len(contents) > 0 {
				line, rest, _ := strings.Cut(contents, "\n")
				contents = rest
				if len(line) <= 10 {
					emit(line, "")
				} else {
					emit(line[:10], strings.TrimPrefix(line[10:], " "))
				}
			}
		},
		ReduceIter: func(key string, values iter.Seq[string]) string {
			var vs []string
			for v := range values {
				vs = append(vs, v)
			}
			return strings.Join(vs, "\n"+key+" ")
		},
		Partition:  mr.RangePartition,
		SampleSize: func() int { return n },
	}
}

// writeRecords makes files of records whose 10-byte keys repeat (about
// three records a key), with some short lines, so that equal keys cross
// map tasks and their order shows.
func writeRecords(t *testing.T, dir string, files, perFile int) []string {
	rng := rand.New(rand.NewPCG(7, 7))
	var paths []string
	for f := range files {
		var b strings.Builder
		for i := range perFile {
			if i%97 == 0 {
				fmt.Fprintf(&b, "s%d\n", rng.IntN(10)) // a short line: its whole self is the key
				continue
			}
			fmt.Fprintf(&b, "k%09d file %d line %d\n", rng.IntN(files*perFile/3), f, i)
		}
		p := filepath.Join(dir, fmt.Sprintf("rec-%d", f))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// The mr-out-* files, concatenated in partition order, are byte for byte
// the sequential run's single output: globally sorted, equal keys in input
// order. And the sample keeps the partitions near their fair share.
func TestSampledRangePartitionSortsGlobally(t *testing.T) {
	defer mr.SetCuts(nil)
	files := writeRecords(t, t.TempDir(), 5, 1500)
	a := sortApp(2000)
	ref := t.TempDir()
	if err := worker.Sequential(a, files, ref, worker.SeqOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "mr-out-0"))

	const nReduce = 4
	c := startMaster(t, master.Options{Inputs: files, NReduce: nReduce, SplitSize: 20000})
	c.runWorkers(a, 3)
	if st := c.m.Status(); st.Samples == 0 || st.SamplesDone != st.Samples || st.Maps < 10 {
		t.Errorf("status %+v; want a finished sample phase and many map tasks", st)
	}
	var got []byte
	total := bytes.Count(want, []byte("\n"))
	for r := range nReduce {
		b, err := os.ReadFile(filepath.Join(c.out, fmt.Sprintf("mr-out-%d", r)))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n == 0 || n > 2*total/nReduce {
			t.Errorf("mr-out-%d holds %d of %d lines; want some, and at most twice its fair share", r, n, total)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("mr-out-0..%d concatenated (%d bytes) differ from the sequential output (%d bytes)", nReduce-1, len(got), len(want))
	}
}

// A worker whose app does not sample, joining a job whose first worker's
// app does, fails the job with a message that says so; nobody hangs.
func TestWorkersWithDifferentAppsFailTheJob(t *testing.T) {
	defer mr.SetCuts(nil)
	files := writeRecords(t, t.TempDir(), 2, 200)
	sampler := sortApp(100)
	release := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	inner := sampler.MapEmit
	sampler.MapEmit = func(file, contents string, emit func(k, v string)) {
		once.Do(func() { close(started) })
		<-release // hold the sample phase open until the other worker has polled
		inner(file, contents, emit)
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 2})
	w1 := c.worker(c.ctx, sampler, "sampler")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no sample task started")
	}
	w2 := c.worker(c.ctx, wordCount(), "counter")
	// Free the sampler once the job has failed, so that it hears so from
	// the master, which lingers for it.
	for deadline := time.Now().Add(10 * time.Second); c.m.Status().Failure == ""; {
		if time.Now().After(deadline) {
			t.Fatal("the job did not fail")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	err := c.wait()
	const want = "worker counter runs an app that does not sample its input (no SampleSize), but the job's first worker ran one that does (SampleSize 100)"
	if !errors.Is(err, master.ErrJobFailed) || !strings.Contains(err.Error(), want) {
		t.Fatalf("master: %v; want job failed: %s", err, want)
	}
	for _, w := range []<-chan error{w1, w2} {
		if err := <-w; !errors.Is(err, worker.ErrJobFailed) {
			t.Errorf("worker: %v; want job failed", err)
		}
	}
}
