// Package format reads a job's inputs and writes its outputs in the
// formats the engine knows: text lines, Parquet and Arrow IPC files.
//
// Each format is one implementation of a small interface, Output for what
// reduce tasks write; the worker and the master never ask which format
// they have. A format's file name extension, its options and its errors
// are its own business.
package format
