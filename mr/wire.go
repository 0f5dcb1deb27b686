package mr

import (
	"fmt"
	"time"
)

// The master serves these calls over net/rpc under the name "Master":
//
//	Master.GetTask(GetTaskArgs, *GetTaskReply)
//	Master.Heartbeat(HeartbeatArgs, *HeartbeatReply)
//	Master.Report(ReportArgs, *ReportReply)
//
// Protocol outcomes ("wait", "exit", "stale attempt") travel in the replies.
// An error from a call means the transport failed, and the caller may retry.
const ServiceName = "Master"

// TaskKind says which phase a task belongs to.
type TaskKind int

const (
	MapTask TaskKind = iota + 1
	ReduceTask
	// SampleTask reads a few chunks of the input, calls Map on them and
	// reports a sample of the keys, from which the master computes the
	// cut points of a range partition. Only apps that export SampleSize
	// get sample tasks; see RangePartition.
	SampleTask
)

func (k TaskKind) String() string {
	switch k {
	case MapTask:
		return "map"
	case ReduceTask:
		return "reduce"
	case SampleTask:
		return "sample"
	}
	return "task?"
}

// Split is a map task's input: Length bytes of File starting at Offset. A
// text split holds the lines that start inside it, so a reader of a split
// that does not start at 0 skips the partial line before its first newline,
// and finishes the line that straddles its end.
//
// A columnar split (Format "parquet" or "arrow") is Count row groups or
// record batches of File from First on, read as one text line per row (see
// internal/format). Its Offset is where its first row group starts in the
// file and its Length the uncompressed size of the selected columns in its
// row groups, about the size of the text Map sees, which is what the master
// weighs progress by. A Split is comparable, so it can be a map key.
type Split struct {
	File   string
	Offset int64
	Length int64
	Whole  bool // the split is the whole file, so its lines need no trimming
	// Format names the reader: "" for text, "parquet" or "arrow".
	Format string
	// First and Count select row groups (Parquet) or record batches
	// (Arrow): [First, First+Count). Unused for text.
	First, Count int
	// Columns is the projection, comma-separated; "" reads every column.
	// Unused for text.
	Columns string
}

// Segment is one map task's sorted run for one partition: Length bytes of
// Path starting at Offset. Path is on the filesystem the master and the
// workers share when Addr is empty; otherwise it is on the worker whose
// shuffle server listens at Addr, which serves it to reducers. A reduce
// task finds its segments itself, from the partition index at the end of
// each map output file (see Task.Locations); it names them in its report
// when they cannot be read.
type Segment struct {
	Path   string
	Offset int64
	Length int64
	Addr   string // host:port of the owner's shuffle server; "" when shared
	Map    int    // the map task that wrote it
}

// CorruptSegment is a segment a reduce task found damaged, and why.
type CorruptSegment struct {
	Segment
	Why string
}

// TaskRef names one attempt of a task.
type TaskRef struct {
	Kind    TaskKind
	ID      int
	Attempt int
	// Epoch counts how often the master has resumed the job after a
	// crash: attempt numbers start again with each, so an attempt is
	// named by both, and reports from an earlier epoch are ignored.
	Epoch int
}

// File names a file of this attempt: prefix, the task's id and the
// attempt's, as "m3-a1", with the epoch when it is not 0 ("m3-e1-a1").
func (r TaskRef) File(prefix string) string {
	if r.Epoch == 0 {
		return fmt.Sprintf("%s%d-a%d", prefix, r.ID, r.Attempt)
	}
	return fmt.Sprintf("%s%d-e%d-a%d", prefix, r.ID, r.Epoch, r.Attempt)
}

// Task is an assignment handed to a worker.
type Task struct {
	TaskRef
	Splits []Split // map and sample tasks: the inputs, each passed to Map in turn
	// Locations, for a reduce task, says where every map task's committed
	// output is; the task reads its partition of each, merged in map task
	// order. LocationsID names them: they are the same for every reduce
	// task until some map output is lost, and a worker that already holds
	// them (GetTaskArgs.Locations) gets the ID alone, so that a job of
	// 200,000 map tasks does not send them with each of 5,000 reduce
	// tasks.
	Locations   Locations
	LocationsID uint64
	NReduce     int
	NMap        int
	// MapMemory is the map-side sort buffer's budget in bytes.
	MapMemory int
	// MergeFactor is the most runs a merge reads at once.
	MergeFactor int
	// ShipInputs says to read Splits from the master (Master.ReadSplit)
	// rather than from the worker's own filesystem.
	ShipInputs bool
	// CollectOutput says to send a reduce task's output to the master
	// (Master.PutOutput) rather than write it into Dir.
	CollectOutput bool
	// Dir is the job's scratch directory on the master's host. Workers
	// that can see it write map runs and reduce output there; others keep
	// map runs in their own work directory and serve them.
	Dir    string
	Params map[string]string
	// Heartbeat is how often the worker must call Master.Heartbeat while
	// the task runs; a task silent for several periods is given to another
	// worker.
	Heartbeat time.Duration
	// SampleSize, for a sample task, is the most keys to report: the
	// task's share of the sample the app asked for.
	SampleSize int
	// Cuts are the range partition's cut points, for the worker to pass to
	// SetCuts before it runs the task; nil when the job has no sample phase.
	Cuts []string
	// Output, for a reduce task, is the format to write (see
	// internal/format: text, parquet or arrow), and Compression the
	// codec of Parquet output.
	Output      string
	Compression string
	// Skip, when the job skips bad records, says which records to leave
	// out and where to look for one; see SkipPlan. Nil when it does not.
	Skip *SkipPlan
	// Out, when the job's output goes to an object store, is where a
	// reduce attempt uploads its finished output, as Out/File("out"),
	// for the master to commit (see internal/store); the attempt then
	// writes nothing into Dir. Empty otherwise.
	Out string
}

