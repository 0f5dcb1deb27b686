package main

import (
	"slices"
	"testing"
)

func TestMap(t *testing.T) {
	got := Map("f", "The cat, the CAT; thé\n12 dogs-and cats...")
	var words []string
	for _, kv := range got {
		if kv.Value != "1" {
			t.Fatalf("value for %q is %q, want 1", kv.Key, kv.Value)
		}
		words = append(words, kv.Key)
	}
	want := []string{"The", "cat", "the", "CAT", "thé", "dogs", "and", "cats"}
	if !slices.Equal(words, want) {
		t.Fatalf("words %q, want %q", words, want)
	}
}

func TestReduce(t *testing.T) {
	if got := Reduce("w", []string{"1", "1", "1"}); got != "3" {
		t.Fatalf("Reduce of three ones = %q, want 3", got)
	}
}
