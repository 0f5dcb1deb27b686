package mr

// Skipping bad records (mr master --skip-bad-records N): a record that
// crashed two attempts of a task is left out of later attempts. A crash
// may kill the worker process (os.Exit, a fatal error, the OOM killer), so
// before it calls app code a worker tells the master which records that
// code is about to see, with Master.Mark: a call whose reply it never
// waits for. The request is written to the connection before the app is
// called, so it reaches the master even if the process dies at once.
//
//	Master.Mark(MarkArgs, *MarkReply)

// Mark says which records of a task an attempt's app code is working on,
// from the moment it is sent until the next one. A map task marks ranges
// of lines, [Start, End) in the text of Task.Splits[Split] as the split's
// reader returns it (for a text split not at the start of its file, its
// first line starts at offset 0); a reduce task marks keys: Keys keys in
// key order from Key on. A mark with neither (End == Start and Keys == 0)
// says that app code is not running.
type Mark struct {
	// Seq orders an attempt's marks, from 1; the master keeps the
	// highest it has seen, since concurrent calls may arrive out of order.
	Seq int64
	// Split, Start and End, for a map task: the lines being mapped.
	Split      int
	Start, End int64
	// Key and Keys, for a reduce task: the keys being reduced.
	Key  string
	Keys int
	// Record says the mark is one record: one line (End is past its
	// newline, if it has one) or one key (Keys is 1).
	Record bool
	// Line and Text, for a map record: the line's number in the split's
	// text, from 0, and its first bytes, for the master's log.
	Line int64
	Text string
}

// Idle reports whether the mark says that app code is not running.
func (m Mark) Idle() bool { return m.End == m.Start && m.Keys == 0 }

// MarkArgs is one mark of an attempt; see Mark.
type MarkArgs struct {
	Worker string
	Task   TaskRef
	Mark   Mark
}

type MarkReply struct{}

// SkipPlan tells an attempt of a job that skips bad records what to do
// about them. Task.Skip is nil when the job does not skip them, and then
// workers send no marks.
type SkipPlan struct {
	// Suspect is where the task's latest crashing attempt was, or nil.
	// The attempt calls app code on smaller pieces of it, marking each,
	// so that a crash there pins the record down further.
	Suspect *Mark
	// Records are the records to leave out: for a map task, the lines
	// starting at Start in Split; for a reduce task, the groups of Key.
	Records []Mark
}
