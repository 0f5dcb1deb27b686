package shuffle

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"gomr.dev/internal/codec"
	"gomr.dev/mr"
)

// CombineFunc is an app's Combine, wrapped to return its panic as an error.
type CombineFunc = func(key string, values []string) (string, error)

// probePairs is how many pairs a Buffer without a Combine groups before it
// checks whether its keys repeat enough for grouping to pay.
const probePairs = 1 << 16

// entryBytes is what one pair costs in the buffer besides its bytes.
const entryBytes = int(unsafe.Sizeof(entry{}))

// entry locates one pair in the arena: key at arena[off:off+klen], value
// right after it.
type entry struct {
	prefix uint64 // first 8 key bytes, big-endian, zero-padded: most comparisons stop here
	off    uint32
	klen   uint32
	vlen   uint32
	part   uint32
}

// file is a spill or output file: one run per partition, back to back;
// partition p is index[p]:index[p+1], empty when the two are equal.
type file struct {
	path    string
	index   []int64
	records int64 // in all its runs
}

// Buffer collects a map task's output. It is not safe for concurrent use.
type Buffer struct {
	nPart   int
	budget  int
	factor  int
	base    string // spill files are base.spillN
	combine CombineFunc
	arena   []byte   // sorting mode: pair bytes
	ents    []entry  // sorting mode: one per pair
	table   table    // grouping mode
	grouped bool     // pairs go to table rather than arena and ents
	scratch []string // values handed to combine
	// partition is Emit's partition function, for keys added without one.
	partition func(string) int
	spills    []file
	nSpill    int
	stats     Stats
	err       error // first error; Add becomes a no-op
}

// Stats count what a Buffer did. Spill records and bytes cover the spill
// files and the intermediate merge passes of Finish, not the output file
// itself, whose size is the last offset of its index.
type Stats struct {
	Pairs        int64 // pairs added
	PairBytes    int64 // bytes of their keys and values
	CombineIn    int64 // values handed to Combine, each repeat of a value counted
	CombineOut   int64 // values Combine returned: one per call
	Spills       int64 // spill files written
	SpillRecords int64 // records written to spill files, merge passes included
	SpillBytes   int64 // bytes of spill files written, merge passes included
}

// NewBuffer returns a buffer for nPart partitions that holds about budget
// bytes of pairs before it spills to files named base.spillN. combine may be
// nil. factor bounds how many spills are merged at once.
func NewBuffer(nPart, budget, factor int, base string, combine CombineFunc) *Buffer {
	budget = max(budget, 4<<10)
	return &Buffer{
		nPart:   nPart,
		budget:  budget,
		factor:  max(factor, 2),
		base:    base,
		combine: combine,
		grouped: true,
	}
}

// Stats returns what the buffer has counted so far. Finish returns the
// final count.
func (b *Buffer) Stats() Stats { return b.stats }

// used is the buffer's memory in use, as counted against the budget.
func (b *Buffer) used() int {
	if b.grouped {
		return b.table.bytes()
	}
	return len(b.arena) + entryBytes*len(b.ents)
}

// empty reports whether the buffer holds no pairs.
func (b *Buffer) empty() bool { return len(b.ents) == 0 && b.table.used == 0 }

// Emit adds a pair whose partition the buffer works out with partition,
// which it calls once per distinct key while it groups, and per pair while
// it sorts. partition's panics pass through to the caller.
func (b *Buffer) Emit(key, value string, partition func(key string) int) {
	b.partition = partition
	if b.grouped {
		b.Add(-1, key, value)
	} else {
		b.Add(partition(key), key, value)
	}
}

// Add copies a pair for partition part into the buffer, spilling first if
// the buffer is full. After an error it does nothing; Finish reports it.
// Only Emit passes a negative part, for grouping mode.
func (b *Buffer) Add(part int, key, value string) {
	if b.err != nil {
		return
	}
	need := len(key) + len(value)
	if !b.empty() && b.used()+need+entryBytes > b.budget {
		if b.err = b.spill(); b.err != nil {
			return
		}
	}
	b.stats.Pairs++
	b.stats.PairBytes += int64(need)
	if b.grouped && b.combine == nil && b.stats.Pairs == probePairs && 2*b.table.used > probePairs {
		// Mostly distinct keys, as in a sort: grouping buys nothing and
		// costs more per pair than sorting. Switch for the rest of the
		// task.
		b.ungroup()
	}
	if b.grouped {
		b.addGrouped(part, key, value)
		return
	}
	if part < 0 {
		part = b.partition(key)
	}
	b.addSorted(part, key, value)
}

