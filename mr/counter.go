package mr

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// CounterVar is a job counter that an app adds to; see Counter.
//
// Its value is spread over counterShards cache lines, and each Add goes to
// the line picked by the calling goroutine's stack address. A single
// atomic int64 would be as cheap for one goroutine, but tasks that count
// at once in one process (mr worker --slots) would fight over its cache
// line on every Add: two word-count map tasks adding once per word ran
// 70% slower than without a counter when they shared one line, and within
// a few percent of it with the lines spread (worker's BenchmarkMapCounter).
type CounterVar struct {
	shards *[counterShards]counterShard
	name   string
}

// counterShards is how many cache lines a counter is spread over, 4 KiB
// in all. Goroutines whose stacks hash alike share a line, which costs
// speed, never a count; 64 makes that rare for the few goroutines of a
// worker that count at once.
const (
	counterShardBits = 6
	counterShards    = 1 << counterShardBits
)

type counterShard struct {
	v atomic.Int64
	_ [64 - 8]byte // a cache line each; the array is 64-byte aligned, as allocations of 4 KiB are
}

// Add adds n to the counter. It is safe to call from any goroutine, and
// cheap enough to call once per record: one atomic add, to a cache line
// that goroutines counting at the same time seldom share.
func (c *CounterVar) Add(n int64) {
	// Stacks of live goroutines never overlap, so the address of a local
	// variable tells goroutines apart; Fibonacci hashing of it in 2 KiB
	// units, the smallest stack, spreads stacks of any size and place
	// over the shards.
	var here byte
	h := uint64(uintptr(unsafe.Pointer(&here))>>11) * 0x9e3779b97f4a7c15
	c.shards[h>>(64-counterShardBits)].v.Add(n)
}

// value is the counter's value: the sum of its shards. An Add that
// another goroutine makes meanwhile is either in it or in the next value.
func (c *CounterVar) value() int64 {
	var sum int64
	for i := range c.shards {
		sum += c.shards[i].v.Load()
	}
	return sum
}

// Name returns the counter's name.
func (c *CounterVar) Name() string { return c.name }

var (
	countersMu sync.Mutex             // guards counters
	counters   map[string]*CounterVar // every counter made in this process, by name
)

// Counter returns the job counter called name, making it on first use;
// every call with the same name returns the same counter. Call it once,
// say in a package-level var, and Add to it from Map, Reduce, Combine or
// any goroutine they start:
//
//	var lines = mr.Counter("lines")
//
//	func Map(filename, contents string) []mr.KeyValue {
//		lines.Add(int64(strings.Count(contents, "\n")))
//		...
//	}
//
// The job's total of a counter sums what each task's committing attempt
// added, so a task that runs more than once, because a worker died or an
// attempt failed, is counted once. What sample tasks add is not counted.
// The master shows live totals while tasks run, and the final ones in
// OUT/mr-job.json.
//
// A counter belongs to the process, not to a task, so a worker that runs
// several tasks at once (mr worker --slots) gives each increment to
// whichever of its running attempts reports next. The totals then stay
// exact as long as every attempt commits; an attempt that fails or is
// lost may take a concurrent task's increments with it.
func Counter(name string) *CounterVar {
	countersMu.Lock()
	defer countersMu.Unlock()
	if c, ok := counters[name]; ok {
		return c
	}
	if counters == nil {
		counters = make(map[string]*CounterVar)
	}
	c := &CounterVar{name: name, shards: new([counterShards]counterShard)}
	counters[name] = c
	return c
}

// CounterValues returns every counter of this process and its value. It
// is for the engine, which reports what each task added; apps have no use
// for it.
func CounterValues() map[string]int64 {
	countersMu.Lock()
	defer countersMu.Unlock()
	out := make(map[string]int64, len(counters))
	for name, c := range counters {
		out[name] = c.value()
	}
	return out
}

// Stat names one of the engine's built-in counters, which every job has.
// Their names, as String gives them, are a public interface: they appear
// in the status API, the job summary and the metrics.
type Stat int

const (
	MapInputRecords       Stat = iota // lines of input read by map tasks
	MapInputBytes                     // bytes of input read by map tasks
	MapOutputRecords                  // pairs Map emitted
	MapOutputBytes                    // bytes of key and value of the pairs Map emitted
	MapOutputMaterialized             // bytes of map output files written, compressed
	CombineInputRecords               // values handed to Combine
	CombineOutputRecords              // values Combine returned
	SpilledRecords                    // records written to spill files and merge passes, map and reduce side
	SpilledBytes                      // bytes of those spill files and merge passes, compressed
	MapSpills                         // spill files map tasks wrote when their buffer filled
	ShuffleBytes                      // bytes of map output read by reduce tasks, compressed
	ShuffleBytesFetched               // of those, bytes copied from other workers over the network
	ReduceInputGroups                 // keys handed to Reduce
	ReduceInputRecords                // values handed to Reduce
	OutputRecords                     // lines written to the job's output
	OutputBytes                       // bytes written to the job's output
	AttemptsFailed                    // task attempts that failed: an app error or an unreadable input
	AttemptsLost                      // task attempts lost: their worker died or went silent
	RecordsSkipped                    // bad records left out of the job (--skip-bad-records)
	NumStats                          // the number of built-in counters
)

var statNames = [NumStats]string{
	"map_input_records", "map_input_bytes", "map_output_records", "map_output_bytes",
	"map_output_materialized_bytes", "combine_input_records", "combine_output_records",
	"spilled_records", "spilled_bytes", "map_spills", "shuffle_bytes", "shuffle_bytes_fetched",
	"reduce_input_groups", "reduce_input_records", "output_records", "output_bytes",
	"attempts_failed", "attempts_lost", "records_skipped",
}

func (s Stat) String() string {
	if s < 0 || s >= NumStats {
		return "stat?"
	}
	return statNames[s]
}

// Stats holds one value per built-in counter: what one task attempt did,
// or a sum of them.
type Stats [NumStats]int64

// Add sums o into s.
func (s *Stats) Add(o Stats) {
	for i := range s {
		s[i] += o[i]
	}
}

// Sub takes o, added earlier, back out of s.
func (s *Stats) Sub(o Stats) {
	for i := range s {
		s[i] -= o[i]
	}
}

// Map returns the counters by name, zeros included, so that a reader
// always finds every name.
func (s Stats) Map() map[string]int64 {
	m := make(map[string]int64, NumStats)
	for i, v := range s {
		m[statNames[i]] = v
	}
	return m
}
