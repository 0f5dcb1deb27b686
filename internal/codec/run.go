package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxRecord is the largest record, len(key)+len(value), a run may hold. A
// Writer refuses larger records, and a Reader treats a larger length as
// corruption rather than trusting it with an allocation.
const MaxRecord = 1 << 30

var (
	// ErrCorrupt is wrapped by every error a Reader returns for bytes that
	// are not a complete, well-formed run: a wrong header, a bad length, a
	// checksum failure, or a stream that ends early.
	ErrCorrupt = errors.New("codec: corrupt run")
	// ErrTooLarge is returned by Writer.Write for a record over MaxRecord.
	ErrTooLarge = errors.New("codec: record too large")
	// ErrClosed is returned by calls on a closed Writer or Reader.
	ErrClosed = errors.New("codec: run closed")
)

// A run starts with this header, outside the compressed stream, so that a
// Reader can reject a file that is not a run before it feeds a single byte
// to a decompressor, and can pick the decompressor from the header.
const (
	magic         = "gomr-run"
	formatVersion = 2
	headerLen     = len(magic) + 2 // magic, version, codec
)

// Record framing inside the compressed stream:
//
//	record:  uvarint(2*(len(key)+1)) key uvarint(len(value)) value
//	repeat:  uvarint(2*n-1)    the record before it, n more times
//	trailer: 0x00 uvarint(number of records, repeats counted)
//
// A repeat frames the runs of equal records that a job without a Combine
// writes (a lab word count's (word, "1") pairs): the Writer frames them
// itself, and a Reader hands the record back n more times without
// decoding anything. Only a record of at most maxHeld bytes is repeated,
// and n is at most maxRepeat, so a Reader keeps a small copy and a bogus
// count costs little.
//
// The key length is shifted by one so that a zero can end the run. Without
// an explicit end, an s2 stream cut at a block boundary, or a zstd stream
// holding only a header, decodes cleanly as a shorter run, and a shuffle
// would silently lose pairs. The count in the trailer catches dropped or
// duplicated blocks as well.

const (
	writeBufSize = 16 << 10 // records are batched to this before compressing
	readBufSize  = 16 << 10 // initial Reader buffer
	// maxIdleBuf is the largest buffer a Reader keeps after the record
	// that needed it has been passed: one huge value should not leave
	// every later Next holding a huge buffer.
	maxIdleBuf = 256 << 10
	// maxHeld bounds len(key)+len(value) of a record that a repeat may
	// follow.
	maxHeld = 256
)

// maxRepeat bounds the n of one repeat: enough for the most frequent word
// of a 64 MiB split in one repeat, so that a reduce can size its values at
// once (see Merger.AppendValues). A variable only so that tests can
// lower it.
var maxRepeat uint64 = 1 << 24

// Writer writes one run: a compressed stream of (key, value) records in the
// order given. It does not sort. A Writer is not safe for concurrent use.
//
// Writes are batched, so an error from the underlying io.Writer may surface
// on a later Write or on Close. After such an error the run is unusable and
// every later call returns the same error.
type Writer struct {
	dst    countWriter
	codec  codec
	cw     compressor // nil once closed
	buf    []byte     // encoded records not yet given to cw
	header bool       // the header has been written to dst
	pairs  int64
	// prev is where the last record starts in buf, if it is there, ends
	// buf and has one-byte lengths; else -1. rep counts copies of it
	// written since and not yet framed.
	prev   int
	rep    uint64
	err    error // sticky: the first write failure, or ErrClosed
	closed bool
	close  error // what the first Close returned
}

// NewWriter returns a Writer that writes a run to w. Nothing is written to
// w until the first batch of records is full or Close is called.
func NewWriter(w io.Writer) *Writer {
	return newWriter(w, defaultCodec)
}

func newWriter(w io.Writer, c codec) *Writer {
	wr := &Writer{codec: c, buf: make([]byte, 0, writeBufSize), prev: -1}
	wr.dst.w = w
	wr.cw = newCompressor(c, &wr.dst)
	return wr
}

// Write appends the record (key, value) to the run. It returns ErrTooLarge,
// leaving the run intact, for a record over MaxRecord.
func (w *Writer) Write(key, value string) error {
	return writeRecord(w, key, value)
}