// addSorted copies a pair into the sorting arena.
func (b *Buffer) addSorted(part int, key, value string) {
	if b.arena == nil {
		b.arena = make([]byte, 0, b.budget) // untouched pages cost no memory; growing would copy
	}
	if len(b.arena)+len(key)+len(value) > 1<<32-1 {
		b.err = errors.New("map output buffer: over 4 GiB of pairs")
		return
	}
	off := len(b.arena)
	b.arena = append(b.arena, key...)
	b.arena = append(b.arena, value...)
	b.ents = append(b.ents, entry{prefix: prefix(key), off: uint32(off), klen: uint32(len(key)), vlen: uint32(len(value)), part: uint32(part)})
}

// ungroup moves the grouped pairs into the sorting arena and switches the
// buffer to sorting. A key's values are moved in emission order, so their
// arena offsets, the sort's tie-break, keep that order.
func (b *Buffer) ungroup() {
	t := &b.table
	b.grouped = false
	b.arena = make([]byte, 0, b.budget) // untouched pages cost no memory; growing would copy
	for gi := range t.slots {
		g := &t.slots[gi]
		if g.tag == 0 {
			continue
		}
		key := t.key(g)
		t.eachRun(g, func(v string, count uint32) {
			for range count {
				b.addSorted(int(g.part), key, v)
			}
		})
	}
	b.table = table{}
}

func prefix(key string) uint64 {
	var p [8]byte
	copy(p[:], key)
	return binary.BigEndian.Uint64(p[:])
}

func (b *Buffer) key(e *entry) []byte   { return b.arena[e.off : e.off+e.klen] }
func (b *Buffer) value(e *entry) []byte { return b.arena[e.off+e.klen : e.off+e.klen+e.vlen] }

// sort orders the entries by partition, then key, then emission order,
// which is arena order.
func (b *Buffer) sort() {
	slices.SortFunc(b.ents, func(x, y entry) int {
		if x.part != y.part {
			return cmp.Compare(x.part, y.part)
		}
		if x.prefix != y.prefix {
			return cmp.Compare(x.prefix, y.prefix)
		}
		// Equal prefixes: keys of at most 8 bytes differ only in length
		// (zero padding), longer ones need a full comparison.
		if x.klen <= 8 && y.klen <= 8 {
			if x.klen != y.klen {
				return cmp.Compare(x.klen, y.klen)
			}
		} else if c := bytes.Compare(b.key(&x), b.key(&y)); c != 0 {
			return c
		}
		return cmp.Compare(x.off, y.off)
	})
}

// spill writes the buffer out as a spill file and empties it.
func (b *Buffer) spill() error {
	path := fmt.Sprintf("%s.spill%d", b.base, b.nSpill)
	b.nSpill++
	f, err := b.write(path)
	if err != nil {
		return err
	}
	b.spills = append(b.spills, f)
	b.stats.Spills++
	b.stats.SpillRecords += f.records
	b.stats.SpillBytes += f.index[b.nPart]
	b.arena, b.ents = b.arena[:0], b.ents[:0]
	b.table.reset(b.budget)
	return nil
}

// write sorts the buffer and writes it to path as one file of runs.
func (b *Buffer) write(path string) (file, error) {
	if b.grouped {
		return b.writeGrouped(path)
	}
	b.sort()
	out, err := create(path, b.nPart)
	if err != nil {
		return file{}, err
	}
	ents := b.ents
	for p := range b.nPart {
		n := 0
		for n < len(ents) && int(ents[n].part) == p {
			n++
		}
		group := ents[:n]
		ents = ents[n:]
		if n == 0 {
			out.empty(p)
			continue
		}
		w := out.begin()
		for len(group) > 0 {
			k := b.key(&group[0])
			m := 1
			for m < len(group) && group[m].prefix == group[0].prefix && bytes.Equal(b.key(&group[m]), k) {
				m++
			}
			for i := range group[:m] {
				w.WriteBytes(k, b.value(&group[i]))
			}
			group = group[m:]
		}
		if err := out.end(p, w); err != nil {
			out.abort()
			return file{}, err
		}
	}
	return out.finish()
}

