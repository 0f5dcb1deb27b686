package format

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// readBatchRows is how many rows a columnar reader decodes at once, which
// bounds the memory a read needs besides the text it returns.
const readBatchRows = 8192

// parquetInput reads Parquet files through pqarrow: a split is a run of
// consecutive row groups, and only the selected columns' chunks are read
// and decompressed.
type parquetInput struct{}

func (parquetInput) Name() string { return "parquet" }

// Sniff looks for the magic "PAR1" at the start. The one at the end is
// checked when the footer is read, so that a truncated file is an error,
// not text.
func (parquetInput) Sniff(head []byte) bool { return hasPrefix(head, "PAR1") }

// openParquet opens a Parquet file, in any store, and its Arrow view,
// reading the footer. The caller closes the file with rdr.Close.
func openParquet(path string) (*file.Reader, *pqarrow.FileReader, error) {
	f, err := store.Open(context.Background(), path)
	if err != nil {
		return nil, nil, fmt.Errorf("input %s: %w", path, unwrapPath(err))
	}
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("input %s: not a readable Parquet file (truncated or corrupt?): %v", path, err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, memory.DefaultAllocator)
	if err != nil {
		rdr.Close()
		return nil, nil, fmt.Errorf("input %s: Parquet schema: %v", path, err)
	}
	return rdr, fr, nil
}

// Plan reads the footer and groups consecutive row groups into splits of
// about splitSize bytes, never cutting a row group: a split is at least one
// row group. A row group's size is the uncompressed size of the selected
// columns' chunks, close to the size of their text.
func (parquetInput) Plan(path string, size, splitSize int64, columns []string) (_ []mr.Split, err error) {
	defer recoverErr(&err, "input "+path+": reading the Parquet footer")
	rdr, fr, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer rdr.Close()
	schema, err := fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("input %s: Parquet schema: %v", path, err)
	}
	// Nested columns pass: MapBatch can read them, and the row text
	// reader refuses them, naming the column.
	fields, err := selectColumns(path, schema, columns, false)
	if err != nil {
		return nil, err
	}
	var leaves []int
	for _, i := range fields {
		leaves = append(leaves, leafColumns(fr.Manifest.Fields[i])...)
	}
	md := rdr.MetaData()
	cols := strings.Join(columns, ",")
	var splits []mr.Split
	var cur mr.Split
	for g := range rdr.NumRowGroups() {
		rg := md.RowGroup(g)
		var bytes, start int64 = 0, -1
		for _, leaf := range leaves {
			cc, err := rg.ColumnChunk(leaf)
			if err != nil {
				return nil, fmt.Errorf("input %s: row group %d: %v", path, g, err)
			}
			off := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < off {
				off = cc.DictionaryPageOffset()
			}
			if off < 0 || off+cc.TotalCompressedSize() > size {
				return nil, fmt.Errorf("input %s: row group %d, column %q: its chunk lies outside the file's %d bytes (truncated or corrupt)", path, g, cc.PathInSchema().String(), size)
			}
			if start < 0 || off < start {
				start = off
			}
			bytes += cc.TotalUncompressedSize()
		}
		if cur.Count > 0 && splitSize > 0 && cur.Length+bytes > splitSize {
			splits = append(splits, cur)
			cur = mr.Split{}
		}
		if cur.Count == 0 {
			cur = mr.Split{File: path, Offset: max(start, 0), Format: "parquet", First: g, Columns: cols}
		}
		cur.Count++
		cur.Length += bytes
	}
	if cur.Count > 0 || len(splits) == 0 {
		splits = append(splits, mr.Split{File: path, Offset: cur.Offset, Length: cur.Length, Format: "parquet", First: cur.First, Count: cur.Count, Columns: cols})
	}
	if len(splits) == 1 {
		splits[0].Whole, splits[0].Offset = true, 0
	}
	return splits, nil
}

// Read decodes the split's row groups, one at a time and readBatchRows
// rows at a time, into row text. An error names the file and row group.
func (p parquetInput) Read(s mr.Split) ([]byte, error) {
	buf := make([]byte, 0, min(max(s.Length, 0), 1<<30))
	err := p.records(s, true, func(rec arrow.Record) (err error) {
		buf, err = appendRows(buf, rec)
		return err
	})
	return buf, err
}

