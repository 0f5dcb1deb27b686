package shuffle

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"gomr.dev/internal/codec"
)

// A map output file ends with its partition index, so that the master
// need not hold one: at the paper's scale, 200,000 map tasks times 5,000
// partitions, the indexes would be 8 GB. A reducer, or the shuffle server
// serving it, reads just the two entries that bound its partition.
//
// The index is nPart+1 entries, then a footer:
//
//	entry:  offset uint64, CRC-32C(offset, p uint32)   12 bytes each
//	footer: nPart uint32, start uint64, CRC-32C(nPart, start), "MRIX"
//
// all little-endian, where start is where the first entry is (the runs'
// end). Each entry carries its own checksum because a reader reads two
// of them, not the whole index; a damaged one is codec.ErrCorrupt, as a
// damaged run is.
const (
	entrySize  = 12
	footerSize = 20
	indexMagic = "MRIX"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendIndex appends the index of runs whose offsets are index (nPart+1
// of them, the last being where the runs end) and the footer to b.
func appendIndex(b []byte, index []int64) []byte {
	var p4 [4]byte
	for p, off := range index {
		start := len(b)
		b = binary.LittleEndian.AppendUint64(b, uint64(off))
		binary.LittleEndian.PutUint32(p4[:], uint32(p))
		sum := crc32.Update(crc32.Checksum(b[start:], castagnoli), castagnoli, p4[:])
		b = binary.LittleEndian.AppendUint32(b, sum)
	}
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(index)-1))
	b = binary.LittleEndian.AppendUint64(b, uint64(index[len(index)-1]))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
	return append(b, indexMagic...)
}

// IndexedFile is a map output file open for reading its partitions.
type IndexedFile struct {
	r     io.ReaderAt
	nPart int
	start int64 // where the runs end and the index begins
}

// ReadIndex reads the footer of a map output of size bytes with nPart
// partitions. A file too short, with no footer, or for another partition
// count is codec.ErrCorrupt.
func ReadIndex(r io.ReaderAt, size int64, nPart int) (*IndexedFile, error) {
	var f [footerSize]byte
	if size < footerSize+entrySize*int64(nPart+1) {
		return nil, fmt.Errorf("%w: map output of %d bytes is too short to hold its index", codec.ErrCorrupt, size)
	}
	if _, err := r.ReadAt(f[:], size-footerSize); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(f[0:]))
	start := int64(binary.LittleEndian.Uint64(f[4:]))
	switch {
	case string(f[16:]) != indexMagic || binary.LittleEndian.Uint32(f[12:]) != crc32.Checksum(f[:12], castagnoli):
		return nil, fmt.Errorf("%w: map output has no valid index footer", codec.ErrCorrupt)
	case n != nPart:
		return nil, fmt.Errorf("%w: map output has %d partitions, not %d", codec.ErrCorrupt, n, nPart)
	case start+entrySize*int64(nPart+1)+footerSize != size:
		return nil, fmt.Errorf("%w: map output's index does not fit its size", codec.ErrCorrupt)
	}
	return &IndexedFile{r: r, nPart: nPart, start: start}, nil
}

// Partition returns where partition p's run lies: n bytes from off.
func (f *IndexedFile) Partition(p int) (off, n int64, err error) {
	if p < 0 || p >= f.nPart {
		return 0, 0, fmt.Errorf("partition %d of %d", p, f.nPart)
	}
	var e [2 * entrySize]byte
	if _, err := f.r.ReadAt(e[:], f.start+entrySize*int64(p)); err != nil {
		return 0, 0, err
	}
	var offs [2]int64
	var p4 [4]byte
	for i := range offs {
		entry := e[i*entrySize:]
		binary.LittleEndian.PutUint32(p4[:], uint32(p+i))
		sum := crc32.Update(crc32.Checksum(entry[:8], castagnoli), castagnoli, p4[:])
		if sum != binary.LittleEndian.Uint32(entry[8:]) {
			return 0, 0, fmt.Errorf("%w: map output's index entry %d fails its checksum", codec.ErrCorrupt, p+i)
		}
		offs[i] = int64(binary.LittleEndian.Uint64(entry))
	}
	if offs[0] < 0 || offs[1] < offs[0] || offs[1] > f.start {
		return 0, 0, fmt.Errorf("%w: map output's index puts partition %d at %d to %d", codec.ErrCorrupt, p, offs[0], offs[1])
	}
	return offs[0], offs[1] - offs[0], nil
}

// PartitionOf finds partition p of the map output at path, with nPart
// partitions, as a segment of map task id. A file that is gone or whose
// index is damaged gives a *SegmentError.
func PartitionOf(path string, id, nPart, p int) (Segment, error) {
	seg := Segment{Path: path, Map: id}
	f, err := os.Open(path)
	if err != nil {
		return seg, &SegmentError{Segment: seg, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return seg, err
	}
	ix, err := ReadIndex(f, fi.Size(), nPart)
	if err == nil {
		seg.Offset, seg.Length, err = ix.Partition(p)
	}
	if err != nil && damaged(err) {
		return seg, &SegmentError{Segment: seg, Err: err}
	}
	return seg, err
}

// CheckIndex reports whether the file at path is a whole map output with
// nPart partitions: it exists and ends with a valid index footer.
func CheckIndex(path string, nPart int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = ReadIndex(f, fi.Size(), nPart)
	return err
}
