package format

import (
	"bufio"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// GenRowGroupRows is how many rows LinesToParquet puts in a row group: 64
// Ki lines of generated text are about 5 MiB, so a file of a few tens of
// MiB has row groups for the planner to cut between.
const GenRowGroupRows = 64 << 10

// LinesToParquet writes the lines read from r (without their '\n') as a
// zstd-compressed Parquet file to w, in row groups of rowGroup rows. With
// columns nil, each line is one value of a utf8 column "line". Otherwise
// cut splits a line into one value per column, as for mr gen's records
// (key and payload). Map sees a line file read back through the row text
// form as the same lines, as long as they hold no tab or backslash. w is
// not closed.
func LinesToParquet(w io.Writer, r io.Reader, rowGroup int, columns []string, cut func(line []byte) [][]byte) error {
	if columns == nil {
		columns = []string{"line"}
		cut = func(line []byte) [][]byte { return [][]byte{line} }
	}
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = arrow.Field{Name: c, Type: arrow.BinaryTypes.String}
	}
	schema := arrow.NewSchema(fields, nil)
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(int64(rowGroup)),
		parquet.WithDictionaryDefault(false))
	// struct{ io.Writer } hides any Close of w, which the Parquet writer
	// would call.
	fw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	flush := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		if rec.NumRows() == 0 {
			return nil
		}
		return fw.Write(rec)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	rows := 0
	for sc.Scan() {
		vals := cut(sc.Bytes()) // Append copies
		if len(vals) != len(columns) {
			fw.Close()
			return fmt.Errorf("line %d: %d values for %d columns", rows+1, len(vals), len(columns))
		}
		for i, v := range vals {
			b.Field(i).(*array.StringBuilder).BinaryBuilder.Append(v)
		}
		if rows++; rows%rowGroup == 0 {
			if err := flush(); err != nil {
				fw.Close()
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		fw.Close()
		return err
	}
	if err := flush(); err != nil {
		fw.Close()
		return err
	}
	return fw.Close()
}
