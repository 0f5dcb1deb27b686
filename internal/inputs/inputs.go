// Package inputs turns the INPUTS of a command line into the files of a job
// and cuts those files into map splits at line boundaries.
package inputs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gomr.dev/mr"
)

// ErrNoInputs is returned by Expand when the arguments name no file at all.
var ErrNoInputs = errors.New("no input files; pass files, directories or globs")

// Expand resolves command-line inputs to regular files, in order: a file
// stands for itself, a directory for every regular file below it (in
// lexical order), and an argument that names no path but contains glob
// characters for its matches. A missing, unreadable or non-regular input is
// an error that names it; empty files are fine.
func Expand(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		fi, err := os.Stat(arg)
		if errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(arg, "*?[") {
			matches, gerr := filepath.Glob(arg)
			if gerr != nil {
				return nil, fmt.Errorf("input %s: bad pattern: %w", arg, gerr)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("input %s: pattern matches no file", arg)
			}
			more, err := Expand(matches)
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", arg, unwrapPath(err))
		}
		switch {
		case fi.Mode().IsRegular():
			if err := readable(arg); err != nil {
				return nil, err
			}
			files = append(files, arg)
		case fi.IsDir():
			more, err := walk(arg)
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
		default:
			return nil, fmt.Errorf("input %s: not a regular file (%s)", arg, fi.Mode().Type())
		}
	}
	if len(files) == 0 {
		return nil, ErrNoInputs
	}
	return files, nil
}

// walk lists the regular files below dir. Symlinks to regular files count;
// other non-regular entries (sockets, devices, links to directories) are
// skipped, since a directory of inputs often holds such clutter.
func walk(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("input %s: %w", path, unwrapPath(err))
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".mr-") && path != dir {
				return fs.SkipDir // a job's scratch directory, never input
			}
			return nil
		}
		if !d.Type().IsRegular() {
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		}
		if err := readable(path); err != nil {
			return err
		}
		files = append(files, path)
		return nil
	})
	sort.Strings(files) // WalkDir is lexical already; keep it explicit
	return files, err
}

func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input %s: %w", path, unwrapPath(err))
	}
	return f.Close()
}

// unwrapPath drops the *PathError wrapper, whose text would repeat the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Splits cuts files into map splits of at most size bytes each; size 0
// means one split per file. It stats each file, so call it after Expand.
func Splits(files []string, size int64) ([]mr.Split, error) {
	var splits []mr.Split
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", f, unwrapPath(err))
		}
		n := fi.Size()
		if size <= 0 || n <= size {
			splits = append(splits, mr.Split{File: f, Offset: 0, Length: n, Whole: true})
			continue
		}
		for off := int64(0); off < n; off += size {
			splits = append(splits, mr.Split{File: f, Offset: off, Length: min(size, n-off)})
		}
	}
	return splits, nil
}

// Read returns the lines of a split: every line that starts inside
// [Offset, Offset+Length), whole, including any part past the end. A whole
// split is read as is, whatever its size is now.
func Read(s mr.Split) ([]byte, error) {
	f, err := os.Open(s.File)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.File, unwrapPath(err))
	}
	defer f.Close()
	if s.Whole {
		b, err := io.ReadAll(f)
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
	buf := make([]byte, end-start)
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

// packParallelism is how many map tasks' worth of input Tasks aims for when
// it packs small files, so that packing never starves the workers.
const packParallelism = 16

// Tasks groups splits into map tasks. A file larger than size is cut into
// splits of its own (see Splits); smaller files are packed, in order, into
// tasks of up to min(size, total/16) bytes, so that thousands of small
// files do not each pay a task's overhead, while a few files still make
// enough tasks to run in parallel. size 0 means never cut a file.
func Tasks(files []string, size int64) ([][]mr.Split, error) {
	splits, err := Splits(files, size)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, s := range splits {
		total += s.Length
	}
	target := total / packParallelism
	if size > 0 {
		target = min(target, size)
	}
	var tasks [][]mr.Split
	var cur []mr.Split
	var curBytes int64
	for _, s := range splits {
		if len(cur) > 0 && (curBytes+s.Length > target || !s.Whole) {
			tasks = append(tasks, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, s)
		curBytes += s.Length
		if !s.Whole {
			tasks = append(tasks, cur)
			cur, curBytes = nil, 0
		}
	}
	if len(cur) > 0 {
		tasks = append(tasks, cur)
	}
	return tasks, nil
}
