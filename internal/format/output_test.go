package format

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// writeRows writes n rows, key%07d and value i*3, in format name.
func writeRows(t *testing.T, name string, n int, o OutputOptions) string {
	t.Helper()
	out, err := OutputNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out"+out.Ext())
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := out.NewWriter(f, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Write(fmt.Sprintf("key%07d", i), fmt.Sprint(i*3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal("the writer closed the file it was given:", err)
	}
	return path
}

func TestText(t *testing.T) {
	data, _ := os.ReadFile(writeRows(t, "text", 2, OutputOptions{ValueType: "int64"}))
	if got, want := string(data), "key0000000 0\nkey0000001 3\n"; got != want {
		t.Fatalf("text output %q; want %q", got, want)
	}
}

func TestParquet(t *testing.T) {
	const n = 150_000
	md := map[string]string{"app": "wc.so", "nreduce": "10", "partition": "3"}
	path := writeRows(t, "parquet", n, OutputOptions{ValueType: "int64", Metadata: md})
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	// Row groups of at most 64 Ki rows: memory stays flat.
	if g := pf.NumRowGroups(); g != 3 {
		t.Errorf("%d row groups; want 3 of at most 65,536 rows", g)
	}
	kv := pf.MetaData().KeyValueMetadata()
	for k, v := range md {
		if got := kv.FindValue(k); got == nil || *got != v {
			t.Errorf("metadata %s = %v; want %s", k, got, v)
		}
	}
	if c, err := pf.MetaData().RowGroup(0).ColumnChunk(0); err != nil || c.Compression().String() != "ZSTD" {
		t.Errorf("compression %v (%v); want ZSTD by default", c.Compression(), err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	checkTable(t, tbl.Schema(), n, func(yield func(arrow.Record)) {
		tr := array.NewTableReader(tbl, 10_000)
		defer tr.Release()
		for tr.Next() {
			yield(tr.Record())
		}
	})
}

func TestArrow(t *testing.T) {
	const n = 70_000
	path := writeRows(t, "arrow", n, OutputOptions{ValueType: "int64", Metadata: map[string]string{"partition": "0"}})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRecords() != 2 {
		t.Errorf("%d record batches; want 2 of at most 65,536 rows", r.NumRecords())
	}
	if v, ok := r.Schema().Metadata().GetValue("partition"); !ok || v != "0" {
		t.Errorf("schema metadata partition = %q; want 0", v)
	}
	checkTable(t, r.Schema(), n, func(yield func(arrow.Record)) {
		for i := range r.NumRecords() {
			rec, err := r.Record(i)
			if err != nil {
				t.Fatal(err)
			}
			yield(rec)
		}
	})
}

// checkTable checks the schema and that the rows are the n written, in order.
func checkTable(t *testing.T, s *arrow.Schema, n int, records func(func(arrow.Record))) {
	t.Helper()
	if f := s.Field(0); f.Name != "key" || f.Type.ID() != arrow.STRING || f.Nullable {
		t.Errorf("column 0 = %v; want key, utf8, not null", f)
	}
	if f := s.Field(1); f.Name != "value" || f.Type.ID() != arrow.INT64 {
		t.Errorf("column 1 = %v; want value, int64", f)
	}
	i := 0
	records(func(rec arrow.Record) {
		keys, values := rec.Column(0).(*array.String), rec.Column(1).(*array.Int64)
		for j := range int(rec.NumRows()) {
			if want := fmt.Sprintf("key%07d", i); keys.Value(j) != want || values.Value(j) != int64(i*3) {
				t.Fatalf("row %d = %s %d; want %s %d", i, keys.Value(j), values.Value(j), want, i*3)
			}
			i++
		}
	})
	if i != n {
		t.Fatalf("%d rows; want %d", i, n)
	}
}

func TestValueTypes(t *testing.T) {
	for _, tc := range []struct{ typ, good, bad string }{
		{"int64", "-42", "4.5"},
		{"float64", "4.5", "four"},
		{"bool", "true", "yes"},
		{"string", "anything at all", ""},
	} {
		for _, format := range []string{"parquet", "arrow"} {
			out, _ := OutputNamed(format)
			f, _ := os.Create(filepath.Join(t.TempDir(), "x"))
			w, err := out.NewWriter(f, OutputOptions{ValueType: tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write("k", tc.good); err != nil {
				t.Errorf("%s %s: Write(%q): %v", format, tc.typ, tc.good, err)
			}
			if tc.bad != "" {
				err := w.Write("the key", tc.bad)
				if err == nil || !strings.Contains(err.Error(), `"the key"`) || !strings.Contains(err.Error(), tc.typ) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.bad)) {
					t.Errorf("%s %s: Write(%q) = %v; want an error naming the key, the value and the type", format, tc.typ, tc.bad, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Errorf("%s %s: Close: %v", format, tc.typ, err)
			}
			f.Close()
		}
	}
	if err := CheckOptions(OutputOptions{ValueType: "int32"}); err == nil {
		t.Error("CheckOptions accepted ValueType int32")
	}
	if err := CheckOptions(OutputOptions{Compression: "lzo"}); err == nil {
		t.Error("CheckOptions accepted compression lzo")
	}
	if _, err := OutputNamed("csv"); err == nil || !strings.Contains(err.Error(), "text, parquet, arrow") {
		t.Errorf("OutputNamed(csv) = %v; want an error listing the formats", err)
	}
}

func TestEmptyParquetIsReadable(t *testing.T) {
	pf, err := file.OpenParquetFile(writeRows(t, "parquet", 0, OutputOptions{}), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if pf.NumRows() != 0 {
		t.Fatalf("%d rows; want 0", pf.NumRows())
	}
}
