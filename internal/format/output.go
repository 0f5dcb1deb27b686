package format

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// RowWriter writes a reduce task's rows, a key and its Reduce result
// each, in the order given, which is key order.
type RowWriter interface {
	// Write adds a row. A value that does not parse as the output's
	// value type is an error that names the key, the value and the type.
	Write(key, value string) error
	// Close finishes the file's contents: buffered rows, footers. It
	// does not close, or sync, the file it was given.
	Close() error
}

// Output is a format a job's output can be written in.
type Output interface {
	Name() string // as --output-format takes it
	Ext() string  // what output file names end with: "", ".parquet" or ".arrow"
	// NewWriter writes rows to w, which an Arrow file needs to be able to
	// seek; an *os.File will do.
	NewWriter(w io.WriteSeeker, o OutputOptions) (RowWriter, error)
}

// OutputOptions configure a RowWriter.
type OutputOptions struct {
	// ValueType is the type of the value column: string (the default),
	// int64, float64 or bool. Text output ignores it.
	ValueType string
	// Compression is the codec of Parquet pages: zstd (the default),
	// snappy, gzip or none.
	Compression string
	// Metadata is stored in the file's key/value metadata: the app, the
	// number of reduce tasks, the partition.
	Metadata map[string]string
	// BatchRows bounds the rows held in memory before they are written as
	// a record batch, or a Parquet row group. Default 64 Ki.
	BatchRows int
}

// Outputs are the output formats, by name.
var outputs = []Output{textOutput{}, parquetOutput{}, arrowOutput{}}

// OutputNames lists the output formats' names.
func OutputNames() []string {
	var names []string
	for _, o := range outputs {
		names = append(names, o.Name())
	}
	return names
}

// OutputNamed returns the output format called name; "" is text.
func OutputNamed(name string) (Output, error) {
	if name == "" {
		name = "text"
	}
	for _, o := range outputs {
		if o.Name() == name {
			return o, nil
		}
	}
	return nil, fmt.Errorf("--output-format %s: want one of %s", name, strings.Join(OutputNames(), ", "))
}

// ValueTypes are the types an app's ValueType may return.
var ValueTypes = []string{"string", "int64", "float64", "bool"}

// Compressions are the Parquet codecs --parquet-compression takes.
var Compressions = map[string]compress.Compression{
	"zstd":   compress.Codecs.Zstd,
	"snappy": compress.Codecs.Snappy,
	"gzip":   compress.Codecs.Gzip,
	"none":   compress.Codecs.Uncompressed,
}

// CheckOptions rejects a value type or compression the writers do not know.
func CheckOptions(o OutputOptions) error {
	if o.ValueType != "" && !slices.Contains(ValueTypes, o.ValueType) {
		return fmt.Errorf("ValueType() returned %q; want one of %s", o.ValueType, strings.Join(ValueTypes, ", "))
	}
	if _, ok := Compressions[o.Compression]; o.Compression != "" && !ok {
		return fmt.Errorf("--parquet-compression %s: want zstd, snappy, gzip or none", o.Compression)
	}
	return nil
}

// textOutput writes "key value" lines, as the lab's apps expect.
type textOutput struct{}

func (textOutput) Name() string { return "text" }
func (textOutput) Ext() string  { return "" }
func (textOutput) NewWriter(w io.WriteSeeker, o OutputOptions) (RowWriter, error) {
	return &textWriter{bufio.NewWriterSize(w, 256<<10)}, nil
}

type textWriter struct{ w *bufio.Writer }

func (t *textWriter) Write(key, value string) error {
	t.w.WriteString(key)
	t.w.WriteByte(' ')
	t.w.WriteString(value)
	return t.w.WriteByte('\n')
}

func (t *textWriter) Close() error { return t.w.Flush() }

// columnar builds record batches of a key column (utf8, not null) and a
// typed value column, and hands each full batch to flush.
type columnar struct {
	schema    *arrow.Schema
	valueType string
	b         *array.RecordBuilder
	rows      int
	batchRows int
	flush     func(arrow.Record) error
}