// Action tells a polling worker what to do next.
type Action int

const (
	Wait Action = iota // nothing to do now; ask again
	Run                // run Task
	Exit               // the job is over; see GetTaskReply.Failure
)

type GetTaskArgs struct {
	// Worker names the worker process, the same for all its slots. A
	// worker the master has declared dead must rejoin under a new name;
	// see GetTaskReply.Rejoin.
	Worker string
	// SampleSize is what the worker's app's SampleSize returned, or 0 when
	// it exports none. The first poll of a job decides whether it has a
	// sample phase; a later poll that disagrees fails the job, since its
	// workers run different apps.
	SampleSize int
	// AppSHA256 is the hex SHA-256 of the worker's app file. A master
	// that serves the job's app (mr master --app) refuses workers whose
	// app differs.
	AppSHA256 string
	// Locations is the Task.LocationsID of the map output locations this
	// worker process holds, or 0 for none.
	Locations uint64
}

type GetTaskReply struct {
	Action Action
	Task   Task
	// Failure is set with Exit when the job failed; it says why.
	Failure string
	// Refused is set with Exit when this worker may not work on the job
	// at all, such as for running another app; it says why.
	Refused string
	// Rejoin is set with Wait when the master declared this worker dead:
	// its running attempts were given to others and its map output is no
	// longer used. The worker must drop that output and ask again under a
	// new name.
	Rejoin bool
}

// ReadSplitArgs asks a master started with --ship-inputs for the lines of
// one of the job's splits (Master.ReadSplit).
type ReadSplitArgs struct {
	Split Split
}

type ReadSplitReply struct {
	Data []byte
}

// PutOutputArgs carries a piece of a reduce attempt's output to a master
// started with --collect-output (Master.PutOutput). Pieces may come in any
// order; the master writes each at its offset.
type PutOutputArgs struct {
	Task   TaskRef
	Offset int64
	Data   []byte
}

type PutOutputReply struct {
	// Path is where the master keeps the attempt's output; the report
	// names it as ReportArgs.Output.
	Path string
}

// GetAppArgs asks a master for the job's app (Master.GetApp).
type GetAppArgs struct{}

// GetAppReply carries the app plugin's bytes. Data is empty when the
// master serves no app.
type GetAppReply struct {
	Name   string // the app file's base name
	SHA256 string // hex SHA-256 of Data
	Data   []byte
}

type HeartbeatArgs struct {
	Worker string
	Task   TaskRef
	// Stats and Counters are what the attempt has counted so far, for the
	// master's live view; see ReportArgs.
	Stats    Stats
	Counters map[string]int64
	// Size, for a reduce attempt, is the bytes of map output it has to
	// merge, once it knows: the master weighs its progress by it.
	Size int64
}

type HeartbeatReply struct {
	// Done is true once the task has been committed by some attempt, so
	// this attempt's work is no longer needed.
	Done bool
	// Rejoin: see GetTaskReply.Rejoin.
	Rejoin bool
	// Lost, for a reduce attempt, lists the map tasks whose output it was
	// given but that has since been lost, such as with a dead worker; the
	// attempt should stop fetching it and report it unreachable.
	Lost []int
}

type ReportArgs struct {
	Worker string
	Task   TaskRef
	// Failure is empty on success. Otherwise it says what went wrong, such
	// as an app's panic message with the record it was working on.
	Failure string
	// Output, for a successful map task, is the file holding one sorted
	// run per partition, which ends with the partition index that says
	// where each run is (internal/shuffle). For a successful reduce task,
	// it is the finished output file, which the master renames into place
	// if this attempt commits first.
	Output string
	// Addr, for a map task whose output stays on the worker, is the
	// worker's shuffle server, which serves Output to reducers. It is
	// empty when Output is in the shared job directory.
	Addr string
	// Unreachable, for a reduce task that could not fetch some of its
	// segments, lists them. The attempt counts as lost, not failed, and
	// the master runs the map tasks that wrote them again.
	Unreachable []Segment
	// WorkerFault, with Failure, says the failure is this worker's, not
	// the app's: its disk is full or broken. The attempt counts as lost,
	// and the task runs on another worker if there is one.
	WorkerFault bool
	// Corrupt, for a reduce task, lists the segments it found damaged:
	// bytes that fail their checksums or end early, where they lie or in
	// a fetched copy, or a file that is gone. As with Unreachable, the
	// attempt is lost and the map tasks that wrote them run again.
	Corrupt []CorruptSegment
	// OutputCRC, for a reduce task that sent its output with PutOutput,
	// is the CRC-32C (Castagnoli) of the whole output. The master checks
	// the file it collected against it before committing.
	OutputCRC uint32
	// Sample, for a successful sample task, holds the sampled keys, at
	// most Task.SampleSize of them, in no particular order.
	Sample []string
	// Mark, for an attempt of a job that skips bad records that failed
	// in app code, says which records the app was working on; see Mark.
	Mark *Mark
	// Stats and Counters are what the attempt counted: the built-in
	// counters, and the app's (see Counter) by name. Only a committing
	// attempt's count toward the job's totals.
	Stats    Stats
	Counters map[string]int64
}

type ReportReply struct {
	// Accepted is true when this report committed the task. A late or
	// duplicate report gets false and the worker simply moves on.
	Accepted bool
	// Rejoin: see GetTaskReply.Rejoin. The report was ignored.
	Rejoin bool
}
