package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"gomr.dev/internal/app"
	"gomr.dev/internal/format"
	"gomr.dev/internal/store"
	"gomr.dev/worker"
)

// s3Flags configure the S3 store, for inputs and outputs named s3://...;
// credentials and the region come from the environment (see
// internal/store).
type s3Flags struct {
	endpoint string
}

func (s *s3Flags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "URL of an S3-compatible store for s3:// inputs and outputs, such as http://10.0.0.1:7070 (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else AWS); http:// means no TLS")
}

// configure sets up the store, turning a bad endpoint into a usage error.
func (s *s3Flags) configure(fs *pflag.FlagSet) error {
	if err := store.ConfigureS3(store.S3Config{Endpoint: s.endpoint}); err != nil {
		return usageError(fs, "%v", err)
	}
	return nil
}

// args passes the flags on to a worker process.
func (s *s3Flags) args() []string {
	if s.endpoint == "" {
		return nil
	}
	return []string{"--s3-endpoint", s.endpoint}
}

// seqToStore runs mr seq into a local temporary directory, then uploads
// mr-out-0 to the store prefix out, where it appears whole.
func seqToStore(ctx context.Context, a *app.App, files []string, out string, opt worker.SeqOptions) error {
	if err := store.CheckBucket(ctx, out); err != nil {
		return fmt.Errorf("--out %w", err)
	}
	tmp, err := os.MkdirTemp("", "mr-seq-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := worker.Sequential(a, files, tmp, opt); err != nil {
		return err
	}
	f, _ := format.OutputNamed(opt.Output)
	base := "mr-out-0" + f.Ext()
	data, err := os.Open(filepath.Join(tmp, base))
	if err != nil {
		return err
	}
	defer data.Close()
	fi, err := data.Stat()
	if err != nil {
		return err
	}
	st, err := store.For(out)
	if err != nil {
		return err
	}
	if err := st.Put(ctx, store.Join(out, base), data, fi.Size()); err != nil {
		return fmt.Errorf("--out %s: upload %s: %w", out, base, err)
	}
	return nil
}
