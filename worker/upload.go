package worker

import (
	"context"
	"os"
	"time"

	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// uploadTimeout bounds the removal of an upload that lost; the upload
// itself is bounded by the store's retries.
const uploadTimeout = time.Minute

// uploader returns what sends a reduce attempt's finished output to the
// store of t.Out, as t.Out/out<R>-a<N>: a name of its own, which the
// master copies into place if this attempt commits first (see
// store.Store.Commit). The upload appears whole or not at all.
func uploader(ctx context.Context, t mr.Task) func(f *os.File) (string, error) {
	return func(f *os.File) (string, error) {
		name := store.Join(t.Out, t.File("out"))
		st, err := store.For(name)
		if err != nil {
			return "", err
		}
		fi, err := f.Stat()
		if err != nil {
			return "", err
		}
		if _, err := f.Seek(0, 0); err != nil {
			return "", err
		}
		if err := st.Put(ctx, name, f, fi.Size()); err != nil {
			return "", err
		}
		return name, nil
	}
}

// discardUpload removes the uploaded output of a reduce attempt that did
// not commit. The master removes whatever is left under the job's
// staging prefix when the job ends, so a failure here only costs space
// until then.
func discardUpload(ctx context.Context, name string) {
	st, err := store.For(name)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uploadTimeout)
	defer cancel()
	st.Remove(ctx, name)
}
