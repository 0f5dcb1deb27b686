package worker

import (
	"bytes"
	"strings"
	"testing"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

func TestPieces(t *testing.T) {
	lab := &app.App{Map: func(string, string) []mr.KeyValue { return nil }}
	emit := &app.App{MapEmit: func(string, string, func(string, string)) {}}
	line := strings.Repeat("x", 999) + "\n"
	data := []byte(strings.Repeat(line, 3*labPiece/len(line)+7))
	split := mr.Split{File: "f", Offset: 1, Length: int64(len(data))}

	got := pieces(lab, split, data)
	if len(got) != 4 {
		t.Fatalf("%d pieces of %d bytes; want 4", len(got), len(data))
	}
	if !bytes.Equal(bytes.Join(got, nil), data) {
		t.Fatal("pieces do not add up to the split")
	}
	for i, p := range got {
		if p[len(p)-1] != '\n' || len(p) > labPiece+len(line) {
			t.Fatalf("piece %d: %d bytes, ends %q", i, len(p), p[len(p)-1])
		}
	}
	whole := split
	whole.Whole = true
	for name, n := range map[string]int{
		"whole file":  len(pieces(lab, whole, data)),
		"emit form":   len(pieces(emit, split, data)),
		"small split": len(pieces(lab, split, data[:labPiece])),
	} {
		if n != 1 {
			t.Errorf("%s: %d pieces; want 1", name, n)
		}
	}
}
