package shuffle

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"unsafe"
)

// In grouping mode a Buffer keeps pairs grouped by key in a hash table
// instead of sorting every pair: a value joins its key's list, a spill
// sorts only the distinct keys, and with a Combine each key's list is
// combined whenever it reaches combineEvery values, so memory follows the
// number of keys rather than of pairs. For a word count that turns sorting
// millions of pairs into hashing them and sorting a vocabulary.
//
// A key's values are kept as runs of equal values, and the value of the
// latest pair is shared by the next pairs that have the same one, so the
// (word, "1") pairs of a word count cost a counter increment each: no
// bytes copied, no list node, and only the cache lines of the key's slot
// and group touched.

// combineEvery is how many values a key collects before it is combined.
// Runs make a value cost nothing to hold, so this only sets how often
// Combine is called.
const combineEvery = 64

// group is one key: its bytes in the arena, and its values. Nothing in a
// group, a node or the arena is a pointer, so the collector never scans
// the table however many pairs it holds.
type group struct {
	prefix uint64 // the key's first 8 bytes, big-endian, zero-padded: short keys compare without the arena
	klen   uint32
	n      uint32 // values held, each repeat counted
	// The latest run: the value at voff/vlen in the arena, count times,
	// after the runs in the list head...last.
	voff, vlen, count uint32
	koff              uint32
	part              uint32
	head, last        int32 // earlier runs, linked through node.next; -1 when none
}

// node is an earlier run of a key's values: the value at off/len in the
// arena, count times.
type node struct {
	off, len, count uint32
	next            int32
}

const (
	groupBytes = int(unsafe.Sizeof(group{})) + 16 // and its share of slots
	nodeBytes  = int(unsafe.Sizeof(node{}))
)

// table is an open-addressing hash table from key to group, with keys and
// values in one byte arena and groups and nodes in flat slices.
type table struct {
	seed uint64
	// slots hold the high half of a key's hash above its group's index
	// plus one, or 0; the hash half settles nearly every probe that is not
	// a match without looking at the group. Length a power of two.
	slots  []uint64
	groups []group
	nodes  []node
	arena  []byte
	// voff, vlen locate the value most recently put in the arena; an
	// equal value is not put again but shares them, which lets runs
	// form by comparing offsets.
	voff, vlen uint32
}

func (t *table) init(budget int) {
	t.seed = rand.Uint64()
	t.slots = make([]uint64, 256)
	t.arena = make([]byte, 0, budget/4)
}

// bytes is the table's memory, as counted against the budget.
func (t *table) bytes() int {
	return len(t.arena) + len(t.groups)*groupBytes + len(t.nodes)*nodeBytes + len(t.slots)*8
}

// str returns arena bytes as a string. It is valid until the arena grows
// or resets, so callers must not keep it past the next add.
func (t *table) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&t.arena[off], n)
}

func (t *table) key(g *group) string { return t.str(g.koff, g.klen) }

func (t *table) put(s string) (uint32, uint32, error) {
	if len(t.arena)+len(s) > 1<<32-1 {
		return 0, 0, fmt.Errorf("map output buffer: over 4 GiB of pairs")
	}
	off := len(t.arena)
	t.arena = append(t.arena, s...)
	return uint32(off), uint32(len(s)), nil
}

// value returns where v's bytes are in the arena: where the last value put
// was if v equals it, else where v is put now. An empty value is at 0, 0.
func (t *table) value(v string) (uint32, uint32, error) {
	if len(v) == 0 {
		return 0, 0, nil
	}
	if uint32(len(v)) == t.vlen && t.str(t.voff, t.vlen) == v {
		return t.voff, t.vlen, nil
	}
	off, n, err := t.put(v)
	if err == nil {
		t.voff, t.vlen = off, n
	}
	return off, n, err
}

// find returns the index of the group for key, adding one if there is
// none. A negative part means the caller has not computed the key's
// partition: partition is called for it, and only when the key is new.
func (t *table) find(key string, part int, partition func(string) int) (int32, error) {
	h, pfx := hashKey(key, t.seed)
	tag := h &^ (1<<32 - 1)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			if part < 0 {
				part = partition(key)
			}
			koff, klen, err := t.put(key)
			if err != nil {
				return 0, err
			}
			gi := int32(len(t.groups))
			t.slots[i] = tag | uint64(gi+1)
			t.groups = append(t.groups, group{prefix: pfx, koff: koff, klen: klen, part: uint32(part), head: -1, last: -1})
			if len(t.groups)*2 > len(t.slots) {
				t.grow()
			}
			return gi, nil
		}
		if s&^(1<<32-1) != tag {
			continue
		}
		gi := int32(uint32(s)) - 1
		g := &t.groups[gi]
		if g.prefix == pfx && int(g.klen) == len(key) && (len(key) <= 8 || t.key(g) == key) {
			if part >= 0 && g.part != uint32(part) {
				return 0, fmt.Errorf("Partition sent key %.80q to partitions %d and %d; it must depend on the key alone", key, g.part, part)
			}
			return gi, nil
		}
	}
}

// grow doubles the slots, hashing every key again: the slots keep only
// half of each hash.
func (t *table) grow() {
	t.slots = make([]uint64, 2*len(t.slots))
	mask := uint64(len(t.slots) - 1)
	for gi := range t.groups {
		h, _ := hashKey(t.key(&t.groups[gi]), t.seed)
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = h&^(1<<32-1) | uint64(gi+1)
	}
}

