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

// group is one key: its bytes in the arena, and its values. Groups are
// the table's slots, one cache line each, so a pair whose key is in the
// table touches that line and nothing else unless its key is longer than
// 16 bytes. Nothing in a group, a node or the arena is a pointer, so the
// collector never scans the table however many pairs it holds.
type group struct {
	prefix uint64 // the key's first 8 bytes, big-endian, zero-padded: short keys compare without the arena
	suffix uint64 // for a key of over 8 bytes, its last 8: keys of up to 16 bytes compare without the arena
	tag    uint32 // the high half of the key's hash, with the low bit set; 0 in an empty slot
	klen   uint32
	n      uint32 // values held, each repeat counted
	// The latest run: the value at voff/vlen in the arena, count times,
	// after the runs in the list head...last.
	voff, vlen, count uint32
	koff              uint32
	part              uint32
	head, last        int32 // earlier runs, linked through node.next; -1 when none
	_                 [8]byte
}

// node is an earlier run of a key's values: the value at off/len in the
// arena, count times.
type node struct {
	off, len, count uint32
	next            int32
}

const (
	groupBytes = int(unsafe.Sizeof(group{}))
	nodeBytes  = int(unsafe.Sizeof(node{}))
	// minSlots is where a table starts, small so that a tiny budget
	// still holds a few keys.
	minSlots = 16
)

// table is an open-addressing hash table from key to group, with keys and
// values in one byte arena and groups and nodes in flat slices.
type table struct {
	seed uint64
	// slots are the groups, at most half of them in use; their tags
	// settle nearly every probe that is not a match. Length a power of
	// two.
	slots []group
	used  int // slots in use: distinct keys
	nodes []node
	arena []byte
	// voff, vlen locate the value most recently put in the arena; an
	// equal value is not put again but shares them, which lets runs
	// form by comparing offsets.
	voff, vlen uint32
}

func (t *table) init(budget int) {
	t.seed = rand.Uint64()
	t.slots = make([]group, minSlots)
	t.arena = make([]byte, 0, budget/4)
}

// bytes is the table's memory, as counted against the budget.
func (t *table) bytes() int {
	return len(t.arena) + len(t.slots)*groupBytes + len(t.nodes)*nodeBytes
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

// find returns the group for key, whose hashKey is h, pfx and sfx, adding
// one if there is none. A negative part means the caller has not computed
// the key's partition: partition is called for it, and only when the key
// is new. The group stays where it is until the table grows.
func (t *table) find(key string, h, pfx, sfx uint64, part int, partition func(string) int) (*group, error) {
	tag := uint32(h>>32) | 1
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		g := &t.slots[i]
		if g.tag == 0 {
			if 2*(t.used+1) > len(t.slots) {
				t.grow()
				return t.find(key, h, pfx, sfx, part, partition)
			}
			if part < 0 {
				part = partition(key)
			}
			koff, klen, err := t.put(key)
			if err != nil {
				return nil, err
			}
			*g = group{tag: tag, prefix: pfx, suffix: sfx, koff: koff, klen: klen, part: uint32(part), head: -1, last: -1}
			t.used++
			return g, nil
		}
		if g.tag == tag && g.prefix == pfx && int(g.klen) == len(key) &&
			(len(key) <= 8 || g.suffix == sfx && (len(key) <= 16 || t.key(g) == key)) {
			if part >= 0 && g.part != uint32(part) {
				return nil, fmt.Errorf("Partition sent key %.80q to partitions %d and %d; it must depend on the key alone", key, g.part, part)
			}
			return g, nil
		}
	}
}

// grow doubles the slots, hashing every key again: the groups keep only
// half of each hash.
func (t *table) grow() {
	old := t.slots
	t.slots = make([]group, 2*len(old))
	adviseHuge(t.slots)
	mask := uint64(len(t.slots) - 1)
	for gi := range old {
		if old[gi].tag == 0 {
			continue
		}
		h, _, _ := hashKey(t.key(&old[gi]), t.seed)
		i := h & mask
		for t.slots[i].tag != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = old[gi]
	}
}

// groups moves the groups in use to the front of the slots and returns
// them. The table cannot be searched after, only reset.
func (t *table) groups() []group {
	n := 0
	for i := range t.slots {
		if t.slots[i].tag != 0 {
			t.slots[n] = t.slots[i]
			n++
		}
	}
	return t.slots[:n]
}

// hashKey returns a seeded hash of key, its prefix, the first 8 bytes
// big-endian and zero-padded, and for a key of over 8 bytes its suffix,
// the last 8 bytes (little-endian; else 0). It reads keys of up to 8 bytes
// with at most two loads and mixes with one multiply per 8 bytes, as in
// wyhash; Go's maphash costs a call and more per short key.
func hashKey(key string, seed uint64) (h, pfx, sfx uint64) {
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
		sfx = binary.LittleEndian.Uint64(b[min(i, n-8):])
		h = mix(h^sfx, m2)
	}
	return mix(h, m3), bits.ReverseBytes64(x), sfx
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

// reset empties the table for a budget of budget bytes. Slots that take
// over a quarter of it are let go, so that a small budget is not filled
// by empty slots.
func (t *table) reset(budget int) {
	if len(t.slots)*groupBytes > budget/4 {
		t.slots = make([]group, minSlots)
	} else {
		clear(t.slots)
	}
	t.used = 0
	t.nodes, t.arena = t.nodes[:0], t.arena[:0]
	t.voff, t.vlen = 0, 0
}

func (b *Buffer) addGrouped(part int, key, value string) {
	t := &b.table
	if t.slots == nil {
		t.init(b.budget)
	}
	h, pfx, sfx := hashKey(key, t.seed)
	g, err := t.find(key, h, pfx, sfx, part, b.partition)
	if err != nil {
		b.err = err
		return
	}
	off, n, err := t.value(value)
	if err != nil {
		b.err = err
		return
	}
	t.addValue(g, off, n)
	if b.combine != nil && g.n >= combineEvery {
		b.err = b.combineGroup(g)
	}
}

// combineGroup replaces g's values by their Combine.
func (b *Buffer) combineGroup(g *group) error {
	t := &b.table
	b.scratch = t.appendValues(g, b.scratch[:0])
	b.stats.CombineIn += int64(len(b.scratch))
	v, err := b.combine(t.key(g), b.scratch)
	if err != nil {
		return err
	}
	b.stats.CombineOut++
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
	groups := t.groups()
	slices.SortFunc(groups, func(x, y group) int {
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
			b.stats.CombineIn += int64(len(b.scratch))
			v, err := b.combine(key, b.scratch)
			if err != nil {
				out.abort()
				return file{}, err
			}
			b.stats.CombineOut++
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
