package main

import (
	"strings"
	"testing"

	"gomr.dev/mr"
)

func TestGrep(t *testing.T) {
	mr.SetParams(map[string]string{"pattern": "o+$"})
	defer mr.SetParams(nil)
	kvs := Map("in.txt", "foo\nbar\r\nboo\r\nzoo x\nno")
	var lines []string
	for _, kv := range kvs {
		if kv.Key != "in.txt" {
			t.Fatalf("key %q, want the file name", kv.Key)
		}
		lines = append(lines, kv.Value)
	}
	// What the engine writes for the one key: "key value\n".
	out := "in.txt " + Reduce("in.txt", lines) + "\n"
	want := "in.txt foo\nin.txt boo\nin.txt no\n"
	if out != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}

func TestPatternChanges(t *testing.T) {
	defer mr.SetParams(nil)
	for _, p := range []string{"a", "b", "a"} {
		mr.SetParams(map[string]string{"pattern": p})
		kvs := Map("f", "a\nb\n")
		if len(kvs) != 1 || kvs[0].Value != p {
			t.Fatalf("pattern %q matched %v", p, kvs)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	defer mr.SetParams(nil)
	for _, c := range []struct {
		params map[string]string
		want   string
	}{
		{nil, "grep: no pattern; pass --param pattern=REGEXP"},
		{map[string]string{"pattern": "a("}, `grep: bad pattern "a("`},
	} {
		mr.SetParams(c.params)
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, c.want) {
					t.Errorf("params %v: panic %q, want %q", c.params, msg, c.want)
				}
			}()
			Map("f", "a\n")
		}()
	}
}
