// Command wc is the word-count app: it counts how often each word occurs in
// the inputs. A word is a maximal run of letters (unicode.IsLetter), as in
// the 6.5840 lab, and case matters: "The" and "the" are different words.
//
// Output: one line per word, "WORD COUNT", with COUNT in decimal.
//
// It uses the engine's streaming forms: Map hands each word to emit rather
// than building a slice of every pair, and Reduce sums the values as the
// merge yields them. Combine adds up decimal counts, so it may run on any
// subset of a key's values, any number of times. apps/wclab is the same
// count written with the lab's signatures.
package main

import (
	"fmt"
	"iter"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Map emits (word, "1") for every word in contents. ASCII is classified
// with a table; other bytes are decoded and asked of unicode.IsLetter.
func Map(filename string, contents string, emit func(key, value string)) {
	start := -1 // start of the current word, or -1 between words
	for i := 0; i < len(contents); {
		c := contents[i]
		letter, size := asciiLetter[c], 1 // false for every non-ASCII byte
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(contents[i:])
			letter = unicode.IsLetter(r)
		}
		if letter {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			emit(contents[start:i], "1")
			start = -1
		}
		i += size
	}
	if start >= 0 {
		emit(contents[start:], "1")
	}
}

var asciiLetter = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	return t
}()

func Combine(key string, values []string) string {
	total := 0
	for _, v := range values {
		total += count(key, v)
	}
	return strconv.Itoa(total)
}

func Reduce(key string, values iter.Seq[string]) string {
	total := 0
	for v := range values {
		total += count(key, v)
	}
	return strconv.Itoa(total)
}

// count parses one value, a decimal count. A value that is not one means
// the job's inputs are not this app's, so it panics, failing the task.
func count(key, v string) int {
	if v == "1" { // every value when nothing was combined
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		panic(fmt.Sprintf("wc: key %q: value %q is not a count", key, v))
	}
	return n
}

// ValueType makes the value column of Parquet and Arrow output a 64-bit
// integer, so that a query can sort and sum the counts.
func ValueType() string { return "int64" }

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