// hashKey returns a seeded hash of key and its prefix, the first 8 bytes
// big-endian and zero-padded. It reads keys of up to 8 bytes with at most
// two loads and mixes with one multiply per 8 bytes, as in wyhash; Go's
// maphash costs a call and more per short key.
func hashKey(key string, seed uint64) (h, pfx uint64) {
	const (
		m1 = 0xa0761d6478bd642f
		m2 = 0xe7037ed1a0b428db
		m3 = 0x8ebc6af09c88c6e3
	)
	n := len(key)
	b := unsafe.Slice(unsafe.StringData(key), n)
	var x uint64 // the first 8 bytes, little-endian, zero-padded
	switch {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b)
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<(8*(n-4))
	case n > 0:
		x = uint64(b[0]) | uint64(b[n/2])<<(8*(n/2)) | uint64(b[n-1])<<(8*(n-1))
	}
	h = mix(x^seed, m1^uint64(n))
	for i := 8; i < n; i += 8 {
		// The last word overlaps the one before it unless n is a
		// multiple of 8; n is in the hash, so that is no ambiguity.
		h = mix(h^binary.LittleEndian.Uint64(b[min(i, n-8):]), m2)
	}
	return mix(h, m3), bits.ReverseBytes64(x)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// addValue adds the value at arena off/n to g's values.
func (t *table) addValue(g *group, off, n uint32) {
	if g.count > 0 && g.voff == off && g.vlen == n {
		g.count++
	} else {
		t.endRun(g)
		g.voff, g.vlen, g.count = off, n, 1
	}
	g.n++
}

// endRun moves g's latest run, if any, to the end of its list.
func (t *table) endRun(g *group) {
	if g.count == 0 {
		return
	}
	i := int32(len(t.nodes))
	t.nodes = append(t.nodes, node{off: g.voff, len: g.vlen, count: g.count, next: -1})
	if g.last < 0 {
		g.head = i
	} else {
		t.nodes[g.last].next = i
	}
	g.last = i
	g.count = 0
}

// eachRun calls f for each run of g's values, in order.
func (t *table) eachRun(g *group, f func(v string, count uint32)) {
	for i := g.head; i >= 0; i = t.nodes[i].next {
		nd := &t.nodes[i]
		f(t.str(nd.off, nd.len), nd.count)
	}
	if g.count > 0 {
		f(t.str(g.voff, g.vlen), g.count)
	}
}

// appendValues appends g's values to dst, as strings into the arena.
func (t *table) appendValues(g *group, dst []string) []string {
	t.eachRun(g, func(v string, count uint32) {
		for range count {
			dst = append(dst, v)
		}
	})
	return dst
}

// setValue replaces g's values by the one at arena off/n. The first node
// of g's list, if it has one, is reused to hold it, so that a key that is
// combined again and again does not use up nodes.
func (t *table) setValue(g *group, off, n uint32) {
	if g.head >= 0 {
		t.nodes[g.head] = node{off: off, len: n, count: 1, next: -1}
		g.last = g.head
		g.count = 0
	} else {
		g.voff, g.vlen, g.count = off, n, 1
	}
	g.n = 1
}

func (t *table) reset() {
	clear(t.slots)
	t.groups, t.nodes, t.arena = t.groups[:0], t.nodes[:0], t.arena[:0]
	t.voff, t.vlen = 0, 0
}

func (b *Buffer) addGrouped(part int, key, value string) {
	t := &b.table
	if t.slots == nil {
		t.init(b.budget)
	}
	gi, err := t.find(key, part, b.partition)
	if err != nil {
		b.err = err
		return
	}
	off, n, err := t.value(value)
	if err != nil {
		b.err = err
		return
	}
	g := &t.groups[gi]
	t.addValue(g, off, n)
	if b.combine != nil && g.n >= combineEvery {
		b.err = b.combineGroup(g)
	}
}

// combineGroup replaces g's values by their Combine.
func (b *Buffer) combineGroup(g *group) error {
	t := &b.table
	b.scratch = t.appendValues(g, b.scratch[:0])
	v, err := b.combine(t.key(g), b.scratch)
	if err != nil {
		return err
	}
	// v may be a view of the arena (a Combine can return one of its
	// values); put copies it before the old arena could go away. It is
	// not shared through t.value: the next pairs' values are far more
	// likely to equal the last pair's than this sum.
	off, n, err := t.put(v)
	if err != nil {
		return err
	}
	t.setValue(g, off, n)
	return nil
}

// writeGrouped sorts the groups by partition and key and writes them as
// one file of runs, each key's values in emission order, or combined.
func (b *Buffer) writeGrouped(path string) (file, error) {
	t := &b.table
	slices.SortFunc(t.groups, func(x, y group) int {
		if x.part != y.part {
			return int(x.part) - int(y.part)
		}
		if x.prefix != y.prefix {
			return cmp.Compare(x.prefix, y.prefix)
		}
		return strings.Compare(t.key(&x), t.key(&y))
	})
	out, err := create(path, b.nPart)
	if err != nil {
		return file{}, err
	}
	groups := t.groups
	for p := range b.nPart {
		n := 0
		for n < len(groups) && int(groups[n].part) == p {
			n++
		}
		if n == 0 {
			out.empty(p)
			continue
		}
		w := out.begin()
		for i := range groups[:n] {
			g := &groups[i]
			key := t.key(g)
			if b.combine == nil {
				t.eachRun(g, func(v string, count uint32) {
					w.WriteN(key, v, int(count))
				})
				continue
			}
			b.scratch = t.appendValues(g, b.scratch[:0])
			v, err := b.combine(key, b.scratch)
			if err != nil {
				out.abort()
				return file{}, err
			}
			w.Write(key, v)
		}
		groups = groups[n:]
		if err := out.end(p, w); err != nil {
			out.abort()
			return file{}, err
		}
	}
	return out.finish()
}
