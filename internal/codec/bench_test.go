package codec

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// The benchmarks run each codec over word-count runs, the shuffle's common
// case: "ones" is a sorted map output of (word, "1") pairs, "counts" the
// same after a Combine, one (word, count) pair per distinct word. Besides
// MB/s of key and value bytes they report "ratio", the uncompressed record
// bytes over the run's size. doc.go records what they showed.
//
//	go test -run '^$' -bench . -benchmem ./internal/codec

// vocab is 50,000 distinct words whose letters follow English frequencies,
// so sorted neighbours share prefixes the way real words do.
var vocab = sync.OnceValue(func() []string {
	const letters = "eeeeeeeeeeeettttttttaaaaaaaaoooooooiiiiiiinnnnnnnssssssrrrrrrhhhhhlllldddcccuuummmwwffggyyppbbvkjxqz"
	rng := rand.New(rand.NewSource(42))
	seen := map[string]bool{}
	var words []string
	for len(words) < 50000 {
		b := make([]byte, 2+rng.Intn(4)+rng.Intn(6))
		for i := range b {
			b[i] = letters[rng.Intn(len(letters))]
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	return words
})

// wordRun draws n words from a Zipf distribution over vocab and returns
// them as a sorted run, counted per word if combined.
func wordRun(rng *rand.Rand, n int, combined bool) []kv {
	words := vocab()
	z := rand.NewZipf(rng, 1.1, 1, uint64(len(words)-1))
	drawn := make([]string, n)
	for i := range drawn {
		drawn[i] = words[z.Uint64()]
	}
	sort.Strings(drawn)
	var run []kv
	for i := 0; i < len(drawn); {
		j := i + 1
		for j < len(drawn) && drawn[j] == drawn[i] {
			j++
		}
		if combined {
			run = append(run, kv{drawn[i], strconv.Itoa(j - i)})
		} else {
			for range j - i {
				run = append(run, kv{drawn[i], "1"})
			}
		}
		i = j
	}
	return run
}

// sizes returns the key and value bytes of pairs, and their size as
// uncompressed records.
func sizes(pairs []kv) (payload, framed int64) {
	for _, p := range pairs {
		payload += int64(len(p.k) + len(p.v))
		framed += int64(uvarintLen(uint64(len(p.k))+1) + len(p.k) + uvarintLen(uint64(len(p.v))) + len(p.v))
	}
	return payload, framed
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

var forms = []struct {
	name     string
	draws    int
	combined bool
}{
	{"ones", 300000, false},
	{"counts", 1000000, true},
}

func BenchmarkWrite(b *testing.B) {
	for _, f := range forms {
		pairs := wordRun(rand.New(rand.NewSource(1)), f.draws, f.combined)
		payload, framed := sizes(pairs)
		for _, c := range codecs {
			b.Run(c.String()+"/"+f.name, func(b *testing.B) {
				var buf bytes.Buffer
				b.SetBytes(payload)
				b.ReportAllocs()
				for b.Loop() {
					buf.Reset()
					w := newWriter(&buf, c)
					for _, p := range pairs {
						w.Write(p.k, p.v)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(framed)/float64(buf.Len()), "ratio")
			})
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, f := range forms {
		pairs := wordRun(rand.New(rand.NewSource(1)), f.draws, f.combined)
		payload, framed := sizes(pairs)
		for _, c := range codecs {
			b.Run(c.String()+"/"+f.name, func(b *testing.B) {
				data := encode(b, c, pairs)
				b.SetBytes(payload)
				b.ReportAllocs()
				for b.Loop() {
					r := NewReader(bytes.NewReader(data))
					for {
						_, _, err := r.Next()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					r.Close()
				}
				b.ReportMetric(float64(framed)/float64(len(data)), "ratio")
			})
		}
	}
}

// BenchmarkMerge is a reduce task's read path: 32 runs, as from 32 map
// tasks, merged and every value turned into a string.
func BenchmarkMerge(b *testing.B) {
	const nRuns = 32
	for _, f := range forms {
		rng := rand.New(rand.NewSource(1))
		runs := make([][]kv, nRuns)
		var payload int64
		for i := range runs {
			runs[i] = wordRun(rng, f.draws/nRuns, f.combined)
			p, _ := sizes(runs[i])
			payload += p
		}
		for _, c := range codecs {
			b.Run(c.String()+"/"+f.name, func(b *testing.B) {
				data := make([][]byte, nRuns)
				for i, r := range runs {
					data[i] = encode(b, c, r)
				}
				readers := make([]*Reader, nRuns)
				b.SetBytes(payload)
				b.ReportAllocs()
				for b.Loop() {
					mergeOnce(b, data, readers, func(m *Merger) {
						for range m.Values() {
						}
					})
				}
			})
		}
	}
}

// BenchmarkMergeAppend is a lab-form reduce task's read path: the merge of
// BenchmarkMerge's 32 "ones" runs, each key's values gathered into one
// []string with AppendValues, as a Reduce(key, []string) needs them.
func BenchmarkMergeAppend(b *testing.B) {
	const nRuns = 32
	f := forms[0]
	rng := rand.New(rand.NewSource(1))
	data := make([][]byte, nRuns)
	var payload int64
	for i := range data {
		r := wordRun(rng, f.draws/nRuns, false)
		p, _ := sizes(r)
		payload += p
		data[i] = encode(b, codecS2, r)
	}
	readers := make([]*Reader, nRuns)
	b.SetBytes(payload)
	b.ReportAllocs()
	var values []string
	for b.Loop() {
		mergeOnce(b, data, readers, func(m *Merger) { values = m.AppendValues(values[:0]) })
	}
}

// mergeOnce merges the encoded runs in data, reading them through
// readers, and calls visit at each key.
func mergeOnce(b *testing.B, data [][]byte, readers []*Reader, visit func(*Merger)) {
	for i := range readers {
		readers[i] = NewReader(bytes.NewReader(data[i]))
	}
	m, err := NewMerger(readers)
	if err != nil {
		b.Fatal(err)
	}
	for m.Next() {
		visit(m)
	}
	if m.Err() != nil {
		b.Fatal(m.Err())
	}
	for _, r := range readers {
		r.Close()
	}
}
