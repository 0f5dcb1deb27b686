package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// AppSource is what FetchApp needs from a master.
type AppSource interface {
	GetApp(ctx context.Context) (mr.GetAppReply, error)
}

// FetchApp asks the master for the job's app, retrying while it is
// unreachable for up to connectTimeout, checks the bytes against the
// SHA-256 the master sent, and writes them to a new file in dir. It returns
// the file's path and the hash; the caller loads and then removes it.
func FetchApp(ctx context.Context, m AppSource, dir string, connectTimeout time.Duration) (path, sum string, err error) {
	first := time.Now()
	backoff := 50 * time.Millisecond
	var reply mr.GetAppReply
	for {
		reply, err = m.GetApp(ctx)
		if err == nil {
			break
		}
		if auth.Permanent(err) {
			return "", "", err
		}
		if silent := time.Since(first); silent > connectTimeout {
			return "", "", fmt.Errorf("%w for %v while fetching the app: %v", ErrMasterUnreachable, silent.Round(time.Second), err)
		}
		if !sleep(ctx, backoff) {
			return "", "", ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
	if len(reply.Data) == 0 {
		return "", "", errors.New("the master serves no app; give the worker an APP.so, or start the master with --app")
	}
	got := sha256.Sum256(reply.Data)
	if hex.EncodeToString(got[:]) != reply.SHA256 {
		return "", "", fmt.Errorf("the app %s arrived damaged (sha256 %x, want %s)", reply.Name, got, reply.SHA256)
	}
	f, err := os.CreateTemp(dir, "mr-app-*-"+filepath.Base(reply.Name))
	if err != nil {
		return "", "", err
	}
	if _, err := f.Write(reply.Data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", "", err
	}
	return f.Name(), reply.SHA256, nil
}

// FileSHA256 is the hex SHA-256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
