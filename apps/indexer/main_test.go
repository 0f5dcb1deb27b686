package main

import (
	"slices"
	"testing"
)

func TestMapEmitsDistinctWords(t *testing.T) {
	kvs := Map("a.txt", "to be or not to be")
	var keys []string
	for _, kv := range kvs {
		if kv.Value != "a.txt" {
			t.Fatalf("value %q, want the file name", kv.Value)
		}
		keys = append(keys, kv.Key)
	}
	if want := []string{"to", "be", "or", "not"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func TestReduceDedupes(t *testing.T) {
	// b.txt was split into three map tasks, each of which emitted it.
	got := Reduce("be", []string{"b.txt", "a.txt", "b.txt", "c.txt", "b.txt"})
	if want := "3 a.txt,b.txt,c.txt"; got != want {
		t.Fatalf("Reduce = %q, want %q", got, want)
	}
}
