package worker

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// Sequential runs a whole job in this process, the plain way: Map over
// each file whole, each key's values gathered in emission order, then
// Reduce per key in key order. It writes outDir/mr-out-0 through a
// temporary file and never applies Combine. It is the reference that
// distributed runs must equal, so it shares no data-plane code with them;
// it holds every value in memory, about 16 bytes each plus their bytes.
func Sequential(a *app.App, files []string, outDir string, params map[string]string) error {
	mr.SetParams(params)
	groups := make(map[string][]string)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		err = callMap(a, f, string(data), func(k, v string) {
			groups[k] = append(groups[k], v)
		})
		if err != nil {
			return fmt.Errorf("Map(%s): %w", f, err)
		}
	}
	keys := slices.Sorted(maps.Keys(groups))

	final := filepath.Join(outDir, "mr-out-0")
	tmp, err := os.CreateTemp(outDir, ".mr-out-0-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 256<<10)
	for _, k := range keys {
		values := groups[k]
		var out string
		if a.ReduceIter != nil {
			out, err = callReduceIter(a, k, valuesOf(values))
		} else {
			out, err = callReduce(a, k, values)
		}
		if err != nil {
			return fmt.Errorf("Reduce(%.80q): %w", k, err)
		}
		fmt.Fprintf(w, "%s %s\n", k, out)
		delete(groups, k) // let the collector have them
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
