package codec

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// codec names the compression inside a run. It is stored in the run header,
// so a Reader opens runs of either kind. NewWriter always writes
// defaultCodec; the other stays readable and writable so the benchmarks can
// keep comparing the two on the same code path (see doc.go).
type codec byte

const (
	codecS2   codec = 's'
	codecZstd codec = 'z'
)

// defaultCodec is the codec NewWriter writes. doc.go has the measurements
// behind the choice.
const defaultCodec = codecS2

// blockSize bounds the uncompressed bytes either codec works on at once: the
// s2 block size and the zstd window. It is the main term in the memory an
// open Reader holds, and a reduce task may hold hundreds of Readers open, so
// it is far below both libraries' defaults (s2: 1 MiB blocks, decoders
// sized for 4 MiB; zstd: windows of several MiB). Sorted runs compress
// mostly from neighbouring records, so a larger window buys little; see
// doc.go.
const blockSize = 32 << 10

func (c codec) String() string {
	switch c {
	case codecS2:
		return "s2"
	case codecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%#x)", byte(c))
}

func (c codec) valid() bool { return c == codecS2 || c == codecZstd }

// compressor is the part of s2.Writer and zstd.Encoder a Writer uses.
type compressor interface {
	io.Writer
	// Close finishes the stream. It does not close the io.Writer.
	Close() error
	Reset(w io.Writer)
}

// decompressor is the part of s2.Reader and zstd.Decoder a Reader uses.
type decompressor interface {
	io.Reader
	Reset(r io.Reader) error
}

// s2Reader gives s2.Reader the Reset signature of zstd.Decoder, and puts
// s2Frames in front of it.
type s2Reader struct {
	*s2.Reader
	frames *s2Frames
}

func (r s2Reader) Reset(src io.Reader) error {
	*r.frames = s2Frames{r: src}
	r.Reader.Reset(r.frames)
	return nil
}

// s2Frames passes an s2 framed stream through to the decoder, checking
// each chunk's type as it goes by: the stream identifier first, then only
// compressed and stored data chunks, which is all a Writer makes.
//
// It closes the one hole in s2's own integrity checks. The decoder checks
// the CRC-32C of every data chunk before it hands out a byte of it, but it
// silently skips padding and "skippable" chunks (types 0x80 to 0xfe), so
// one flipped bit in a chunk's type (0x00 to 0x80) would drop a whole
// block. The trailer's record count catches that at the end of the run,
// but only after records spliced from the blocks on either side have been
// handed out. With the types checked, a Reader returns only records from
// blocks that passed their CRC, in order, and every damaged byte is an
// ErrCorrupt before any record it could have changed.
type s2Frames struct {
	r      io.Reader
	hdr    [4]byte // the chunk header being read
	nhdr   int     // bytes of hdr read
	body   int     // bytes of the current chunk's body still to pass
	chunks int     // chunk headers seen
}

func (f *s2Frames) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	for i := 0; i < n; {
		if f.body > 0 {
			k := min(f.body, n-i)
			f.body -= k
			i += k
			continue
		}
		f.hdr[f.nhdr] = p[i]
		f.nhdr++
		i++
		if f.nhdr < len(f.hdr) {
			continue
		}
		f.nhdr = 0
		f.chunks++
		typ := f.hdr[0]
		if ok := typ == s2StreamID && f.chunks == 1 || (typ == s2Compressed || typ == s2Stored) && f.chunks > 1; !ok {
			return 0, fmt.Errorf("s2 chunk %d has type %#x", f.chunks, typ) // decodeErr makes it ErrCorrupt
		}
		f.body = int(f.hdr[1]) | int(f.hdr[2])<<8 | int(f.hdr[3])<<16
	}
	return n, err
}

// The s2 chunk types a Writer makes, from the framing format
// (github.com/google/snappy, framing_format.txt).
const (
	s2Compressed byte = 0x00
	s2Stored     byte = 0x01
	s2StreamID   byte = 0xff
)

// Encoders and decoders allocate their buffers when made, so they are
// pooled: a worker writes and reads many runs over its life, and each would
// otherwise pay for fresh tables and buffers. Pooling does not reduce what
// a set of simultaneously open Readers holds; blockSize does that.
var (
	s2Writers, zstdWriters sync.Pool // of compressor
	s2Readers, zstdReaders sync.Pool // of decompressor
)

func newCompressor(c codec, w io.Writer) compressor {
	switch c {
	case codecS2:
		if cw, ok := s2Writers.Get().(compressor); ok {
			cw.Reset(w)
			return cw
		}
		// Concurrency 1 makes s2 compress in the calling goroutine: a map
		// task writes its runs one after another on a 2-core machine, and
		// async blocks would only add goroutines and buffers per Writer.
		return s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(blockSize))
	case codecZstd:
		if cw, ok := zstdWriters.Get().(compressor); ok {
			cw.Reset(w)
			return cw
		}
		enc, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(blockSize),
			zstd.WithLowerEncoderMem(true),
			// SpeedFastest stores a block raw when it finds no matches,
			// but a combined run of distinct sorted words has few 4-byte
			// matches and still halves under Huffman coding of literals.
			zstd.WithAllLitEntropyCompression(true))
		if err != nil {
			// The options are constants; an error is a bug here, not input.
			panic("codec: zstd encoder options: " + err.Error())
		}
		return enc
	}
	panic("codec: no compressor for " + c.String())
}

func freeCompressor(c codec, cw compressor) {
	cw.Reset(nil) // drop the reference to the caller's io.Writer
	switch c {
	case codecS2:
		s2Writers.Put(cw)
	case codecZstd:
		zstdWriters.Put(cw)
	}
}

func newDecompressor(c codec, r io.Reader) (decompressor, error) {
	switch c {
	case codecS2:
		if d, ok := s2Readers.Get().(decompressor); ok {
			return d, d.Reset(r)
		}
		// ReaderMaxBlockSize both refuses blocks larger than a Writer makes
		// and keeps the s2 buffers at blockSize instead of 4 MiB. The CRC
		// checks stay on (no ReaderIgnoreCRC): integrity rests on them.
		f := &s2Frames{r: r}
		return s2Reader{s2.NewReader(f, s2.ReaderMaxBlockSize(blockSize)), f}, nil
	case codecZstd:
		if d, ok := zstdReaders.Get().(decompressor); ok {
			return d, d.Reset(r)
		}
		// Concurrency 1 decodes synchronously in Read, with no goroutines
		// to stop; the window cap refuses streams that would need more
		// history than a Writer ever uses. The frame checksum, which the
		// encoder writes by default, is verified (no WithIgnoreChecksum)
		// when the Reader reads to the end of the frame.
		return zstd.NewReader(r,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(blockSize))
	}
	panic("codec: no decompressor for " + c.String())
}

func freeDecompressor(c codec, d decompressor) {
	_ = d.Reset(nil) // drop the reference to the caller's io.Reader
	switch c {
	case codecS2:
		s2Readers.Put(d)
	case codecZstd:
		zstdReaders.Put(d)
	}
}