// WriteN appends n copies of the record (key, value) to the run, as n
// calls of Write would, but at the cost of one when they can be framed as
// a repeat.
func (w *Writer) WriteN(key, value string, n int) error {
	for n > 0 {
		if err := w.Write(key, value); err != nil {
			return err
		}
		n--
		if w.prev < 0 {
			continue // not a record that repeats
		}
		take := min(uint64(n), maxRepeat-w.rep)
		w.rep += take
		w.pairs += int64(take)
		n -= int(take)
		if w.rep == maxRepeat {
			if err := w.putRepeat(); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteBytes is Write for byte slices, so callers holding bytes need not
// convert them. The slices are not retained.
func (w *Writer) WriteBytes(key, value []byte) error {
	return writeRecord(w, key, value)
}

func writeRecord[T string | []byte](w *Writer, key, value T) error {
	if w.err != nil {
		return w.err
	}
	if len(key)+len(value) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(key)+len(value))
	}
	// Fast path, nearly every word-count record: one-byte lengths. Only
	// such a record is repeated, when it is the last thing in the batch.
	if len(key) < 0x3f && len(value) < 0x80 {
		size := 2 + len(key) + len(value)
		if n := len(w.buf); w.prev >= 0 && n-w.prev == size {
			enc := w.buf[w.prev:n]
			if enc[0] == byte(2*(len(key)+1)) && enc[1+len(key)] == byte(len(value)) &&
				string(enc[1:1+len(key)]) == string(key) && string(enc[2+len(key):]) == string(value) {
				w.pairs++
				if w.rep++; w.rep == maxRepeat {
					return w.putRepeat()
				}
				return nil
			}
		}
		if w.rep > 0 {
			if err := w.putRepeat(); err != nil {
				return err
			}
		}
		if len(w.buf)+size > cap(w.buf) {
			if err := w.flush(); err != nil {
				return err
			}
		}
		n := len(w.buf)
		b := w.buf[:n+size]
		b[n] = byte(2 * (len(key) + 1))
		m := n + 1 + copy(b[n+1:], key)
		b[m] = byte(len(value))
		copy(b[m+1:], value)
		w.buf = b
		w.prev = n
		w.pairs++
		return nil
	}
	if w.rep > 0 {
		if err := w.putRepeat(); err != nil {
			return err
		}
	}
	w.prev = -1
	if len(w.buf)+len(key)+len(value)+2*binary.MaxVarintLen64 <= cap(w.buf) {
		// The whole record fits in the batch.
		w.buf = binary.AppendUvarint(w.buf, 2*(uint64(len(key))+1))
		w.buf = append(w.buf, key...)
		w.buf = binary.AppendUvarint(w.buf, uint64(len(value)))
		w.buf = append(w.buf, value...)
		w.pairs++
		return nil
	}
	if err := w.putUvarint(2 * (uint64(len(key)) + 1)); err != nil {
		return err
	}
	if err := put(w, key); err != nil {
		return err
	}
	if err := w.putUvarint(uint64(len(value))); err != nil {
		return err
	}
	if err := put(w, value); err != nil {
		return err
	}
	w.pairs++
	return nil
}

// putRepeat frames the copies of the last record written since it.
func (w *Writer) putRepeat() error {
	n := w.rep
	w.rep, w.prev = 0, -1
	return w.putUvarint(2*n - 1)
}

func (w *Writer) putUvarint(v uint64) error {
	if cap(w.buf)-len(w.buf) < binary.MaxVarintLen64 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.buf = binary.AppendUvarint(w.buf, v)
	return nil
}

// put copies p into the batch, compressing each time the batch fills, so a
// large value costs one copy and no allocation.
func put[T string | []byte](w *Writer, p T) error {
	for len(p) > 0 {
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return err
			}
		}
		n := min(len(p), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		p = p[n:]
	}
	return nil
}

// flush hands the batch to the compressor, writing the header first if
// this is the first batch.
func (w *Writer) flush() error {
	if !w.header {
		w.header = true
		hdr := [headerLen]byte{}
		copy(hdr[:], magic)
		hdr[len(magic)] = formatVersion
		hdr[len(magic)+1] = byte(w.codec)
		if _, err := w.dst.Write(hdr[:]); err != nil {
			return w.fail(err)
		}
	}
	if _, err := w.cw.Write(w.buf); err != nil {
		return w.fail(err)
	}
	w.buf, w.prev = w.buf[:0], -1
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("codec: write run: %w", err)
	return w.err
}