// Records calls fn with the split's rows, readBatchRows at a time, with
// only the selected columns, which may be nested.
func (p parquetInput) Records(s mr.Split, fn func(arrow.Record) error) error {
	return p.records(s, false, fn)
}

func (parquetInput) records(s mr.Split, flat bool, fn func(arrow.Record) error) error {
	rdr, fr, err := openParquet(s.File)
	if err != nil {
		return err
	}
	defer rdr.Close()
	schema, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("read %s: Parquet schema: %v", s.File, err)
	}
	fields, err := selectColumns(s.File, schema, SplitColumns(s.Columns), flat)
	if err != nil {
		return err
	}
	if s.First < 0 || s.First+s.Count > rdr.NumRowGroups() {
		return fmt.Errorf("read %s: row groups %d to %d asked for, the file has %d (did it change since the job started?)", s.File, s.First, s.First+s.Count-1, rdr.NumRowGroups())
	}
	var leaves []int
	for _, i := range fields {
		leaves = append(leaves, leafColumns(fr.Manifest.Fields[i])...)
	}
	for g := s.First; g < s.First+s.Count; g++ {
		if err := readRowGroup(fr, leaves, g, fn); err != nil {
			return fmt.Errorf("read %s row group %d: %w", s.File, g, err)
		}
	}
	return nil
}

// leafColumns returns the Parquet leaf columns of a field, one for a flat
// field, all those below it for a nested one.
func leafColumns(f pqarrow.SchemaField) []int {
	// Not f.IsLeaf(): in v15, a nested field's ColIndex is 0, not -1.
	if len(f.Children) == 0 {
		return []int{f.ColIndex}
	}
	var leaves []int
	for _, c := range f.Children {
		leaves = append(leaves, leafColumns(c)...)
	}
	return leaves
}

// readRowGroup calls fn with the records of row group g's leaves, and
// checks that they hold as many rows as the footer says.
func readRowGroup(fr *pqarrow.FileReader, leaves []int, g int, fn func(arrow.Record) error) (err error) {
	defer recoverErr(&err, "corrupt data")
	rr, err := fr.GetRecordReader(context.Background(), leaves, []int{g})
	if err != nil {
		return err
	}
	defer rr.Release()
	var rows int64
	for rr.Next() {
		rows += rr.Record().NumRows()
		if err := fn(rr.Record()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF { // io.EOF is its end
		return err
	}
	// A page whose header does not decode ends its column chunk early,
	// without an error from the reader; the row count tells.
	if want := fr.ParquetReader().MetaData().RowGroup(g).NumRows(); rows != want {
		return fmt.Errorf("corrupt data: %d rows decoded, the footer says %d", rows, want)
	}
	return nil
}

// selectColumns returns the indices of the named top-level fields of
// schema, or of all of them for nil, checking that each exists and, if
// flat is set, has a row text form. Errors name file.
func selectColumns(file string, schema *arrow.Schema, columns []string, flat bool) ([]int, error) {
	var idx []int
	if columns == nil {
		for i := range schema.NumFields() {
			idx = append(idx, i)
		}
	}
	for k, c := range columns {
		if slices.Contains(columns[:k], c) {
			return nil, fmt.Errorf("input %s: column %q is named twice", file, c)
		}
		found := schema.FieldIndices(c)
		if len(found) == 0 {
			names := make([]string, schema.NumFields())
			for i, f := range schema.Fields() {
				names[i] = f.Name
			}
			return nil, fmt.Errorf("input %s: no column %q; its columns are %s", file, c, strings.Join(names, ", "))
		}
		idx = append(idx, found[0])
	}
	for _, i := range idx {
		if f := schema.Field(i); flat && nested(f.Type) {
			return nil, errNested(file, f)
		}
	}
	return idx, nil
}

// recoverErr turns a panic in a reader library, which corrupt input can
// cause, into an error; where says what was being read.
func recoverErr(err *error, where string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %v", where, r)
	}
}
