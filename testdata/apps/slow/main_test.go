package main

import (
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

func TestDurationParam(t *testing.T) {
	defer mr.SetParams(nil)
	mr.SetParams(nil)
	if d := durationParam("sleep"); d != 0 {
		t.Fatalf("unset sleep = %v, want 0", d)
	}
	mr.SetParams(map[string]string{"sleep": "20ms"})
	start := time.Now()
	if kvs := Map("f", "a b a"); len(kvs) != 3 {
		t.Fatalf("Map emitted %v", kvs)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("Map took %v, want at least 20ms", d)
	}
	mr.SetParams(map[string]string{"sleep": "soon"})
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "slow: bad --param sleep=soon") {
			t.Fatalf("panic %q", msg)
		}
	}()
	Map("f", "a")
}
