package mr

import (
	"sort"
	"sync/atomic"
)

// SampleSizeFunc is the optional SampleSize export. An app that exports it
// and returns n > 0 asks for a sampled range partition: before the map
// phase the engine calls Map on a few chunks of the input, keeps about n of
// the keys it emits, sorts them and takes nReduce-1 evenly spaced cut
// points, which Cuts then returns in every task. The app's Partition uses
// them through RangePartition, so that each reduce task gets a contiguous,
// similarly sized range of keys and the mr-out-* files, taken in order,
// are one sorted sequence.
//
// Workers call it once, at start, before any job parameter is set, so it
// should return a constant.
type SampleSizeFunc = func() int

// cuts holds the job's cut points. The engine sets them before each task,
// like the parameters; apps only read them.
var cuts atomic.Pointer[[]string]

// Cuts returns the range partition's cut points, ascending (equal ones may
// repeat when a key is very common): nReduce-1 of them in a job whose app
// exports SampleSize, and none otherwise, or when the sample was empty.
// The slice is shared; the caller must not modify it.
func Cuts() []string {
	c := cuts.Load()
	if c == nil {
		return nil
	}
	return *c
}

// SetCuts replaces the cut points. It is for the engine, not for apps. The
// slice must not be modified after the call.
func SetCuts(c []string) {
	cuts.Store(&c)
}

// RangePartition is the partitioner for apps that export SampleSize: the
// number of cut points that are less than or equal to key, so partition p
// holds the keys in [Cuts()[p-1], Cuts()[p]), and a key equal to a cut
// point goes to the partition above it. Every key of partition p sorts
// before every key of partition p+1. With no cut points it returns 0; it
// never returns more than nReduce-1.
func RangePartition(key string, nReduce int) int {
	c := Cuts()
	p := sort.Search(len(c), func(i int) bool { return c[i] > key })
	return max(min(p, nReduce-1), 0)
}

// ValueTypeFunc is the optional ValueType export: the type of the value
// column when the job writes Parquet or Arrow output (--output-format),
// "string" (the default), "int64", "float64" or "bool". Each Reduce result
// must then parse as that type, or the reduce attempt fails.
type ValueTypeFunc = func() string
