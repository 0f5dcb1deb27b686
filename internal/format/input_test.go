package format

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"gomr.dev/internal/textgen"
	"gomr.dev/mr"
)

// writeParquet writes recs to path as Parquet, one row group per record
// (cut further at maxRows), uncompressed and without dictionaries unless
// props says otherwise.
func writeParquet(t testing.TB, path string, recs []arrow.Record, opts ...parquet.WriterProperty) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]parquet.WriterProperty{parquet.WithDictionaryDefault(false), parquet.WithCompression(compress.Codecs.Uncompressed)}, opts...)
	fw, err := pqarrow.NewFileWriter(recs[0].Schema(), f, parquet.NewWriterProperties(opts...), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := fw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

func writeArrow(t testing.TB, path string, recs []arrow.Record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(recs[0].Schema()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll plans path with splitSize and columns and reads every split,
// in order.
func readAll(t testing.TB, path string, splitSize int64, columns []string) ([]mr.Split, string) {
	t.Helper()
	in, err := InputFor(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	splits, err := in.Plan(path, fi.Size(), splitSize, columns)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range splits {
		data, err := ReadSplit(s)
		if err != nil {
			t.Fatalf("read %+v: %v", s, err)
		}
		b.Write(data)
	}
	return splits, b.String()
}

// typedRecord has a column of each common type, with nulls and values
// that need escaping.
func typedRecord() arrow.Record {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"plain", "tab\there", "nl\nand\\back", ""}, []bool{true, true, true, false})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{-42, 1 << 62, 0, 0}, []bool{true, true, false, true})
	b.Field(2).(*array.Uint8Builder).AppendValues([]uint8{255, 0, 7, 1}, nil)
	b.Field(3).(*array.Float64Builder).AppendValues([]float64{0.1, 1e21, -2.5, 3}, []bool{true, true, true, false})
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false, true, true}, []bool{true, true, false, true})
	day := arrow.Date32FromTime(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	b.Field(5).(*array.Date32Builder).AppendValues([]arrow.Date32{day, day + 1, 0, 0}, []bool{true, true, true, false})
	ts := time.Date(2024, 3, 1, 12, 30, 45, 123e6, time.UTC).UnixMilli()
	b.Field(6).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts), arrow.Timestamp(ts + 877), 0, 0}, []bool{true, true, true, false})
	b.Field(7).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("raw\x00x"), []byte("a\tb"), nil, nil}, []bool{true, true, false, false})
	return b.NewRecord()
}

const typedText = "plain\t-42\t255\t0.1\ttrue\t2024-02-29\t2024-03-01T12:30:45.123Z\traw\x00x\n" +
	"tab\\there\t4611686018427387904\t0\t1e+21\tfalse\t2024-03-01\t2024-03-01T12:30:46Z\ta\\tb\n" +
	"nl\\nand\\\\back\t\t7\t-2.5\t\t1970-01-01\t1970-01-01T00:00:00Z\t\n" +
	"\t0\t1\t\ttrue\t\t\t\n"

func TestRowTextTypesNullsEscapes(t *testing.T) {
	rec := typedRecord()
	defer rec.Release()
	dir := t.TempDir()
	pq, arw := filepath.Join(dir, "typed.pq"), filepath.Join(dir, "typed.arrow")
	writeParquet(t, pq, []arrow.Record{rec})
	writeArrow(t, arw, []arrow.Record{rec})
	for _, path := range []string{pq, arw} {
		_, got := readAll(t, path, 0, nil)
		if got != typedText {
			t.Errorf("%s:\n got %q\nwant %q", filepath.Base(path), got, typedText)
		}
		_, got = readAll(t, path, 0, []string{"ts", "s"})
		want := "2024-03-01T12:30:45.123Z\tplain\n2024-03-01T12:30:46Z\ttab\\there\n1970-01-01T00:00:00Z\tnl\\nand\\\\back\n\t\n"
		if got != want {
			t.Errorf("%s --columns ts,s:\n got %q\nwant %q", filepath.Base(path), got, want)
		}
	}
}

func TestDictionaryColumn(t *testing.T) {
	mem := memory.DefaultAllocator
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	db.AppendString("x")
	db.AppendNull()
	db.AppendString("y\tz")
	db.AppendString("x")
	rec := b.NewRecord()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "dict")
	writeArrow(t, path, []arrow.Record{rec})
	if _, got := readAll(t, path, 0, nil); got != "x\n\ny\\tz\nx\n" {
		t.Errorf("got %q", got)
	}
}

