package worker

import (
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"unsafe"

	"gomr.dev/mr"
)

// progress is what a running attempt has counted so far, which its
// heartbeats carry to the master's live view: the built-in counters and
// the app's counters (mr.Counter) attributed to it.
//
// The task's goroutine counts in plain fields of its own, never an atomic
// per pair, and publishes them here at coarse points: after each Map call,
// and every reduceEvery keys. Only the bytes a reduce reads and fetches
// are added here directly, one buffer (about 32 KiB) at a time, so that
// its progress moves within a key too.
type progress struct {
	stats [mr.NumStats]atomic.Int64
	// stop is set when the master says another attempt of the task has
	// committed, so this one's work is no longer needed.
	stop atomic.Bool
	// size, for a reduce task, is the bytes of map output it merges,
	// once it has found them all.
	size atomic.Int64

	mu       sync.Mutex       // guards counters
	counters map[string]int64 // app counters attributed to this attempt, cumulative

	// marks, when the job skips bad records, tells the master which
	// records app code is about to see; nil when it does not. Only the
	// task's goroutine uses it. See skip.go.
	marks *marker
}

// publish stores the counters which of st.
func (p *progress) publish(st *mr.Stats, which []mr.Stat) {
	for _, s := range which {
		p.stats[s].Store(st[s])
	}
}

// Stats returns the built-in counters as last published.
func (p *progress) Stats() mr.Stats {
	var st mr.Stats
	for i := range st {
		st[i] = p.stats[i].Load()
	}
	return st
}

// claimed is how much of each app counter this process has attributed to
// some attempt. mr.Counter's registry is process-wide, so this is too:
// two Run calls in one process (as in tests) share it, and an increment is
// never attributed twice.
var claimed struct {
	mu   sync.Mutex       // guards last, and orders claims
	last map[string]int64 // mr.CounterValues() at the latest claim
}

// claim attributes to p every increment of the app's counters made in
// this process since the latest claim, and returns p's counters so far: a
// new map, every counter the app has made included, or nil when it has
// made none. Each heartbeat claims, and so does the report, after the
// heartbeat has stopped.
//
// With one task at a time in the process (--slots 1), an increment is
// made by the attempt that claims it, so each attempt's counters are
// exact. With several slots, each increment is still attributed exactly
// once, but to whichever running attempt claims next, which may be a
// concurrent task's. The job's totals, which sum committed attempts only,
// stay exact as long as every attempt commits; an attempt that fails or
// is lost may carry away a concurrent task's increments, or leave some of
// its own to one that commits. So with --slots above 1, totals are exact
// only when no attempt fails or is lost.
func (p *progress) claim() map[string]int64 {
	claimed.mu.Lock()
	defer claimed.mu.Unlock()
	now := mr.CounterValues()
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, v := range now {
		if p.counters == nil {
			p.counters = make(map[string]int64, len(now))
		}
		p.counters[name] += v - claimed.last[name]
	}
	claimed.last = now
	return maps.Clone(p.counters)
}

// The built-in counters each kind of task publishes while it runs.
var (
	mapStats = []mr.Stat{mr.MapInputRecords, mr.MapInputBytes, mr.MapOutputRecords, mr.MapOutputBytes,
		mr.CombineInputRecords, mr.CombineOutputRecords, mr.SpilledRecords, mr.SpilledBytes, mr.MapSpills}
	sampleStats = []mr.Stat{mr.MapInputRecords, mr.MapInputBytes}
	reduceStats = []mr.Stat{mr.SpilledRecords, mr.SpilledBytes, mr.ReduceInputGroups, mr.ReduceInputRecords,
		mr.OutputRecords, mr.OutputBytes}
)

// errSuperseded ends an attempt the master no longer needs. Out of emit it
// travels as a panic through the app's Map, which is the only way to
// interrupt it, and recoverTo turns it back into this error.
var errSuperseded = errors.New("stopped: another attempt of the task committed")

// emitEvery is how many pairs a map emits between looks at whether it
// should stop and where in its input it is.
const emitEvery = 4096

// mapping is called every emitEvery pairs with the map's current input,
// what the attempt had read before it (done) and the key just emitted. It
// publishes how far into contents the key lies, if it is a substring of
// contents, as most apps' keys are, so that a long Map call shows
// progress, and it panics with errSuperseded when the attempt should stop.
func (p *progress) mapping(contents, key string, done int64) {
	if p.stop.Load() {
		panic(errSuperseded)
	}
	if off := offsetIn(contents, key); off >= 0 {
		p.stats[mr.MapInputBytes].Store(done + off)
	}
}

// offsetIn returns where sub starts within s, when sub shares s's bytes,
// or -1.
func offsetIn(s, sub string) int64 {
	if len(s) == 0 || len(sub) == 0 {
		return -1
	}
	base, at := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(sub)))
	if at < base || at >= base+uintptr(len(s)) {
		return -1
	}
	return int64(at - base)
}
