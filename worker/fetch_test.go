package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

type fakeSource struct {
	reply mr.GetAppReply
	fails int // calls that fail before one succeeds
	err   error
}

func (f *fakeSource) GetApp(context.Context) (mr.GetAppReply, error) {
	if f.fails > 0 {
		f.fails--
		return mr.GetAppReply{}, errors.New("connection refused")
	}
	return f.reply, f.err
}

func appReply(data string) mr.GetAppReply {
	sum := sha256.Sum256([]byte(data))
	return mr.GetAppReply{Name: "wc.so", SHA256: hex.EncodeToString(sum[:]), Data: []byte(data)}
}

func TestFetchApp(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{reply: appReply("plugin bytes"), fails: 2}
	path, sum, err := FetchApp(context.Background(), src, dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "plugin bytes" || sum != src.reply.SHA256 {
		t.Fatalf("fetched %q with sum %s", b, sum)
	}
	if local, _ := FileSHA256(path); local != sum {
		t.Fatalf("FileSHA256 = %s; want %s", local, sum)
	}

	damaged := appReply("plugin bytes")
	damaged.Data[0] ^= 1
	if _, _, err := FetchApp(context.Background(), &fakeSource{reply: damaged}, dir, time.Second); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged app: %v", err)
	}
	if _, _, err := FetchApp(context.Background(), &fakeSource{}, dir, time.Second); err == nil || !strings.Contains(err.Error(), "serves no app") {
		t.Errorf("no app: %v", err)
	}
	if _, _, err := FetchApp(context.Background(), &fakeSource{fails: 1 << 30}, dir, 300*time.Millisecond); !errors.Is(err, ErrMasterUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
}
