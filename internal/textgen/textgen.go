// Package textgen writes deterministic, English-like text to use as job
// inputs in tests, demos and benchmarks.
//
// The text is lines of pseudo-words built from syllables ("toul", "brord",
// "spoxdrix", "Drendrost"), grouped into sentences that start with a capital letter and
// end with a period (now and then a question or exclamation mark), with
// commas and the odd semicolon inside, and an occasional blank line between
// paragraphs. Each line breaks at the last word boundary before a width
// drawn from 60 to 80 columns, so lines are never longer than 80 bytes and
// most are 55 to 80; none has leading or trailing spaces.
//
// Words come from a fixed vocabulary of VocabSize words that every seed
// shares, drawn with Zipf frequencies: the word of rank k (from 1) has
// probability proportional to 1/k^ZipfS, so a handful of short words make
// up a large share of the text and most words are rare, as in real prose.
// About one word in 25 outside the top ranks is a "proper noun" that is
// always capitalised. Only ASCII letters, " ,.;?!" and '\n' occur.
//
// The output depends only on the size and seed, not on the Go release: the
// generator uses its own random number generator and integer sampling
// tables, not math/rand.
package textgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sync"
)

const (
	// VocabSize is the number of distinct words, ignoring case.
	VocabSize = 50000
	// ZipfS is the exponent of the Zipf distribution of word ranks.
	ZipfS = 1.1
	// MinLine and MaxLine bound the width at which a line is broken; a line
	// (without its newline) is never longer than MaxLine.
	MinLine = 60
	MaxLine = 80
)

