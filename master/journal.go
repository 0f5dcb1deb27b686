package master

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gomr.dev/internal/scratch"
	"gomr.dev/internal/shuffle"
	"gomr.dev/internal/store"
	"gomr.dev/mr"
)

// The journal lets a master that crashed resume its job. The master
// appends a line of JSON to OUT/.mr-ID/journal, and fsyncs it, for every
// decision it would hate to lose: first the job's spec, then each time it
// (re)starts, its epoch; the sample's cut points; each committed map task
// (where its output is, and which attempt wrote it); and each reduce task
// whose output it has moved into place. A master started again on the
// same --out finds the journal, checks that the inputs and the flags that
// shape the output are unchanged, and takes up the job where the journal
// ends: committed reduces stay, map output that is still there is
// reused, and only the rest runs again.
//
// A crash can tear the last line; a line that does not parse ends the
// journal. Appends go through one mutex of their own, never under the
// master's, since each waits for the disk.

// journalFile is the journal's name in the job's scratch directory.
const journalFile = "journal"

// record is one line of the journal; exactly one field is set.
type record struct {
	Spec   *journalSpec  `json:"spec,omitempty"`
	Epoch  *int          `json:"epoch,omitempty"`
	Sample *sampleRecord `json:"sample,omitempty"`
	Map    *taskRecord   `json:"map,omitempty"`
	Reduce *taskRecord   `json:"reduce,omitempty"`
}

// journalSpec is what must not change for a job to resume: the inputs as
// they were, and the flags that shape the output.
type journalSpec struct {
	Started time.Time         `json:"started"`
	Inputs  []journalInput    `json:"inputs"`
	Plan    map[string]string `json:"plan"`
	Tasks   string            `json:"tasks"` // SHA-256 of the map tasks' splits
}

type journalInput struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// sampleRecord is the sample phase's decision: off, or on with its cuts.
type sampleRecord struct {
	Asked  int      `json:"asked,omitempty"` // the SampleSize that decided; 0 for off
	Cuts   []string `json:"cuts,omitempty"`
	Sample int      `json:"sample,omitempty"`
}

// taskRecord is a committed map or reduce task.
type taskRecord struct {
	ID       int              `json:"id"`
	Output   string           `json:"output,omitempty"`  // map: the file; reduce: unused
	Attempt  int              `json:"attempt,omitempty"` // map: the attempt that wrote Output, which names it
	Epoch    int              `json:"epoch,omitempty"`
	Addr     string           `json:"addr,omitempty"`
	Owner    string           `json:"owner,omitempty"`
	Stats    map[string]int64 `json:"stats,omitempty"` // the committed attempt's, for the job's totals
	Counters map[string]int64 `json:"counters,omitempty"`
}

// planFlags are the flags whose change changes a job's output, so a job
// started with others may not resume.
var planFlags = []string{"nreduce", "split-size", "param", "output-format", "parquet-compression", "columns", "app", "skip-bad-records"}

// specOf describes the job for its journal: opt's inputs and flags, the
// served app's SHA-256 (or ""), and the map tasks they make.
func specOf(opt Options, app string, tasks [][]mr.Split) journalSpec {
	js := journalSpec{Started: time.Now().UTC().Truncate(time.Second), Plan: map[string]string{}}
	for _, path := range opt.Inputs {
		in := journalInput{Path: path}
		if fi, err := store.Stat(context.Background(), path); err == nil {
			in.Size, in.ModTime = fi.Size, fi.ModTime.UTC()
		}
		js.Inputs = append(js.Inputs, in)
	}
	for _, f := range planFlags {
		if v, ok := opt.Flags[f]; ok {
			js.Plan[f] = v
		}
	}
	js.Plan["nreduce"] = fmt.Sprint(opt.NReduce)
	if app != "" {
		js.Plan["app"] = app
	}
	h := sha256.New()
	json.NewEncoder(h).Encode(tasks)
	js.Tasks = hex.EncodeToString(h.Sum(nil))
	return js
}

