// Command indexer builds an inverted index, as in the 6.5840 lab: for each
// word, the input files it occurs in. A word is a maximal run of letters
// (unicode.IsLetter), and case matters.
//
// Output: one line per word, "WORD N FILE1,FILE2,...", where the files are
// the distinct input file names, as the engine passed them to Map, sorted,
// and N is how many there are.
package main

import (
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gomr.dev/mr"
)

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

// Map emits (word, filename) once for each distinct word in contents.
func Map(filename string, contents string) []mr.KeyValue {
	seen := make(map[string]bool)
	var kvs []mr.KeyValue
	for _, w := range strings.FieldsFunc(contents, notLetter) {
		if !seen[w] {
			seen[w] = true
			kvs = append(kvs, mr.KeyValue{Key: w, Value: filename})
		}
	}
	return kvs
}

// Reduce lists the distinct files of a word. A large file is split over
// several map tasks, each of which emits the same (word, filename), so the
// values repeat and Reduce removes the duplicates. It sorts values in place,
// which it may, as Reduce owns the slice.
func Reduce(key string, values []string) string {
	slices.Sort(values)
	files := slices.Compact(values)
	return strconv.Itoa(len(files)) + " " + strings.Join(files, ",")
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
