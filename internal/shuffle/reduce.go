package shuffle

import (
	"fmt"
	"io"
	"os"

	"gomr.dev/internal/codec"
)

// Merge is an open merge of a reduce task's segments. Close it.
type Merge struct {
	*codec.Merger
	readers []*codec.Reader
	files   []*os.File
	temps   []string
	// PassBytes counts bytes written by intermediate merge passes.
	PassBytes int64
}

// Open merges segs, one per map task in map-task order, so that values
// reach the caller in input order. With more segments than factor it first
// merges consecutive groups into temporary runs named tmpBase.passN, so no
// more than factor runs are ever open at once.
func Open(segs []Segment, factor int, tmpBase string) (*Merge, error) {
	factor = max(factor, 2)
	m := &Merge{}
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
			next = append(next, Segment{Path: path, Offset: 0, Length: f.index[1]})
		}
		// Runs of the previous pass are merged now; drop them early.
		m.removeTempsNotIn(next)
		segs = next
	}
	var err error
	m.Merger, m.readers, err = m.open(segs)
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Merge) open(segs []Segment) (*codec.Merger, []*codec.Reader, error) {
	var rs []io.Reader
	for _, s := range segs {
		if s.Length == 0 {
			continue
		}
		f, err := os.Open(s.Path)
		if err != nil {
			return nil, nil, fmt.Errorf("open map output: %w", err)
		}
		m.files = append(m.files, f)
		rs = append(rs, io.NewSectionReader(f, s.Offset, s.Length))
	}
	return merger(rs)
}

// mergeTo merges group into a single run at path, without Combine: the
// reduce side never combines.
func (m *Merge) mergeTo(group []Segment, path string) (file, error) {
	sub := &Merge{}
	defer sub.Close()
	var err error
	sub.Merger, sub.readers, err = sub.open(group)
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
	if err := sub.Err(); err != nil {
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
