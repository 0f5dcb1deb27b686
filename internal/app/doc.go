// Package app loads a MapReduce app: a Go plugin built with
// -buildmode=plugin that exports
//
//	func Map(filename string, contents string) []mr.KeyValue
//	func Reduce(key string, values []string) string
//
// and optionally
//
//	func Combine(key string, values []string) string
//	func Partition(key string, nReduce int) int
//	func SampleSize() int
//
// An export may also be a package-level variable of the same func type
// (var Map = func(...) ...); its value is read once, when the app is
// loaded, and a nil variable counts as not exported.
//
// Load checks, in order, that the path is a regular file, that it is a Go
// plugin built by the same Go toolchain as the running binary, that the
// plugin package accepts it, and that the exports have the signatures
// above. Every error it returns is a single line meant to be shown to the
// user as is ("mr worker: <err>"): it names the file and the export or
// package at fault and says what to do. errors.Is tells the classes apart:
// ErrNotApp (missing file, not a plugin, missing or mistyped export),
// ErrMismatch (built by another toolchain or with other flags or sources
// than this binary) and ErrUnsupported (this binary cannot load plugins at
// all, because it was built without cgo).
//
// Go plugins are fragile. An app loads only into a binary built from the
// same sources of every package they share, by the same toolchain, with
// the same flags (-race, -trimpath, -gcflags, ...), and, unless both use
// -trimpath, in the same directory, because source paths are compiled in.
// When the plugin package refuses an app for this reason, Load's error
// lists the build settings in which the two differ.
//
// A plugin can never be unloaded, and the plugin package caches by real
// path, so a process that loads the same path twice gets the first build
// even if the file has been replaced in between, and a process can hold
// only one build of a given app package. Load runs the plugin's init
// functions.
//
// Load does not protect callers from the app's own code: recovering a panic
// in Map or Reduce is the worker's job.
//
// The race detector and plugins do not mix (a -race test binary cannot load
// a plugin built without -race), so the tests here exercise the checks with
// synthetic errors, build info and symbol tables, and never open a plugin.
package app
