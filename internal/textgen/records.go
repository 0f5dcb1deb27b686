package textgen

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
)

// Record layout, in the spirit of the sort benchmark's 100-byte records but
// as text lines, so that line-based tools (GNU sort, mr's line-aligned
// splits) handle them as they are.
const (
	// RecordSize is the length of a record, its newline included.
	RecordSize = 100
	// KeySize is the length of a record's key, its first field.
	KeySize = 10
	// PayloadSize is the length of the payload after the key and a space.
	PayloadSize = RecordSize - KeySize - 2
)

// WriteRecords writes size/RecordSize whole records for seed to w; a size
// that is not a multiple of RecordSize is rounded down. A record is KeySize
// bytes of key drawn uniformly from '!'..'~' (printable, no space), one
// space, PayloadSize bytes drawn uniformly from ' '..'~' and '\n'. So a key
// is the record's first space-separated field, and byte order of whole
// lines is byte order of keys with the payload as a tie-break. With 94^10
// possible keys, keys repeat only in outputs far larger than a disk.
//
// The same size and seed always give the same bytes, and a shorter output
// is a prefix of a longer one. WriteRecords returns the first error from w,
// or an error for a negative size; it buffers internally, so w need not be
// buffered.
func WriteRecords(w io.Writer, size int64, seed int64) error {
	if size < 0 {
		return fmt.Errorf("textgen: negative size %d", size)
	}
	n := size / RecordSize
	const perBuf = 640 // records per write: 64000 bytes
	bw := bufio.NewWriterSize(w, 64<<10)
	r := newRNG(seed ^ 0x5eed_4ec0_4d5)
	var buf [perBuf * RecordSize]byte
	for n > 0 {
		k := min(n, perBuf)
		for i := range k {
			fillRecord((*[RecordSize]byte)(buf[i*RecordSize:]), &r)
		}
		if _, err := bw.Write(buf[:k*RecordSize]); err != nil {
			return err
		}
		n -= k
	}
	return bw.Flush()
}

// fillRecord writes one record into rec.
func fillRecord(rec *[RecordSize]byte, r *rng) {
	var key [16]byte
	digits((*[8]byte)(key[:]), r.next(), '!', 94)
	digits((*[8]byte)(key[8:]), r.next(), '!', 94)
	copy(rec[:KeySize], key[:KeySize])
	rec[KeySize] = ' '
	for j := KeySize + 1; j < RecordSize-1; j += 8 {
		digits((*[8]byte)(rec[j:]), r.next(), ' ', 95)
	}
	rec[RecordSize-1] = '\n'
}

// digits turns the random x into 8 bytes in lo..lo+span-1: the base-span
// digits of the fraction x/2^64, each step multiplying the fraction by span
// and taking the integer part. They are exactly the digits of
// floor(x*span^8/2^64), and for span <= 95 the 2^64 values of x fall
// evenly, to within one, on the span^8 < 2^53 outcomes: each is taken by
// about 2800 values or more, so every digit is uniform to within one part
// in 2800, at one multiply a byte.
func digits(out *[8]byte, x uint64, lo byte, span uint64) {
	for i := range out {
		hi, rest := bits.Mul64(x, span)
		out[i] = lo + byte(hi)
		x = rest
	}
}
