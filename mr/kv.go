package mr

import "hash/fnv"

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

// CombineFunc has Reduce's signature. It is applied on the map side only and
// must be safe to apply to any subset of a key's values, any number of times.
type CombineFunc = func(key string, values []string) string

// PartitionFunc picks the reduce task, in [0, nReduce), for a key.
type PartitionFunc = func(key string, nReduce int) int

// DefaultPartition is the lab's partitioner: FNV-1a 32-bit of the key,
// masked to 31 bits, modulo nReduce.
func DefaultPartition(key string, nReduce int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()&0x7fffffff) % nReduce
}
