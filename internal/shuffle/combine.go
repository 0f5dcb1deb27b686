package shuffle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// With a Combine, a Buffer groups pairs by key in a hash table instead of
// sorting every pair: each new value joins its key's group, a group is
// combined whenever it holds combineEvery values, and a spill sorts only
// the distinct keys. For a word count, that turns sorting millions of
// pairs into hashing them and sorting a vocabulary.

// combineEvery is how many values a group collects before it is combined.
const combineEvery = 16

// groupBytes is what one group costs besides its bytes: the group, its
// map entry and its values slice.
const groupBytes = int(unsafe.Sizeof(group{})) + 48 + combineEvery*16

type group struct {
	key  string   // in the arena
	part uint32   //
	vals []string // in the arena, or returned by Combine
}

// arena hands out stable copies of strings from large chunks, so that
// copies never move and the chunks are few for the collector to scan.
type arena struct {
	chunks [][]byte
	cur    []byte
	size   int // bytes handed out
}

const chunkSize = 1 << 20

func (a *arena) copy(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > cap(a.cur)-len(a.cur) {
		a.cur = make([]byte, 0, max(chunkSize, len(s)))
		a.chunks = append(a.chunks, a.cur)
	}
	start := len(a.cur)
	a.cur = append(a.cur, s...)
	a.size += len(s)
	b := a.cur[start:]
	return unsafe.String(unsafe.SliceData(b), len(s))
}

func (a *arena) reset() { *a = arena{} }

// hashTable is the Buffer's state when the app has a Combine.
type hashTable struct {
	index  map[string]int32 // key → groups index
	groups []group
	arena  arena
}

func (b *Buffer) addCombining(part int, key, value string) {
	h := &b.hash
	if h.index == nil {
		h.index = make(map[string]int32)
	}
	if i, ok := h.index[key]; ok && h.groups[i].part == uint32(part) {
		g := &h.groups[i]
		g.vals = append(g.vals, h.arena.copy(value))
		if len(g.vals) >= combineEvery {
			v, err := b.combine(g.key, g.vals)
			if err != nil {
				b.err = err
				return
			}
			g.vals = append(g.vals[:0], v)
		}
		return
	} else if ok {
		b.err = fmt.Errorf("Partition sent key %.80q to partitions %d and %d; it must depend on the key alone", key, h.groups[i].part, part)
		return
	}
	k := h.arena.copy(key)
	vals := make([]string, 1, combineEvery)
	vals[0] = h.arena.copy(value)
	h.index[k] = int32(len(h.groups))
	h.groups = append(h.groups, group{key: k, part: uint32(part), vals: vals})
}

func (b *Buffer) hashBytes() int { return b.hash.arena.size + len(b.hash.groups)*groupBytes }

// writeCombined sorts the groups by partition and key, combines each one,
// and writes them as one file of runs.
func (b *Buffer) writeCombined(path string) (file, error) {
	h := &b.hash
	slices.SortFunc(h.groups, func(x, y group) int {
		if x.part != y.part {
			return cmp.Compare(x.part, y.part)
		}
		return strings.Compare(x.key, y.key)
	})
	out, err := create(path, b.nPart)
	if err != nil {
		return file{}, err
	}
	groups := h.groups
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
			v, err := b.combine(g.key, g.vals)
			if err != nil {
				out.abort()
				return file{}, err
			}
			w.Write(g.key, v)
		}
		groups = groups[n:]
		if err := out.end(p, w); err != nil {
			out.abort()
			return file{}, err
		}
	}
	return out.finish()
}

func (h *hashTable) reset() {
	clear(h.index)
	h.groups = h.groups[:0]
	h.arena.reset()
}
