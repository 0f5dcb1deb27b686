// Package master coordinates a job. Scheduler is the pure state machine:
// which task runs next, which attempt committed, which attempts are lost.
// Master wraps it in a net/rpc service that workers poll, adds the clock,
// and moves reduce output into place.
//
// Files: a job owns a scratch directory, OUT/.mr-<id>, where workers write
// map runs (one file per map attempt and partition, named by attempt so two
// attempts never collide) and finished reduce output. The master renames the
// first reported reduce output to OUT/mr-out-R, then removes the scratch
// directory when the job ends.
package master
