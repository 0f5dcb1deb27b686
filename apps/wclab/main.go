// Command wclab is word count exactly as the MIT 6.5840 lab writes it:
// Map emits (word, "1") for every word and Reduce counts the values, with
// no Combine. It is the baseline that shows what a Combine buys (compare
// apps/wc, which has one) and what a lab app costs on this engine as it is.
//
// A word is a maximal run of letters (unicode.IsLetter), as in apps/wc, so
// the two give the same output: one line "WORD COUNT" per word.
package main

import (
	"strconv"
	"strings"
	"unicode"

	"gomr.dev/mr"
)

func Map(filename string, contents string) []mr.KeyValue {
	ff := func(r rune) bool { return !unicode.IsLetter(r) }
	words := strings.FieldsFunc(contents, ff)
	kva := []mr.KeyValue{}
	for _, w := range words {
		kva = append(kva, mr.KeyValue{Key: w, Value: "1"})
	}
	return kva
}

func Reduce(key string, values []string) string {
	return strconv.Itoa(len(values))
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
