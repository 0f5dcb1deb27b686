// Command grep is distributed grep: it finds the input lines that match a
// regular expression (Go syntax), given as a job parameter:
//
//	mr run --param pattern=REGEXP grep.so INPUTS...
//
// Output: one line per matching input line, "FILE LINE", grouped by file
// and, within a file, in the order of the lines in the file. Lines are
// matched without their line ending ("\n" or "\r\n"), so "$" anchors at the
// end of the text of the line.
//
// A job without the parameter fails with "grep: no pattern; pass --param
// pattern=REGEXP", and one with a bad expression with the compile error.
package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"gomr.dev/mr"
)

// compiled is the last pattern compiled, shared by concurrent Map calls.
// Keyed by the pattern's text, so that a process that runs tasks of jobs
// with different patterns never matches with a stale one.
var compiled atomic.Pointer[compiledPattern]

type compiledPattern struct {
	pattern string
	re      *regexp.Regexp
}

// pattern returns the job's expression, compiling it once per pattern.
func pattern() *regexp.Regexp {
	p, ok := mr.LookupParam("pattern")
	if !ok {
		panic("grep: no pattern; pass --param pattern=REGEXP")
	}
	if c := compiled.Load(); c != nil && c.pattern == p {
		return c.re
	}
	re, err := regexp.Compile(p)
	if err != nil {
		panic(fmt.Sprintf("grep: bad pattern %q: %v", p, err))
	}
	compiled.Store(&compiledPattern{pattern: p, re: re})
	return re
}

// Map emits (filename, line) for each matching line, in order.
func Map(filename string, contents string) []mr.KeyValue {
	re := pattern()
	var kvs []mr.KeyValue
	for line := range strings.Lines(contents) {
		line = strings.TrimSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\r")
		if re.MatchString(line) {
			kvs = append(kvs, mr.KeyValue{Key: filename, Value: line})
		}
	}
	return kvs
}

// Reduce joins a file's matches so that, once the engine writes
// "key value\n", each match is on a line of its own that starts with the
// file name. Values arrive in input order, so the matches stay in file
// order.
func Reduce(key string, values []string) string {
	return strings.Join(values, "\n"+key+" ")
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
