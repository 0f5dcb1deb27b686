package main

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestMap(t *testing.T) {
	var words []string
	Map("f", "The cat, the CAT; thé\n12 dogs-and cats...", func(k, v string) {
		if v != "1" {
			t.Fatalf("value for %q is %q, want 1", k, v)
		}
		words = append(words, k)
	})
	want := []string{"The", "cat", "the", "CAT", "thé", "dogs", "and", "cats"}
	if !slices.Equal(words, want) {
		t.Fatalf("words %q, want %q", words, want)
	}
}

func TestReduceCounts(t *testing.T) {
	if got := Reduce("w", slices.Values([]string{"1", "1", "1"})); got != "3" {
		t.Fatalf("Reduce of three ones = %q, want 3", got)
	}
	if got := Reduce("w", slices.Values([]string{"1", "40", "2"})); got != "43" {
		t.Fatalf("Reduce of combined counts = %q, want 43", got)
	}
}

// TestCombineAnyGrouping checks that combining any partition of the values,
// any number of times, leaves Reduce's answer unchanged.
func TestCombineAnyGrouping(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + r.IntN(50)
		values := slices.Repeat([]string{"1"}, n)
		for round := r.IntN(4); round > 0 && len(values) > 1; round-- {
			var next []string
			for len(values) > 0 {
				k := 1 + r.IntN(len(values))
				next = append(next, Combine("w", values[:k]))
				values = values[k:]
			}
			values = next
		}
		if got := Reduce("w", slices.Values(values)); got != strconv.Itoa(n) {
			t.Fatalf("trial %d: %d ones combined to %q, reduced to %q", trial, n, values, got)
		}
	}
}

func TestReduceRejectsNonCount(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Reduce accepted the value \"x\"")
		}
	}()
	Reduce("w", slices.Values([]string{"1", "x"}))
}
