package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gomr.dev/internal/format"
	"gomr.dev/internal/textgen"
)

// genKinds are the generators mr gen offers, by --kind, with the name
// pattern of the files --files writes.
var genKinds = map[string]struct {
	write func(w io.Writer, size, seed int64) error
	name  string
}{
	"text":    {textgen.Write, "text-%d.txt"},
	"records": {textgen.WriteRecords, "records-%d.txt"},
}

// genCmd writes deterministic test data, for tests and benchmarks: text
// with a Zipf vocabulary, or 100-byte sort records; to stdout, or as
// --files files in --out.
func genCmd(ctx context.Context, args []string) error {
	fs := newFlags("gen", "[flags]")
	kind := fs.String("kind", "text", "what to write: text (Zipf words in lines) or records (100-byte lines: 10-byte key, space, 88-byte payload)")
	size := fs.Int64("size", 1<<20, "bytes per file (records: rounded down to whole records)")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same bytes")
	files := fs.Int("files", 0, "write this many files text-N.txt or records-N.txt into --out (seeds seed, seed+1, ...) instead of stdout")
	out := fs.String("out", ".", "directory for --files")
	form := fs.String("format", "text", "text, or parquet: the same lines as a Parquet file (zstd, row groups of 64 Ki rows) with one string column, line, or for records two, key and payload; files are then named *.parquet")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	gen, ok := genKinds[*kind]
	if !ok {
		return usageError(fs, "--kind %q: want text or records", *kind)
	}
	switch *form {
	case "text":
	case "parquet":
		gen.write = toParquet(gen.write, *kind == "records")
		gen.name = strings.TrimSuffix(gen.name, ".txt") + ".parquet"
	default:
		return usageError(fs, "--format %q: want text or parquet", *form)
	}
	if *size < 0 || *files < 0 {
		return usageError(fs, "--size and --files must not be negative")
	}
	if *files == 0 {
		w := bufio.NewWriter(os.Stdout)
		if err := gen.write(w, *size, *seed); err != nil {
			return err
		}
		return w.Flush()
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for i := range *files {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(*out, fmt.Sprintf(gen.name, i))
		if err := writeFile(path, gen.write, *size, *seed+int64(i)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer, int64, int64) error, size, seed int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := write(w, size, seed); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// toParquet turns a generator of lines into one of a Parquet file of the
// same lines (see format.LinesToParquet): records become a key column (their
// first 10 bytes) and a payload column (after the space). The generator
// runs in a goroutine that writes into a pipe, and ends before toParquet's
// function returns.
func toParquet(write func(io.Writer, int64, int64) error, records bool) func(io.Writer, int64, int64) error {
	var columns []string
	var cut func([]byte) [][]byte
	if records {
		columns = []string{"key", "payload"}
		cut = func(line []byte) [][]byte {
			k := min(len(line), textgen.KeySize)
			return [][]byte{line[:k], line[min(len(line), k+1):]}
		}
	}
	return func(w io.Writer, size, seed int64) error {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := write(pw, size, seed)
			pw.CloseWithError(err)
			done <- err
		}()
		err := format.LinesToParquet(w, pr, format.GenRowGroupRows, columns, cut)
		pr.CloseWithError(io.ErrClosedPipe) // stops the generator if we stopped early
		if gerr := <-done; err == nil && gerr != nil && gerr != io.ErrClosedPipe {
			err = gerr
		}
		return err
	}
}
