package itest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"gomr.dev/internal/app"
	"gomr.dev/master"
	"gomr.dev/mr"
	"gomr.dev/worker"
)

// An app that exports only MapBatch gets typed record batches of a
// Parquet input, cut at row groups, with only the --columns it asked for,
// in a cluster and in mr seq alike.
func TestMapBatchSumsColumn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sales.parquet")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "city", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "note", Type: arrow.BinaryTypes.String},
	}, nil)
	f, _ := os.Create(path)
	fw, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(100)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	cities := []string{"oslo", "rome", "lima"}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for i := range 5000 {
		c := cities[i%3]
		b.Field(0).(*array.StringBuilder).Append(c)
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		b.Field(2).(*array.StringBuilder).Append("x")
		want[c] += int64(i)
	}
	rec := b.NewRecord()
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	a := &app.App{
		MapBatch: func(file string, batch arrow.Record, emit func(k, v string)) {
			if batch.NumCols() != 2 {
				panic("got columns " + batch.Schema().String())
			}
			keys, vals := batch.Column(0).(*array.String), batch.Column(1).(*array.Int64)
			for i := range int(batch.NumRows()) {
				emit(strings.Clone(keys.Value(i)), strconv.FormatInt(vals.Value(i), 10))
			}
		},
		Reduce: func(key string, values []string) string {
			var n int64
			for _, v := range values {
				x, _ := strconv.ParseInt(v, 10, 64)
				n += x
			}
			return strconv.FormatInt(n, 10)
		},
		Partition: mr.DefaultPartition,
	}
	var lines []string
	for c, n := range want {
		lines = append(lines, c+" "+strconv.FormatInt(n, 10))
	}
	wantOut := strings.Join(slices.Sorted(slices.Values(lines)), "\n")
	c := startMaster(t, master.Options{Inputs: []string{path}, NReduce: 2, SplitSize: 2000, Columns: []string{"city", "n"}})
	c.runWorkers(a, 3)
	if got := strings.TrimSpace(strings.Join(sortedOutput(t, c.out), "\n")); got != wantOut {
		t.Errorf("cluster: got\n%s\nwant\n%s", got, wantOut)
	}
	seq := t.TempDir()
	if err := worker.Sequential(a, []string{path}, seq, worker.SeqOptions{Columns: []string{"city", "n"}}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sortedOutput(t, seq), "\n"); got != wantOut {
		t.Errorf("seq: got\n%s\nwant\n%s", got, wantOut)
	}
	// Text input to a MapBatch-only app fails the job, saying why.
	txt := filepath.Join(dir, "t.txt")
	os.WriteFile(txt, []byte("oslo\t1\n"), 0o644)
	if err := worker.Sequential(a, []string{txt}, t.TempDir(), worker.SeqOptions{}); err == nil || !strings.Contains(err.Error(), "exports only MapBatch") {
		t.Errorf("text input: %v", err)
	}
}
