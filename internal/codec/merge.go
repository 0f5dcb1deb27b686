package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
)

// ErrUnsorted is returned by Merger.Err when a run's keys go backwards.
var ErrUnsorted = errors.New("codec: run not sorted by key")

// RunError is how a Merger reports a failure to read one of its runs,
// so that the caller can tell which run is bad: Run is its index among
// the Merger's runs, and Err the Reader's error, or ErrUnsorted.
type RunError struct {
	Run int
	Err error
}

func (e *RunError) Error() string { return fmt.Sprintf("codec: merge run %d: %v", e.Run, e.Err) }
func (e *RunError) Unwrap() error { return e.Err }

// Merger does a streaming k-way merge of runs, each sorted by key in byte
// order, and groups the records by key. It holds only the current record
// of each run, never a whole run.
//
// Keys come out in ascending byte order. A key's values come from the
// lowest-numbered run first and, within a run, in the order written, so a
// caller that numbers runs by map task gets values in input order.
//
// A Merger is not safe for concurrent use. It does not close its Readers;
// the caller does, after the merge.
//
//	for m.Next() {
//		for v := range m.Values() { ... }
//	}
//	if err := m.Err(); err != nil { ... }
type Merger struct {
	runs  []*Reader
	heads []head // heads[i] is the current record of runs[i]
	// tree is a loser tree over the runs, ordered by (heads[i].key, i),
	// with exhausted runs last. tree[0] is the least run, the winner;
	// tree[1:] hold the loser of each internal match, whose children are
	// nodes 2n and 2n+1, and run i is leaf node len(runs)+i. Replacing the
	// winner costs one comparison per level, half what a binary heap
	// pays; the index in the order is what puts equal keys' values in
	// run order.
	tree  []int
	key   string
	keyb  []byte // key's bytes, for comparing without conversions
	gen   uint64 // counts Next calls, so a stale Values sequence yields nothing
	last  string // the value string most recently made, reused if repeated
	taken int64  // values handed out by Values and AppendValues
	err   error
}

type head struct {
	key, value []byte
	// pfx is key's first 8 bytes, big-endian and zero-padded, so most
	// comparisons are one integer comparison: different prefixes order
	// as their keys do, and only equal ones need bytes.Compare.
	pfx  uint64
	done bool // the run is exhausted
}

func newHead(key, value []byte) head {
	var p uint64
	if len(key) >= 8 {
		p = binary.BigEndian.Uint64(key)
	} else {
		for i, c := range key {
			p |= uint64(c) << (56 - 8*i)
		}
	}
	return head{key: key, value: value, pfx: p}
}

// NewMerger reads the first record of each run and returns a Merger
// positioned before the first key. The runs' order sets the order of equal
// keys' values. Runs that are empty are fine. An error reading a first
// record is returned as a *RunError.
func NewMerger(runs []*Reader) (*Merger, error) {
	k := len(runs)
	m := &Merger{
		runs:  runs,
		heads: make([]head, k),
		tree:  make([]int, max(k, 1)),
	}
	for i, r := range runs {
		key, v, err := r.Next()
		switch {
		case err == io.EOF:
			m.heads[i].done = true
		case err != nil:
			return nil, &RunError{Run: i, Err: err}
		default:
			m.heads[i] = newHead(key, v)
		}
	}
	if k == 0 {
		m.tree[0] = -1
		return m, nil
	}
	// Play the tournament bottom up; win[n] is the winner at node n.
	win := make([]int, 2*k)
	for i := range k {
		win[k+i] = i
	}
	for n := k - 1; n >= 1; n-- {
		a, b := win[2*n], win[2*n+1]
		if m.less(b, a) {
			a, b = b, a
		}
		win[n], m.tree[n] = a, b
	}
	m.tree[0] = win[1] // for k == 1, the lone leaf is node 1
	return m, nil
}

// Next advances to the next distinct key, skipping any values of the
// current key that were not consumed. It returns false when the runs are
// exhausted or on error; check Err.
func (m *Merger) Next() bool {
	if m.err != nil {
		return false
	}
	if m.gen > 0 {
		for m.err == nil && m.atKey() {
			m.advance()
		}
	}
	m.gen++
	if m.err != nil || m.tree[0] < 0 || m.heads[m.tree[0]].done {
		m.key = ""
		return false
	}
	m.keyb = append(m.keyb[:0], m.heads[m.tree[0]].key...)
	m.key = string(m.keyb)
	return true
}

// atKey reports whether the least run's record has the current key.
func (m *Merger) atKey() bool {
	w := m.tree[0]
	return m.gen > 0 && w >= 0 && !m.heads[w].done && bytes.Equal(m.heads[w].key, m.keyb)
}

