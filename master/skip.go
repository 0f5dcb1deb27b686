package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"gomr.dev/internal/inputs"
	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// Skipping bad records (Config.SkipBadRecords, mr master
// --skip-bad-records N), as in section 3.3 of the MapReduce paper.
//
// Before it calls app code, a worker marks what that code is about to see
// (Master.Mark, see mr.Mark): a range of lines of a split, or a batch of
// reduce keys. The scheduler keeps each attempt's latest mark. When an
// attempt crashes in app code, its mark is where the task is suspected to
// crash: the mark its worker reports with a failure (a panic), or the
// latest mark it sent before it was lost (os.Exit, a fatal error, a kill).
// The next attempt runs the suspect range in smaller pieces, marking each,
// so that a crash there narrows the suspicion further, down to a single
// record: one line, or one key. A record that two attempts crashed on is
// left out of every later attempt of the task, and listed in the job
// summary; one more record than SkipBadRecords fails the job.
//
// A crash that narrows the suspicion, or pins a record, does not count
// against the task's --max-attempts or its losses in a row, or the job
// would fail before the record is found. At most maxNarrow of them do
// between two records the task skips, so an app that crashes at random
// still fails the job, within SkipBadRecords + 1 times that many crashes
// and the usual budget.

// maxNarrow bounds the crashes of a task that go uncounted while it
// narrows in on one bad record. A narrowing step divides the suspect
// range by mapFanOut (see worker/skip.go), so 12 pins a line in a split of
// far more than the 64 MiB a split usually has.
const maxNarrow = 12

// taskSkip is what a task knows of its bad records.
type taskSkip struct {
	suspect  *mr.Mark          // where its latest crashing attempt was; nil after it skipped that record
	pins     map[recordKey]int // records that attempts crashed on, and how many
	records  []mr.Mark         // records to leave out, in the order found
	narrowed int               // crashes not counted against the task since it last skipped a record
}

// recordKey identifies a record of a task: a line by where it starts in
// its split, or a reduce key.
type recordKey struct {
	split int
	start int64
	key   string
}

func keyOf(m *mr.Mark) recordKey { return recordKey{m.Split, m.Start, m.Key} }

