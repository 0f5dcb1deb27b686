// Command badsig is a broken app for tests: its Map lacks the filename
// parameter, so loading it must fail with a message that shows both the
// signature it has and the one it needs.
package main

import (
	"strconv"
	"strings"

	"gomr.dev/mr"
)

func Map(contents string) []mr.KeyValue {
	var kvs []mr.KeyValue
	for _, w := range strings.Fields(contents) {
		kvs = append(kvs, mr.KeyValue{Key: w, Value: "1"})
	}
	return kvs
}

func Reduce(key string, values []string) string {
	return strconv.Itoa(len(values))
}
