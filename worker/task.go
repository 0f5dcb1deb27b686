package worker

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"gomr.dev/internal/app"
	"gomr.dev/internal/codec"
	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

// runMap reads the task's split, calls Map, and writes one sorted run per
// non-empty partition into the job directory. The report names the runs.
func runMap(a *app.App, t mr.Task) mr.ReportArgs {
	var rep mr.ReportArgs
	data, err := inputs.Read(t.Split)
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	rep.Stats.InputBytes = int64(len(data))
	rep.Stats.InputRecords = 1
	// Map may keep substrings of contents in its keys and values; data is
	// never written to again, so sharing its bytes is safe.
	kvs, err := callMap(a, t.Split.File, unsafe.String(unsafe.SliceData(data), len(data)))
	if err != nil {
		rep.Failure = fmt.Sprintf("Map(%s): %v", t.Split.File, err)
		return rep
	}
	recs := make([]record, len(kvs))
	for i, kv := range kvs {
		p, err := callPartition(a, kv.Key, t.NReduce)
		if err != nil {
			rep.Failure = err.Error()
			return rep
		}
		recs[i] = record{part: p, kv: kv}
	}
	// Stable, so a key's values keep the order Map emitted them in.
	slices.SortStableFunc(recs, func(x, y record) int {
		if c := cmp.Compare(x.part, y.part); c != 0 {
			return c
		}
		return cmp.Compare(x.kv.Key, y.kv.Key)
	})
	rep.Runs = make([]string, t.NReduce)
	for len(recs) > 0 {
		p := recs[0].part
		n := 1
		for n < len(recs) && recs[n].part == p {
			n++
		}
		name := filepath.Join(t.Dir, fmt.Sprintf("m%d-a%d-r%d", t.ID, t.Attempt, p))
		pairs, size, err := writeRun(a, name, recs[:n])
		if err != nil {
			rep.Failure = err.Error()
			return rep
		}
		rep.Runs[p] = name
		rep.Stats.OutputPairs += pairs
		rep.Stats.OutputBytes += size
		recs = recs[n:]
	}
	return rep
}

type record struct {
	part int
	kv   mr.KeyValue
}

// writeRun writes recs, sorted by key, to name through a temporary file,
// combining each key's values first when the app has a Combine.
func writeRun(a *app.App, name string, recs []record) (pairs, size int64, err error) {
	tmp := name + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	w := codec.NewWriter(bw)
	var values []string
	for len(recs) > 0 {
		key := recs[0].kv.Key
		n := 1
		for n < len(recs) && recs[n].kv.Key == key {
			n++
		}
		if a.Combine == nil {
			for _, r := range recs[:n] {
				if err := w.Write(key, r.kv.Value); err != nil {
					return 0, 0, err
				}
			}
		} else {
			values = values[:0]
			for _, r := range recs[:n] {
				values = append(values, r.kv.Value)
			}
			v, err := callCombine(a, key, values)
			if err != nil {
				return 0, 0, fmt.Errorf("Combine(%.80q): %v", key, err)
			}
			if err := w.Write(key, v); err != nil {
				return 0, 0, err
			}
		}
		recs = recs[n:]
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if err := f.Close(); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, name); err != nil {
		return 0, 0, err
	}
	return w.Pairs(), fi.Size(), nil
}

// runReduce merges the partition's runs and calls Reduce once per key, in
// key order, writing "key value" lines to a file in the job directory that
// the master moves into place if this attempt commits first.
func runReduce(a *app.App, t mr.Task) (rep mr.ReportArgs) {
	var readers []*codec.Reader
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, path := range t.Runs {
		f, err := os.Open(path)
		if err != nil {
			rep.Failure = fmt.Sprintf("open map output: %v", err)
			return rep
		}
		files = append(files, f)
		readers = append(readers, codec.NewReader(bufio.NewReaderSize(f, 64<<10)))
	}
	m, err := codec.NewMerger(readers)
	if err != nil {
		rep.Failure = fmt.Sprintf("read map output: %v", err)
		return rep
	}
	name := filepath.Join(t.Dir, fmt.Sprintf("out%d-a%d", t.ID, t.Attempt))
	out, err := os.Create(name)
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 256<<10)
	var values []string
	for m.Next() {
		key := m.Key()
		values = values[:0]
		for v := range m.Values() {
			values = append(values, v)
		}
		rep.Stats.InputRecords += int64(len(values))
		v, err := callReduce(a, key, values)
		if err != nil {
			rep.Failure = fmt.Sprintf("Reduce(%.80q): %v", key, err)
			return rep
		}
		bw.WriteString(key)
		bw.WriteByte(' ')
		bw.WriteString(v)
		bw.WriteByte('\n')
		rep.Stats.OutputPairs++
	}
	if err := m.Err(); err != nil {
		rep.Failure = fmt.Sprintf("read map output: %v", err)
		return rep
	}
	if err := bw.Flush(); err != nil {
		rep.Failure = err.Error()
		return rep
	}
	if err := out.Sync(); err != nil {
		rep.Failure = err.Error()
		return rep
	}
	rep.Output = name
	return rep
}
