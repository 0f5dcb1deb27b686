package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Local is the local filesystem, where a name is a path.
var Local Store = localStore{}

type localStore struct{}

// Expand: a missing, unreadable or non-regular input is an error that
// names it; empty files are fine. An argument that names no path but holds
// glob characters stands for its matches.
func (l localStore) Expand(ctx context.Context, arg string) ([]Info, error) {
	fi, err := os.Stat(arg)
	if errors.Is(err, fs.ErrNotExist) && glob(arg) {
		matches, gerr := filepath.Glob(arg)
		if gerr != nil {
			return nil, fmt.Errorf("input %s: bad pattern: %w", arg, gerr)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("input %s: pattern matches no file", arg)
		}
		var files []Info
		for _, m := range matches {
			more, err := l.Expand(ctx, m)
			if err != nil {
				return nil, err
			}
			files = append(files, more...)
		}
		return files, nil
	}
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", arg, unwrapPath(err))
	}
	switch {
	case fi.Mode().IsRegular():
		if err := readable(arg); err != nil {
			return nil, err
		}
		return []Info{{Name: arg, Size: fi.Size(), ModTime: fi.ModTime()}}, nil
	case fi.IsDir():
		return walk(arg)
	}
	return nil, fmt.Errorf("input %s: not a regular file (%s)", arg, fi.Mode().Type())
}

// walk lists the regular files below dir. Symlinks to regular files count;
// other non-regular entries (sockets, devices, links to directories) are
// skipped, since a directory of inputs often holds such clutter.
func walk(dir string) ([]Info, error) {
	var files []Info
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
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		if err := readable(path); err != nil {
			return err
		}
		files = append(files, Info{Name: path, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	// WalkDir is lexical already; keep it explicit
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
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

func (localStore) Stat(_ context.Context, name string) (Info, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return Info{}, unwrapPath(err)
	}
	return Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open opens a local file; its Size is the size when opened, and reads
// past it still see what was appended since, as the text reader expects
// of a whole file that grows.
func (localStore) Open(_ context.Context, name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localFile{f, fi.Size()}, nil
}

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

// Put writes through a temporary file in the same directory, synced, and
// a rename.
func (localStore) Put(_ context.Context, name string, r io.Reader, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, r)
	if serr := tmp.Sync(); err == nil {
		err = serr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// Commit is a rename, which needs from and to on one filesystem.
func (localStore) Commit(_ context.Context, from, to string) error { return os.Rename(from, to) }

func (localStore) Remove(_ context.Context, names ...string) error {
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (localStore) RemoveAll(_ context.Context, dir string) error { return os.RemoveAll(dir) }

func (localStore) List(_ context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name()+"/")
		} else {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
