package shuffle

import (
	"fmt"
	"hash/maphash"
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

// combineEvery is how many values a key collects before it is combined.
const combineEvery = 16

// group is one key: its bytes in the arena, and its list of values.
// Nothing in a group, a node or the arena is a pointer, so the collector
// never scans the table however many pairs it holds.
type group struct {
	hash       uint64
	prefix     uint64 // the key's first 8 bytes: short keys compare without the arena
	koff, klen uint32
	part       uint32
	n          uint32 // values held
	// With a Combine, head is the first of combineEvery contiguous nodes
	// and the values are nodes[head:head+n]. Without one, head and tail
	// are the ends of a list linked through node.next.
	head, tail int32
}

// node is one value of a key.
type node struct {
	off, len uint32 // in the arena
	next     int32
}

const (
	groupBytes = int(unsafe.Sizeof(group{})) + 8 // and its share of slots
	nodeBytes  = int(unsafe.Sizeof(node{}))
)

// table is an open-addressing hash table from key to group, with keys and
// values in one byte arena and groups and nodes in flat slices.
type table struct {
	seed   maphash.Seed
	slots  []int32 // group index, or -1; length a power of two
	groups []group
	nodes  []node
	arena  []byte
}

func (t *table) init(budget int) {
	t.seed = maphash.MakeSeed()
	t.slots = make([]int32, 256)
	for i := range t.slots {
		t.slots[i] = -1
	}
	t.arena = make([]byte, 0, budget/4)
}

// bytes is the table's memory, as counted against the budget.
func (t *table) bytes() int {
	return len(t.arena) + len(t.groups)*groupBytes + len(t.nodes)*nodeBytes + len(t.slots)*4
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

// find returns the index of the group for key, adding one if there is
// none. A negative part means the caller has not computed the key's
// partition: partition is called for it, and only when the key is new.
func (t *table) find(key string, part int, partition func(string) int, block bool) (int32, error) {
	h := maphash.String(t.seed, key)
	pfx := prefix(key)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s < 0 {
			if part < 0 {
				part = partition(key)
			}
			koff, klen, err := t.put(key)
			if err != nil {
				return 0, err
			}
			gi := int32(len(t.groups))
			t.slots[i] = gi
			g := group{hash: h, prefix: pfx, koff: koff, klen: klen, part: uint32(part), head: -1, tail: -1}
			if block {
				g.head = int32(len(t.nodes))
				t.nodes = append(t.nodes, make([]node, combineEvery)...)
			}
			t.groups = append(t.groups, g)
			if len(t.groups)*2 > len(t.slots) {
				t.grow()
			}
			return gi, nil
		}
		g := &t.groups[s]
		if g.hash == h && g.prefix == pfx && int(g.klen) == len(key) && (len(key) <= 8 || t.key(g) == key) {
			if part >= 0 && g.part != uint32(part) {
				return 0, fmt.Errorf("Partition sent key %.80q to partitions %d and %d; it must depend on the key alone", key, g.part, part)
			}
			return s, nil
		}
	}
}

func (t *table) grow() {
	t.slots = make([]int32, 2*len(t.slots))
	for i := range t.slots {
		t.slots[i] = -1
	}
	mask := uint64(len(t.slots) - 1)
	for gi := range t.groups {
		i := t.groups[gi].hash & mask
		for t.slots[i] >= 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(gi)
	}
}

// push appends the value at arena off:off+n to g's values.
func (t *table) push(g *group, off, n uint32) {
	i := int32(len(t.nodes))
	t.nodes = append(t.nodes, node{off: off, len: n, next: -1})
	if g.tail < 0 {
		g.head = i
	} else {
		t.nodes[g.tail].next = i
	}
	g.tail = i
	g.n++
}

// blockValues appends the values of a combining group's block to dst, as
// strings into the arena.
func (t *table) blockValues(g *group, dst []string) []string {
	for _, nd := range t.nodes[g.head : g.head+int32(g.n)] {
		dst = append(dst, t.str(nd.off, nd.len))
	}
	return dst
}

// pushBlock adds a value to a group of a combining table; the caller
// combines the group when it is full.
func (t *table) pushBlock(g *group, off, n uint32) {
	t.nodes[g.head+int32(g.n)] = node{off: off, len: n}
	g.n++
}

func (t *table) reset() {
	for i := range t.slots {
		t.slots[i] = -1
	}
	t.groups, t.nodes, t.arena = t.groups[:0], t.nodes[:0], t.arena[:0]
}

func (b *Buffer) addGrouped(part int, key, value string) {
	t := &b.table
	if t.slots == nil {
		t.init(b.budget)
	}
	combining := b.combine != nil
	gi, err := t.find(key, part, b.partition, combining)
	if err != nil {
		b.err = err
		return
	}
	off, n, err := t.put(value)
	if err != nil {
		b.err = err
		return
	}
	g := &t.groups[gi]
	if !combining {
		t.push(g, off, n)
		return
	}
	t.pushBlock(g, off, n)
	if g.n == combineEvery {
		b.err = b.combineGroup(g)
	}
}

// combineGroup replaces g's values by their Combine.
func (b *Buffer) combineGroup(g *group) error {
	t := &b.table
	b.scratch = t.blockValues(g, b.scratch[:0])
	v, err := b.combine(t.key(g), b.scratch)
	if err != nil {
		return err
	}
	// v may be a view of the arena (a Combine can return one of its
	// values); put copies it before the old arena could go away.
	off, n, err := t.put(v)
	if err != nil {
		return err
	}
	t.nodes[g.head] = node{off: off, len: n}
	g.n = 1
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
				for n := g.head; n >= 0; n = t.nodes[n].next {
					w.Write(key, t.str(t.nodes[n].off, t.nodes[n].len))
				}
				continue
			}
			b.scratch = t.blockValues(g, b.scratch[:0])
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
