package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"testing"
)

var codecs = []codec{codecS2, codecZstd}

type kv struct{ k, v string }

// encode writes pairs as a run in codec c.
func encode(t testing.TB, c codec, pairs []kv) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := newWriter(&buf, c)
	for i, p := range pairs {
		var err error
		if i%2 == 0 {
			err = w.Write(p.k, p.v)
		} else {
			err = w.WriteBytes([]byte(p.k), []byte(p.v))
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := w.Pairs(); got != int64(len(pairs)) {
		t.Fatalf("Pairs() = %d, want %d", got, len(pairs))
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size() = %d, wrote %d bytes", w.Size(), buf.Len())
	}
	return buf.Bytes()
}

// decode reads a whole run, returning the records read before any error.
func decode(r io.Reader) ([]kv, error) {
	rd := NewReader(r)
	defer rd.Close()
	var out []kv
	for {
		k, v, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, kv{string(k), string(v)})
	}
}

func randBytes(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	rng.Read(b)
	return string(b)
}

func randomPairs(rng *rand.Rand, n int) []kv {
	pairs := []kv{
		{"", ""},
		{"", "empty key"},
		{"empty value", ""},
		{"\xff\xfe\x00invalid utf-8", "\x80\x00\xc3"},
		{"big", randBytes(rng, 1<<20)},
		{randBytes(rng, 300), strings.Repeat("a", 1<<20+7)},
	}
	for len(pairs) < n {
		pairs = append(pairs, kv{randBytes(rng, rng.Intn(40)), randBytes(rng, rng.Intn(200))})
	}
	rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return pairs
}

func equalPairs(t *testing.T, got, want []kv) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: got key %q (%d-byte value), want key %q (%d-byte value)",
				i, trunc(got[i].k), len(got[i].v), trunc(want[i].k), len(want[i].v))
		}
	}
}

func trunc(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			want := randomPairs(rng, 5000)
			data := encode(t, c, want)
			got, err := decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			equalPairs(t, got, want)
		})
	}
}

func TestEmptyRun(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			data := encode(t, c, nil)
			if len(data) <= headerLen {
				t.Fatalf("empty run is %d bytes; want a header and a trailer", len(data))
			}
			r := NewReader(bytes.NewReader(data))
			for range 2 { // io.EOF is sticky
				if _, _, err := r.Next(); err != io.EOF {
					t.Fatalf("Next = %v, want io.EOF", err)
				}
			}
			r.Close()
			if _, _, err := r.Next(); err != ErrClosed {
				t.Fatalf("Next after Close = %v, want ErrClosed", err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
		})
	}
}

// TestTruncated cuts a run at every length: each prefix must fail with
// ErrCorrupt, including cuts at a compressed block boundary, which the
// decompressors alone would take for a clean end.
func TestTruncated(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var pairs []kv
	for i := range 3000 {
		// Incompressible values make several s2 blocks and zstd blocks.
		pairs = append(pairs, kv{fmt.Sprintf("key%05d", i), randBytes(rng, rng.Intn(100))})
	}
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			data := encode(t, c, pairs)
			for n := 0; n < len(data); n += 1 + n/1000 {
				got, err := decode(bytes.NewReader(data[:n]))
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("cut at %d of %d: err = %v, want ErrCorrupt", n, len(data), err)
				}
				equalPairs(t, got, pairs[:len(got)])
			}
		})
	}
}

// TestBitFlips flips each bit of a small run. A flip may go unnoticed only
// if the records still come out exactly as written; the codecs' checksums
// and the trailer should catch the rest.
func TestBitFlips(t *testing.T) {
	pairs := []kv{{"apple", "1"}, {"apple", "1"}, {"banana", "22"}, {"cherry", ""}, {"", "x"}}
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			data := encode(t, c, pairs)
			undetected := 0
			for i := range len(data) * 8 {
				bad := bytes.Clone(data)
				bad[i/8] ^= 1 << (i % 8)
				got, err := decode(bytes.NewReader(bad))
				if err == nil {
					undetected++
					equalPairs(t, got, pairs)
					continue
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip bit %d: err = %v, want ErrCorrupt", i, err)
				}
			}
			t.Logf("%d of %d bit flips harmless", undetected, len(data)*8)
		})
	}
}

