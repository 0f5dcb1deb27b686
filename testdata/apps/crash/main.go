// Command crash is a test app in the manner of the 6.5840 lab's crash app:
// at the start of every Map and Reduce call it exits the worker process
// with status 1 about a third of the time, sleeps for up to 10 seconds
// about a third of the time, and otherwise goes on. A job that completes
// despite this must produce exactly what the nocrash app produces.
//
// Output, as for nocrash, four lines:
//
//	a FILE...        the input file names, once per map split
//	b LEN...         the lengths of those names
//	c LEN...         the lengths of the splits' contents
//	d xyzzy...       one "xyzzy" per map split
//
// with each line's values sorted as strings and separated by spaces.
//
// It also counts, before it may crash, the lines of input each Map call
// sees ("lines") and the keys Reduce is called for ("keys"), so that a
// test can check that the job's counters count each task once, however
// often it ran: "lines" must equal the input's lines, and "keys" 4.
package main

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gomr.dev/mr"
)

// maybeCrash exits the process, sleeps, or does nothing, with equal odds.
// The generator is seeded randomly per process, so each worker process
// fails differently.
func maybeCrash() {
	switch rand.IntN(3) {
	case 0:
		os.Exit(1)
	case 1:
		time.Sleep(rand.N(10 * time.Second))
	}
}

var lines, keys = mr.Counter("lines"), mr.Counter("keys")

func Map(filename string, contents string) []mr.KeyValue {
	n := strings.Count(contents, "\n")
	if contents != "" && !strings.HasSuffix(contents, "\n") {
		n++
	}
	lines.Add(int64(n))
	maybeCrash()
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
	keys.Add(1)
	maybeCrash()
	vs := slices.Clone(values)
	slices.Sort(vs)
	return strings.Join(vs, " ")
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