// Close writes the trailer and finishes the compressed stream. It does not
// close the underlying io.Writer. Close also returns the compressor to a
// pool, so call it even after a failed Write; a second call returns what
// the first returned.
func (w *Writer) Close() error {
	if w.closed {
		return w.close
	}
	w.closed = true
	err := w.err
	if err == nil && w.rep > 0 {
		err = w.putRepeat()
	}
	if err == nil {
		if cap(w.buf)-len(w.buf) < 1+binary.MaxVarintLen64 {
			err = w.flush()
		}
	}
	if err == nil {
		w.buf = append(w.buf, 0)
		w.buf = binary.AppendUvarint(w.buf, uint64(w.pairs))
		err = w.flush()
	}
	if err == nil {
		if cerr := w.cw.Close(); cerr != nil {
			err = w.fail(cerr)
		}
	}
	freeCompressor(w.codec, w.cw)
	w.cw, w.buf = nil, nil
	w.err, w.close = ErrClosed, err
	return err
}

// Pairs returns the number of records written so far.
func (w *Writer) Pairs() int64 { return w.pairs }

// Size returns the bytes written to the underlying io.Writer so far: the
// size of the run once Close has returned.
func (w *Writer) Size() int64 { return w.dst.n }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Reader reads a run written by Writer. A Reader is not safe for concurrent
// use. It reads the underlying io.Reader about twice per compressed block,
// a block header and a body, so a file needs no bufio.Reader in front.
type Reader struct {
	src      srcReader
	codec    codec
	dec      decompressor // nil until the header has been read, and after Close
	buf      []byte       // decompressed bytes; buf[pos:end] are unread
	pos, end int
	decEOF   bool  // dec has returned io.EOF
	inflated int64 // bytes dec has produced; bounds buf (see fill)
	pairs    int64 // records returned, checked against the trailer
	// last is the record most recently returned, when a repeat may
	// follow it (it has at most maxHeld bytes): key lastKey, value
	// lastValue, in buf or, once fill has moved buf's bytes, in held.
	// rep counts the copies of it still to return.
	last               bool
	lastKey, lastValue []byte
	held               []byte
	rep                uint64
	err                error // sticky: io.EOF after the trailer, the first failure, or ErrClosed
}

// NewReader returns a Reader of the run in r. Nothing is read from r until
// the first call to Next.
func NewReader(r io.Reader) *Reader {
	return &Reader{src: srcReader{r: r}}
}

// Next returns the next record. key and value alias the Reader's buffer:
// they are valid only until the next call to Next or Close, and must not
// be modified.
//
// At the end of a complete run Next returns io.EOF. A run that is
// truncated, corrupt, or not a run at all gives an error wrapping
// ErrCorrupt; a failure of the underlying io.Reader is returned wrapped, not
// as ErrCorrupt. Errors are sticky.
func (r *Reader) Next() (key, value []byte, err error) {
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.rep > 0 {
		r.rep--
		r.pairs++
		return r.lastKey, r.lastValue, nil
	}
	if r.dec == nil {
		if err := r.open(); err != nil {
			r.err = err
			return nil, nil, err
		}
	}
	// Fast path: both lengths fit in one byte and the record is buffered.
	// It covers nearly every record of a word-count run.
	if b := r.buf[r.pos:r.end]; len(b) > 1 && b[0] < 0x80 && b[0]&1 == 0 && b[0] != 0 {
		kend := int(b[0] >> 1) // 1 + len(key)
		if kend < len(b) && b[kend] < 0x80 {
			if vend := kend + 1 + int(b[kend]); vend <= len(b) {
				r.pos += vend
				r.pairs++
				key, value = b[1:kend:kend], b[kend+1:vend:vend]
				r.last, r.lastKey, r.lastValue = vend-2 <= maxHeld, key, value
				r.peekRepeat()
				return key, value, nil
			}
		}
	}
	key, value, err = r.next()
	if err != nil {
		r.err = err
	}
	return key, value, err
}

