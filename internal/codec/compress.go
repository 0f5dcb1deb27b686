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

// s2Reader gives s2.Reader the Reset signature of zstd.Decoder.
type s2Reader struct{ *s2.Reader }

func (r s2Reader) Reset(src io.Reader) error {
	r.Reader.Reset(src)
	return nil
}

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
		// and keeps the s2 buffers at blockSize instead of 4 MiB.
		return s2Reader{s2.NewReader(r, s2.ReaderMaxBlockSize(blockSize))}, nil
	case codecZstd:
		if d, ok := zstdReaders.Get().(decompressor); ok {
			return d, d.Reset(r)
		}
		// Concurrency 1 decodes synchronously in Read, with no goroutines
		// to stop; the window cap refuses streams that would need more
		// history than a Writer ever uses.
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
