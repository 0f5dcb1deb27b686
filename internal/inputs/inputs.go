// Package inputs turns the INPUTS of a command line into the files of a job
// and cuts those files into map splits, each at the boundaries its format
// allows: lines for text, row groups for Parquet, record batches for Arrow
// files (see internal/format).
package inputs

import (
	"context"
	"errors"
	"fmt"

	"gomr.dev/internal/format"
	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// ErrNoInputs is returned by Expand when the arguments name no file at all.
var ErrNoInputs = errors.New("no input files; pass files, directories or globs")

// Expand resolves command-line inputs to regular files, in order: a file
// stands for itself, a directory for every regular file below it (in
// lexical order), and an argument that names no path but contains glob
// characters for its matches. An s3://BUCKET/PREFIX argument is the
// object of that name, or else every object under PREFIX/ in key order,
// and one with glob characters every object that matches (see
// internal/store). A missing, unreadable or non-regular input, and a
// prefix with no object, is an error that names it; empty files are fine.
func Expand(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		st, err := store.For(arg)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", arg, err)
		}
		infos, err := st.Expand(context.Background(), arg)
		if err != nil {
			return nil, err
		}
		for _, fi := range infos {
			files = append(files, fi.Name)
		}
	}
	if len(files) == 0 {
		return nil, ErrNoInputs
	}
	return files, nil
}

// Splits cuts files into map splits of about size bytes each; size 0
// means one split per file. Each file's format, found by its first bytes
// (format.InputFor), decides where it may be cut: text anywhere (a reader
// finds the line boundaries), Parquet at row groups, Arrow files at record
// batches, whose footers it reads, so a truncated or corrupt columnar file
// is an error here, naming it. columns is the projection for columnar
// files, nil for every column; a missing or nested column is an error. Call
// it after Expand.
func Splits(files []string, size int64, columns ...string) ([]mr.Split, error) {
	var splits []mr.Split
	for _, f := range files {
		fi, err := store.Stat(context.Background(), f)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", f, err)
		}
		in, err := format.InputFor(f)
		if err != nil {
			return nil, err
		}
		more, err := in.Plan(f, fi.Size, size, columns)
		if err != nil {
			return nil, err
		}
		splits = append(splits, more...)
	}
	return splits, nil
}

// Read returns the text Map sees of a split, read by the split's format:
// for text, every line that starts inside [Offset, Offset+Length), whole,
// including any part past the end (a whole split is read as is, whatever
// its size is now); for Parquet and Arrow, one line per row of its row
// groups or record batches (see internal/format).
func Read(s mr.Split) ([]byte, error) { return format.ReadSplit(s) }

// packParallelism is how many map tasks' worth of input Tasks aims for when
// it packs small files, so that packing never starves the workers.
const packParallelism = 16

// Tasks groups splits into map tasks. A file larger than size is cut into
// splits of its own (see Splits); smaller files are packed, in order, into
// tasks of up to min(size, total/16) bytes, so that thousands of small
// files do not each pay a task's overhead, while a few files still make
// enough tasks to run in parallel. size 0 means never cut a file.
//
// columns is the projection for columnar inputs (see Splits).
func Tasks(files []string, size int64, columns ...string) ([][]mr.Split, error) {
	splits, err := Splits(files, size, columns...)
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

// Describe names a split for humans, in its format's units: "input F" for
// a whole file, "input F bytes A-B" for part of a text file, "input F row
// groups A-B" (Parquet) or "input F record batches A-B" (Arrow) for part of
// a columnar one.
func Describe(s mr.Split) string {
	if s.Whole {
		return "input " + s.File
	}
	unit := map[string]string{"parquet": "row group", "arrow": "record batch"}[s.Format]
	switch {
	case unit == "":
		return fmt.Sprintf("input %s bytes %d-%d", s.File, s.Offset, s.Offset+s.Length)
	case s.Count == 1:
		return fmt.Sprintf("input %s %s %d", s.File, unit, s.First)
	}
	return fmt.Sprintf("input %s %ss %d-%d", s.File, unit, s.First, s.First+s.Count-1)
}
