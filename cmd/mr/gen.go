package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
