package format

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// Input is a format a job's inputs can be in. The master asks each input
// file's format to Plan its splits; a worker (or, with --ship-inputs, the
// master) asks the split's format to Read it. Neither asks which format it
// has: text, Parquet and Arrow IPC files are three implementations of
// this interface, found by InputFor and InputNamed.
type Input interface {
	// Name is what mr.Split.Format holds for this format's splits; text's
	// is "".
	Name() string
	// Sniff reports whether a file that starts with head is in this
	// format. head holds the file's first 8 bytes, or fewer if it is
	// shorter.
	Sniff(head []byte) bool
	// Plan cuts the file at path, of size bytes, into splits of about
	// splitSize bytes each (0: one split), at the boundaries the format
	// allows, and checks that the columns exist (nil: every column). A
	// nested column passes, since MapBatch can read it; Read refuses it. A file whose footer cannot be read is an error
	// that names it.
	Plan(path string, size, splitSize int64, columns []string) ([]mr.Split, error)
	// Read returns the text Map sees for split s: for text, the lines that
	// start in it; for a columnar format, one line per row (see RowText).
	// The caller owns the returned slice.
	Read(s mr.Split) ([]byte, error)
}

// Columnar is an Input whose rows are Arrow record batches, which an app
// that exports MapBatch reads as they are, typed, instead of as text.
type Columnar interface {
	Input
	// Records calls fn with the rows of split s, a bounded batch at a
	// time, in order, with only the split's columns (nested ones too). A
	// record is valid during the call only; fn must Retain one to keep
	// it. An error from fn stops the read and is returned, wrapped with
	// the file and row group or batch.
	Records(s mr.Split, fn func(arrow.Record) error) error
}

// ReadRecords reads split s as Arrow records (see Columnar.Records). A
// text split has none: it is an error that says so.
func ReadRecords(s mr.Split, fn func(arrow.Record) error) error {
	in, err := InputNamed(s.Format)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.File, err)
	}
	c, ok := in.(Columnar)
	if !ok {
		return fmt.Errorf("read %s: text, not Parquet or Arrow, so it has no record batches for MapBatch", s.File)
	}
	return c.Records(s, fn)
}

// inputs are the known input formats, in the order InputFor tries them;
// text accepts anything, so it comes last.
var inputs = []Input{parquetInput{}, arrowInput{}, textInput{}}

// InputFor returns the format of the file at path, by its first bytes,
// whatever its name: Parquet files start with "PAR1", Arrow IPC files with
// "ARROW1", and anything else is text. The file may be in any store (see
// internal/store).
func InputFor(path string) (Input, error) {
	f, err := store.Open(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("input %s: %w", path, unwrapPath(err))
	}
	head = head[:n]
	for _, in := range inputs {
		if in.Sniff(head) {
			return in, nil
		}
	}
	return textInput{}, nil
}

// InputNamed returns the input format whose Name is name.
func InputNamed(name string) (Input, error) {
	for _, in := range inputs {
		if in.Name() == name {
			return in, nil
		}
	}
	return nil, fmt.Errorf("unknown input format %q", name)
}

// ReadSplit reads split s with the format it names.
func ReadSplit(s mr.Split) ([]byte, error) {
	in, err := InputNamed(s.Format)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.File, err)
	}
	return in.Read(s)
}

// SplitColumns parses mr.Split.Columns, or a --columns flag: names
// separated by commas, blanks around them dropped; "" means every column.
func SplitColumns(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	cols := strings.Split(s, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}

// unwrapPath drops the *PathError wrapper, whose text would repeat the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// hasPrefix is bytes.HasPrefix, named for the sniffers.
func hasPrefix(b []byte, magic string) bool { return bytes.HasPrefix(b, []byte(magic)) }
