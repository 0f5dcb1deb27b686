// Package worker runs an app's Map and Reduce for a master. Run polls the
// master for tasks, runs each one with a heartbeat beside it, and reports
// the result. Panics in app code are recovered and reported as task
// failures carrying the panic message and where it happened, so a bug in an
// app never takes the worker down. Sequential runs a whole job in one
// process, as the reference output that distributed runs must equal.
package worker
