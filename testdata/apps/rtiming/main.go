// Command rtiming is a test app, after the 6.5840 lab's, that shows whether
// reduce tasks run in parallel in different worker processes.
//
// Every Map call emits the ten keys "a" to "j". Each Reduce call creates a
// marker file mr-worker-reduce-PID-SEQ in the current directory, sleeps for
// a second, counts the worker processes that have a marker and are alive,
// and removes its own marker. Two reduces in different processes that
// overlap in time see each other; processes that are alive but idle have
// no marker, and the liveness check (kill(pid, 0)) skips markers left by
// killed ones.
//
// Output keys: "a" to "j", each with the number of processes, its own
// included, that its Reduce call saw running reduces. A test with two or
// more workers and two or more reduce tasks expects at least one value
// >= 2. Run it in a fresh directory that all workers share as their current
// directory; each Reduce call takes a second.
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
	kvs := make([]mr.KeyValue, 0, 10)
	for k := 'a'; k <= 'j'; k++ {
		kvs = append(kvs, mr.KeyValue{Key: string(k), Value: "1"})
	}
	return kvs
}

func Reduce(key string, values []string) string {
	return strconv.Itoa(nparallel("reduce"))
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
		panic(fmt.Sprintf("rtiming: %v", err))
	}
	defer os.Remove(marker)

	time.Sleep(time.Second)

	names, err := readDirNames(".")
	if err != nil {
		panic(fmt.Sprintf("rtiming: %v", err))
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