// differs says, in words, how spec b differs from a, the journal's; ""
// when it does not.
func (a journalSpec) differs(b journalSpec) string {
	var what []string
	old := map[string]journalInput{}
	for _, in := range a.Inputs {
		old[in.Path] = in
	}
	for _, in := range b.Inputs {
		o, ok := old[in.Path]
		switch {
		case !ok:
			what = append(what, "input "+in.Path+" is new")
		case o.Size != in.Size || !o.ModTime.Equal(in.ModTime):
			what = append(what, "input "+in.Path+" has changed")
		}
		delete(old, in.Path)
	}
	for path := range old {
		what = append(what, "input "+path+" is no longer given")
	}
	for _, f := range planFlags {
		if a.Plan[f] != b.Plan[f] {
			what = append(what, fmt.Sprintf("--%s was %q, now %q", f, a.Plan[f], b.Plan[f]))
		}
	}
	if len(what) == 0 && a.Tasks != b.Tasks {
		what = append(what, "the map tasks are cut differently")
	}
	if len(what) > 3 {
		what = append(what[:3], fmt.Sprintf("and %d more", len(what)-3))
	}
	return strings.Join(what, "; ")
}

// journal appends records to the job's journal file. Records that
// arrive while another append is at the disk wait and go with the next
// write (a group commit), so that a master committing thousands of tasks
// a second pays for a few writes, not one each.
//
// Only the records a resumed job could not do without wait for an
// fsync: the spec, each epoch (a resumed master must never reuse one, or
// an old attempt's report could pass for a new one's), and the sample's
// cut points. A committed map or reduce task is written before the
// master answers, so that a master that dies, even by SIGKILL, has told
// the kernel; only a crash of the host can lose the last few, and a
// task the journal does not name just runs again.
type journal struct {
	mu      sync.Mutex // guards f, pending and queued
	f       *os.File
	pending []byte // lines not yet written
	queued  int    // lines appended in all

	syncMu  sync.Mutex // held while writing and syncing; guards written and synced
	written int        // lines written
	synced  int        // lines known to be on the disk
}

