// Command jobcount is a test app, after the 6.5840 lab's, that shows
// whether each map task ran exactly once.
//
// Each Map call creates a file mr-worker-jobcount-PID-SEQ in the current
// directory, sleeps for up to half a second so that tasks spread over the
// workers, and emits ("a", "x"). Reduce counts the mr-worker-jobcount-*
// files in the current directory.
//
// Output: one line, "a N", where N is the number of Map calls made in the
// whole job, by every worker. In a job where no task is lost or run twice
// N equals the number of map tasks (the number of input splits). Run it in
// a fresh directory that all workers share as their current directory.
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gomr.dev/mr"
)

const prefix = "mr-worker-jobcount-"

// seq numbers the Map calls of this process.
var seq atomic.Int64

func Map(filename string, contents string) []mr.KeyValue {
	name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))
	if err := os.WriteFile(name, []byte("x"), 0o666); err != nil {
		panic(fmt.Sprintf("jobcount: %v", err))
	}
	time.Sleep(rand.N(500 * time.Millisecond))
	return []mr.KeyValue{{Key: "a", Value: "x"}}
}

func Reduce(key string, values []string) string {
	d, err := os.Open(".")
	if err != nil {
		panic(fmt.Sprintf("jobcount: %v", err))
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		panic(fmt.Sprintf("jobcount: %v", err))
	}
	n := 0
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return strconv.Itoa(n)
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
