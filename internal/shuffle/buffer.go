package shuffle

import (
	"bufio"
	"bytes"
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

// earlyProbePairs is when a Buffer first checks whether its keys are
// nearly all distinct (see distinct).
const earlyProbePairs = 1 << 12

// entryBytes is what one pair costs in the buffer besides its bytes: its
// entry, and its place in the radix sort's other half.
const entryBytes = 2 * int(unsafe.Sizeof(entry{}))

// entry locates one pair in the sorting mode's segments: its key at
// segs[seg][koff:koff+klen] and its value at segs[seg][voff:voff+vlen].
// Segment 0 is the arena of copied pairs; the others are inputs the pairs
// were found in (see Input).
type entry struct {
	prefix uint64 // first 8 key bytes, big-endian, zero-padded: most comparisons stop here
	koff   uint32
	voff   uint32
	klen   uint32
	vlen   uint32
	part   uint32
	seg    uint32
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
	arena   []byte  // sorting mode: the bytes of copied pairs
	ents    []entry // sorting mode: one per pair, in emission order until sorted
	tmp     []entry // sorting mode: the radix sort's other half
	// segs are what entries point into: segs[0] stands for the arena
	// (and is nil), the others are inputs given to Input, of which
	// segs[cur] (if cur > 0) is the one pairs are taken from now. input
	// is the latest input given, referenced or not.
	segs    [][]byte
	cur     int
	input   []byte
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

// Input tells the buffer that the pairs added next may be substrings of
// data, which no one writes to again until the task ends: in sorting mode,
// a pair whose key and value both lie in data is kept as a reference
// rather than copied. The buffer then holds on to data until it next
// spills or finishes. Its bytes do not count against the budget, since the
// caller holds them anyway; a map task's inputs are about a split's size.
// Input(nil) ends it: later pairs are copied.
func (b *Buffer) Input(data []byte) {
	b.input = data
	b.cur = 0
	if !b.grouped && len(data) > 0 {
		b.adopt()
	}
}

// adopt makes the latest input a segment that the next pairs may
// reference.
func (b *Buffer) adopt() {
	if len(b.segs) == 0 {
		b.segs = append(b.segs, nil) // the arena's place
	}
	if len(b.segs) > 1<<31 {
		return
	}
	b.segs = append(b.segs, b.input)
	b.cur = len(b.segs) - 1
}

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
	if !b.grouped && b.referable(key, value) {
		need = 0 // a reference costs its entry only
	}
	if !b.empty() && b.used()+need+entryBytes > b.budget {
		if b.err = b.spill(); b.err != nil {
			return
		}
	}
	b.stats.Pairs++
	b.stats.PairBytes += int64(len(key) + len(value))
	if b.grouped && b.combine == nil && b.distinct() {
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

// addSorted adds a pair to the sorting mode's entries: as a reference
// when it lies in the current input, else copied into the arena.
func (b *Buffer) addSorted(part int, key, value string) {
	e := entry{prefix: prefix(key), klen: uint32(len(key)), vlen: uint32(len(value)), part: uint32(part)}
	b.ents = grow(b.ents, 1)
	if b.referable(key, value) {
		e.koff, _ = within(b.segs[b.cur], key)
		e.voff, _ = within(b.segs[b.cur], value)
		e.seg = uint32(b.cur)
		b.ents = append(b.ents, e)
		return
	}
	if len(b.arena)+len(key)+len(value) > 1<<32-1 {
		b.err = errors.New("map output buffer: over 4 GiB of pairs")
		return
	}
	b.arena = grow(b.arena, len(key)+len(value))
	e.koff = uint32(len(b.arena))
	e.voff = e.koff + e.klen
	b.arena = append(b.arena, key...)
	b.arena = append(b.arena, value...)
	b.ents = append(b.ents, e)
}

// grow returns s with room for n more elements, doubling its capacity
// when it must grow, so that the copies add up to at most its final size
// (append grows large slices by a quarter, copying them over and over).
// Capacity is allocated as it is needed rather than at the budget's size
// up front: a buffer that reuses memory the collector freed must clear
// all of it, which then counts in the worker's RSS.
func grow[T any](s []T, n int) []T {
	if len(s)+n <= cap(s) {
		return s
	}
	t := make([]T, len(s), max(2*cap(s), len(s)+n, 4096))
	copy(t, s)
	return t
}

// referable reports whether a pair lies in the current input, so that
// addSorted may keep a reference to it.
func (b *Buffer) referable(key, value string) bool {
	if b.cur == 0 {
		return false
	}
	_, k := within(b.segs[b.cur], key)
	_, v := within(b.segs[b.cur], value)
	return k && v
}

// within returns where s starts in data, if all of s lies in data. An
// empty s lies anywhere. data is at most 4 GiB long (the caller's split).
func within(data []byte, s string) (uint32, bool) {
	if len(s) == 0 {
		return 0, true
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if p < base || p-base+uintptr(len(s)) > uintptr(len(data)) || p-base > 1<<32-1 {
		return 0, false
	}
	return uint32(p - base), true
}

// distinct reports whether the keys so far look distinct enough to stop
// grouping: more than half of the first probePairs pairs, or nearly all
// of the first earlyProbePairs, as in a sort, which then skips most of
// the grouping it would have done for nothing. Text, whose words repeat
// from the start, never comes near the early threshold.
func (b *Buffer) distinct() bool {
	switch b.stats.Pairs {
	case earlyProbePairs:
		return 64*b.table.used > 63*earlyProbePairs
	case probePairs:
		return 2*b.table.used > probePairs
	}
	return false
}

// ungroup moves the grouped pairs into the sorting arena and switches the
// buffer to sorting. A key's values are moved in emission order, which the
// stable sort keeps.
func (b *Buffer) ungroup() {
	t := &b.table
	b.grouped = false
	b.cur = 0
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
	if len(b.input) > 0 {
		b.adopt()
	}
}

func prefix(key string) uint64 {
	var p [8]byte
	copy(p[:], key)
	return binary.BigEndian.Uint64(p[:])
}

func (b *Buffer) key(e *entry) []byte {
	if e.seg == 0 {
		return b.arena[e.koff : e.koff+e.klen]
	}
	return b.segs[e.seg][e.koff : e.koff+e.klen]
}

func (b *Buffer) value(e *entry) []byte {
	if e.seg == 0 {
		return b.arena[e.voff : e.voff+e.vlen]
	}
	return b.segs[e.seg][e.voff : e.voff+e.vlen]
}

// sort orders the entries by partition, then key, then emission order:
// a stable radix sort by partition and key prefix (see radix.go), then a
// stable comparison sort of each run of equal prefixes that needs one.
// It returns the sorted entries, in b.ents or b.tmp.
func (b *Buffer) sort() []entry {
	if len(b.ents) == 0 {
		return nil
	}
	if cap(b.tmp) < len(b.ents) {
		b.tmp = make([]entry, len(b.ents))
	}
	ents := radixSort(b.ents, b.tmp[:len(b.ents)])
	for i := 0; i < len(ents); {
		j := i + 1
		for j < len(ents) && ents[j].part == ents[i].part && ents[j].prefix == ents[i].prefix {
			j++
		}
		if run := ents[i:j]; len(run) > 1 {
			cmpKeys := func(x, y entry) int { return bytes.Compare(b.key(&x), b.key(&y)) }
			if !slices.IsSortedFunc(run, cmpKeys) {
				// Equal prefixes: keys of at most 8 bytes differ only in
				// length (zero padding), longer ones in their other bytes.
				slices.SortStableFunc(run, cmpKeys)
			}
		}
		i = j
	}
	return ents
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
	b.segs, b.cur = b.segs[:0], 0
	if !b.grouped && len(b.input) > 0 {
		b.adopt() // Map may go on taking pairs from it
	}
	b.table.reset(b.budget)
	return nil
}

// write sorts the buffer and writes it to path as one file of runs.
func (b *Buffer) write(path string) (file, error) {
	if b.grouped {
		return b.writeGrouped(path)
	}
	ents := b.sort()
	out, err := create(path, b.nPart)
	if err != nil {
		return file{}, err
	}
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

// Finish writes the task's output to path (through path.tmp and a rename),
// ending with its partition index, and removes the spill files. The
// returned index has nPart+1 offsets: partition p's run is at
// index[p]:index[p+1] in the file, and the runs end at index[nPart],
// where the file's own copy of the index starts.
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
		b.arena, b.ents, b.tmp, b.table = nil, nil, nil, table{} // free the buffer before merging
		b.segs, b.input, b.cur = nil, nil, 0
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
	if err == nil {
		err = addIndex(path, f.index)
	}
	if err != nil {
		return nil, b.stats, err
	}
	return f.index, b.stats, nil
}

// addIndex appends the partition index to the finished output at path
// (see index.go), removing the file if it cannot. Nobody reads the file
// before Finish returns, so it need not go through the rename with the
// runs.
func addIndex(path string, index []int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.Write(appendIndex(nil, index))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(path)
	}
	return err
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
