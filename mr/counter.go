package mr

import (
	"sync"
	"sync/atomic"
)

// CounterVar is a job counter that an app adds to; see Counter.
type CounterVar struct {
	name string
	v    atomic.Int64
}

// Add adds n to the counter. It is safe to call from any goroutine, and
// cheap enough to call once per record: one atomic add.
func (c *CounterVar) Add(n int64) { c.v.Add(n) }

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
func Counter(name string) *CounterVar {
	countersMu.Lock()
	defer countersMu.Unlock()
	if c, ok := counters[name]; ok {
		return c
	}
	if counters == nil {
		counters = make(map[string]*CounterVar)
	}
	c := &CounterVar{name: name}
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
		out[name] = c.v.Load()
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
	NumStats                          // the number of built-in counters
)

var statNames = [NumStats]string{
	"map_input_records", "map_input_bytes", "map_output_records", "map_output_bytes",
	"map_output_materialized_bytes", "combine_input_records", "combine_output_records",
	"spilled_records", "spilled_bytes", "map_spills", "shuffle_bytes", "shuffle_bytes_fetched",
	"reduce_input_groups", "reduce_input_records", "output_records", "output_bytes",
	"attempts_failed", "attempts_lost",
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
