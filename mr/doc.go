// Package mr is the shared vocabulary of the engine: the API that apps are
// written against, and the types that the master and its workers exchange.
//
// An app is a Go plugin (package main, built with -buildmode=plugin) that
// exports
//
//	func Map(filename string, contents string) []mr.KeyValue
//	func Reduce(key string, values []string) string
//
// and optionally
//
//	func Combine(key string, values []string) string   // map-side only
//	func Partition(key string, nReduce int) int        // default: DefaultPartition
//
// These are the signatures of the MIT 6.5840 MapReduce lab, so a lab app runs
// here with only its import path changed.
//
// Values reach Reduce in input order: map tasks in the order of their inputs,
// and within a task in the order Map emitted them. A Combine, when present,
// is applied to each map task's output before it is written, and its results
// take the place of the values it combined.
//
// An app may also export
//
//	func SampleSize() int
//
// to ask, by returning n > 0, for a range partition: before the map phase
// the engine runs sample tasks that call Map on a few chunks of the input
// and keep about n of the keys, and the master computes nReduce-1 cut
// points from them, which Cuts returns in every later task. Its Partition
// should call RangePartition, which gives each reduce task one range of
// keys, so that the outputs, in partition order, are globally sorted. The
// master learns whether the app samples from the workers' polls
// (GetTaskArgs.SampleSize): the job's first poll decides, and a later poll
// that disagrees fails the job.
//
// This package holds no goroutines and opens no sockets.
package mr
