package format

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"

	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// arrowInput reads Arrow IPC files (the file format, with its footer, not
// the stream format): a split is a run of consecutive record batches.
// Unlike Parquet, an Arrow batch is read whole, and unselected columns are
// dropped after reading.
type arrowInput struct{}

func (arrowInput) Name() string { return "arrow" }

// Sniff looks for the magic "ARROW1" and its padding at the start.
func (arrowInput) Sniff(head []byte) bool { return hasPrefix(head, "ARROW1\x00\x00") }

// openArrow opens an Arrow IPC file, in any store, reading its footer.
// The caller closes both.
func openArrow(path string) (store.File, *ipc.FileReader, error) {
	f, err := store.Open(context.Background(), path)
	if err != nil {
		return nil, nil, fmt.Errorf("input %s: %w", path, unwrapPath(err))
	}
	r, err := ipc.NewFileReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("input %s: not a readable Arrow IPC file (truncated or corrupt?): %v", path, err)
	}
	return f, r, nil
}

// Plan reads the footer and groups consecutive record batches into splits
// of about splitSize bytes. The footer's batch sizes are not exposed by
// arrow/ipc, so each batch is taken to hold an equal share of the file.
func (arrowInput) Plan(path string, size, splitSize int64, columns []string) (_ []mr.Split, err error) {
	defer recoverErr(&err, "input "+path+": reading the Arrow footer")
	f, r, err := openArrow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer r.Close()
	if _, err := selectColumns(path, r.Schema(), columns, false); err != nil { // nested ones pass, for MapBatch
		return nil, err
	}
	cols := strings.Join(columns, ",")
	n := r.NumRecords()
	if n == 0 || splitSize <= 0 || size <= splitSize {
		return []mr.Split{{File: path, Length: size, Whole: true, Format: "arrow", Count: n, Columns: cols}}, nil
	}
	per := max(size/int64(n), 1)
	k := int(max(splitSize/per, 1)) // batches per split
	var splits []mr.Split
	for first := 0; first < n; first += k {
		c := min(k, n-first)
		splits = append(splits, mr.Split{File: path, Offset: int64(first) * per, Length: int64(c) * per, Format: "arrow", First: first, Count: c, Columns: cols})
	}
	return splits, nil
}

// Read decodes the split's record batches one at a time into row text.
func (a arrowInput) Read(s mr.Split) ([]byte, error) {
	buf := make([]byte, 0, min(max(s.Length, 0), 1<<30))
	err := a.records(s, true, func(rec arrow.Record) (err error) {
		buf, err = appendRows(buf, rec)
		return err
	})
	return buf, err
}

// Records calls fn with the split's record batches, one at a time, with
// only the selected columns, which may be nested.
func (a arrowInput) Records(s mr.Split, fn func(arrow.Record) error) error {
	return a.records(s, false, fn)
}

func (arrowInput) records(s mr.Split, flat bool, fn func(arrow.Record) error) error {
	f, r, err := openArrow(s.File)
	if err != nil {
		return err
	}
	defer f.Close()
	defer r.Close()
	fields, err := selectColumns(s.File, r.Schema(), SplitColumns(s.Columns), flat)
	if err != nil {
		return err
	}
	if s.First < 0 || s.First+s.Count > r.NumRecords() {
		return fmt.Errorf("read %s: record batches %d to %d asked for, the file has %d (did it change since the job started?)", s.File, s.First, s.First+s.Count-1, r.NumRecords())
	}
	for i := s.First; i < s.First+s.Count; i++ {
		if err := readBatch(r, fields, i, fn); err != nil {
			return fmt.Errorf("read %s record batch %d: %w", s.File, i, err)
		}
	}
	return nil
}

// readBatch calls fn with the fields of batch i.
func readBatch(r *ipc.FileReader, fields []int, i int, fn func(arrow.Record) error) (err error) {
	defer recoverErr(&err, "corrupt data")
	rec, err := r.RecordAt(i)
	if err != nil {
		return err
	}
	defer rec.Release()
	proj := project(rec, fields)
	defer proj.Release()
	return fn(proj)
}

// project returns a record of rec's fields, in the order given. The caller
// releases it.
func project(rec arrow.Record, fields []int) arrow.Record {
	cols := make([]arrow.Array, len(fields))
	fs := make([]arrow.Field, len(fields))
	for k, i := range fields {
		cols[k], fs[k] = rec.Column(i), rec.Schema().Field(i)
	}
	return array.NewRecord(arrow.NewSchema(fs, nil), cols, rec.NumRows())
}
