package itest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gomr.dev/internal/store/storetest"
	"gomr.dev/master"
)

// A job whose inputs and output are in an S3 store (a real one,
// versitygw): workers read ranged splits from it and upload their
// output, the master commits it; the output prefix then holds exactly
// the outputs, the summary and _SUCCESS, and the state directory nothing.
func TestS3InputsAndOutput(t *testing.T) {
	srv := storetest.Start(t)
	files := writeInputs(t, t.TempDir(), 6)
	var objects []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, srv.Object(t, "inputs", "words/"+filepath.Base(f), data))
	}
	srv.Bucket(t, "outputs")
	a := wordCount()
	want := reference(t, a, files)

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	m, err := master.New(master.Options{
		Inputs: objects, NReduce: 3, SplitSize: 1500,
		OutDir: "s3://outputs/wc", StateDir: state, Listen: "unix:" + filepath.Join(dir, "m.sock"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &cluster{t: t, m: m, out: filepath.Join(srv.Dir, "outputs", "wc"), ctx: ctx, done: make(chan error, 1)}
	go func() { c.done <- m.Run(ctx) }()
	c.runWorkers(a, 3)

	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential: got %d lines, want %d", len(got), len(want))
	}
	var names []string
	filepath.Walk(c.out, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != c.out {
			rel, _ := filepath.Rel(c.out, p)
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	if want := []string{"_SUCCESS", "mr-job.json", "mr-out-0", "mr-out-1", "mr-out-2"}; !slices.Equal(names, want) {
		t.Errorf("s3://outputs/wc holds %q; want %q", names, want)
	}
	if left, _ := filepath.Glob(filepath.Join(state, ".mr-*")); len(left) > 0 {
		t.Errorf("scratch left in the state directory: %v", left)
	}
}