// Finish writes the task's output to path (through path.tmp and a rename)
// and removes the spill files. The returned index has nPart+1 offsets:
// partition p's run is at index[p]:index[p+1] in the file.
func (b *Buffer) Finish(path string) ([]int64, Stats, error) {
	defer b.removeSpills()
	if b.err != nil {
		return nil, b.stats, b.err
	}
	var f file
	var err error
	if len(b.spills) == 0 {
		f, err = b.write(path)
	} else {
		if !b.empty() {
			if err := b.spill(); err != nil {
				return nil, b.stats, err
			}
		}
		b.arena, b.ents, b.table = nil, nil, table{} // free the buffer before merging
		// Merge in passes of at most factor files, oldest first, so that
		// values stay in emission order.
		for len(b.spills) > b.factor {
			var next []file
			for i := 0; i < len(b.spills); i += b.factor {
				group := b.spills[i:min(i+b.factor, len(b.spills))]
				if len(group) == 1 {
					next = append(next, group[0])
					continue
				}
				path := fmt.Sprintf("%s.spill%d", b.base, b.nSpill)
				b.nSpill++
				m, err := mergeFiles(group, path, b.nPart, b.combine, &b.stats)
				if err != nil {
					return nil, b.stats, err
				}
				b.stats.SpillRecords += m.records
				b.stats.SpillBytes += m.index[b.nPart]
				removeFiles(group)
				next = append(next, m)
			}
			b.spills = next
		}
		f, err = mergeFiles(b.spills, path, b.nPart, b.combine, &b.stats)
	}
	if err != nil {
		return nil, b.stats, err
	}
	return f.index, b.stats, nil
}

func (b *Buffer) removeSpills() {
	removeFiles(b.spills)
	b.spills = nil
}

func removeFiles(files []file) {
	for _, f := range files {
		os.Remove(f.path)
	}
}

// mergeFiles merges files partition by partition into one file at path,
// applying combine to each key's values when it is not nil, and counts
// what it hands to combine in st.
func mergeFiles(files []file, path string, nPart int, combine CombineFunc, st *Stats) (file, error) {
	out, err := create(path, nPart)
	if err != nil {
		return file{}, err
	}
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	for _, f := range files {
		h, err := os.Open(f.path)
		if err != nil {
			out.abort()
			return file{}, err
		}
		opened = append(opened, h)
	}
	var values []string
	for p := range nPart {
		var segs []io.Reader
		for i, f := range files {
			if n := f.index[p+1] - f.index[p]; n > 0 {
				segs = append(segs, io.NewSectionReader(opened[i], f.index[p], n))
			}
		}
		if len(segs) == 0 {
			out.empty(p)
			continue
		}
		m, readers, err := merger(segs)
		if err != nil {
			out.abort()
			return file{}, err
		}
		w := out.begin()
		for m.Next() {
			key := m.Key()
			if combine == nil {
				for v := range m.Values() {
					w.Write(key, v)
				}
				continue
			}
			values = m.AppendValues(values[:0])
			st.CombineIn += int64(len(values))
			c, err := combine(key, values)
			if err != nil {
				closeAll(readers)
				out.abort()
				return file{}, err
			}
			st.CombineOut++
			w.Write(key, c)
		}
		err = m.Err()
		closeAll(readers)
		if err == nil {
			err = out.end(p, w)
		}
		if err != nil {
			out.abort()
			return file{}, err
		}
	}
	return out.finish()
}

// merger opens a merge over runs read from segs, in order.
func merger(segs []io.Reader) (*codec.Merger, []*codec.Reader, error) {
	readers := make([]*codec.Reader, len(segs))
	for i, s := range segs {
		readers[i] = codec.NewReader(bufio.NewReaderSize(s, 32<<10))
	}
	m, err := codec.NewMerger(readers)
	if err != nil {
		closeAll(readers)
		return nil, nil, err
	}
	return m, readers, nil
}

func closeAll(rs []*codec.Reader) {
	for _, r := range rs {
		r.Close()
	}
}

// fileWriter writes runs back to back into one file and builds its index.
type fileWriter struct {
	path    string
	f       *os.File
	bw      *bufio.Writer
	cw      countingWriter
	index   []int64
	records int64 // in the runs ended so far
}

func create(path string, nPart int) (*fileWriter, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	fw := &fileWriter{path: path, f: f, index: make([]int64, nPart+1)}
	fw.bw = bufio.NewWriterSize(f, 256<<10)
	fw.cw.w = fw.bw
	return fw, nil
}

func (fw *fileWriter) empty(p int) { fw.index[p+1] = fw.cw.n }

func (fw *fileWriter) begin() *codec.Writer { return codec.NewWriter(&fw.cw) }

func (fw *fileWriter) end(p int, w *codec.Writer) error {
	if err := w.Close(); err != nil {
		return err
	}
	fw.index[p+1] = fw.cw.n
	fw.records += w.Pairs()
	return fw.cw.err
}

func (fw *fileWriter) finish() (file, error) {
	err := fw.bw.Flush()
	if cerr := fw.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(fw.path+".tmp", fw.path)
	}
	if err != nil {
		os.Remove(fw.path + ".tmp")
		return file{}, err
	}
	return file{path: fw.path, index: fw.index, records: fw.records}, nil
}

func (fw *fileWriter) abort() {
	fw.f.Close()
	os.Remove(fw.path + ".tmp")
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// Segment is where one map task's run for a partition lies.
type Segment = mr.Segment