func TestNotARun(t *testing.T) {
	good := encode(t, codecS2, []kv{{"a", "b"}})
	badVersion := bytes.Clone(good)
	badVersion[len(magic)]++
	badCodec := bytes.Clone(good)
	badCodec[len(magic)+1] = 'q'
	tests := map[string][]byte{
		"empty file":  nil,
		"short":       []byte("gomr"),
		"text":        []byte("the quick brown fox jumps over the lazy dog\n"),
		"version":     badVersion,
		"codec":       badCodec,
		"header only": good[:headerLen],
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decode(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// rawRun builds a run around an arbitrary record stream, to test what no
// Writer would write.
func rawRun(c codec, stream []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString(magic)
	buf.WriteByte(formatVersion)
	buf.WriteByte(byte(c))
	cw := newCompressor(c, &buf)
	cw.Write(stream)
	cw.Close()
	return buf.Bytes()
}

func TestBogusLength(t *testing.T) {
	lowerMaxRepeat(t)
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	klen := func(n uint64) []byte { return uv(2 * (n + 1)) }
	rep := func(n uint64) []byte { return uv(2*n - 1) }
	a1 := append(klen(1), 'a', 0) // key "a", empty value
	big := append(append(klen(1), 'a'), append(uv(maxHeld), strings.Repeat("v", maxHeld)...)...)
	tests := map[string][]byte{
		"key over limit":       append(klen(MaxRecord+1), "abc"...),
		"record over limit":    append(append(klen(3), "abc"...), uv(MaxRecord)...),
		"huge key, short":      append(klen(900<<20), "abc"...),
		"huge value, short":    append(append(klen(3), "abc"...), append(uv(900<<20), "xyz"...)...),
		"varint overflow":      bytes.Repeat([]byte{0xff}, 11),
		"varint cut":           {0xff, 0xff},
		"no trailer":           a1,
		"bad count":            append(a1, 0, 7),
		"after trailer":        append(a1, 0, 1, 9),
		"repeat first":         append(rep(3), 0, 3),
		"repeat over limit":    append(append(a1, rep(maxRepeat+1)...), append([]byte{0}, uv(maxRepeat+2)...)...),
		"repeat of big record": append(append(big, rep(1)...), 0, 2),
		"repeat, bad count":    append(append(a1, rep(5)...), 0, 5),
	}
	for _, c := range codecs {
		for name, stream := range tests {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				data := rawRun(c, stream)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, err := decode(bytes.NewReader(data))
				runtime.ReadMemStats(&after)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
					t.Fatalf("allocated %d bytes for a %d-byte run", n, len(data))
				}
			})
		}
	}
}

// Runs of equal records, short and long, framed as repeats or not, must
// read back as written, across buffer refills and with records too big
// to repeat.
func TestRepeats(t *testing.T) {
	lowerMaxRepeat(t)
	rng := rand.New(rand.NewSource(4))
	var want []kv
	for len(want) < 30*int(maxRepeat) {
		var p kv
		switch rng.Intn(4) {
		case 0:
			p = kv{"k" + randBytes(rng, rng.Intn(3)), "1"}
		case 1:
			p = kv{"", ""}
		case 2:
			p = kv{"big", strings.Repeat("b", maxHeld-2+rng.Intn(5))} // at and past maxHeld
		default:
			p = kv{randBytes(rng, rng.Intn(30)), randBytes(rng, rng.Intn(30))}
		}
		n := 1 + rng.Intn(10)
		if rng.Intn(50) == 0 {
			n = rng.Intn(2 * int(maxRepeat))
		}
		for range n {
			want = append(want, p)
		}
	}
	for _, c := range codecs {
		data := encode(t, c, want)
		got, err := decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		equalPairs(t, got, want)
	}
}

// Copies of a record are framed as a repeat, which a Reader takes as soon
// as it reads the record.
func TestRepeatsAreFramed(t *testing.T) {
	for _, c := range codecs {
		pairs := []kv{{"a", "1"}, {"a", "1"}, {"a", "1"}, {"b", "1"}}
		r := NewReader(bytes.NewReader(encode(t, c, pairs)))
		if k, v, err := r.Next(); err != nil || string(k) != "a" || string(v) != "1" || r.rep != 2 {
			t.Fatalf("%v: first record %q %q, %v, then %d repeats in sight; want a 1, nil, 2", c, k, v, err, r.rep)
		}
		r.Close()
	}
}

// A repeat that follows a record ending exactly where the Reader's first
// buffer ends must give that record back after the buffer has been
// refilled over it.
func TestRepeatAfterRefill(t *testing.T) {
	var want []kv
	// 16-byte records: length, 2-byte key, length, 12-byte value.
	for i := range 2 * readBufSize / 16 {
		p := kv{fmt.Sprintf("%c%c", 'a'+i/26%26, 'a'+i%26), fmt.Sprintf("%012d", i)}
		want = append(want, p)
		if i == readBufSize/16-1 {
			want = append(want, p, p, p)
		}
	}
	for _, c := range codecs {
		got, err := decode(bytes.NewReader(encode(t, c, want)))
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		equalPairs(t, got, want)
	}
}

