package inputs

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomr.dev/internal/format"
	"gomr.dev/internal/store/storetest"
)

// Splits of an object, read with ranged GETs, hold each line exactly
// once, as those of a local file do: the same splits, the same bytes.
func TestS3SplitsCoverObjectExactly(t *testing.T) {
	srv := storetest.Start(t)
	rng := rand.New(rand.NewSource(2))
	dir := t.TempDir()
	for trial := range 40 {
		var b bytes.Buffer
		for range rng.Intn(400) {
			b.WriteString(strings.Repeat("y", rng.Intn(300)))
			if rng.Intn(10) > 0 {
				b.WriteByte('\n')
			}
		}
		name := srv.Object(t, "bkt", "t/f", b.Bytes())
		local := filepath.Join(dir, "f")
		os.WriteFile(local, b.Bytes(), 0o644)
		size := int64(1 + rng.Intn(5000))
		files, err := Expand([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		splits, err := Splits(files, size)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Splits([]string{local}, size)
		if err != nil || len(want) != len(splits) {
			t.Fatalf("trial %d: %d splits of the object, %d of the file (%v)", trial, len(splits), len(want), err)
		}
		var got bytes.Buffer
		for i, s := range splits {
			part, err := Read(s)
			if err != nil {
				t.Fatal(err)
			}
			lpart, _ := Read(want[i])
			if !bytes.Equal(part, lpart) {
				t.Fatalf("trial %d split %d: the object's read differs from the file's", trial, i)
			}
			got.Write(part)
		}
		if !bytes.Equal(got.Bytes(), b.Bytes()) {
			t.Fatalf("trial %d size %d: splits do not give the object back", trial, size)
		}
	}
}

// A Parquet object is cut at row groups and read as the same file on
// disk is.
func TestS3Parquet(t *testing.T) {
	srv := storetest.Start(t)
	var text bytes.Buffer
	for i := range 50000 {
		text.WriteString(strings.Repeat("w", i%37) + " line\n")
	}
	var pq bytes.Buffer
	if err := format.LinesToParquet(&pq, bytes.NewReader(text.Bytes()), 8000, nil, nil); err != nil {
		t.Fatal(err)
	}
	name := srv.Object(t, "bkt", "pq/a.parquet", pq.Bytes())
	local := filepath.Join(t.TempDir(), "a.parquet")
	os.WriteFile(local, pq.Bytes(), 0o644)
	splits, err := Splits([]string{name}, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splits([]string{local}, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) < 3 || len(splits) != len(want) {
		t.Fatalf("%d splits of the object, %d of the file; want the same, at least 3", len(splits), len(want))
	}
	var got bytes.Buffer
	for i, s := range splits {
		if s.Format != "parquet" || s.First != want[i].First || s.Count != want[i].Count {
			t.Fatalf("split %d = %+v; want row groups as %+v", i, s, want[i])
		}
		part, err := Read(s)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(part)
	}
	if !bytes.Equal(got.Bytes(), text.Bytes()) {
		t.Errorf("the Parquet object's rows are not its lines")
	}
}

// An Arrow IPC object is cut at record batches and read as the same file
// on disk is.
func TestS3Arrow(t *testing.T) {
	srv := storetest.Start(t)
	local := filepath.Join(t.TempDir(), "a.arrow")
	f, err := os.Create(local)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := format.OutputNamed("arrow")
	w, err := out.NewWriter(f, format.OutputOptions{ValueType: "int64", BatchRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		if err := w.Write(strings.Repeat("k", 1+i%13)+string(rune('a'+i%26)), "7"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	data, _ := os.ReadFile(local)
	name := srv.Object(t, "bkt", "arrow/a.arrow", data)
	splits, err := Splits([]string{name}, 20000)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Splits([]string{local}, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) < 3 || len(splits) != len(want) {
		t.Fatalf("%d splits of the object, %d of the file; want the same, at least 3", len(splits), len(want))
	}
	for i, s := range splits {
		got, err := Read(s)
		if err != nil {
			t.Fatal(err)
		}
		exp, err := Read(want[i])
		if err != nil {
			t.Fatal(err)
		}
		if s.Format != "arrow" || !bytes.Equal(got, exp) || len(got) == 0 {
			t.Fatalf("split %d (%+v): %d bytes from the object, %d from the file", i, s, len(got), len(exp))
		}
	}
}