// openJournal opens dir's journal for appending, creating it if need be.
func openJournal(dir string) (*journal, error) {
	f, err := os.OpenFile(filepath.Join(dir, journalFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &journal{f: f}, nil
}

// append adds r as one line and waits for it to be written, and with
// sync for it to reach the disk.
func (j *journal) append(r record, sync bool) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	if j.f == nil {
		j.mu.Unlock()
		return errors.New("journal closed")
	}
	j.pending = append(append(j.pending, line...), '\n')
	j.queued++
	mine := j.queued
	j.mu.Unlock()

	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= mine || !sync && j.written >= mine {
		return nil // a write (and fsync) that began after this append has finished
	}
	j.mu.Lock()
	batch, upTo, f := j.pending, j.queued, j.f
	j.pending = nil
	j.mu.Unlock()
	if f == nil {
		return errors.New("journal closed")
	}
	if len(batch) > 0 {
		if _, err := f.Write(batch); err != nil {
			return err
		}
		j.written = upTo
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
		j.synced = upTo
	}
	return nil
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// resume is what a journal says of a job so far.
type resume struct {
	spec    journalSpec
	epoch   int // the last epoch the journal names
	sample  *sampleRecord
	maps    map[int]taskRecord
	reduces map[int]taskRecord
}

// readJournal reads a job's journal. A torn last line, as a crash may
// leave, ends it; so does any line that does not parse.
func readJournal(path string) (*resume, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &resume{maps: map[int]taskRecord{}, reduces: map[int]taskRecord{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	first := true
	for sc.Scan() {
		var rec record
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			break
		}
		switch {
		case first && rec.Spec == nil:
			return nil, fmt.Errorf("%s does not start with the job's spec", path)
		case rec.Spec != nil:
			r.spec = *rec.Spec
		case rec.Epoch != nil:
			r.epoch = *rec.Epoch
		case rec.Sample != nil:
			r.sample = rec.Sample
		case rec.Map != nil:
			r.maps[rec.Map.ID] = *rec.Map
		case rec.Reduce != nil:
			r.reduces[rec.Reduce.ID] = *rec.Reduce
		}
		first = false
	}
	if first {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return r, nil
}

// statsRecord turns a committed attempt's counters into a journal's.
func statsRecord(st mr.Stats) map[string]int64 {
	m := st.Map()
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
	return m
}

// statsOf turns a journal's counters back into Stats.
func statsOf(m map[string]int64) mr.Stats {
	var st mr.Stats
	for i := range st {
		st[i] = m[mr.Stat(i).String()]
	}
	return st
}

// ids lists a map's keys in order, for logs.
func ids(m map[int]taskRecord) []int {
	out := make([]int, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Restore takes up a job from its journal: the sample's decision, the
// committed map tasks whose output keep says is still there, and the
// committed reduces whose output done says is in place. Each restored
// task gets one committed attempt, of the epoch before, carrying the
// counters it committed with. Workers that hold restored map output are
// taken to be alive as of now, so that one that never comes back is
// declared dead after the worker timeout, and its map tasks run again.
// Call it on a new Scheduler, before any other call.
func (s *Scheduler) Restore(r *resume, keep func(taskRecord) bool, done func(id int) bool, now time.Time) (maps, reduces int) {
	if sp := r.sample; sp != nil {
		if sp.Asked == 0 {
			s.sample.mode = samplingOff
		} else {
			s.sample.mode, s.sample.asked = samplingOn, sp.Asked
			s.sample.cuts, s.sample.sample = sp.Cuts, sp.Sample
		}
	}
	restore := func(t *task, rec taskRecord, worker string) {
		t.state = taskDone
		t.attempts = []attempt{{worker: worker, state: attemptOK, started: now, ended: now,
			stats: statsOf(rec.Stats), counters: rec.Counters}}
		t.won = 1
		s.count(t, 1)
	}
	for _, id := range ids(r.maps) {
		rec := r.maps[id]
		if id < 0 || id >= len(s.maps) || rec.Attempt < 1 || !keep(rec) {
			continue
		}
		if r.sample == nil && s.sample.mode == samplingUndecided {
			s.sample.mode = samplingOff // maps committed without cut points
		}
		t := &s.maps[id]
		t.output, t.addr, t.owner = rec.Output, rec.Addr, rec.Owner
		t.wrote = mr.TaskRef{Kind: mr.MapTask, ID: id, Attempt: rec.Attempt, Epoch: rec.Epoch}
		if rec.Addr != "" {
			s.workers[rec.Owner] = now
			if s.info[rec.Owner] == nil {
				s.info[rec.Owner] = &workerInfo{last: now}
			}
		}
		restore(t, rec, rec.Owner)
		s.mapsLeft--
		maps++
	}
	s.fresh = s.fresh[:0]
	for id := range s.maps {
		switch n := len(s.fresh); {
		case s.maps[id].state != taskIdle:
		case n > 0 && s.fresh[n-1].end == id:
			s.fresh[n-1].end++
		default:
			s.fresh = append(s.fresh, span{id, id + 1})
		}
	}
	if s.mapsLeft > 0 {
		return maps, 0 // reduces read every map's output: none can have committed
	}
	for _, id := range ids(r.reduces) {
		if id < 0 || id >= len(s.reduces) || !done(id) {
			continue
		}
		restore(&s.reduces[id], r.reduces[id], "")
		s.reducesLeft--
		reduces++
	}
	return maps, reduces
}

// job is the scratch directory a master works in, with its journal, and
// what the journal said when the job is resumed.
type job struct {
	dir     string
	journal *journal
	resume  *resume // nil for a new job
}

// openJob finds the job to run in out, whose lock the caller holds: the
// unfinished job a journal there describes, if spec matches it, or else
// a new one. A journal whose spec differs is an error that says how,
// unless opt.Fresh discards it. A new job removes the old job's output
// files first.
func openJob(out string, opt Options, spec journalSpec) (*job, error) {
	old, _ := filepath.Glob(filepath.Join(out, ".mr-*", journalFile))
	if opt.Fresh {
		for _, j := range old {
			if err := os.RemoveAll(filepath.Dir(j)); err != nil {
				return nil, fmt.Errorf("--fresh: %w", err)
			}
		}
		old = nil
	}
	if len(old) > 0 {
		// Only one master runs in out at a time, and each removes its
		// directory when its job ends, so there is one; if a crash left
		// more, the latest journal is the one to go on with.
		slices.SortFunc(old, func(a, b string) int { return modTime(b).Compare(modTime(a)) })
		r, err := readJournal(old[0])
		if err != nil {
			return nil, fmt.Errorf("--out %s holds an unfinished job whose journal cannot be read (%v); add --fresh to discard it and start over", opt.OutDir, err)
		}
		if what := r.spec.differs(spec); what != "" {
			return nil, fmt.Errorf("--out %s holds an unfinished job, started %s, that this one cannot resume: %s; run it with the same inputs and flags to resume it, or add --fresh to discard it and start over", opt.OutDir, r.spec.Started.Local().Format(time.DateTime), what)
		}
		dir := filepath.Dir(old[0])
		if err := scratch.Adopt(dir); err != nil {
			return nil, fmt.Errorf("--out %s: %w", opt.OutDir, err)
		}
		for _, name := range []string{SuccessFile, SummaryFile} {
			if err := os.Remove(filepath.Join(out, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove old output: %w", err)
			}
		}
		j, err := openJournal(dir)
		if err != nil {
			return nil, fmt.Errorf("--out %s: %w", opt.OutDir, err)
		}
		return &job{dir: dir, journal: j, resume: r}, nil
	}
	if err := removeOldOutput(out); err != nil {
		return nil, err
	}
	id := make([]byte, 4)
	rand.Read(id)
	dir, err := scratch.Make(out, ".mr-", hex.EncodeToString(id))
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", opt.OutDir, err)
	}
	j, err := openJournal(dir)
	if err == nil {
		err = j.append(record{Spec: &spec}, true)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("--out %s: write the job's journal: %w", opt.OutDir, err)
	}
	return &job{dir: dir, journal: j}, nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// resume restores the schedule from the journal, keeping map output in
// the job directory only if it is still whole, and reduces only if their
// output is in place.
func (m *Master) resume(r *resume) {
	keep := func(rec taskRecord) bool {
		if rec.Addr != "" {
			return true // on a worker: a reduce that cannot fetch it has the map run again
		}
		return filepath.Dir(rec.Output) == m.jobDir && shuffle.CheckIndex(rec.Output, m.opt.NReduce) == nil
	}
	done := func(id int) bool {
		return m.out.exists(id)
	}
	maps, reduces := m.sched.Restore(r, keep, done, time.Now())
	m.sampled = r.sample != nil
	m.opt.Logf("resuming the job started %s (epoch %d): %d of %d map tasks and %d of %d reduce tasks are done",
		r.spec.Started.Local().Format(time.DateTime), r.epoch+1, maps, len(m.sched.maps), reduces, len(m.sched.reduces))
}

// record appends r to the journal, and waits for it to reach the disk if
// it is the sample's decision (see journal). A journal that cannot be
// written costs only the chance to resume, so the job goes on, and the
// master says so once.
func (m *Master) record(r record) {
	if err := m.journal.append(r, r.Sample != nil); err != nil && m.journalFailed.CompareAndSwap(false, true) {
		m.opt.Logf("could not write the job's journal, so a restarted master could not resume this job: %v", err)
	}
}

// sampleDecision returns the sample phase's decision once it is made and
// not yet journaled, and notes it journaled. The caller holds m.mu.
func (m *Master) sampleDecision() *sampleRecord {
	sp := &m.sched.sample
	switch {
	case m.sampled:
		return nil
	case sp.mode == samplingOff:
		m.sampled = true
		return &sampleRecord{}
	case sp.mode == samplingOn && sp.left == 0:
		m.sampled = true
		return &sampleRecord{Asked: sp.asked, Cuts: sp.cuts, Sample: sp.sample}
	}
	return nil
}
