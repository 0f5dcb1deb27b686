// Command noreduce is a broken app for tests: it exports Map but no
// Reduce, so loading it must fail with a message that names Reduce.
package main

import (
	"strings"

	"gomr.dev/mr"
)

func Map(filename string, contents string) []mr.KeyValue {
	var kvs []mr.KeyValue
	for _, w := range strings.Fields(contents) {
		kvs = append(kvs, mr.KeyValue{Key: w, Value: "1"})
	}
	return kvs
}
