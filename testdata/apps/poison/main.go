// Command poison is a test app: word count, like wc but without a Combine,
// whose code panics on marked input, to check that an app's panic fails the
// job cleanly with the panic's message.
//
//   - Map panics with "poison: found POISON in FILE" when the contents of
//     its split contain "POISON".
//   - Reduce panics with "poison: poisoned key poisonreduce" for the word
//     "poisonreduce", so an input holding that word, and not "POISON",
//     fails in the reduce phase.
//
// Output, for inputs holding neither: one line per word, "WORD COUNT", as
// for wc.
package main

import (
	"strconv"
	"strings"
	"unicode"

	"gomr.dev/mr"
)

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func Map(filename string, contents string) []mr.KeyValue {
	if strings.Contains(contents, "POISON") {
		panic("poison: found POISON in " + filename)
	}
	words := strings.FieldsFunc(contents, notLetter)
	kvs := make([]mr.KeyValue, len(words))
	for i, w := range words {
		kvs[i] = mr.KeyValue{Key: w, Value: "1"}
	}
	return kvs
}

// Reduce counts the values, which are all "1".
func Reduce(key string, values []string) string {
	if key == "poisonreduce" {
		panic("poison: poisoned key " + key)
	}
	return strconv.Itoa(len(values))
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
