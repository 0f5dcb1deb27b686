package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gomr.dev/internal/textgen"
)

// genCmd writes deterministic text with a Zipf vocabulary, for tests and
// benchmarks: to stdout, or as --files files in --out.
func genCmd(ctx context.Context, args []string) error {
	fs := newFlags("gen", "[flags]")
	size := fs.Int64("size", 1<<20, "bytes of text per file")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same bytes")
	files := fs.Int("files", 0, "write this many files text-N.txt into --out (seeds seed, seed+1, ...) instead of stdout")
	out := fs.String("out", ".", "directory for --files")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *size < 0 || *files < 0 {
		return usageError(fs, "--size and --files must not be negative")
	}
	if *files == 0 {
		w := bufio.NewWriter(os.Stdout)
		if err := textgen.Write(w, *size, *seed); err != nil {
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
		if err := writeFile(filepath.Join(*out, fmt.Sprintf("text-%d.txt", i)), *size, *seed+int64(i)); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, size, seed int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := textgen.Write(w, size, seed); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