func TestInputForMagic(t *testing.T) {
	dir := t.TempDir()
	rec := typedRecord()
	defer rec.Release()
	// Names lie on purpose: the bytes decide.
	writeParquet(t, filepath.Join(dir, "a.txt"), []arrow.Record{rec})
	writeArrow(t, filepath.Join(dir, "b.parquet"), []arrow.Record{rec})
	os.WriteFile(filepath.Join(dir, "c.arrow"), []byte("PAR"), 0o644)
	os.WriteFile(filepath.Join(dir, "d"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "e"), []byte("ARROW2\x00\x00 text"), 0o644)
	want := map[string]string{"a.txt": "parquet", "b.parquet": "arrow", "c.arrow": "", "d": "", "e": ""}
	for name, format := range want {
		in, err := InputFor(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if in.Name() != format {
			t.Errorf("%s: format %q; want %q", name, in.Name(), format)
		}
	}
	if _, err := InputFor(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

// int64Records returns n records of rows rows each, with columns a
// (0, 1, 2, ... across records) and b (a's decimal text).
func int64Records(n, rows int) []arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.BinaryTypes.String},
	}, nil)
	var recs []arrow.Record
	v := int64(0)
	for range n {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for range rows {
			b.Field(0).(*array.Int64Builder).Append(v)
			b.Field(1).(*array.StringBuilder).Append(strings.Repeat("x", int(v%7)))
			v++
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	return recs
}

func wantRows(n int) string {
	var b strings.Builder
	for v := range n {
		b.WriteString(strings.Repeat("x", v%7))
		b.WriteByte('\n')
	}
	return b.String()
}

// Planning cuts between row groups (record batches), never inside one,
// greedily up to the split size, and reading the splits in order gives
// the rows of the whole file once each.
func TestPlanCutsAtRowGroups(t *testing.T) {
	dir := t.TempDir()
	recs := int64Records(10, 70) // 70 rows: every group holds the same strings
	pq, arw := filepath.Join(dir, "p"), filepath.Join(dir, "a")
	writeParquet(t, pq, recs)
	writeArrow(t, arw, recs)
	for _, path := range []string{pq, arw} {
		whole, all := readAll(t, path, 0, []string{"b"})
		if len(whole) != 1 || !whole[0].Whole || whole[0].Count != 10 || all != wantRows(700) {
			t.Fatalf("%s: split size 0 gives %+v", path, whole)
		}
		per := whole[0].Length / 10 // row groups are equal in size
		for _, tc := range []struct {
			size  int64
			count []int
		}{
			{3*per + per/2, []int{3, 3, 3, 1}},
			{3 * per, []int{3, 3, 3, 1}},
			{per / 2, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}, // never less than a group
			{100 * per, []int{10}},
		} {
			splits, got := readAll(t, path, tc.size, []string{"b"})
			if got != all {
				t.Errorf("%s size %d: splits read differ from the whole", path, tc.size)
			}
			var counts []int
			next := 0
			for _, s := range splits {
				counts = append(counts, s.Count)
				if s.First != next || s.Columns != "b" || s.Format == "" {
					t.Errorf("%s size %d: split %+v; want First %d", path, tc.size, s, next)
				}
				next += s.Count
				if s.Whole != (len(splits) == 1) {
					t.Errorf("%s size %d: split %+v Whole wrong", path, tc.size, s)
				}
			}
			if !equalInts(counts, tc.count) {
				t.Errorf("%s size %d (%d a group): counts %v; want %v", filepath.Base(path), tc.size, per, counts, tc.count)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Projection reads only the selected columns' chunks: with column b's
// bytes overwritten, reading a still works, and reading b fails with an
// error that names the file and the row group.
func TestProjectionSkipsOtherColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.parquet")
	recs := int64Records(3, 50)
	writeParquet(t, path, recs)
	rdr, fr, err := openParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	if fr.Manifest.Fields[1].ColIndex != 1 {
		t.Fatal("b is not leaf 1")
	}
	cc, err := rdr.MetaData().RowGroup(1).ColumnChunk(1)
	if err != nil {
		t.Fatal(err)
	}
	off, n := cc.DataPageOffset(), cc.TotalCompressedSize()
	rdr.Close()
	data, _ := os.ReadFile(path)
	for i := off; i < off+n; i++ {
		data[i] = 0xff
	}
	os.WriteFile(path, data, 0o644)

	_, got := readAll(t, path, 0, []string{"a"})
	var want strings.Builder
	for v := range 150 {
		want.WriteString(itoa(v) + "\n")
	}
	if got != want.String() {
		t.Errorf("column a after b was corrupted: got %d bytes, want %d", len(got), want.Len())
	}
	in, _ := InputFor(path)
	splits, err := in.Plan(path, int64(len(data)), 0, []string{"b"})
	if err != nil {
		t.Fatal(err) // the footer is intact
	}
	_, err = ReadSplit(splits[0])
	if err == nil || !strings.Contains(err.Error(), "read "+path+" row group 1: ") {
		t.Errorf("reading the corrupt column: %v; want an error naming %s and row group 1", err, path)
	}
	t.Log(err)
}

func itoa(v int) string { return string(appendInt(nil, v)) }

func appendInt(b []byte, v int) []byte {
	if v >= 10 {
		b = appendInt(b, v/10)
	}
	return append(b, byte('0'+v%10))
}

func TestTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	recs := int64Records(3, 50)
	for _, tc := range []struct {
		name  string
		write func(testing.TB, string, []arrow.Record)
		want  string
	}{
		{"p.parquet", func(t testing.TB, p string, r []arrow.Record) { writeParquet(t, p, r) }, "not a readable Parquet file"},
		{"a.arrow", writeArrow, "not a readable Arrow IPC file"},
	} {
		path := filepath.Join(dir, tc.name)
		tc.write(t, path, recs)
		data, _ := os.ReadFile(path)
		for _, cut := range []int{len(data) - 1, len(data) / 2, 9} {
			os.WriteFile(path, data[:cut], 0o644)
			in, err := InputFor(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = in.Plan(path, int64(cut), 0, nil)
			if err == nil || !strings.HasPrefix(err.Error(), "input "+path+": "+tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s cut to %d bytes: %v", tc.name, cut, err)
			}
		}
	}
}

func TestMissingAndNestedColumns(t *testing.T) {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("ann")
	lb := b.Field(1).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).Append("x")
	rec := b.NewRecord()
	defer rec.Release()
	dir := t.TempDir()
	pq, arw := filepath.Join(dir, "n.parquet"), filepath.Join(dir, "n.arrow")
	writeParquet(t, pq, []arrow.Record{rec})
	writeArrow(t, arw, []arrow.Record{rec})
	for _, path := range []string{pq, arw} {
		in, _ := InputFor(path)
		fi, _ := os.Stat(path)
		for _, tc := range []struct {
			columns []string
			want    string
		}{
			{nil, `input ` + path + `: column "tags" is list<`},
			{nil, `, which has no row text form; leave it out with --columns, or read it in the app with MapBatch`},
			{[]string{"name", "tags"}, `column "tags"`},
			{[]string{"nope"}, `input ` + path + `: no column "nope"; its columns are name, tags`},
		} {
			splits, err := in.Plan(path, fi.Size(), 0, tc.columns)
			if err == nil {
				_, err = ReadSplit(splits[0]) // nested: found when read as text
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s columns %v: %v; want %q", filepath.Base(path), tc.columns, err, tc.want)
			}
		}
		if _, got := readAll(t, path, 0, []string{"name"}); got != "ann\n" {
			t.Errorf("%s: name column reads %q", path, got)
		}
	}
}

// mr gen --format parquet's lines read back as the same text.
func TestLinesToParquetRoundTrip(t *testing.T) {
	var text bytes.Buffer
	if err := textgen.Write(&text, 3<<20, 7); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.parquet")
	f, _ := os.Create(path)
	if err := LinesToParquet(f, bytes.NewReader(text.Bytes()), 4096, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	splits, got := readAll(t, path, 256<<10, nil)
	if len(splits) < 4 {
		t.Errorf("3 MiB in 256 KiB splits gave %d splits", len(splits))
	}
	want := text.String()
	if !strings.HasSuffix(want, "\n") {
		want += "\n"
	}
	if got != want {
		t.Errorf("lines differ: %d bytes back, %d in", len(got), len(want))
	}
}

// spyFile records the byte ranges read through ReadAt.
type spyFile struct {
	*os.File
	ranges [][2]int64
}

func (s *spyFile) ReadAt(p []byte, off int64) (int, error) {
	s.ranges = append(s.ranges, [2]int64{off, off + int64(len(p))})
	return s.File.ReadAt(p, off)
}

func (s *spyFile) Read(p []byte) (int, error) {
	off, _ := s.File.Seek(0, io.SeekCurrent)
	s.ranges = append(s.ranges, [2]int64{off, off + int64(len(p))})
	return s.File.Read(p)
}

// Reading column a never reads a byte of column b's chunks.
func TestProjectionReadsNoOtherBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.parquet")
	writeParquet(t, path, int64Records(3, 50), parquet.WithCompression(compress.Codecs.Zstd))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spy := &spyFile{File: f}
	rdr, err := file.NewParquetReader(spy)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: readBatchRows}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	var b [][2]int64
	for g := range rdr.NumRowGroups() {
		cc, _ := rdr.MetaData().RowGroup(g).ColumnChunk(1)
		b = append(b, [2]int64{cc.DataPageOffset(), cc.DataPageOffset() + cc.TotalCompressedSize()})
	}
	spy.ranges = nil
	var buf []byte
	for g := range rdr.NumRowGroups() {
		err := readRowGroup(fr, []int{0}, g, func(rec arrow.Record) (err error) {
			buf, err = appendRows(buf, rec)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(spy.ranges) == 0 || bytes.Count(buf, []byte("\n")) != 150 {
		t.Fatalf("read %d rows in %d reads", bytes.Count(buf, []byte("\n")), len(spy.ranges))
	}
	for _, r := range spy.ranges {
		for _, c := range b {
			if r[0] < c[1] && c[0] < r[1] {
				t.Errorf("read of [%d, %d) overlaps column b's chunk [%d, %d)", r[0], r[1], c[0], c[1])
			}
		}
	}
}

// Planning reads only the footer: 10,000 row groups cost one footer
// decode and a loop over its row groups.
func BenchmarkPlanManyRowGroups(b *testing.B) {
	path := filepath.Join(b.TempDir(), "many.parquet")
	var lines bytes.Buffer
	for i := range 100000 {
		lines.WriteString(itoa(i) + "\n")
	}
	f, _ := os.Create(path)
	if err := LinesToParquet(f, &lines, 10, nil, nil); err != nil {
		b.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(path)
	b.ResetTimer()
	for range b.N {
		splits, err := parquetInput{}.Plan(path, fi.Size(), 64<<10, nil)
		if err != nil || len(splits) < 2 {
			b.Fatal(err, len(splits))
		}
	}
}

// Records gives typed batches, nested columns included, projected; text
// splits have none.
func TestReadRecords(t *testing.T) {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range 5 {
		b.Field(0).(*array.StringBuilder).Append(itoa(i))
		lb := b.Field(1).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append("t" + itoa(i))
		b.Field(2).(*array.Int64Builder).Append(int64(i * 10))
	}
	rec := b.NewRecord()
	defer rec.Release()
	dir := t.TempDir()
	pq, arw, txt := filepath.Join(dir, "r.parquet"), filepath.Join(dir, "r.arrow"), filepath.Join(dir, "t")
	writeParquet(t, pq, []arrow.Record{rec})
	writeArrow(t, arw, []arrow.Record{rec})
	os.WriteFile(txt, []byte("x\n"), 0o644)
	for _, path := range []string{pq, arw} {
		in, _ := InputFor(path)
		s := mr.Split{File: path, Format: in.Name(), Count: 1, Columns: "tags,n"}
		var sum int64
		var tags []string
		err := ReadRecords(s, func(r arrow.Record) error {
			if r.NumCols() != 2 || r.Schema().Field(0).Name != "tags" {
				t.Errorf("%s: schema %v", path, r.Schema())
			}
			for i := range int(r.NumRows()) {
				sum += r.Column(1).(*array.Int64).Value(i)
				tags = append(tags, r.Column(0).ValueStr(i))
			}
			return nil
		})
		if err != nil || sum != 100 || len(tags) != 5 || tags[4] != `["t4"]` {
			t.Errorf("%s: err %v, sum %d, tags %q", path, err, sum, tags)
		}
	}
	err := ReadRecords(mr.Split{File: txt, Whole: true}, func(arrow.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "MapBatch") {
		t.Errorf("text split: %v", err)
	}
}

// A file with no rows plans as one empty split and reads as no text; a
// column named twice is an error.
func TestEmptyFilesAndRepeatedColumn(t *testing.T) {
	dir := t.TempDir()
	recs := int64Records(1, 0)
	pq, arw := filepath.Join(dir, "e.parquet"), filepath.Join(dir, "e.arrow")
	writeParquet(t, pq, recs)
	f, _ := os.Create(arw)
	w, _ := ipc.NewFileWriter(f, ipc.WithSchema(recs[0].Schema()))
	w.Close()
	f.Close()
	for _, path := range []string{pq, arw} {
		splits, got := readAll(t, path, 1, nil)
		if len(splits) != 1 || got != "" {
			t.Errorf("%s: %d splits, text %q", path, len(splits), got)
		}
		in, _ := InputFor(path)
		fi, _ := os.Stat(path)
		if _, err := in.Plan(path, fi.Size(), 0, []string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `column "a" is named twice`) {
			t.Errorf("%s: a column named twice: %v", path, err)
		}
	}
}
