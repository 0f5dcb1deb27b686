package main

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestCountWordsMatchesFieldsFunc checks the fast path against the
// definition apps/wc uses, on text mixing ASCII, multi-byte letters and
// non-letters, and bytes that are not UTF-8.
func TestCountWordsMatchesFieldsFunc(t *testing.T) {
	pieces := []string{"a", "Zz", "é", "日本", "ß", " ", "\n", ",", "1", "\xff", "\xc3", "€", "ǅ", "x\u0301", "\x00"}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		want := map[string]int{}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }) {
			want[w]++
		}
		got := counts(s)
		if !maps.Equal(got, want) {
			t.Fatalf("trial %d: %q: got %v, want %v", trial, s, got, want)
		}
	}
}

func counts(s string) map[string]int {
	t := newTable()
	countWords(s, t)
	m := map[string]int{}
	t.each(func(w string, _ uint64, n int) { m[w] += n })
	return m
}

// TestTableGrows counts many distinct words of all lengths, so the table
// grows several times and every tail length of hashAt occurs.
func TestTableGrows(t *testing.T) {
	var b strings.Builder
	want := map[string]int{}
	for i := range 300_000 {
		w := strings.Repeat(string(rune('a'+i%26)), 1+i%19) + strconv.Itoa(i) + "x"
		w = strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return 'A' + r - '0'
			}
			return r
		}, w)
		for range 1 + i%3 {
			b.WriteString(w)
			b.WriteByte(' ')
			want[w]++
		}
	}
	if got := counts(b.String()); !maps.Equal(got, want) {
		t.Fatalf("got %d distinct words, want %d", len(got), len(want))
	}
}

func TestCut(t *testing.T) {
	files := []string{"ab\ncd\nef\n", "", "no newline", "x\n"}
	got := cut(files, 2) // each chunk ends at the first newline at or after byte 2
	want := []string{"ab\n", "cd\n", "ef\n", "no newline", "x\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cut = %q, want %q", got, want)
	}
}
