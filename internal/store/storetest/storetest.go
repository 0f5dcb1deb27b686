// Package storetest runs a real S3 server for tests: versitygw, serving a
// temporary directory, as scripts/test-s3.sh builds it into
// ~/.cache/gomr-versitygw (or $VERSITYGW names it). Tests that need it
// skip, saying so, when it has not been built.
package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gomr.dev/internal/store"
)

// Version is the versitygw release the scripts build.
const Version = "v1.8.0"

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // the directory it serves: a bucket is a subdirectory
}

// Start starts versitygw on a free loopback port, points the S3 store of
// this process at it with the environment's credentials set for it, and
// stops it when the test ends. It skips the test if versitygw is not
// built.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := os.Getenv("VERSITYGW")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "gomr-versitygw", "versitygw-"+Version)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no versitygw at %s; make s3 builds it", bin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	const key, secret = "AKIASTORETEST", "storetest-secret"
	cmd := exec.Command(bin, "--access", key, "--secret", secret, "--port", addr, "--keep-alive", "--quiet", "posix", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("versitygw exited at start")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw does not answer at %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", "us-east-1")
	s := &Server{Endpoint: "http://" + addr, Dir: dir}
	if err := store.ConfigureS3(store.S3Config{Endpoint: s.Endpoint}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.ConfigureS3(store.S3Config{}) })
	return s
}

// Object puts data in place as s3://bucket/key, through the server's
// directory, making the bucket if need be, and returns its URL.
func (s *Server) Object(t testing.TB, bucket, key string, data []byte) string {
	t.Helper()
	path := filepath.Join(s.Dir, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("s3://%s/%s", bucket, key)
}

// Bucket makes an empty bucket.
func (s *Server) Bucket(t testing.TB, bucket string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.Dir, bucket), 0o755); err != nil {
		t.Fatal(err)
	}
}
