package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomr.dev/internal/app"
	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

func TestPieces(t *testing.T) {
	lab := &app.App{Map: func(string, string) []mr.KeyValue { return nil }}
	emit := &app.App{MapEmit: func(string, string, func(string, string)) {}}
	line := strings.Repeat("x", 999) + "\n"
	lines := func(n int) []byte { return []byte(strings.Repeat(line, n)) }
	small := lines(3*labPiece/len(line) + 7)  // over 3 pieces, under labWhole
	large := lines(labWhole/len(line) + 1001) // a file over labWhole
	long := []byte(strings.Repeat("y", 2*labPiece) + "\n" + string(lines(labPiece/len(line)+10)))
	split := func(data []byte, whole bool) mr.Split {
		s := mr.Split{File: "f", Length: int64(len(data)), Whole: whole}
		if !whole {
			s.Offset = 1
		}
		return s
	}
	for _, c := range []struct {
		name  string
		a     *app.App
		data  []byte
		whole bool
		want  int // pieces
	}{
		{"split of a file", lab, small, false, 4},
		{"whole file up to labWhole", lab, small, true, 1},
		{"whole file over labWhole", lab, large, true, 5},
		{"split over labWhole", lab, large, false, 5},
		{"line longer than a piece", lab, long, false, 3},
		{"emit form, split", emit, small, false, 1},
		{"emit form, whole file over labWhole", emit, large, true, 1},
		{"small split", lab, small[:labPiece], false, 1},
	} {
		got := pieces(c.a, split(c.data, c.whole), c.data)
		if len(got) != c.want {
			t.Errorf("%s: %d pieces of %d bytes; want %d", c.name, len(got), len(c.data), c.want)
			continue
		}
		if !bytes.Equal(bytes.Join(got, nil), c.data) {
			t.Errorf("%s: pieces do not add up to the split", c.name)
		}
		if len(got) == 1 {
			continue
		}
		for i, p := range got {
			// Every piece ends a line, and holds at most labPiece bytes
			// plus the rest of the line that crosses labPiece.
			end := bytes.IndexByte(p[min(labPiece, len(p)-1):], '\n') + min(labPiece, len(p)-1) + 1
			if p[len(p)-1] != '\n' || end != len(p) {
				t.Errorf("%s: piece %d: %d bytes, ends %q, first line end after labPiece at %d", c.name, i, len(p), p[len(p)-1], end)
			}
		}
	}
}

// A lab-form Map's large text split is read as sub-splits whose lines add
// up to the split's, long lines included; other splits are read whole.
func TestLabReads(t *testing.T) {
	lab := &app.App{Map: func(string, string) []mr.KeyValue { return nil }}
	emit := &app.App{MapEmit: func(string, string, func(string, string)) {}}
	var b strings.Builder
	for i := 0; b.Len() < 3*labWhole; i++ {
		n := (i * 7919) % 3000 // lines of 1 to 3000 bytes, and one over two pieces
		if i == 1000 {
			n = 2*labPiece + 17
		}
		b.WriteString(strings.Repeat("x", n) + "\n")
	}
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(b.Len())
	for _, s := range []mr.Split{
		{File: path, Length: size, Whole: true},
		{File: path, Offset: 0, Length: size / 2},
		{File: path, Offset: size / 2, Length: size - size/2},
		{File: path, Offset: 12345, Length: labWhole + 3},
	} {
		want, err := inputs.Read(s)
		if err != nil {
			t.Fatal(err)
		}
		subs := labReads(lab, s, false)
		if len(subs) < 2 {
			t.Fatalf("split %+v: %d reads; want it read in pieces", s, len(subs))
		}
		var got []byte
		for _, sub := range subs {
			if sub.Length > labPiece {
				t.Errorf("read of %d bytes; want at most %d", sub.Length, labPiece)
			}
			data, err := inputs.Read(sub)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, data...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("split %d+%d: the reads hold %d bytes; want the split's %d", s.Offset, s.Length, len(got), len(want))
		}
	}
	whole := mr.Split{File: path, Length: size, Whole: true}
	for name, n := range map[string]int{
		"wanted whole":       len(labReads(lab, whole, true)),
		"emit form":          len(labReads(emit, whole, false)),
		"whole small file":   len(labReads(lab, mr.Split{File: path, Length: labWhole, Whole: true}, false)),
		"columnar":           len(labReads(lab, mr.Split{File: path, Length: size, Format: "parquet"}, false)),
		"split of one piece": len(labReads(lab, mr.Split{File: path, Offset: 5, Length: labPiece}, false)),
	} {
		if n != 1 {
			t.Errorf("%s: %d reads; want 1", name, n)
		}
	}
}