// Write writes exactly size bytes of text for seed to w; when size > 0 the
// last byte is a newline. To make the size exact, the last line may end in
// a cut-off word. The same size and seed always give the same bytes, and a
// prefix of a longer output differs from a shorter output only in its last
// one or two lines. Write returns the first error from w, or an error for a
// negative size; it buffers internally, so w need not be buffered.
func Write(w io.Writer, size int64, seed int64) error {
	if size < 0 {
		return fmt.Errorf("textgen: negative size %d", size)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	g := generator{v: vocabulary(), rng: newRNG(seed)}
	g.left = g.sentenceLen()
	g.capNext = true

	const maxWithNL = MaxLine + 1
	// The line is built in place in buf. A token that does not fit is moved
	// to the front of buf and carried over to the next line. The slack
	// past MaxLine takes the fixed-size copies of putToken.
	var buf [4 * maxWithNL]byte
	carry := 0 // buf[:carry] is a token carried over from the last line
	for remaining := size; remaining > 0; {
		width := MinLine + int(g.rng.next()%(MaxLine-MinLine+1))
		final := remaining <= maxWithNL
		switch {
		case final:
			width = int(remaining - 1)
		case remaining <= 2*maxWithNL:
			// Split what is left over two lines of similar length
			// rather than leave a stub for the last one.
			width = min(width, int(remaining/2))
		}
		n := 0         // the line so far is buf[:n]
		cs, ce := 0, 0 // buf[cs:ce] is a token to carry to the next line
	fill:
		for {
			var ts, te int // the next token is buf[ts:te]
			if carry > 0 {
				ts, te, carry = 0, carry, 0
			} else {
				ts = n
				if n > 0 {
					buf[n] = ' '
					ts++
				}
				te = g.putToken(buf[:], ts)
			}
			if te <= width {
				n = te
				continue
			}
			switch {
			case !final:
				// n > 0 here: widths of lines that are not final are
				// at least 40, and tokens at most 22 bytes long.
				cs, ce = ts, te
			case n == 0 || width-n >= 2:
				// Fill the line with a prefix of the token, which
				// drops at least its punctuation.
				n = width
			case width-n == 1:
				buf[n] = '.'
				n++
			}
			break fill
		}
		endsSentence := n > 0 && isSentenceEnd(buf[n-1])
		buf[n] = '\n'
		n++
		if _, err := bw.Write(buf[:n]); err != nil {
			return err
		}
		remaining -= int64(n)
		carry = copy(buf[:], buf[cs:ce])
		if endsSentence && remaining > 2*maxWithNL && g.rng.next()%6 == 0 {
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
			remaining--
		}
	}
	return bw.Flush()
}

func isSentenceEnd(c byte) bool { return c == '.' || c == '?' || c == '!' }

// generator holds the state of one Write.
type generator struct {
	v       *vocab
	rng     rng
	left    int  // words left in the current sentence
	capNext bool // the next word starts a sentence
}

// sentenceLen draws the number of words in a sentence, 4 to 23.
func (g *generator) sentenceLen() int {
	return 4 + int(g.rng.next()%20)
}

// putToken writes the next word at buf[at:], capitalised if it starts a
// sentence and followed by any punctuation, and returns the index just past
// it. It may scribble on up to wordCopy bytes past the word, so buf must
// have that much room.
func (g *generator) putToken(buf []byte, at int) int {
	r := g.rng.next()
	ref := g.v.sample(g.rng.next(), r)
	off, n := ref>>8, int(ref&0xff)
	if n <= wordCopy {
		// A fixed-size copy compiles to a few moves, where copy()
		// would call memmove for every short word.
		*(*[wordCopy]byte)(buf[at:]) = *(*[wordCopy]byte)(g.v.text[off:])
	} else {
		copy(buf[at:], g.v.text[off:off+uint32(n)])
	}
	if g.capNext {
		if c := buf[at]; 'a' <= c && c <= 'z' {
			buf[at] = c - 'a' + 'A'
		}
		g.capNext = false
	}
	end := at + n
	g.left--
	if g.left == 0 {
		switch r % 20 {
		case 0:
			buf[end] = '?'
		case 1:
			buf[end] = '!'
		default:
			buf[end] = '.'
		}
		g.left = g.sentenceLen()
		g.capNext = true
		return end + 1
	}
	switch (r >> 8) % 64 {
	case 0, 1, 2, 3, 4, 5:
		buf[end] = ','
		end++
	case 6:
		buf[end] = ';'
		end++
	}
	return end
}

// rng is wyrand: a 64-bit counter mixed by a 128-bit multiply. It is fast,
// passes the usual statistical batteries, and, unlike math/rand's sources,
// its output is fixed by this code alone.
type rng struct{ s uint64 }

func newRNG(seed int64) rng {
	// splitmix64 scatters nearby seeds over the counter's cycle.
	z := uint64(seed) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return rng{s: z ^ z>>31}
}

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// vocab is the shared vocabulary and the tables that sample it. Words are
// named by refs: a word's offset in text shifted left by 8, or'd with its
// length.
//
// The ranks are sampled with two alias tables, one for the headSize most
// frequent words, which make up most of the text, and one for the rest. The
// head table fits in a fast cache, so most draws avoid a cache miss.
type vocab struct {
	text []byte   // every word, back to back, then wordCopy bytes of slack
	refs []uint32 // the word of rank i+1
	// A draw whose top 32 bits fall below headThreshold takes its word
	// from head, and otherwise from tail.
	headThreshold uint32
	head, tail    []bucket
}

// bucket is one bucket of an alias table (see aliasEntry) with the ranks
// replaced by refs, so that a draw touches one bucket and then the text.
type bucket struct {
	prob     uint32
	ref      uint32
	aliasRef uint32
}

const (
	aliasOne = 1 << 31
	// wordCopy is the size of the fixed copies putToken makes.
	wordCopy = 16
	headSize = 4096 // about 87% of draws; 48 KiB of buckets
)

func (v *vocab) word(rank int) []byte {
	ref := v.refs[rank]
	return v.text[ref>>8:][:ref&0xff]
}

// sample maps two random draws to a word's ref. The top half of r2 picks
// the table, the high 32 bits of r a bucket in it, and the low 31 bits of r
// the bucket's word or its alias. The low half of r2 is left to the caller.
func (v *vocab) sample(r, r2 uint64) uint32 {
	t := v.tail
	if uint32(r2>>32) < v.headThreshold {
		t = v.head
	}
	b := &t[(r>>32)*uint64(len(t))>>32]
	// Written so that the compiler can use a conditional move: the
	// outcome is random, so a branch would be mispredicted often.
	ref := b.aliasRef
	if uint32(r)&(aliasOne-1) < b.prob {
		ref = b.ref
	}
	return ref
}

var vocabulary = sync.OnceValue(buildVocab)

// Pieces of syllables. Repeats weight the draw.
var (
	onsets = []string{
		"", "", "", "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r",
		"s", "t", "v", "w", "b", "d", "l", "m", "n", "r", "s", "t", "k",
		"j", "y", "z", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gr", "pl",
		"pr", "sh", "sl", "sp", "st", "th", "tr", "wh", "qu", "sc", "str",
	}
	vowels = []string{
		"a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "e",
		"ea", "ai", "ou", "oo", "ie", "ee", "oa",
	}
	codas = []string{
		"", "", "", "", "", "", "n", "r", "s", "t", "l", "m", "d",
		"nd", "ng", "st", "ck", "rn", "th", "x", "nt", "rd", "ll",
	}
)

// buildVocab makes the vocabulary from a fixed seed, so it is the same for
// every Write. Frequent words are short, as in natural languages.
func buildVocab() *vocab {
	r := newRNG(0x7e47)
	pick := func(s []string) string { return s[r.next()%uint64(len(s))] }
	v := &vocab{
		text: make([]byte, 0, VocabSize*9),
		refs: make([]uint32, 0, VocabSize),
	}
	seen := make(map[string]bool, VocabSize)
	buf := make([]byte, 0, 32)
	for rank := 0; rank < VocabSize; {
		var syllables int
		switch {
		case rank < 40:
			syllables = 1
		case rank < 600:
			syllables = 1 + int(r.next()%2)
		case rank < 5000:
			syllables = 1 + int(r.next()%3)
		default:
			syllables = 2 + int(r.next()%4/3) // mostly 2, a quarter 3
		}
		buf = buf[:0]
		for range syllables {
			buf = append(buf, pick(onsets)...)
			buf = append(buf, pick(vowels)...)
			buf = append(buf, pick(codas)...)
		}
		if len(buf) < 2 && rank >= 10 || seen[string(buf)] {
			continue
		}
		seen[string(buf)] = true
		if rank >= 200 && r.next()%25 == 0 {
			buf[0] -= 'a' - 'A'
		}
		v.refs = append(v.refs, uint32(len(v.text))<<8|uint32(len(buf)))
		v.text = append(v.text, buf...)
		rank++
	}
	v.text = append(v.text, make([]byte, wordCopy)...)
	if len(v.text) >= 1<<24 {
		panic("textgen: vocabulary text too large for 24-bit offsets")
	}
	weights := zipfWeights(VocabSize, ZipfS)
	var headSum, sum float64
	for k, x := range weights {
		if k < headSize {
			headSum += x
		}
		sum += x
	}
	v.headThreshold = uint32(float64(headSum / sum * (1 << 32)))
	buckets := func(table []aliasEntry, first int) []bucket {
		bs := make([]bucket, len(table))
		for i, e := range table {
			bs[i] = bucket{prob: e.prob, ref: v.refs[first+i], aliasRef: v.refs[first+int(e.alias)]}
		}
		return bs
	}
	v.head = buckets(aliasTable(weights[:headSize]), 0)
	v.tail = buckets(aliasTable(weights[headSize:]), headSize)
	return v
}

// aliasEntry is a bucket of an alias table over ranks: the bucket's own
// rank is chosen when a uniform draw in [0, aliasOne) falls below prob, and
// alias otherwise.
type aliasEntry struct {
	prob  uint32
	alias uint32
}

// zipfWeights returns the weights 1/k^s of ranks k = 1..n.
func zipfWeights(n int, s float64) []float64 {
	weights := make([]float64, n)
	for k := range weights {
		weights[k] = math.Pow(float64(k+1), -s)
	}
	return weights
}

// aliasTable builds an alias table for outcomes with the given weights,
// which must be in descending order. The weights are rounded once to
// integers that sum to exactly n*aliasOne, so that building the table is
// exact integer work.
func aliasTable(weights []float64) []aliasEntry {
	n := len(weights)
	var sum float64
	for _, x := range weights {
		sum += x
	}
	total := uint64(n) * aliasOne
	scale := float64(total) / sum
	w := make([]uint64, n)
	var got uint64
	for k, x := range weights {
		w[k] = uint64(float64(x * scale))
		got += w[k]
	}
	w[0] += total - got // rounding leftovers go to the most frequent outcome

	// Vose's method: pair each underfull bucket with an overfull outcome
	// that tops it up to aliasOne.
	table := make([]aliasEntry, n)
	var small, large []uint32
	for i := n - 1; i >= 0; i-- {
		if w[i] < aliasOne {
			small = append(small, uint32(i))
		} else {
			large = append(large, uint32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		table[s] = aliasEntry{prob: uint32(w[s]), alias: l}
		w[l] -= aliasOne - w[s]
		if w[l] < aliasOne {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// The weights sum to exactly len*aliasOne at every step, so whatever
	// is left is exactly full.
	for _, i := range large {
		table[i] = aliasEntry{prob: aliasOne, alias: i}
	}
	for _, i := range small {
		table[i] = aliasEntry{prob: aliasOne, alias: i}
	}
	return table
}
