package format

import (
	"context"
	"fmt"
	"io"

	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// textInput is lines of text, the default: any file that no other format
// claims.
type textInput struct{}

func (textInput) Name() string           { return "" }
func (textInput) Sniff(head []byte) bool { return true }

// Plan cuts a file larger than splitSize into splits of splitSize bytes,
// the last one shorter; a reader finds the line boundaries (see Read). A
// file of at most splitSize bytes, or any file when splitSize is 0, is one
// Whole split. Columns do not apply to text and are ignored.
func (textInput) Plan(path string, n, splitSize int64, _ []string) ([]mr.Split, error) {
	if splitSize <= 0 || n <= splitSize {
		return []mr.Split{{File: path, Offset: 0, Length: n, Whole: true}}, nil
	}
	var splits []mr.Split
	for off := int64(0); off < n; off += splitSize {
		splits = append(splits, mr.Split{File: path, Offset: off, Length: min(splitSize, n-off)})
	}
	return splits, nil
}

// Read returns the lines of a split: every line that starts inside
// [Offset, Offset+Length), whole, including any part past the end. A whole
// split is read as is, whatever its size is now.
func (textInput) Read(s mr.Split) ([]byte, error) {
	f, err := store.Open(context.Background(), s.File)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.File, unwrapPath(err))
	}
	defer f.Close()
	if s.Whole {
		b, err := readWhole(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.File, err)
		}
		return b, nil
	}
	return readLines(f, s.Offset, s.Length)
}

// readLines reads the lines that start in [off, off+n) from r. A line
// starts at 0 and after every '\n'. It first finds where the line that
// straddles the end stops, then reads exactly that span once, so a split
// costs one buffer of its own size. Reading starts one byte early so that a
// split beginning exactly at a line start keeps that line.
func readLines(r io.ReaderAt, off, n int64) ([]byte, error) {
	start := off
	if off > 0 {
		start = off - 1
	}
	end, err := lineEnd(r, off+n-1)
	if err != nil {
		return nil, err
	}
	buf := alloc(int(end - start))
	if m, err := r.ReadAt(buf, start); err != nil && !(err == io.EOF && int64(m) == end-start) {
		return nil, err
	}
	if off > 0 {
		// Drop the partial line that belongs to the previous split.
		i := indexByte(buf, '\n')
		if i < 0 || start+int64(i)+1 >= off+n {
			return nil, nil // no line starts inside this split
		}
		buf = buf[i+1:]
	}
	return buf, nil
}

// lineEnd returns the offset just past the first '\n' at or after pos, or
// the end of the file if there is none.
func lineEnd(r io.ReaderAt, pos int64) (int64, error) {
	var chunk [4096]byte
	for {
		m, err := r.ReadAt(chunk[:], pos)
		if i := indexByte(chunk[:m], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(m)
		if err == io.EOF {
			return pos, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// readWhole reads f to its end into one buffer of its size when opened,
// plus room to notice that it ends there, growing only if it has grown.
func readWhole(f store.File) ([]byte, error) {
	size := 0
	if f.Size() < 1<<40 {
		size = int(f.Size())
	}
	b := alloc(size + 512)[:0]
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // it grew since Stat
		}
	}
}
