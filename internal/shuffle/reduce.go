package shuffle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"

	"gomr.dev/internal/codec"
)

// SegmentError says that one of a merge's segments cannot be used: its
// bytes fail their checksums, end early or are out of order (Err wraps
// codec.ErrCorrupt or codec.ErrUnsorted), or its file is gone (Err wraps
// fs.ErrNotExist). Reading it again would fail again; the map task that
// wrote it must run again.
type SegmentError struct {
	Segment Segment
	Err     error
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("map %d output %s: %v", e.Segment.Map, e.Segment.Path, e.Err)
}

func (e *SegmentError) Unwrap() error { return e.Err }

// damaged reports whether err means a segment's bytes are bad, rather
// than that reading them failed.
func damaged(err error) bool {
	return errors.Is(err, codec.ErrCorrupt) || errors.Is(err, codec.ErrUnsorted) || errors.Is(err, fs.ErrNotExist)
}

// Merge is an open merge of a reduce task's segments. Close it.
type Merge struct {
	*codec.Merger
	readers []*codec.Reader
	segs    []Segment // what readers read, in order
	files   []*os.File
	temps   []string
	read    *atomic.Int64 // nil, or where reads of segs are counted
	// PassBytes and PassRecords count what intermediate merge passes
	// wrote: compressed bytes, and records.
	PassBytes   int64
	PassRecords int64
}

// Open merges segs, one per map task in map-task order, so that values
// reach the caller in input order. With more segments than factor it first
// merges consecutive groups into temporary runs named tmpBase.passN, so no
// more than factor runs are ever open at once.
//
// A damaged segment, met by Open or later by the merge, gives a
// *SegmentError naming it (see Err). Every record the merge hands out
// before that comes from blocks that passed their checksums (see
// internal/codec); the caller must still discard what it made of them.
//
// When read is not nil, Open and the Merge it returns add to it the bytes
// of segs they read, as they go and atomically (one add per buffer fill,
// about 32 KiB), so that another goroutine can watch the merge's
// progress. Reads of the temporary runs are not counted, so once the merge
// has reached its end read has grown by exactly the segments' total
// length. With passes, the count runs ahead of the keys handed out: the
// passes read most segments in full before the first key.
func Open(segs []Segment, factor int, tmpBase string, read *atomic.Int64) (*Merge, error) {
	factor = max(factor, 2)
	m := &Merge{read: read}
	for pass := 0; len(segs) > factor; pass++ {
		var next []Segment
		for i := 0; i < len(segs); i += factor {
			group := segs[i:min(i+factor, len(segs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			path := fmt.Sprintf("%s.pass%d-%d", tmpBase, pass, i/factor)
			f, err := m.mergeTo(group, path)
			if err != nil {
				m.Close()
				return nil, err
			}
			m.temps = append(m.temps, path)
			m.PassBytes += f.index[1]
			m.PassRecords += f.records
			next = append(next, Segment{Path: path, Offset: 0, Length: f.index[1], Map: -1})
		}
		// Runs of the previous pass are merged now; drop them early.
		m.removeTempsNotIn(next)
		segs = next
	}
	var err error
	m.Merger, m.readers, m.segs, err = m.open(m, segs)
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Err returns the merge's first error, as codec.Merger.Err does, but a
// damaged segment as a *SegmentError.
func (m *Merge) Err() error { return m.blame(m.Merger.Err(), m.segs) }

// blame turns err, from a merge of segs, into a *SegmentError when it
// says that one of segs that is not a temporary run is damaged.
func (m *Merge) blame(err error, segs []Segment) error {
	var re *codec.RunError
	if !errors.As(err, &re) || re.Run >= len(segs) || !damaged(re.Err) || slices.Contains(m.temps, segs[re.Run].Path) {
		return err
	}
	return &SegmentError{Segment: segs[re.Run], Err: re.Err}
}

// open opens a merge of segs whose files into holds, m itself or a pass's
// merge, counting reads in m.read of the segments that are not m's
// temporary runs. It returns the segments it merges, the non-empty ones of
// segs, in the order of the readers.
func (m *Merge) open(into *Merge, segs []Segment) (*codec.Merger, []*codec.Reader, []Segment, error) {
	var rs []io.Reader
	var used []Segment
	for _, s := range segs {
		if s.Length == 0 {
			continue
		}
		f, err := os.Open(s.Path)
		if err != nil {
			err = fmt.Errorf("open map output: %w", err)
			if errors.Is(err, fs.ErrNotExist) && !slices.Contains(m.temps, s.Path) {
				err = &SegmentError{Segment: s, Err: err}
			}
			return nil, nil, nil, err
		}
		into.files = append(into.files, f)
		var r io.Reader = io.NewSectionReader(f, s.Offset, s.Length)
		if m.read != nil && !slices.Contains(m.temps, s.Path) {
			r = &countingReader{r: r, n: m.read}
		}
		rs = append(rs, r)
		used = append(used, s)
	}
	mg, readers, err := merger(rs)
	return mg, readers, used, m.blame(err, used)
}

// countingReader adds the bytes read through it to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// mergeTo merges group into a single run at path, without Combine: the
// reduce side never combines.
func (m *Merge) mergeTo(group []Segment, path string) (file, error) {
	sub := &Merge{}
	defer sub.Close()
	var err error
	sub.Merger, sub.readers, sub.segs, err = m.open(sub, group)
	if err != nil {
		return file{}, err
	}
	out, err := create(path, 1)
	if err != nil {
		return file{}, err
	}
	w := out.begin()
	for sub.Next() {
		key := sub.Key()
		for v := range sub.Values() {
			w.Write(key, v)
		}
	}
	if err := m.blame(sub.Merger.Err(), sub.segs); err != nil {
		out.abort()
		return file{}, err
	}
	if err := out.end(0, w); err != nil {
		out.abort()
		return file{}, err
	}
	return out.finish()
}

func (m *Merge) removeTempsNotIn(keep []Segment) {
	kept := m.temps[:0]
	for _, t := range m.temps {
		used := false
		for _, s := range keep {
			if s.Path == t {
				used = true
			}
		}
		if used {
			kept = append(kept, t)
		} else {
			os.Remove(t)
		}
	}
	m.temps = kept
}

// Close releases every reader and file and removes temporary runs. It is
// safe to call more than once.
func (m *Merge) Close() error {
	closeAll(m.readers)
	for _, f := range m.files {
		f.Close()
	}
	for _, t := range m.temps {
		os.Remove(t)
	}
	m.readers, m.files, m.temps = nil, nil, nil
	return nil
}

// Verify reads each of segs to its end, checking what a merge would
// check, and returns a *SegmentError for each one that is damaged.
// Segments that read cleanly, or that fail for another reason such as an
// I/O error, are not listed. A reduce that met one damaged segment calls
// it to find any others at once, rather than one per attempt.
func Verify(segs []Segment) []*SegmentError {
	var bad []*SegmentError
	for _, s := range segs {
		if err := verify(s); err != nil && damaged(err) {
			bad = append(bad, &SegmentError{Segment: s, Err: err})
		}
	}
	return bad
}

func verify(s Segment) error {
	if s.Length == 0 {
		return nil
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("open map output: %w", err)
	}
	defer f.Close()
	r := codec.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, s.Offset, s.Length), 32<<10))
	defer r.Close()
	var prev []byte
	for {
		k, _, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Compare(k, prev) < 0 {
			return fmt.Errorf("%w: key %q after %q", codec.ErrUnsorted, k, prev)
		}
		prev = append(prev[:0], k...)
	}
}
