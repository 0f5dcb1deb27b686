// Command nocrash is the crash app without the crashes and sleeps: the
// reference output that a job of crash must reproduce. Its code is a copy
// of crash's, not shared, since each app is a plugin of its own.
//
// Output, four lines:
//
//	a FILE...        the input file names, once per map split
//	b LEN...         the lengths of those names
//	c LEN...         the lengths of the splits' contents
//	d xyzzy...       one "xyzzy" per map split
//
// with each line's values sorted as strings and separated by spaces.
package main

import (
	"slices"
	"strconv"
	"strings"

	"gomr.dev/mr"
)

func Map(filename string, contents string) []mr.KeyValue {
	return []mr.KeyValue{
		{Key: "a", Value: filename},
		{Key: "b", Value: strconv.Itoa(len(filename))},
		{Key: "c", Value: strconv.Itoa(len(contents))},
		{Key: "d", Value: "xyzzy"},
	}
}

// Reduce sorts a copy of the values, leaving the order it was given alone,
// and joins them with spaces.
func Reduce(key string, values []string) string {
	vs := slices.Clone(values)
	slices.Sort(vs)
	return strings.Join(vs, " ")
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
