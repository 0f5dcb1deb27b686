package worker

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// Sequential runs a whole job in this process, the plain way: Map over
// each file whole, one stable sort of every pair by key, Reduce per key.
// It writes outDir/mr-out-0 through a temporary file and never applies
// Combine. It is the reference that distributed runs must equal, so it
// shares no data-plane code with them, and holds all pairs in memory.
func Sequential(a *app.App, files []string, outDir string, params map[string]string) error {
	mr.SetParams(params)
	var kvs []mr.KeyValue
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		err = callMap(a, f, string(data), func(k, v string) {
			kvs = append(kvs, mr.KeyValue{Key: strings.Clone(k), Value: strings.Clone(v)})
		})
		if err != nil {
			return fmt.Errorf("Map(%s): %w", f, err)
		}
	}
	slices.SortStableFunc(kvs, func(x, y mr.KeyValue) int { return cmp.Compare(x.Key, y.Key) })

	final := filepath.Join(outDir, "mr-out-0")
	tmp, err := os.CreateTemp(outDir, ".mr-out-0-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 256<<10)
	var values []string
	for i := 0; i < len(kvs); {
		j := i
		values = values[:0]
		for j < len(kvs) && kvs[j].Key == kvs[i].Key {
			values = append(values, kvs[j].Value)
			j++
		}
		var out string
		if a.ReduceIter != nil {
			out, err = callReduceIter(a, kvs[i].Key, valuesOf(values))
		} else {
			out, err = callReduce(a, kvs[i].Key, values)
		}
		if err != nil {
			return fmt.Errorf("Reduce(%q): %w", kvs[i].Key, err)
		}
		fmt.Fprintf(w, "%s %s\n", kvs[i].Key, out)
		i = j
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}