func (r *Reader) open() error {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(&r.src, hdr[:]); err != nil {
		if r.src.err != nil {
			return fmt.Errorf("codec: read run: %w", r.src.err)
		}
		return fmt.Errorf("%w: not a run: %d-byte file", ErrCorrupt, r.src.n)
	}
	if string(hdr[:len(magic)]) != magic {
		return fmt.Errorf("%w: not a run: bad magic %q", ErrCorrupt, hdr[:len(magic)])
	}
	if v := hdr[len(magic)]; v != formatVersion {
		return fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, v, formatVersion)
	}
	c := codec(hdr[len(magic)+1])
	if !c.valid() {
		return fmt.Errorf("%w: unknown codec %#x", ErrCorrupt, byte(c))
	}
	dec, err := newDecompressor(c, &r.src)
	if err != nil {
		return fmt.Errorf("codec: open %v decoder: %w", c, err)
	}
	r.codec, r.dec = c, dec
	r.buf = make([]byte, readBufSize)
	return nil
}

func (r *Reader) next() (key, value []byte, err error) {
	if len(r.buf) > maxIdleBuf && r.end-r.pos <= readBufSize {
		// The previous record needed a big buffer and has been passed.
		small := make([]byte, readBufSize)
		r.end = copy(small, r.buf[r.pos:r.end])
		r.buf, r.pos = small, 0
	}
	// Offsets are relative to r.pos, which fill may move.
	u, off, err := r.uvarint(0)
	if err != nil {
		return nil, nil, err
	}
	if u == 0 {
		return nil, nil, r.trailer(off)
	}
	if u&1 == 1 {
		n := u/2 + 1
		if !r.last {
			return nil, nil, corrupt("repeat of no record")
		}
		if n > maxRepeat {
			return nil, nil, corrupt("repeat count %d over limit", n)
		}
		r.pos += off
		r.rep = n - 1
		r.pairs++
		return r.lastKey, r.lastValue, nil
	}
	klen := u/2 - 1
	if klen > MaxRecord {
		return nil, nil, corrupt("key length %d over limit", klen)
	}
	koff := off
	if err := r.fill(koff + int(klen)); err != nil {
		return nil, nil, err
	}
	vlen, n, err := r.uvarint(koff + int(klen))
	if err != nil {
		return nil, nil, err
	}
	if vlen > MaxRecord-klen {
		return nil, nil, corrupt("record length %d+%d over limit", klen, vlen)
	}
	voff := koff + int(klen) + n
	vend := voff + int(vlen)
	if err := r.fill(vend); err != nil {
		return nil, nil, err
	}
	b := r.buf[r.pos:]
	key = b[koff : koff+int(klen) : koff+int(klen)]
	value = b[voff:vend:vend]
	r.pos += vend
	r.pairs++
	r.last, r.lastKey, r.lastValue = klen+vlen <= maxHeld, key, value
	r.peekRepeat()
	return key, value, nil
}

// uvarint decodes the uvarint at offset off from r.pos, returning it and
// its length.
func (r *Reader) uvarint(off int) (v uint64, n int, err error) {
	for {
		v, n := binary.Uvarint(r.buf[r.pos+off : r.end])
		if n > 0 {
			return v, n, nil
		}
		if n < 0 {
			return 0, 0, corrupt("length overflows 64 bits")
		}
		// Incomplete: at most MaxVarintLen64 bytes are ever wanted, since
		// Uvarint gives n < 0 past that.
		if err := r.fill(r.end - r.pos + 1); err != nil {
			return 0, 0, err
		}
	}
}

