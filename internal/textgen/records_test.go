package textgen

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func genRecords(t testing.TB, size, seed int64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteRecords(&b, size, seed); err != nil {
		t.Fatalf("WriteRecords(%d, %d): %v", size, seed, err)
	}
	return b.Bytes()
}

func TestRecordsShape(t *testing.T) {
	for _, size := range []int64{0, 1, 99, 100, 101, 199, 12345, 64000, 64100, 1 << 20} {
		out := genRecords(t, size, 3)
		if want := size / RecordSize * RecordSize; int64(len(out)) != want {
			t.Fatalf("size %d: wrote %d bytes, want %d", size, len(out), want)
		}
		for i := 0; i < len(out); i += RecordSize {
			checkRecord(t, i/RecordSize, out[i:i+RecordSize])
		}
	}
}

func checkRecord(t *testing.T, n int, rec []byte) {
	t.Helper()
	for i, c := range rec {
		var ok bool
		switch {
		case i < KeySize:
			ok = '!' <= c && c <= '~'
		case i == KeySize:
			ok = c == ' '
		case i < RecordSize-1:
			ok = ' ' <= c && c <= '~'
		default:
			ok = c == '\n'
		}
		if !ok {
			t.Fatalf("record %d: byte %d is %q: %q", n, i, c, rec)
		}
	}
}

func TestRecordsDeterministicAndPrefix(t *testing.T) {
	long := genRecords(t, 300_000, 9)
	if !bytes.Equal(long, genRecords(t, 300_000, 9)) {
		t.Fatal("two writes with the same size and seed differ")
	}
	// Sizes around the internal buffer of 640 records.
	for _, size := range []int64{100, 64000, 64100, 150_050} {
		short := genRecords(t, size, 9)
		if !bytes.Equal(short, long[:len(short)]) {
			t.Fatalf("output for size %d is not a prefix of the longer one", size)
		}
	}
}

// TestRecordsSpread checks that seeds give different records, that keys
// do not repeat, and that every allowed byte occurs in keys and payloads.
func TestRecordsSpread(t *testing.T) {
	keys := map[string]int64{}
	var keyBytes, payBytes [256]int
	for seed := int64(-2); seed < 8; seed++ {
		out := genRecords(t, 100_000, seed)
		for i := 0; i < len(out); i += RecordSize {
			k := string(out[i : i+KeySize])
			if other, ok := keys[k]; ok {
				t.Fatalf("key %q in seeds %d and %d", k, other, seed)
			}
			keys[k] = seed
			for _, c := range out[i : i+KeySize] {
				keyBytes[c]++
			}
			for _, c := range out[i+KeySize+1 : i+RecordSize-1] {
				payBytes[c]++
			}
		}
	}
	// 10000 records: 100000 key bytes, about 1064 of each of 94 values;
	// 880000 payload bytes, about 9263 of each of 95.
	for c := ' '; c <= '~'; c++ {
		if k := keyBytes[c]; c != ' ' && (k < 900 || k > 1250) {
			t.Errorf("key byte %q occurs %d times, want about 1064", c, k)
		}
		if p := payBytes[c]; p < 8500 || p > 10000 {
			t.Errorf("payload byte %q occurs %d times, want about 9263", c, p)
		}
	}
}

func TestRecordsErrors(t *testing.T) {
	if err := WriteRecords(io.Discard, -1, 1); err == nil {
		t.Fatal("negative size: no error")
	}
	boom := errors.New("boom")
	if err := WriteRecords(failWriter{boom}, 1<<20, 1); !errors.Is(err, boom) {
		t.Fatalf("failing writer: got %v, want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func BenchmarkWriteRecords(b *testing.B) {
	const size = 16 << 20
	b.SetBytes(size)
	for b.Loop() {
		if err := WriteRecords(io.Discard, size, 1); err != nil {
			b.Fatal(err)
		}
	}
}
