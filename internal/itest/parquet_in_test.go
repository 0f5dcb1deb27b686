package itest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomr.dev/internal/format"
	"gomr.dev/internal/textgen"
	"gomr.dev/master"
)

// Word count over generated text stored as Parquet (mr gen --format
// parquet's form: one line column), cut into several map tasks at row
// groups, gives the same counts as over the text, whether workers read
// their splits or the master ships them.
func TestWordCountOverParquet(t *testing.T) {
	dir := t.TempDir()
	var text bytes.Buffer
	if err := textgen.Write(&text, 1<<20, 3); err != nil {
		t.Fatal(err)
	}
	txt := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(txt, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pq := filepath.Join(dir, "t.data") // the name does not say Parquet
	f, err := os.Create(pq)
	if err != nil {
		t.Fatal(err)
	}
	if err := format.LinesToParquet(f, bytes.NewReader(text.Bytes()), 2000, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	a := wordCount()
	want := reference(t, a, []string{txt})
	for _, ship := range []bool{false, true} {
		c := startMaster(t, master.Options{Inputs: []string{pq}, NReduce: 3, SplitSize: 200 << 10, ShipInputs: ship})
		c.runWorkers(a, 3)
		if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("ship %v: Parquet word count differs from text: got %d lines, want %d", ship, len(got), len(want))
		}
	}
}