// fill makes at least want bytes available at r.buf[r.pos:], failing with
// ErrCorrupt if the stream ends first.
//
// The buffer grows only by doubling once it is full of decompressed bytes,
// never to want itself, so a bogus length costs at most twice the bytes the
// stream really holds: cap(r.buf) <= max(readBufSize, 2*r.inflated).
func (r *Reader) fill(want int) error {
	stalls := 0
	for r.end-r.pos < want {
		if r.decEOF {
			return corrupt("%v", io.ErrUnexpectedEOF)
		}
		if r.end == len(r.buf) {
			if r.pos > 0 {
				r.hold()
				r.end = copy(r.buf, r.buf[r.pos:r.end])
				r.pos = 0
			} else {
				grown := make([]byte, 2*len(r.buf))
				copy(grown, r.buf[:r.end])
				r.buf = grown
			}
		}
		n, err := r.dec.Read(r.buf[r.end:])
		r.end += n
		r.inflated += int64(n)
		switch {
		case err == io.EOF:
			r.decEOF = true
		case err != nil:
			return r.decodeErr(err)
		case n == 0:
			if stalls++; stalls > 100 {
				return fmt.Errorf("codec: read run: %w", io.ErrNoProgress)
			}
		}
	}
	return nil
}

// peekRepeat takes the repeat that follows the record just returned, if
// it is in the buffer already, so that r.rep counts the copies still to
// come. That lets a Merger know how many values a key has before it
// gathers them (see Merger.AppendValues). Anything wrong with the repeat
// is left for next to report.
func (r *Reader) peekRepeat() {
	if !r.last || r.pos >= r.end || r.buf[r.pos]&1 == 0 {
		return
	}
	if u, n := binary.Uvarint(r.buf[r.pos:r.end]); n > 0 && u/2+1 <= maxRepeat {
		r.pos += n
		r.rep = u/2 + 1
	}
}

// takeRepeat consumes one more copy of the record Next last returned, if
// one is due, and reports whether it did. That record's slices stay valid.
func (r *Reader) takeRepeat() bool {
	if r.rep == 0 || r.err != nil {
		return false
	}
	r.rep--
	r.pairs++
	return true
}

// takeRepeats consumes every copy due of the record Next last returned
// and returns how many there were.
func (r *Reader) takeRepeats() uint64 {
	if r.err != nil {
		return 0
	}
	n := r.rep
	r.pairs += int64(n)
	r.rep = 0
	return n
}

// hold copies the last record out of buf, before buf's bytes move, in
// case a repeat of it follows.
func (r *Reader) hold() {
	if !r.last {
		return
	}
	k := len(r.lastKey)
	r.held = append(append(r.held[:0], r.lastKey...), r.lastValue...)
	r.lastKey, r.lastValue = r.held[:k:k], r.held[k:]
}

// trailer checks the end of the run: the record count after the zero at
// r.pos+off-1, then nothing more in the stream. Reading to the
// decompressor's EOF also makes zstd verify its frame checksum.
func (r *Reader) trailer(off int) error {
	count, n, err := r.uvarint(off)
	if err != nil {
		return err
	}
	if count != uint64(r.pairs) {
		return corrupt("trailer counts %d records, read %d", count, r.pairs)
	}
	r.pos += off + n
	if r.pos < r.end {
		return corrupt("%d bytes after trailer", r.end-r.pos)
	}
	for stalls := 0; !r.decEOF; {
		n, err := r.dec.Read(r.buf[:cap(r.buf)])
		if n > 0 {
			return corrupt("data after trailer")
		}
		switch {
		case err == io.EOF:
			r.decEOF = true
		case err != nil:
			return r.decodeErr(err)
		default:
			if stalls++; stalls > 100 {
				return fmt.Errorf("codec: read run: %w", io.ErrNoProgress)
			}
		}
	}
	return io.EOF
}

// decodeErr classifies a decompressor error: the underlying reader's own
// failure is an I/O error, anything else means the bytes are bad.
func (r *Reader) decodeErr(err error) error {
	if r.src.err != nil {
		return fmt.Errorf("codec: read run: %w", r.src.err)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// Close releases the decompressor and buffer. It does not close the
// underlying io.Reader. Slices returned by Next stay readable but are no
// longer updated. Close is safe to call more than once.
func (r *Reader) Close() error {
	if r.dec != nil {
		freeDecompressor(r.codec, r.dec)
		r.dec = nil
	}
	r.buf, r.pos, r.end = nil, 0, 0
	r.err = ErrClosed
	return nil
}

// srcReader remembers the underlying reader's first real error, so that
// decodeErr can tell a failing disk from corrupt bytes even when a
// decompressor rewraps the error, and counts bytes for messages.
type srcReader struct {
	r   io.Reader
	n   int64
	err error // first error other than io.EOF
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}
