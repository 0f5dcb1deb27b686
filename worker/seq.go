package worker

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"gomr.dev/internal/app"
	"gomr.dev/internal/format"
	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

// SeqOptions configure Sequential.
type SeqOptions struct {
	Params map[string]string // the job's parameters, for mr.Param
	// Output is the output format (see internal/format; "" is text), and
	// Compression the codec of Parquet output.
	Output, Compression string
	// Columns is the projection of columnar inputs; nil reads them all.
	Columns []string
}

// Sequential runs a whole job in this process, the plain way: Map over
// each file whole, each key's values gathered in emission order, then
// Reduce per key in key order. It writes outDir/mr-out-0 (with the output
// format's extension) through a temporary file and never applies Combine. It is the reference that
// distributed runs must equal, so it shares no data-plane code with them;
// it holds every value in memory, about 16 bytes each plus their bytes.
func Sequential(a *app.App, files []string, outDir string, o SeqOptions) error {
	spec := mr.Task{Output: o.Output, Compression: o.Compression, NReduce: 1} // one partition, 0
	if _, err := format.OutputNamed(o.Output); err != nil {
		return err
	}
	mr.SetParams(o.Params)
	groups := make(map[string][]string)
	// Each file whole, read by its format: Parquet and Arrow files as the
	// row text Map sees in a distributed run.
	splits, err := inputs.Splits(files, 0, o.Columns...)
	if err != nil {
		return err
	}
	for _, s := range splits {
		if batched(a, s) {
			err := mapBatches(a, s, func(k, v string) { groups[k] = append(groups[k], v) }, func(int64) {})
			if err != nil {
				return err
			}
			continue
		}
		data, err := inputs.Read(s)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.File, err)
		}
		err = mapSplit(a, s, string(data), func(k, v string) {
			groups[k] = append(groups[k], v)
		})
		if err != nil {
			return err
		}
	}
	keys := slices.Sorted(maps.Keys(groups))

	f, _ := format.OutputNamed(o.Output)
	final := filepath.Join(outDir, "mr-out-0"+f.Ext())
	tmp, err := os.CreateTemp(outDir, ".mr-out-0-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w, err := newRowWriter(a, spec, tmp)
	if err != nil {
		return err
	}
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
		if err := w.Write(k, out); err != nil {
			return err
		}
		delete(groups, k) // let the collector have them
	}
	if err := w.Close(); err != nil {
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
