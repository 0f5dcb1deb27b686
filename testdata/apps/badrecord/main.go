// Command badrecord is a test app for skipping bad records (mr master
// --skip-bad-records): word count, like wc but with a lab-form Map and
// no Combine, that crashes on every input holding the word BADRECORD.
// The job parameter crash (--param crash=...) says how, and where:
//
//   - panic (the default): Map panics when its contents hold BADRECORD;
//   - exit: Map calls os.Exit(1) instead, killing the worker;
//   - reduce-panic: Map is well, and Reduce panics for the key BADRECORD;
//   - reduce-exit: Reduce calls os.Exit(1) for it.
//
// Put BADRECORD alone on its lines, and the job's output with those lines
// skipped (or the key, for the reduce modes) equals `mr seq` over the
// input without them: one line per word, "WORD COUNT".
package main

import (
	"os"
	"strconv"
	"strings"
	"unicode"

	"gomr.dev/mr"
)

const marker = "BADRECORD"

func crash(what string) {
	if strings.HasSuffix(mr.Param("crash"), "exit") {
		os.Exit(1)
	}
	panic("badrecord: " + what)
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func Map(filename string, contents string) []mr.KeyValue {
	if !strings.HasPrefix(mr.Param("crash"), "reduce") && strings.Contains(contents, marker) {
		crash("found " + marker + " in " + filename)
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
	if key == marker && strings.HasPrefix(mr.Param("crash"), "reduce") {
		crash("reducing " + marker)
	}
	return strconv.Itoa(len(values))
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