func TestReaderIOError(t *testing.T) {
	for _, c := range codecs {
		data := encode(t, c, randomPairs(rand.New(rand.NewSource(3)), 100))
		for _, at := range []int{5, headerLen + 3, len(data) / 2} {
			disk := errors.New("disk on fire")
			r := io.MultiReader(bytes.NewReader(data[:at]), errReader{disk})
			_, err := decode(r)
			if !errors.Is(err, disk) || errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: fail at %d: err = %v, want the reader's error and not ErrCorrupt", c, at, err)
			}
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// failWriter accepts n bytes, then fails. It also has a Close, which
// Writer must not call.
type failWriter struct {
	n      int
	err    error
	closed bool
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func (f *failWriter) Close() error { f.closed = true; return nil }

func TestWriterErrors(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			full := errors.New("disk full")
			for _, room := range []int{0, 5, headerLen, 100, 5000} {
				fw := &failWriter{n: room, err: full}
				w := newWriter(fw, c)
				var err error
				for i := 0; i < 5000 && err == nil; i++ {
					err = w.Write(fmt.Sprintf("key%d", i), randBytes(rand.New(rand.NewSource(int64(i))), 20))
				}
				cerr := w.Close()
				if !errors.Is(cerr, full) {
					t.Fatalf("room %d: Close = %v, want the writer's error", room, cerr)
				}
				if err != nil && !errors.Is(err, full) {
					t.Fatalf("room %d: Write = %v", room, err)
				}
				if w.Write("k", "v") != ErrClosed {
					t.Fatalf("Write after Close did not return ErrClosed")
				}
				if again := w.Close(); again != cerr {
					t.Fatalf("second Close = %v, want %v", again, cerr)
				}
				if fw.closed {
					t.Fatalf("Close closed the underlying writer")
				}
			}
		})
	}
}

func TestWriterTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 512 MiB of address space")
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	half := make([]byte, MaxRecord/2+1) // key and value share it
	if err := w.WriteBytes(half, half); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("WriteBytes = %v, want ErrTooLarge", err)
	}
	if err := w.Write("after", "ok"); err != nil {
		t.Fatalf("Write after ErrTooLarge: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	equalPairs(t, got, []kv{{"after", "ok"}})
}

// TestReaderMemory measures what an open Reader holds once it has read a
// record, since a reduce keeps one open per map task. The budget is what
// doc.go promises.
func TestReaderMemory(t *testing.T) {
	const open = 200
	rng := rand.New(rand.NewSource(4))
	pairs := wordRun(rng, 100000, false)
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			data := encode(t, c, pairs)
			readers := make([]*Reader, open)
			before := heapAlloc()
			for i := range readers {
				readers[i] = NewReader(bytes.NewReader(data))
				if _, _, err := readers[i].Next(); err != nil {
					t.Fatal(err)
				}
			}
			per := (heapAlloc() - before) / open
			for _, r := range readers {
				r.Close()
			}
			t.Logf("%v: %d KiB per open Reader", c, per>>10)
			budget := int64(256 << 10)
			if c == defaultCodec {
				budget = 128 << 10 // doc.go says about 90 KiB
			}
			if per > budget {
				t.Errorf("%v: %d bytes per open Reader, budget %d", c, per, budget)
			}
		})
	}
}

func TestWriterMemory(t *testing.T) {
	const open = 100
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			writers := make([]*Writer, open)
			before := heapAlloc()
			for i := range writers {
				writers[i] = newWriter(io.Discard, c)
				if err := writers[i].Write("k", "v"); err != nil {
					t.Fatal(err)
				}
			}
			per := (heapAlloc() - before) / open
			for _, w := range writers {
				w.Close()
			}
			t.Logf("%v: %d KiB per open Writer", c, per>>10)
		})
	}
}

// heapAlloc returns live heap bytes, after emptying the encoder and
// decoder pools so they are not counted as reused.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// lowerMaxRepeat makes repeats short for the test, so that it can pass
// the limit quickly.
func lowerMaxRepeat(t *testing.T) {
	old := maxRepeat
	maxRepeat = 1000
	t.Cleanup(func() { maxRepeat = old })
}

// WriteN writes the same bytes as as many calls of Write.
func TestWriteN(t *testing.T) {
	lowerMaxRepeat(t)
	rng := rand.New(rand.NewSource(8))
	var pairs []kv
	var counts []int
	for range 200 {
		pairs = append(pairs, kv{randBytes(rng, rng.Intn(70)), randBytes(rng, rng.Intn(3)*rng.Intn(150))})
		counts = append(counts, []int{0, 1, 2, 100, int(maxRepeat) - 1, 3*int(maxRepeat) + 3}[rng.Intn(6)])
	}
	var one, many bytes.Buffer
	w1, wn := newWriter(&one, codecS2), newWriter(&many, codecS2)
	var want []kv
	for i, p := range pairs {
		for range counts[i] {
			if err := w1.Write(p.k, p.v); err != nil {
				t.Fatal(err)
			}
			want = append(want, p)
		}
		if err := wn.WriteN(p.k, p.v, counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wn.Close(); err != nil {
		t.Fatal(err)
	}
	if w1.Pairs() != wn.Pairs() || !bytes.Equal(one.Bytes(), many.Bytes()) {
		t.Fatalf("WriteN: %d pairs in %d bytes; Write: %d pairs in %d bytes", wn.Pairs(), many.Len(), w1.Pairs(), one.Len())
	}
	got, err := decode(bytes.NewReader(many.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	equalPairs(t, got, want)
}
