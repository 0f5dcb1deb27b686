package master

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gomr.dev/internal/format"
	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// Where a job's output goes. --out is a local directory or an object
// store prefix (s3://BUCKET/PREFIX); either way the master commits each
// reduce task's output there under its final name, mr-out-R, atomically,
// for the first attempt reported only, then the job summary, then
// _SUCCESS, through internal/store.
//
// With a local --out, the job's state lives there too: the lock, and the
// scratch directory with the journal (and the map output of workers that
// share it). An object store has no locks and no place for scratch files
// that workers on the master's host could share, so with an s3:// --out
// that state lives in a local state directory instead (Options.StateDir;
// by default one per output URL in the user's cache directory): one
// master per output URL on this host, and a crashed master resumes when
// started again on the same host. Reduce attempts upload their output to
// PREFIX/.mr-ID/out<R>-a<N>, under the scratch directory's name; the
// master copies the winner's to PREFIX/mr-out-R on the server, deletes
// the upload, and when the job ends removes PREFIX/.mr-ID/ with any
// upload left unfinished there before it writes the summary.

// storeTimeout bounds each of the master's own store operations (the
// summary, cleaning up); a commit's copy has the store's own bound.
const storeTimeout = 5 * time.Minute

// output is where the job's output files go.
type output struct {
	st   store.Store
	dir  string // the local directory (absolute) or the s3:// prefix, without a trailing '/'
	ext  string // the output format's file name extension
	logf func(string, ...any)
	// staging, for an object store, is where reduce attempts upload
	// their output, PREFIX/.mr-ID; "" for a local directory, where they
	// write into the job directory.
	staging string
}

// openOutput checks the --out of opt and returns where its output goes,
// and the local directory that holds the job's lock and scratch
// directory: --out itself, or for an object store the state directory.
// A missing bucket or credentials the store refuses are an error that
// names the URL and the store's error code.
func openOutput(opt Options) (*output, string, error) {
	of, _ := format.OutputNamed(opt.Output) // validate checked it
	f := of.Ext()
	if !store.IsURL(opt.OutDir) {
		dir, err := filepath.Abs(opt.OutDir)
		if err != nil {
			return nil, "", err
		}
		return &output{st: store.Local, dir: dir, ext: f, logf: opt.Logf}, dir, nil
	}
	if opt.CollectOutput {
		return nil, "", fmt.Errorf("--collect-output with --out %s: workers upload their output to the store themselves; drop --collect-output", opt.OutDir)
	}
	st, err := store.For(opt.OutDir)
	if err != nil {
		return nil, "", fmt.Errorf("--out %s: %w", opt.OutDir, err)
	}
	if err := store.CheckBucket(context.Background(), opt.OutDir); err != nil {
		return nil, "", fmt.Errorf("--out %w", err)
	}
	state := opt.StateDir
	if state == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return nil, "", fmt.Errorf("--out %s: no directory for the job's state (%v); give one with --state-dir", opt.OutDir, err)
		}
		sum := sha256.Sum256([]byte(strings.TrimSuffix(opt.OutDir, "/")))
		state = filepath.Join(cache, "gomr", "jobs", hex.EncodeToString(sum[:8]))
	}
	state, err = filepath.Abs(state)
	if err != nil {
		return nil, "", err
	}
	return &output{st: st, dir: strings.TrimSuffix(opt.OutDir, "/"), ext: f, logf: opt.Logf}, state, nil
}

// start readies the output for the job whose scratch directory is
// jobDir. A local directory was readied by openJob. In an object store,
// a new job removes the output files of the one before, _SUCCESS first,
// and the uploads of any job that never finished; a resumed job removes
// only the old summary and _SUCCESS, keeping committed output and its
// own uploads.
func (o *output) start(jobDir string, resumed bool) error {
	if o.st == store.Local {
		return nil
	}
	o.staging = store.Join(o.dir, filepath.Base(jobDir))
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := o.st.Remove(ctx, store.Join(o.dir, SuccessFile), store.Join(o.dir, SummaryFile)); err != nil {
		return fmt.Errorf("--out %s: remove old output: %w", o.dir, err)
	}
	if resumed {
		return nil
	}
	names, err := o.st.List(ctx, o.dir)
	if err != nil {
		return fmt.Errorf("--out %s: %w", o.dir, err)
	}
	for _, n := range names {
		switch {
		case outputName.MatchString(n):
			err = o.st.Remove(ctx, store.Join(o.dir, n))
		case strings.HasPrefix(n, ".mr-") && strings.HasSuffix(n, "/"):
			err = o.st.RemoveAll(ctx, store.Join(o.dir, strings.TrimSuffix(n, "/")))
		}
		if err != nil {
			return fmt.Errorf("--out %s: remove old output: %w", o.dir, err)
		}
	}
	return nil
}

// name is the full name of output file base.
func (o *output) name(base string) string { return store.Join(o.dir, base) }

// final is the name of reduce task id's output.
func (o *output) final(id int) string { return o.name(fmt.Sprintf("mr-out-%d%s", id, o.ext)) }

// staged reports whether a reduce report's output is where its attempt
// was told to upload it.
func (o *output) staged(args mr.ReportArgs) bool {
	return o.staging != "" && args.Task.Kind == mr.ReduceTask && args.Output == store.Join(o.staging, args.Task.File("out"))
}

// commit moves a reduce attempt's output into place as mr-out-ID.
func (o *output) commit(from string, id int) error {
	return o.st.Commit(context.Background(), from, o.final(id))
}

// exists reports whether reduce task id's output is in place.
func (o *output) exists(id int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_, err := o.st.Stat(ctx, o.final(id))
	return err == nil
}

// write writes what write writes as the output file base, whole or not
// at all: into the directory through a temporary file and a rename, or
// into a local temporary file that is then uploaded.
func (o *output) write(base string, write func(io.Writer) error) error {
	if o.st == store.Local {
		return writeFile(o.name(base), write)
	}
	tmp, err := os.CreateTemp("", "mr-"+base+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := write(tmp); err != nil {
		return err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return o.st.Put(ctx, o.name(base), tmp, size)
}

// clean removes the staging prefix: the uploads of attempts that lost,
// or never reported, and unfinished ones. Safe to call more than once.
func (o *output) clean() {
	if o.staging == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := o.st.RemoveAll(ctx, o.staging); err != nil && !errors.Is(err, context.Canceled) {
		o.logf("could not remove the uploads under %s/: %v", o.staging, err)
	}
}
