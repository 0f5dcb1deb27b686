// Command earlyexit is a test app, after the 6.5840 lab's early_exit, for
// checking that no worker or master process exits while the job's output
// is still being written.
//
// Map emits (filename, "1"). Reduce sleeps for three seconds when the key
// falls in partition 0 of 2 under mr.DefaultPartition, so that, with
// several input files, some reduce calls finish seconds after the others.
//
// Output: one line per input file, "FILE N", where N is the number of map
// splits of that file (1 for a file that is not split).
//
// A test starts the master and several workers, waits for the first of the
// processes to exit, copies the output at that moment, then waits for all
// of them and checks that the output did not change after the first exit.
package main

import (
	"strconv"
	"time"

	"gomr.dev/mr"
)

func Map(filename string, contents string) []mr.KeyValue {
	return []mr.KeyValue{{Key: filename, Value: "1"}}
}

func Reduce(key string, values []string) string {
	if mr.DefaultPartition(key, 2) == 0 {
		time.Sleep(3 * time.Second)
	}
	return strconv.Itoa(len(values))
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
