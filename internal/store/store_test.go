package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSplitURL(t *testing.T) {
	for _, tc := range []struct{ in, bucket, key string }{
		{"s3://b/k", "b", "k"},
		{"s3://b/a/b/", "b", "a/b/"},
		{"s3://b", "b", ""},
	} {
		b, k, err := splitURL(tc.in)
		if err != nil || b != tc.bucket || k != tc.key {
			t.Errorf("splitURL(%s) = %q, %q, %v", tc.in, b, k, err)
		}
	}
	for _, bad := range []string{"s3://", "s3:///k", "s3://b*/k", "/local"} {
		if _, _, err := splitURL(bad); err == nil {
			t.Errorf("splitURL(%s) succeeded", bad)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in     string
		host   string
		secure bool
		ok     bool
	}{
		{"http://127.0.0.1:9000", "127.0.0.1:9000", false, true},
		{"https://s3.example.com", "s3.example.com", true, true},
		{"s3.example.com:443", "s3.example.com:443", true, true},
		{"ftp://x", "", false, false},
		{"http://x/path", "", false, false},
	} {
		host, secure, err := parseEndpoint(tc.in)
		if (err == nil) != tc.ok || host != tc.host || secure != tc.secure {
			t.Errorf("parseEndpoint(%s) = %q, %v, %v", tc.in, host, secure, err)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"logs/*.txt", "logs/a.txt", true},
		{"logs/*.txt", "logs/x/a.txt", false},
		{"logs/2026/*", "logs/2026/01/a.txt", true}, // a "directory" matches
		{"logs/*", "logs2/a", false},
		{"l?gs/[ab].txt", "logs/b.txt", true},
	} {
		if got := matches(tc.pattern, tc.key); got != tc.want {
			t.Errorf("matches(%s, %s) = %v", tc.pattern, tc.key, got)
		}
	}
	if !scratch("a/", "a/.mr-1/x") || scratch("a/", "a/b/x") || scratch("a/.mr-1/", "a/.mr-1/x") {
		t.Errorf("scratch misjudges .mr-* elements")
	}
}

// The local store does what the S3 one does, with files.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, ".mr-1"), 0o755)
	staged := filepath.Join(dir, ".mr-1", "out0-a0")
	if err := Local.Put(ctx, staged, bytes.NewReader([]byte("a 1\n")), 4); err != nil {
		t.Fatal(err)
	}
	final := Join(dir, "mr-out-0")
	if err := Local.Commit(ctx, staged, final); err != nil {
		t.Fatal(err)
	}
	if fi, err := Local.Stat(ctx, final); err != nil || fi.Size != 4 {
		t.Fatalf("Stat after Commit: %+v, %v", fi, err)
	}
	if _, err := Local.Stat(ctx, staged); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the committed upload: %v; want ErrNotExist", err)
	}
	list, err := Local.List(ctx, dir)
	if want := []string{".mr-1/", "mr-out-0"}; err != nil || !slices.Equal(list, want) {
		t.Errorf("List = %q, %v; want %q", list, err, want)
	}
	infos, err := Local.Expand(ctx, dir)
	if err != nil || len(infos) != 1 || infos[0].Name != final {
		t.Errorf("Expand(dir) = %+v, %v; want just mr-out-0, not the scratch", infos, err)
	}
	if For(final); IsURL(final) || !IsURL("s3://b/k") {
		t.Errorf("IsURL misjudges")
	}
	if Join("s3://b/p/", "x") != "s3://b/p/x" || Join("/a", "x") != "/a/x" {
		t.Errorf("Join: %s, %s", Join("s3://b/p/", "x"), Join("/a", "x"))
	}
}
