// Package shuffle moves pairs from map tasks to reduce tasks through
// sorted, compressed runs on disk, in bounded memory.
//
// On the map side, a Buffer takes a task's pairs as Map emits them and
// keeps them sorted by (partition, key, emission order) within a memory
// budget. When the budget fills, it sorts what it holds, applies the app's
// Combine, and spills one run per partition to a spill file. Finish merges
// the spills, combining again, into the task's single output file: one run
// per non-empty partition, back to back, with an index of where each
// partition starts. One file per task rather than one per partition keeps
// the file count at nMap instead of nMap × nReduce.
//
// On the reduce side, Open merges a partition's segments, one per map
// task, in map-task order. When there are more segments than the merge
// factor, it first merges consecutive groups of them into temporary runs,
// pass after pass, so the final merge never holds more than factor runs
// open; grouping consecutive segments keeps values in input order.
package shuffle
