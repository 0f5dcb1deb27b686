// Package store is where a job's inputs are read from and its outputs
// committed to: local files, or objects in an S3-compatible store. It is
// the engine's one seam for storage. A split is read through a File, which
// the formats in internal/format decode (text lines, Parquet row groups,
// Arrow record batches) without knowing where the bytes live; an output
// goes out through a Store's Put and Commit, which make a finished file
// appear under its final name whole, or not at all.
//
// Names are strings, as mr.Split.File carries them: "s3://bucket/key" is
// an object in the S3 store, anything else a local path. For picks the
// store a name belongs to; a new store is one new file that implements
// Store and is added there.
package store

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotExist is what Stat and Open return, wrapped, for a name that
// names nothing: fs.ErrNotExist, as for local files.
var ErrNotExist = fs.ErrNotExist

// Info describes a file or an object.
type Info struct {
	Name    string // as For and Open take it
	Size    int64
	ModTime time.Time
}

// File is an open input: read at any offset, as the formats need (Parquet
// and Arrow footers are at the end), and read or seek in order. Reads may
// be served by ranged requests; a File is safe for concurrent ReadAt
// calls, not for concurrent Read and Seek.
type File interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
	// Size is the file's size when it was opened.
	Size() int64
}

// Store is a place files live: the local filesystem, or a bucket store.
// Every method takes full names (see the package comment).
type Store interface {
	// Expand resolves one command-line input to the files it stands for,
	// in order: a file stands for itself, a directory (or a prefix that
	// ends at a '/') for every file below it in lexical order, and a glob
	// for its matches. Anything under a directory whose name starts with
	// ".mr-" is a job's scratch, never input, and is left out. An input
	// that stands for nothing is an error that names it.
	Expand(ctx context.Context, arg string) ([]Info, error)
	// Stat describes one file; a missing one is an error wrapping
	// ErrNotExist.
	Stat(ctx context.Context, name string) (Info, error)
	// Open opens a file for reading. The caller closes it.
	Open(ctx context.Context, name string) (File, error)

	// Put writes the contents of r, size bytes, as name, so that name
	// appears whole or not at all, replacing what was there.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Commit makes the file at from appear as to, whole, and removes
	// from. It fails, changing nothing at to, if from is not there.
	Commit(ctx context.Context, from, to string) error
	// Remove removes files; a missing one is not an error.
	Remove(ctx context.Context, names ...string) error
	// RemoveAll removes everything below the directory or prefix dir,
	// with any unfinished uploads there.
	RemoveAll(ctx context.Context, dir string) error
	// List names what is directly in dir, by base name, in lexical
	// order: files, and subdirectories (common prefixes, in an object
	// store) with a '/' at the end.
	List(ctx context.Context, dir string) ([]string, error)
}

// IsURL reports whether name is an object store URL rather than a local
// path.
func IsURL(name string) bool { return strings.HasPrefix(name, s3Scheme) }

// For returns the store name lives in.
func For(name string) (Store, error) {
	if IsURL(name) {
		return s3Default()
	}
	return Local, nil
}

// Join names a file in a directory or under a prefix of either kind.
func Join(dir, name string) string {
	if IsURL(dir) {
		return strings.TrimSuffix(dir, "/") + "/" + name
	}
	return filepath.Join(dir, name)
}

// Stat describes the file or object name.
func Stat(ctx context.Context, name string) (Info, error) {
	s, err := For(name)
	if err != nil {
		return Info{}, err
	}
	return s.Stat(ctx, name)
}

// Open opens the file or object name for reading.
func Open(ctx context.Context, name string) (File, error) {
	s, err := For(name)
	if err != nil {
		return nil, err
	}
	return s.Open(ctx, name)
}

// glob reports whether s holds glob characters.
func glob(s string) bool { return strings.ContainsAny(s, "*?[") }
