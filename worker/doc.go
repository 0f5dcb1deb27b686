// Package worker runs an app's Map and Reduce for a master. Run polls the
// master for tasks, runs each one with a heartbeat beside it, and reports
// the result. Panics in app code are recovered and reported as task
// failures carrying the panic message and where it happened, so a bug in an
// app never takes the worker down. Sequential runs a whole job in one
// process, as the reference output that distributed runs must equal.
//
// Each attempt counts the built-in counters of mr.Stat exactly, and
// claims the app's counter (mr.Counter) increments made while it runs; its
// heartbeats carry what it has counted so far, and its report the final
// count. See progress for when the values move, and progress.claim for
// what --slots above 1 does to the app's counters.
package worker
