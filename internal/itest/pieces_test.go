package itest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
)

// A lab-form Map is handed a file larger than 4 MiB in pieces of about
// 1 MiB, each with the file's real name, even when the file is one whole
// split; a smaller file comes whole. An inverted index whose Reduce
// deduplicates still equals the sequential run, which hands Map each file
// whole.
func TestLabMapPiecesOfLargeFiles(t *testing.T) {
	dir := t.TempDir()
	pad := strings.Repeat("x", 100)
	var files []string
	for i, lines := range []int{50_000, 1_000, 45_000} { // 5.2 MB, 106 KB, 4.7 MB
		var b strings.Builder
		for j := range lines {
			fmt.Fprintf(&b, "w%d f%d %s\n", j%5000, i, pad)
		}
		p := filepath.Join(dir, fmt.Sprintf("in-%d.txt", i))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}

	var mu sync.Mutex // guards calls and largest
	calls := map[string]int{}
	largest := 0
	index := &app.App{
		Map: func(file, contents string) []mr.KeyValue {
			mu.Lock()
			calls[filepath.Base(file)]++
			largest = max(largest, len(contents))
			mu.Unlock()
			seen := map[string]bool{}
			var kvs []mr.KeyValue
			for _, w := range strings.Fields(contents) {
				if !seen[w] {
					seen[w] = true
					kvs = append(kvs, mr.KeyValue{Key: w, Value: filepath.Base(file)})
				}
			}
			return kvs
		},
		Reduce: func(key string, values []string) string {
			slices.Sort(values)
			values = slices.Compact(values)
			return strconv.Itoa(len(values)) + " " + strings.Join(values, ",")
		},
		Partition: mr.DefaultPartition,
	}
	want := reference(t, index, files)
	clear(calls)
	largest = 0

	// The default split size keeps every file one whole split.
	c := startMaster(t, master.Options{Inputs: files, NReduce: 3, SplitSize: 64 << 20})
	c.runWorkers(index, 2)
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("output differs from sequential: got %d lines, want %d", len(got), len(want))
	}
	if calls["in-0.txt"] < 5 || calls["in-2.txt"] < 4 {
		t.Errorf("Map calls per file %v; want files over 4 MiB in pieces of about 1 MiB", calls)
	}
	if calls["in-1.txt"] != 1 {
		t.Errorf("Map called %d times for a small file; want once", calls["in-1.txt"])
	}
	if limit := 1<<20 + 200; largest > limit {
		t.Errorf("Map was handed %d bytes at once; want at most %d", largest, limit)
	}
}
