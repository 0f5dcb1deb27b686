// Command mtiming is a test app, after the 6.5840 lab's, that shows whether
// map tasks run in parallel in different worker processes.
//
// Each Map call creates a marker file mr-worker-map-PID-SEQ in the current
// directory, sleeps for a second, counts the worker processes that have a
// marker and are alive, and removes its own marker. Two maps in different
// processes that overlap in time see each other. A process that is alive
// but between maps has no marker, and a killed one leaves a marker that
// the liveness check (kill(pid, 0)) skips.
//
// Output keys:
//
//	times-PID N    one line per worker process that ran maps: N is the
//	               number of Map calls it ran
//	parallel M     M is the most processes any Map call saw running maps,
//	               its own included
//
// A test with two or more workers expects at least two times-* lines and
// M >= 2. Run it in a fresh directory that all workers share as their
// current directory.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gomr.dev/mr"
)

func Map(filename string, contents string) []mr.KeyValue {
	start := time.Now()
	n := nparallel("map")
	return []mr.KeyValue{
		{Key: "times-" + strconv.Itoa(os.Getpid()), Value: fmt.Sprintf("%.3f", float64(start.UnixNano())/1e9)},
		{Key: "parallel", Value: strconv.Itoa(n)},
	}
}

// Reduce returns the largest value for "parallel", and the number of values
// for every other key.
func Reduce(key string, values []string) string {
	if key != "parallel" {
		return strconv.Itoa(len(values))
	}
	most := 0
	for _, v := range values {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(fmt.Sprintf("mtiming: parallel value %q is not a number", v))
		}
		most = max(most, n)
	}
	return strconv.Itoa(most)
}

// seq tells apart the markers of concurrent calls in one process.
var seq atomic.Int64

// nparallel marks this process as running a task of the phase, waits a
// second for other processes to do the same, and returns how many live
// processes, this one included, have a marker for the phase.
func nparallel(phase string) int {
	prefix := "mr-worker-" + phase + "-"
	marker := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq.Add(1))
	if err := os.WriteFile(marker, []byte("x"), 0o666); err != nil {
		panic(fmt.Sprintf("mtiming: %v", err))
	}
	defer os.Remove(marker)

	time.Sleep(time.Second)

	names, err := readDirNames(".")
	if err != nil {
		panic(fmt.Sprintf("mtiming: %v", err))
	}
	live := make(map[int]bool)
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || live[pid] {
			continue
		}
		// EPERM means the process exists but is not ours to signal.
		if err := syscall.Kill(pid, 0); err == nil || err == syscall.EPERM {
			live[pid] = true
		}
	}
	return len(live)
}

// readDirNames lists dir without sorting or stat-ing its entries.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
