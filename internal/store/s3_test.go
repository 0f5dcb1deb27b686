package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"gomr.dev/internal/store"
	"gomr.dev/internal/store/storetest"
)

var ctx = context.Background()

func names(infos []store.Info) []string {
	var out []string
	for _, in := range infos {
		out = append(out, in.Name)
	}
	return out
}

// Prefixes and globs stand for what the docs say, in key order.
func TestS3Expand(t *testing.T) {
	srv := storetest.Start(t)
	for _, k := range []string{"a/2.txt", "a/1.txt", "a/sub/3.txt", "a/.mr-1234/out0-a0", "ab/4.txt", "a/sub/deeper/5.log", "top.txt"} {
		srv.Object(t, "bkt", k, []byte(k+"\n"))
	}
	os.MkdirAll(filepath.Join(srv.Dir, "bkt", "a", "emptydir"), 0o755)
	st, err := store.For("s3://bkt/a")
	if err != nil {
		t.Fatal(err)
	}
	u := func(keys ...string) []string {
		for i, k := range keys {
			keys[i] = "s3://bkt/" + k
		}
		return keys
	}
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{"s3://bkt/a", u("a/1.txt", "a/2.txt", "a/sub/3.txt", "a/sub/deeper/5.log")},
		{"s3://bkt/a/", u("a/1.txt", "a/2.txt", "a/sub/3.txt", "a/sub/deeper/5.log")},
		{"s3://bkt/a/1.txt", u("a/1.txt")},
		{"s3://bkt/a/*.txt", u("a/1.txt", "a/2.txt")},
		{"s3://bkt/a/s*", u("a/sub/3.txt", "a/sub/deeper/5.log")},
		{"s3://bkt/a/*/*.txt", u("a/sub/3.txt")},
		{"s3://bkt/a/[2-3].txt", u("a/2.txt")},
		{"s3://bkt/*.txt", u("top.txt")},
		{"s3://bkt", u("a/1.txt", "a/2.txt", "a/sub/3.txt", "a/sub/deeper/5.log", "ab/4.txt", "top.txt")},
	} {
		got, err := st.Expand(ctx, tc.arg)
		if err != nil {
			t.Errorf("Expand(%s): %v", tc.arg, err)
			continue
		}
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("Expand(%s) = %q; want %q", tc.arg, names(got), tc.want)
		}
	}
	for _, tc := range []struct{ arg, code string }{
		{"s3://nobucket/a", "NoSuchBucket"},
		{"s3://bkt/nothing", "NoSuchKey"},
		{"s3://bkt/a/*.csv", "NoSuchKey"},
	} {
		_, err := st.Expand(ctx, tc.arg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.arg+": "+tc.code+": ") {
			t.Errorf("Expand(%s): %v; want %q: %s: ...", tc.arg, err, tc.arg, tc.code)
		}
	}
}

// ReadAt serves any range, large ones in parallel parts, and io.EOF at
// the end, as the formats expect of a file.
func TestS3ReadAt(t *testing.T) {
	srv := storetest.Start(t)
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 21<<20+12345)
	rng.Read(data)
	name := srv.Object(t, "bkt", "big/obj", data)
	f, err := store.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size() != int64(len(data)) {
		t.Fatalf("Size = %d; want %d", f.Size(), len(data))
	}
	for _, tc := range []struct{ off, n int }{
		{0, 100}, {5, 8 << 20}, {1, 17<<20 + 3}, {len(data) - 10, 10}, {len(data) - 10, 4096}, {0, len(data)},
	} {
		buf := make([]byte, tc.n)
		n, err := f.ReadAt(buf, int64(tc.off))
		want := min(tc.n, len(data)-tc.off)
		if n != want || (n < tc.n) != (err == io.EOF) || (err != nil && err != io.EOF) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d", tc.n, tc.off, n, err, want)
			continue
		}
		if !bytes.Equal(buf[:n], data[tc.off:tc.off+n]) {
			t.Errorf("ReadAt(%d bytes at %d): wrong bytes", tc.n, tc.off)
		}
	}
	if n, err := f.ReadAt(make([]byte, 1), int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
	}
	all, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(all, data) {
		t.Errorf("ReadAll: %d bytes, %v; want the object", len(all), err)
	}
	// The object replaced after Open: its reads fail rather than mix versions.
	srv.Object(t, "bkt", "big/obj", []byte("new"))
	if _, err := f.ReadAt(make([]byte, 10), 0); err == nil {
		t.Errorf("ReadAt of a replaced object succeeded")
	}
	if _, err := store.Open(ctx, "s3://bkt/big/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing key: %v; want fs.ErrNotExist", err)
	}
}

// Put, Commit, List and RemoveAll, as the master and workers use them.
func TestS3Commit(t *testing.T) {
	srv := storetest.Start(t)
	srv.Bucket(t, "out")
	st, err := store.For("s3://out/job")
	if err != nil {
		t.Fatal(err)
	}
	staged := "s3://out/job/.mr-1/out0-a1"
	payload := bytes.Repeat([]byte("key 1\n"), 1000)
	if err := st.Put(ctx, staged, bytes.NewReader(payload), int64(len(payload))); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "s3://out/job/_SUCCESS", bytes.NewReader(nil), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, staged, "s3://out/job/mr-out-0"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(srv.Dir, "out", "job", "mr-out-0"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("committed object: %d bytes, %v", len(got), err)
	}
	if err := st.Commit(ctx, staged, "s3://out/job/mr-out-1"); err == nil {
		t.Errorf("a second Commit of the same upload succeeded")
	}
	if _, err := st.Stat(ctx, "s3://out/job/mr-out-1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Commit left its target: %v", err)
	}
	st.Put(ctx, "s3://out/job/.mr-1/out1-a0", bytes.NewReader(payload), int64(len(payload)))
	list, err := st.List(ctx, "s3://out/job")
	if want := []string{".mr-1/", "_SUCCESS", "mr-out-0"}; err != nil || !slices.Equal(list, want) {
		t.Errorf("List = %q, %v; want %q", list, err, want)
	}
	if err := st.RemoveAll(ctx, "s3://out/job/.mr-1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, "s3://out/job/_SUCCESS", "s3://out/job/nothing"); err != nil {
		t.Fatal(err)
	}
	list, err = st.List(ctx, "s3://out/job")
	if want := []string{"mr-out-0"}; err != nil || !slices.Equal(list, want) {
		t.Errorf("after RemoveAll and Remove, List = %q, %v; want %q", list, err, want)
	}
}

// RemoveAll aborts the multipart uploads left unfinished under the
// prefix, such as that of a worker killed while it uploaded its output.
func TestS3RemoveAllAbortsUploads(t *testing.T) {
	srv := storetest.Start(t)
	srv.Bucket(t, "out")
	core, err := minio.NewCore(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewEnvAWS(),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := core.NewMultipartUpload(ctx, "out", "job/.mr-1/out0-a0", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.PutObjectPart(ctx, "out", "job/.mr-1/out0-a0", id, 1, bytes.NewReader([]byte("part")), 4, minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	pending := func() int {
		n := 0
		for u := range core.ListIncompleteUploads(ctx, "out", "job/", true) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			n++
		}
		return n
	}
	if n := pending(); n != 1 {
		t.Fatalf("%d unfinished uploads before RemoveAll; want 1", n)
	}
	st, _ := store.For("s3://out/job")
	if err := st.RemoveAll(ctx, "s3://out/job/.mr-1"); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Errorf("%d unfinished uploads after RemoveAll; want 0", n)
	}
}
