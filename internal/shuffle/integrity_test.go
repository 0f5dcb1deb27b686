package shuffle

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gomr.dev/internal/codec"
)

// segmentFiles writes n one-partition map outputs, each of several
// compressed blocks, and returns their segments, numbered as map tasks.
func segmentFiles(t *testing.T, dir string, n int) []Segment {
	t.Helper()
	rng := rand.New(rand.NewSource(5))
	var segs []Segment
	for s := range n {
		base := filepath.Join(dir, fmt.Sprintf("m%d-a1", s))
		b := NewBuffer(1, 1<<20, 4, base, nil)
		for i := range 3000 {
			v := make([]byte, 30)
			rng.Read(v)
			b.Add(0, fmt.Sprintf("key%05d", (i*7+s)%2000), string(v))
		}
		index, _, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, Segment{Path: base, Offset: index[0], Length: index[1] - index[0], Map: s})
	}
	return segs
}

// drain runs a merge to its end and returns its error, from Open or Err.
func drain(segs []Segment, factor int, tmp string) error {
	m, err := Open(segs, factor, tmp, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	for m.Next() {
		for range m.Values() {
		}
	}
	return m.Err()
}

// A damaged segment, whether flipped in the middle, cut short or gone,
// stops the merge with a SegmentError that names its map task, in a single
// merge and through merge passes alike; Verify finds every damaged one.
func TestDamagedSegmentIsNamed(t *testing.T) {
	damage := map[string]func(t *testing.T, s Segment) error{
		"flipped": func(t *testing.T, s Segment) error {
			f, err := os.OpenFile(s.Path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			b := []byte{0}
			off := s.Offset + s.Length/2
			if _, err := f.ReadAt(b, off); err != nil {
				return err
			}
			b[0] ^= 0x20
			_, err = f.WriteAt(b, off)
			return err
		},
		"truncated": func(t *testing.T, s Segment) error { return os.Truncate(s.Path, s.Offset+s.Length-9) },
		"missing":   func(t *testing.T, s Segment) error { return os.Remove(s.Path) },
	}
	for name, spoil := range damage {
		for _, factor := range []int{64, 3} {
			t.Run(fmt.Sprintf("%s/factor%d", name, factor), func(t *testing.T) {
				dir := t.TempDir()
				segs := segmentFiles(t, dir, 7)
				if err := drain(segs, factor, filepath.Join(dir, "r0")); err != nil {
					t.Fatalf("undamaged: %v", err)
				}
				if err := spoil(t, segs[4]); err != nil {
					t.Fatal(err)
				}
				err := drain(segs, factor, filepath.Join(dir, "r1"))
				var se *SegmentError
				if !errors.As(err, &se) || se.Segment != segs[4] {
					t.Fatalf("err = %v; want a SegmentError naming map 4", err)
				}
				want := codec.ErrCorrupt
				if name == "missing" {
					want = fs.ErrNotExist
				}
				if !errors.Is(err, want) {
					t.Fatalf("err = %v; want it to wrap %v", err, want)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, "r1*")); len(left) > 0 {
					t.Fatalf("temporary runs left: %v", left)
				}
			})
		}
	}
	dir := t.TempDir()
	segs := segmentFiles(t, dir, 7)
	if bad := Verify(segs); len(bad) != 0 {
		t.Fatalf("Verify of undamaged segments: %v", bad)
	}
	damage["flipped"](t, segs[1])
	damage["truncated"](t, segs[3])
	damage["missing"](t, segs[6])
	var maps []int
	for _, e := range Verify(segs) {
		maps = append(maps, e.Segment.Map)
	}
	if !slices.Equal(maps, []int{1, 3, 6}) {
		t.Fatalf("Verify found maps %v damaged; want [1 3 6]", maps)
	}
}
