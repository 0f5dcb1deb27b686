package textgen

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func gen(t testing.TB, size, seed int64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, size, seed); err != nil {
		t.Fatalf("Write(%d, %d): %v", size, seed, err)
	}
	return b.Bytes()
}

func TestDeterministic(t *testing.T) {
	a := gen(t, 200_000, 42)
	b := gen(t, 200_000, 42)
	if !bytes.Equal(a, b) {
		t.Fatal("two writes with the same size and seed differ")
	}
}

func TestSeedsDiffer(t *testing.T) {
	seen := map[string]int64{}
	for seed := int64(-2); seed < 20; seed++ {
		head := string(gen(t, 1000, seed)[:200])
		if other, ok := seen[head]; ok {
			t.Fatalf("seeds %d and %d start with the same 200 bytes", other, seed)
		}
		seen[head] = seed
	}
}

// TestPrefix checks the documented promise that a shorter output is a
// prefix of a longer one except for its last line or two.
func TestPrefix(t *testing.T) {
	long := gen(t, 100_000, 7)
	short := gen(t, 50_000, 7)
	cut := bytes.LastIndexByte(short[:len(short)-2*(MaxLine+1)], '\n') + 1
	if !bytes.Equal(short[:cut], long[:cut]) {
		t.Fatal("output for size 50000 is not a prefix of that for 100000 before its last lines")
	}
}

func TestExactSizeAndShape(t *testing.T) {
	sizes := []int64{1000, 4095, 12345, 1 << 20}
	for size := range int64(500) { // every way the last lines can end
		sizes = append(sizes, size)
	}
	for _, size := range sizes {
		for seed := range int64(5) {
			out := gen(t, size, seed)
			if int64(len(out)) != size {
				t.Fatalf("size %d seed %d: wrote %d bytes", size, seed, len(out))
			}
			if size == 0 {
				continue
			}
			if out[len(out)-1] != '\n' {
				t.Fatalf("size %d seed %d: last byte %q, want newline", size, seed, out[len(out)-1])
			}
			checkShape(t, out)
		}
	}
}

func checkShape(t *testing.T, out []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i, l := range lines {
		if len(l) > MaxLine {
			t.Fatalf("line %d is %d bytes: %q", i+1, len(l), l)
		}
		if strings.TrimSpace(l) != l || strings.Contains(l, "  ") {
			t.Fatalf("line %d has stray spaces: %q", i+1, l)
		}
		if strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,.;?!") != "" {
			t.Fatalf("line %d has unexpected characters: %q", i+1, l)
		}
		// Long outputs only: lines other than the last two are broken
		// near the width, so they are not short.
		if len(lines) > 10 && i < len(lines)-2 && l != "" && len(l) < MinLine-25 {
			t.Fatalf("line %d is only %d bytes: %q", i+1, len(l), l)
		}
	}
}

func TestSentences(t *testing.T) {
	out := string(gen(t, 100_000, 3))
	// Every sentence, after the first, starts with a capital letter.
	for _, end := range []string{". ", "? ", "! ", ".\n", "?\n", "!\n"} {
		for _, part := range strings.Split(out, end)[1:] {
			part = strings.TrimLeft(part, "\n")
			if part == "" {
				continue
			}
			if c := rune(part[0]); !unicode.IsUpper(c) {
				t.Fatalf("sentence after %q starts with %q", end, part[:min(len(part), 20)])
			}
		}
	}
	if !strings.Contains(out, ",") || !strings.Contains(out, "\n\n") {
		t.Fatal("no commas or no paragraph breaks in 100 kB")
	}
}

// TestZipf checks that word counts are skewed as a Zipf distribution with
// s=1.1 predicts: the top word about 2000 times as frequent as the 1000th,
// and a long tail of distinct words.
func TestZipf(t *testing.T) {
	out := string(gen(t, 2<<20, 1))
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(out, func(r rune) bool { return !unicode.IsLetter(r) }) {
		counts[strings.ToLower(w)]++
	}
	freq := make([]int, 0, len(counts))
	total := 0
	for _, n := range counts {
		freq = append(freq, n)
		total += n
	}
	slices.Sort(freq)
	slices.Reverse(freq)
	if len(freq) < 10_000 {
		t.Fatalf("only %d distinct words in 2 MiB", len(freq))
	}
	top, k1000 := freq[0], freq[999]
	t.Logf("%d words, %d distinct; top %d (%.1f%%), 10th %d, 100th %d, 1000th %d",
		total, len(freq), top, 100*float64(top)/float64(total), freq[9], freq[99], k1000)
	if top < 200*k1000 {
		t.Errorf("top word %d times vs 1000th %d times: want a ratio of at least 200", top, k1000)
	}
	if share := float64(top) / float64(total); share < 0.08 || share > 0.2 {
		t.Errorf("top word is %.1f%% of all words, want 8-20%%", 100*share)
	}
}

func TestVocabulary(t *testing.T) {
	v := vocabulary()
	seen := map[string]bool{}
	for i := range VocabSize {
		w := strings.ToLower(string(v.word(i)))
		if w == "" || seen[w] {
			t.Fatalf("word %d %q is empty or repeated", i, w)
		}
		seen[w] = true
	}
}

// TestAliasTable checks that an alias table gives each outcome the mass of
// its weight, and that all buckets are exactly full.
func TestAliasTable(t *testing.T) {
	weights := zipfWeights(VocabSize, ZipfS)
	for _, ws := range [][]float64{weights[:headSize], weights[headSize:], {1}, {3, 2, 1, 1}} {
		table := aliasTable(ws)
		mass := make([]uint64, len(ws))
		for i, e := range table {
			if e.prob > aliasOne {
				t.Fatalf("bucket %d: prob %d > %d", i, e.prob, aliasOne)
			}
			mass[i] += uint64(e.prob)
			mass[e.alias] += aliasOne - uint64(e.prob)
		}
		var sum, total float64
		for i := range ws {
			sum += ws[i]
			total += float64(mass[i])
		}
		for i := range ws {
			want, got := ws[i]/sum, float64(mass[i])/total
			if math.Abs(got-want) > 1e-6*want+1e-9 {
				t.Fatalf("%d outcomes: outcome %d has mass %g, want %g", len(ws), i, got, want)
			}
		}
	}
}

func TestNegativeSize(t *testing.T) {
	if err := Write(io.Discard, -1, 0); err == nil {
		t.Fatal("Write with size -1 succeeded")
	}
}

type failAfter struct{ n int }

var errFull = errors.New("disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	for _, size := range []int64{100, 10 << 20} {
		if err := Write(&failAfter{n: 50}, size, 1); !errors.Is(err, errFull) {
			t.Errorf("size %d: Write to a failing writer returned %v, want %v", size, err, errFull)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	const size = 16 << 20
	vocabulary() // exclude the one-time build
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := Write(io.Discard, size, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
