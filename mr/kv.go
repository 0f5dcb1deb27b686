package mr

import (
	"iter"

	"github.com/apache/arrow/go/v15/arrow"
)

// KeyValue is one pair emitted by Map.
type KeyValue struct {
	Key   string
	Value string
}

// MapFunc is the lab's Map signature. Map is called once per input split
// with the split's file name and its contents.
type MapFunc = func(filename string, contents string) []KeyValue

// ReduceFunc is the lab's Reduce signature. It is called once per distinct
// key, in ascending key order within a reduce task. The values slice is
// owned by Reduce for the duration of the call.
type ReduceFunc = func(key string, values []string) string

// MapBatchFunc is Map for Parquet and Arrow inputs, typed: it is called
// with each record batch of a split, holding the job's --columns (all
// columns by default, nested ones too), and hands pairs to emit. The batch
// and its arrays are valid only during the call: Retain what must outlive
// it, and copy strings taken from it (their bytes are the batch's). An
// app may export MapBatch beside Map, which then gets its text inputs, or
// alone, and then text inputs fail the task.
type MapBatchFunc = func(filename string, batch arrow.Record, emit func(key, value string))

// MapEmitFunc is the streaming form of Map: it hands each pair to emit
// instead of returning them all, so the engine can sort and spill them
// within its memory budget. emit must be called only during the Map call,
// and, as for any Go string, the bytes behind key and value must not change
// afterwards. A plugin declares one form of Map or the other.
type MapEmitFunc = func(filename string, contents string, emit func(key, value string))

// ReduceIterFunc is the streaming form of Reduce: values are read from the
// merge as the loop asks for them, so a key may have more values than fit
// in memory. The sequence is valid only during the call, and can be ranged
// over once.
type ReduceIterFunc = func(key string, values iter.Seq[string]) string

// CombineFunc has Reduce's signature. It is applied on the map side only and
// must be safe to apply to any subset of a key's values, any number of times.
// Its key and values are valid only during the call: copy what it keeps.
type CombineFunc = func(key string, values []string) string

// PartitionFunc picks the reduce task, in [0, nReduce), for a key.
type PartitionFunc = func(key string, nReduce int) int

// DefaultPartition is the lab's partitioner: FNV-1a 32-bit of the key,
// masked to 31 bits, modulo nReduce.
func DefaultPartition(key string, nReduce int) int {
	// FNV-1a, as hash/fnv computes it, without its allocation.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h&0x7fffffff) % nReduce
}
