// Command slow is a test app: word count, like wc but without a Combine,
// whose tasks take as long as a test needs, so that the test can kill a
// worker in the middle of one.
//
// Parameters, each a Go duration such as 500ms or 2s, default 0:
//
//	sleep        how long each Map call sleeps before it counts words
//	reducesleep  how long each Reduce call sleeps
//
// A bad duration fails the task with a message that names the parameter.
//
// Output: one line per word, "WORD COUNT", as for wc.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gomr.dev/mr"
)

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func Map(filename string, contents string) []mr.KeyValue {
	time.Sleep(durationParam("sleep"))
	words := strings.FieldsFunc(contents, notLetter)
	kvs := make([]mr.KeyValue, len(words))
	for i, w := range words {
		kvs[i] = mr.KeyValue{Key: w, Value: "1"}
	}
	return kvs
}

// Reduce counts the values, which are all "1".
func Reduce(key string, values []string) string {
	time.Sleep(durationParam("reducesleep"))
	return strconv.Itoa(len(values))
}

// durationParam returns the job parameter name as a duration, 0 if unset.
func durationParam(name string) time.Duration {
	s := mr.Param(name)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		panic(fmt.Sprintf("slow: bad --param %s=%s: want a duration such as 500ms or 2s", name, s))
	}
	return d
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