func newColumnar(o OutputOptions, flush func(arrow.Record) error) *columnar {
	vt := o.ValueType
	if vt == "" {
		vt = "string"
	}
	var value arrow.DataType
	switch vt {
	case "int64":
		value = arrow.PrimitiveTypes.Int64
	case "float64":
		value = arrow.PrimitiveTypes.Float64
	case "bool":
		value = arrow.FixedWidthTypes.Boolean
	default:
		value = arrow.BinaryTypes.String
	}
	keys, values := make([]string, 0, len(o.Metadata)), make([]string, 0, len(o.Metadata))
	for _, k := range slices.Sorted(maps.Keys(o.Metadata)) {
		keys, values = append(keys, k), append(values, o.Metadata[k])
	}
	md := arrow.NewMetadata(keys, values)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "key", Type: arrow.BinaryTypes.String, Nullable: false},
		{Name: "value", Type: value, Nullable: false},
	}, &md)
	c := &columnar{schema: schema, valueType: vt, batchRows: o.BatchRows, flush: flush}
	if c.batchRows <= 0 {
		c.batchRows = 64 << 10
	}
	c.b = array.NewRecordBuilder(memory.DefaultAllocator, schema)
	return c
}

func (c *columnar) Write(key, value string) error {
	vb := c.b.Field(1)
	switch b := vb.(type) {
	case *array.Int64Builder:
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return c.badValue(key, value)
		}
		b.Append(n)
	case *array.Float64Builder:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return c.badValue(key, value)
		}
		b.Append(f)
	case *array.BooleanBuilder:
		v, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return c.badValue(key, value)
		}
		b.Append(v)
	case *array.StringBuilder:
		b.Append(value)
	}
	c.b.Field(0).(*array.StringBuilder).Append(key)
	c.rows++
	if c.rows >= c.batchRows {
		return c.emit()
	}
	return nil
}

func (c *columnar) badValue(key, value string) error {
	return fmt.Errorf("Reduce(%.80q) returned %.80q, which is not a %s, the type the app's ValueType declares", key, value, c.valueType)
}

// emit writes the rows built so far as one record batch.
func (c *columnar) emit() error {
	if c.rows == 0 {
		return nil
	}
	rec := c.b.NewRecord()
	defer rec.Release()
	c.rows = 0
	return c.flush(rec)
}

// parquetOutput writes Parquet files: a row group per batch, dictionary
// encoding where it pays, zstd unless told otherwise.
type parquetOutput struct{}

func (parquetOutput) Name() string { return "parquet" }
func (parquetOutput) Ext() string  { return ".parquet" }
func (parquetOutput) NewWriter(w io.WriteSeeker, o OutputOptions) (RowWriter, error) {
	if err := CheckOptions(o); err != nil {
		return nil, err
	}
	codec := compress.Codecs.Zstd
	if o.Compression != "" {
		codec = Compressions[o.Compression]
	}
	pw := &parquetWriter{}
	pw.c = newColumnar(o, func(rec arrow.Record) error { return pw.fw.Write(rec) })
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(int64(pw.c.batchRows)))
	// The Parquet writer closes its sink when it closes; the caller
	// still has to sync and close the file.
	fw, err := pqarrow.NewFileWriter(pw.c.schema, writerOnly{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	pw.fw = fw
	return pw, nil
}

type parquetWriter struct {
	c  *columnar
	fw *pqarrow.FileWriter
}

func (p *parquetWriter) Write(key, value string) error { return p.c.Write(key, value) }

func (p *parquetWriter) Close() error {
	err := p.c.emit()
	if cerr := p.fw.Close(); err == nil {
		err = cerr
	}
	p.c.b.Release()
	return err
}

// writerOnly hides everything of a writer but Write.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// arrowOutput writes Arrow IPC files (the file format, with a footer,
// that pyarrow.ipc.open_file and DuckDB read), a record batch per batch.
type arrowOutput struct{}

func (arrowOutput) Name() string { return "arrow" }
func (arrowOutput) Ext() string  { return ".arrow" }
func (arrowOutput) NewWriter(w io.WriteSeeker, o OutputOptions) (RowWriter, error) {
	if err := CheckOptions(o); err != nil {
		return nil, err
	}
	aw := &arrowWriter{}
	aw.c = newColumnar(o, func(rec arrow.Record) error { return aw.fw.Write(rec) })
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(aw.c.schema))
	if err != nil {
		return nil, err
	}
	aw.fw = fw
	return aw, nil
}

type arrowWriter struct {
	c  *columnar
	fw *ipc.FileWriter
}

func (a *arrowWriter) Write(key, value string) error { return a.c.Write(key, value) }

func (a *arrowWriter) Close() error {
	err := a.c.emit()
	if cerr := a.fw.Close(); err == nil {
		err = cerr
	}
	a.c.b.Release()
	return err
}