// SkippedRecord is a bad record the job left out, as the job summary
// (skipped_records) lists it.
type SkippedRecord struct {
	Kind string `json:"kind"` // map or reduce
	Task int    `json:"task"`
	// Where names the record for humans: "FILE byte N: TEXT", "row N of
	// input FILE row groups A-B: TEXT", or `key "K"`.
	Where string `json:"where"`
	// File, for a map record: its input file. Offset, for a line of a
	// text file: where the line starts in it, in bytes. Row, for a row
	// of a Parquet or Arrow file: its number in the task's split, from 0.
	File   string `json:"file,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
	Row    *int64 `json:"row,omitempty"`
	// Text, for a map record: the line's first bytes.
	Text string `json:"text,omitempty"`
	// Key, for a reduce record: the key whose group was left out.
	Key string `json:"key,omitempty"`
}

// Mark notes where an attempt's app code is, for a job that skips bad
// records; marks of attempts no longer running, and marks older than the
// attempt's latest, are ignored.
func (s *Scheduler) Mark(args mr.MarkArgs) {
	if s.cfg.SkipBadRecords <= 0 {
		return
	}
	t, a := s.attempt(args.Task)
	if t == nil || a.worker != args.Worker || a.state != attemptRunning {
		return
	}
	if a.mark != nil && a.mark.Seq >= args.Mark.Seq {
		return
	}
	m := args.Mark
	a.mark = &m
}

// skipPlan is what an attempt of t that is starting needs to know about
// bad records: nil when the job skips none.
func (s *Scheduler) skipPlan(t *task) *mr.SkipPlan {
	if s.cfg.SkipBadRecords <= 0 || t.ref.Kind == mr.SampleTask {
		return nil
	}
	p := &mr.SkipPlan{}
	if ts := t.skip; ts != nil {
		if ts.suspect != nil {
			m := *ts.suspect
			p.Suspect = &m
		}
		p.Records = slices.Clone(ts.records)
	}
	return p
}

// skipFailed is Complete's part for an attempt a of t that failed (its
// t.failures already counted) with the app working on m, when the worker
// says it was. When the crash narrowed in on a bad record it returns
// Retrying and true, and takes the failure back; when it was on one record
// too many, JobFailed and true.
func (s *Scheduler) skipFailed(t *task, a *attempt, ref mr.TaskRef, m *mr.Mark, now time.Time) (Outcome, bool) {
	narrowed := s.crashed(t, a, ref, m, now)
	switch {
	case s.failure != "":
		s.settle(t)
		return JobFailed, true
	case narrowed:
		t.failures--
		s.settle(t)
		return Retrying, true
	}
	return Ignored, false
}

// skipLost is Expire's and bury's part for attempt n (1-based) of t, just
// lost to silence: if its latest mark says it was in app code, it may have
// crashed there (os.Exit, a fatal error, a kill). When the crash narrowed
// in on a bad record, the loss is taken back from t's losses in a row.
func (s *Scheduler) skipLost(t *task, n int, now time.Time) {
	a := &t.attempts[n-1]
	ref := t.ref
	ref.Attempt = n
	if s.crashed(t, a, ref, a.mark, now) {
		t.lost--
	}
}

// blamed replaces the mark of an attempt whose crash has been dealt
// with, so that an attempt lost to silence that reports a failure later
// is not blamed twice.
var blamed = &mr.Mark{Seq: math.MaxInt64}

// crashed notes that attempt a of t (ref) crashed with its app working on
// m (nil or idle: not in app code), and reports whether the crash should
// go uncounted against the task's budget: it narrowed the suspicion, or
// pinned or skipped a record. Skipping one record more than the job may
// fails the job.
func (s *Scheduler) crashed(t *task, a *attempt, ref mr.TaskRef, m *mr.Mark, now time.Time) bool {
	if s.cfg.SkipBadRecords <= 0 || a.mark == blamed || m == nil || m.Idle() || !s.validMark(t, m) {
		return false
	}
	a.mark = blamed
	worker := a.worker
	if t.skip == nil {
		t.skip = &taskSkip{pins: make(map[recordKey]int)}
	}
	ts := t.skip
	mark := *m
	prev := ts.suspect
	ts.suspect = &mark
	if mark.Record {
		k := keyOf(&mark)
		ts.pins[k]++
		if ts.pins[k] >= 2 {
			rec := s.skippedRecord(t, &mark)
			ts.suspect, ts.narrowed = nil, 0
			if len(s.skipped) >= s.cfg.SkipBadRecords {
				s.fail(t, fmt.Sprintf("crashed twice on %s, one bad record more than --skip-bad-records %d allows", rec.Where, s.cfg.SkipBadRecords))
				return false
			}
			ts.records = append(ts.records, mark)
			s.skipped = append(s.skipped, rec)
			s.totals[mr.RecordsSkipped]++
			s.event(Event{now, ref, worker, fmt.Sprintf("skipping bad record: %s (%d of at most %d)", rec.Where, len(s.skipped), s.cfg.SkipBadRecords)})
			return true
		}
	}
	if (prev != nil && !within(t.ref.Kind, &mark, prev)) || ts.narrowed >= maxNarrow {
		return false
	}
	ts.narrowed++
	what := "crashed in " + s.describeMark(t, &mark) + "; running it again in smaller pieces"
	if mark.Record {
		what = "crashed on " + s.describeMark(t, &mark) + "; skipping it if it crashes again"
	}
	s.note(Event{now, ref, worker, what})
	return true
}

// within reports whether m, where an attempt crashed, narrows the
// suspicion prev: it is inside prev and smaller, or it is the same record.
func within(kind mr.TaskKind, m, prev *mr.Mark) bool {
	if kind == mr.ReduceTask {
		return m.Keys < prev.Keys || (m.Record && prev.Record && m.Key == prev.Key)
	}
	if m.Split != prev.Split || m.Start < prev.Start || m.End > prev.End {
		return false
	}
	return m.End-m.Start < prev.End-prev.Start || (m.Record && prev.Record)
}

// validMark checks that a worker's mark names records of t.
func (s *Scheduler) validMark(t *task, m *mr.Mark) bool {
	switch t.ref.Kind {
	case mr.MapTask:
		return m.Split >= 0 && m.Split < len(s.cfg.Tasks[t.ref.ID]) && m.Start >= 0 && m.End >= m.Start
	case mr.ReduceTask:
		return m.Keys >= 1
	}
	return false
}

// skippedRecord describes record m of t for the summary and the log.
func (s *Scheduler) skippedRecord(t *task, m *mr.Mark) SkippedRecord {
	rec := SkippedRecord{Kind: t.ref.Kind.String(), Task: t.ref.ID}
	if t.ref.Kind == mr.ReduceTask {
		rec.Key = m.Key
		rec.Where = fmt.Sprintf("key %.80q", m.Key)
		return rec
	}
	sp := s.cfg.Tasks[t.ref.ID][m.Split]
	rec.File, rec.Text = sp.File, m.Text
	if sp.Format == "" {
		off := s.cfg.TextStarts[sp] + m.Start
		rec.Offset = &off
		rec.Where = fmt.Sprintf("%s byte %d: %q", sp.File, off, m.Text)
	} else {
		row := m.Line
		rec.Row = &row
		rec.Where = fmt.Sprintf("row %d of %s: %q", row, inputs.Describe(sp), m.Text)
	}
	return rec
}

// describeMark names the records m marks, for the status page's events.
func (s *Scheduler) describeMark(t *task, m *mr.Mark) string {
	if t.ref.Kind == mr.ReduceTask {
		if m.Record {
			return fmt.Sprintf("key %.80q", m.Key)
		}
		return fmt.Sprintf("up to %d keys from %.80q", m.Keys, m.Key)
	}
	if m.Record {
		return s.skippedRecord(t, m).Where
	}
	sp := s.cfg.Tasks[t.ref.ID][m.Split]
	if sp.Format == "" {
		start := s.cfg.TextStarts[sp]
		return fmt.Sprintf("%s bytes %d-%d", sp.File, start+m.Start, start+m.End)
	}
	return fmt.Sprintf("bytes %d-%d of the text of %s", m.Start, m.End, inputs.Describe(sp))
}

// Skipped lists the records the job has left out so far, in the order it
// decided to. The caller owns the slice.
func (s *Scheduler) Skipped() []SkippedRecord { return slices.Clone(s.skipped) }

// textStarts finds where the text of each split that starts inside a
// text file begins: at the first line that starts in it, which is what
// a worker's offsets in that split's text count from. Splits of text at
// offset 0, whole files and columnar splits are not listed; their text
// starts at 0, or has no byte offsets in the file.
func textStarts(tasks [][]mr.Split) (map[mr.Split]int64, error) {
	starts := make(map[mr.Split]int64)
	for _, t := range tasks {
		for _, sp := range t {
			if sp.Format != "" || sp.Whole || sp.Offset == 0 {
				continue
			}
			start, err := lineStart(sp.File, sp.Offset)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", sp.File, err)
			}
			starts[sp] = start
		}
	}
	return starts, nil
}

// lineStart returns where the first line that starts at or after off
// (> 0) begins in the file at path: just past the first newline at or
// after off-1, as a split's reader finds it; the file's size if none.
func lineStart(path string, off int64) (int64, error) {
	f, err := store.Open(context.Background(), path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 4096)
	pos := off - 1
	for {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if errors.Is(err, io.EOF) {
			return pos, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Mark notes where a worker's app code is; see mr.Mark. The worker never
// waits for the reply.
func (s *service) Mark(args mr.MarkArgs, reply *mr.MarkReply) error {
	s.m.mu.Lock()
	s.m.sched.Mark(args)
	s.m.mu.Unlock()
	return nil
}
