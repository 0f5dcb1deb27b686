package shuffle

import (
	"cmp"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"gomr.dev/mr"
)

// Pairs taken from inputs given to Input are kept as references, others
// copied; either way the output is sorted by partition and key, with equal
// keys in emission order, across the switch from grouping to sorting, and
// across spills in the middle of an input.
func TestBufferReferencesInputs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		budget     int
		copyEvery  int // every copyEvery-th pair is made up rather than found in the input; 0: none
		wantSpills bool
	}{
		{"references only", 64 << 20, 0, false},
		{"references and copies", 64 << 20, 7, false},
		{"spills in the middle of inputs", 12 << 20, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(13))
			const nPart = 3
			var keys []string // drawn from, so that keys repeat across inputs
			for range 200000 {
				k := fmt.Sprintf("%08d", rng.Intn(1e8))
				switch rng.Intn(10) {
				case 0:
					k = k[:rng.Intn(8)] // short keys, zero-padded prefixes, the empty key
				case 1:
					k = "samepref" + k // long keys equal in their 8-byte prefix
				}
				keys = append(keys, k)
			}
			base := filepath.Join(t.TempDir(), "m0")
			b := NewBuffer(nPart, tc.budget, 64, base, nil)
			part := func(k string) int { return mr.DefaultPartition(k, nPart) }
			var want []pair
			seq, copied := 0, 0
			for range 4 { // four inputs, as a map task's splits
				var sb strings.Builder
				for range probePairs {
					fmt.Fprintf(&sb, "%s %d\n", keys[rng.Intn(len(keys))], seq)
					seq++
				}
				data := []byte(sb.String())
				contents := unsafe.String(unsafe.SliceData(data), len(data))
				b.Input(data)
				for n := 0; len(contents) > 0; n++ {
					line, rest, _ := strings.Cut(contents, "\n")
					contents = rest
					k, v, _ := strings.Cut(line, " ")
					if tc.copyEvery > 0 && n%tc.copyEvery == 0 {
						v = "c" + v // not in the input
						copied += len(k) + len(v)
					}
					b.Emit(k, v, part)
					want = append(want, pair{part(k), k, v})
				}
				b.Input(nil)
			}
			if b.grouped {
				t.Fatal("still grouping distinct keys")
			}
			if stats := b.Stats(); stats.Spills == 0 {
				// The arena holds the pairs moved out of the hash table
				// when the buffer switched to sorting, and the copies;
				// the rest are references.
				if limit := copied + probePairs*20; len(b.arena) > limit {
					t.Errorf("arena of %d bytes; want at most %d: pairs in the input were copied", len(b.arena), limit)
				}
			}
			index, stats, err := b.Finish(base)
			if err != nil {
				t.Fatal(err)
			}
			if (stats.Spills > 0) != tc.wantSpills {
				t.Fatalf("spills = %d; want spills: %v", stats.Spills, tc.wantSpills)
			}
			slices.SortStableFunc(want, func(x, y pair) int {
				return cmp.Or(cmp.Compare(x.part, y.part), strings.Compare(x.key, y.key))
			})
			if got := readFile(t, base, index); !slices.Equal(got, want) {
				i := firstDiff(got, want)
				t.Fatalf("got %d pairs, want %d; first difference at %d: %v, want %v", len(got), len(want), i, got[min(i, len(got)-1)], want[min(i, len(want)-1)])
			}
		})
	}
}

// The radix sort orders by partition, then prefix, and keeps the order of
// equal entries, whatever bytes vary.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	for _, n := range []int{1, 2, 255, 256, 257, 10000} {
		ents := make([]entry, n)
		for i := range ents {
			e := &ents[i]
			switch rng.Intn(3) {
			case 0:
				e.prefix = rng.Uint64()
			case 1:
				e.prefix = uint64(rng.Intn(4)) << 56 // many equal prefixes
			default:
				e.prefix = uint64(rng.Intn(1 << 16)) // varying low bytes only
			}
			e.part = uint32(rng.Intn(3))
			if rng.Intn(50) == 0 {
				e.part = uint32(rng.Intn(1 << 20)) // partitions over a byte
			}
			e.koff = uint32(i) // emission order
		}
		want := slices.Clone(ents)
		slices.SortStableFunc(want, func(x, y entry) int {
			return cmp.Or(cmp.Compare(x.part, y.part), cmp.Compare(x.prefix, y.prefix))
		})
		got := radixSort(ents, make([]entry, n))
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: radix sort differs from a stable sort", n)
		}
	}
	if got := radixSort(nil, nil); len(got) != 0 {
		t.Fatal("sorted nothing into something")
	}
}

// A buffer gives up grouping after earlyProbePairs pairs when nearly all
// their keys are distinct, as a sort's are, and not for text, whose words
// repeat from the start.
func TestBufferEarlyProbe(t *testing.T) {
	words, _ := zipfWords(2 * earlyProbePairs)
	b := NewBuffer(4, 64<<20, 64, filepath.Join(t.TempDir(), "m"), nil)
	for _, w := range words {
		b.Emit(w, "1", func(k string) int { return mr.DefaultPartition(k, 4) })
	}
	if !b.grouped {
		t.Error("stopped grouping words")
	}
	b = NewBuffer(4, 64<<20, 64, filepath.Join(t.TempDir(), "m"), nil)
	for i := range earlyProbePairs {
		b.Emit(fmt.Sprintf("key%07d", i*7919%earlyProbePairs), "v", func(k string) int { return mr.DefaultPartition(k, 4) })
	}
	if b.grouped {
		t.Errorf("still grouping %d distinct keys", earlyProbePairs)
	}
}