// Key returns the current key. It is "" before the first Next and after
// the last.
func (m *Merger) Key() string { return m.key }

// Values returns the current key's values, streamed from the runs. Each
// value is consumed as it is yielded, including one the loop breaks on:
// ranging again continues after it, and values not consumed when Next is
// called are skipped. The sequence yields nothing once Next has been
// called again. A read error ends the sequence early and is reported by
// Err.
func (m *Merger) Values() iter.Seq[string] {
	gen := m.gen
	return func(yield func(string) bool) {
		for m.gen == gen {
			v, ok := m.value()
			if !ok {
				return
			}
			m.taken++
			if !yield(v) {
				return
			}
		}
	}
}

// AppendValues appends the current key's remaining values to dst and
// returns the extended slice, for a Reduce that takes a []string.
func (m *Merger) AppendValues(dst []string) []string {
	// Make room for the values in sight at once: the record at each
	// run's head and its repeats. A key of a job without a Combine often
	// has all its values in sight, one record and a repeat per run, and
	// growing dst step by step would copy it several times over.
	if m.gen > 0 {
		n := 0
		for i := range m.heads {
			if h := &m.heads[i]; !h.done && bytes.Equal(h.key, m.keyb) {
				n += 1 + int(m.runs[i].rep)
			}
		}
		if cap(dst)-len(dst) < n {
			// Exactly: slices.Grow would round up by a quarter, and
			// race builds allocate its n elements once more besides.
			dst = append(make([]string, 0, len(dst)+n), dst...)
		}
	}
	for m.err == nil && m.atKey() {
		// The record at the head of the least run, and its repeats.
		w := m.tree[0]
		h := &m.heads[w]
		v := m.last
		if string(h.value) != v {
			v = string(h.value)
			m.last = v
		}
		n := 1 + int(m.runs[w].takeRepeats())
		m.taken += int64(n)
		dst = slices.Grow(dst, n)
		for range n {
			dst = append(dst, v)
		}
		m.advance()
	}
	return dst
}

// Taken returns how many values Values and AppendValues have handed out,
// over every key so far: the values a Reduce received, whether it ranged
// over all of its key's or stopped early. Values skipped by Next are not
// counted.
func (m *Merger) Taken() int64 { return m.taken }

// Err returns the first error met, a *RunError naming the run: its read
// error, or ErrUnsorted.
func (m *Merger) Err() error { return m.err }

// value consumes and returns the next value of the current key, if any.
func (m *Merger) value() (string, bool) {
	if m.err != nil || !m.atKey() {
		return "", false
	}
	h := &m.heads[m.tree[0]]
	// Counts and "1"s repeat, so reusing the last string saves an
	// allocation per value on the reduce path. One-byte strings never
	// allocate anyway.
	v := m.last
	if string(h.value) != v {
		v = string(h.value)
		m.last = v
	}
	m.advance() // invalidates h.value, which v no longer needs
	return v, true
}

// advance moves the least run, whose key is m.key, to its next record and
// replays its path up the tree. The run's next key must not be less.
func (m *Merger) advance() {
	w := m.tree[0]
	if m.runs[w].takeRepeat() {
		return // the same record again: run w is still least
	}
	k, v, err := m.runs[w].Next()
	switch {
	case err == io.EOF:
		m.heads[w] = head{done: true}
	case err != nil:
		m.err = &RunError{Run: w, Err: err}
		return
	default:
		c := bytes.Compare(k, m.keyb)
		if c < 0 {
			m.err = &RunError{Run: w, Err: fmt.Errorf("%w: key %q after %q", ErrUnsorted, k, m.key)}
			return
		}
		m.heads[w] = newHead(k, v)
		if c == 0 {
			// Run w is still least: any other run at m.key has a larger
			// index, or it would have won. This skips the replay for
			// every repeat of a key within a run.
			return
		}
	}
	for n := (len(m.runs) + w) / 2; n > 0; n /= 2 {
		if m.less(m.tree[n], w) {
			m.tree[n], w = w, m.tree[n]
		}
	}
	m.tree[0] = w
}

// less orders runs by (current key, index), exhausted runs last.
func (m *Merger) less(a, b int) bool {
	ha, hb := &m.heads[a], &m.heads[b]
	if ha.done || hb.done {
		if ha.done != hb.done {
			return hb.done
		}
		return a < b
	}
	if ha.pfx != hb.pfx {
		return ha.pfx < hb.pfx
	}
	if c := bytes.Compare(ha.key, hb.key); c != 0 {
		return c < 0
	}
	return a < b
}
