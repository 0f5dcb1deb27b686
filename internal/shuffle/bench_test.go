package shuffle

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unsafe"

	"gomr.dev/internal/textgen"
	"gomr.dev/mr"
)

// zipfWords is a word-count-like stream: n words over a Zipf vocabulary.
func zipfWords(n int) ([]string, int) {
	rng := rand.New(rand.NewSource(1))
	z := rand.NewZipf(rng, 1.1, 1, 50000)
	words := make([]string, n)
	bytes := 0
	for i := range words {
		words[i] = fmt.Sprintf("w%d", z.Uint64())
		bytes += len(words[i]) + 1
	}
	return words, bytes
}

// BenchmarkBuffer measures a map task's side of the shuffle: adding pairs,
// sorting or hash-combining them, and writing the task's output file, with
// and without spills.
func BenchmarkBuffer(b *testing.B) {
	words, size := zipfWords(1 << 20)
	for _, tc := range []struct {
		name    string
		budget  int
		combine CombineFunc
	}{
		{"sort", 256 << 20, nil},
		{"sort-spill", 4 << 20, nil},
		{"combine", 256 << 20, sum},
		{"combine-spill", 256 << 10, sum},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(int64(size))
			for b.Loop() {
				base := filepath.Join(dir, "m")
				buf := NewBuffer(10, tc.budget, 64, base, tc.combine)
				for _, w := range words {
					buf.Add(mr.DefaultPartition(w, 10), w, "1")
				}
				if _, _, err := buf.Finish(base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenMultiPass measures the reduce side's merge of 64 segments,
// in one pass and in passes of 4.
func BenchmarkOpenMultiPass(b *testing.B) {
	words, size := zipfWords(1 << 18)
	dir := b.TempDir()
	var segs []Segment
	for s := range 64 {
		base := filepath.Join(dir, fmt.Sprintf("m%d", s))
		buf := NewBuffer(1, 64<<20, 64, base, nil)
		for _, w := range words[s*len(words)/64 : (s+1)*len(words)/64] {
			buf.Add(0, w, "1")
		}
		index, _, err := buf.Finish(base)
		if err != nil {
			b.Fatal(err)
		}
		segs = append(segs, Segment{Path: base, Length: index[1]})
	}
	for _, factor := range []int{64, 4} {
		b.Run(fmt.Sprintf("factor-%d", factor), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				m, err := Open(segs, factor, filepath.Join(dir, "r"), nil)
				if err != nil {
					b.Fatal(err)
				}
				for m.Next() {
					for range m.Values() {
					}
				}
				m.Close()
			}
		})
	}
}

// textWords is the words of size bytes of the benchmark's text, as
// apps/wc's Map finds them: maximal runs of letters.
func textWords(b *testing.B, size int64) []string {
	var sb strings.Builder
	if err := textgen.Write(&sb, size, 1); err != nil {
		b.Fatal(err)
	}
	return strings.FieldsFunc(sb.String(), func(r rune) bool { return !unicode.IsLetter(r) })
}

// BenchmarkBufferEmit measures what a word-count map task spends in the
// buffer per word: pairs (word, "1") through Emit, as the worker hands
// them over, into a buffer that holds them all, and the task's output
// file. MB/s counts the text's bytes.
func BenchmarkBufferEmit(b *testing.B) {
	const size = 16 << 20
	words := textWords(b, size)
	part := func(key string) int { return mr.DefaultPartition(key, 10) }
	for _, tc := range []struct {
		name    string
		combine CombineFunc
	}{
		{"combine", sum},
		{"nocombine", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(size)
			for b.Loop() {
				base := filepath.Join(dir, "m")
				buf := NewBuffer(10, 64<<20, 64, base, tc.combine)
				for _, w := range words {
					buf.Emit(w, "1", part)
				}
				if _, _, err := buf.Finish(base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBufferRecords measures a sort's map side: 32 MiB of 100-byte
// records, each a 10-byte key and its payload taken from the input as
// references (Input), sorted and written once.
func BenchmarkBufferRecords(b *testing.B) {
	var in bytes.Buffer
	if err := textgen.WriteRecords(&in, 32<<20, 1); err != nil {
		b.Fatal(err)
	}
	data := in.Bytes()
	contents := unsafe.String(unsafe.SliceData(data), len(data))
	cuts := make([]string, 0, 16)
	for i := 1; i < 16; i++ {
		cuts = append(cuts, string([]byte{byte('!' + i*94/16)}))
	}
	mr.SetCuts(cuts)
	defer mr.SetCuts(nil)
	part := func(k string) int { return mr.RangePartition(k, 16) }
	dir := b.TempDir()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		base := filepath.Join(dir, "m")
		buf := NewBuffer(16, 64<<20, 64, base, nil)
		buf.Input(data)
		for rest := contents; len(rest) > 0; {
			line, r, _ := strings.Cut(rest, "\n")
			rest = r
			buf.Emit(line[:10], line[11:], part)
		}
		if _, _, err := buf.Finish(base); err != nil {
			b.Fatal(err)
		}
	}
}
