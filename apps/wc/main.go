// Command wc is the word-count app: it counts how often each word occurs in
// the inputs. A word is a maximal run of letters (unicode.IsLetter), as in
// the 6.5840 lab, and case matters: "The" and "the" are different words.
//
// Output: one line per word, "WORD COUNT", with COUNT in decimal.
//
// Map emits (word, "1") for every word. Combine and Reduce both add up
// decimal counts, so Combine may run on any subset of a key's values, any
// number of times, and Reduce gives the same total whether or not it did.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"gomr.dev/mr"
)

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func Map(filename string, contents string) []mr.KeyValue {
	words := strings.FieldsFunc(contents, notLetter)
	kvs := make([]mr.KeyValue, len(words))
	for i, w := range words {
		kvs[i] = mr.KeyValue{Key: w, Value: "1"}
	}
	return kvs
}

func Combine(key string, values []string) string { return sum(key, values) }

func Reduce(key string, values []string) string { return sum(key, values) }

// sum adds up values, each a decimal count. A value that is not one means
// the job's inputs are not this app's, so it panics, failing the task.
func sum(key string, values []string) string {
	total := 0
	for _, v := range values {
		if v == "1" { // all values when nothing was combined
			total++
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			panic(fmt.Sprintf("wc: key %q: value %q is not a count", key, v))
		}
		total += n
	}
	return strconv.Itoa(total)
}
