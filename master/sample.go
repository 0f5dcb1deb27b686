package master

import (
	"fmt"
	"slices"
	"time"

	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

// The sample phase. An app that exports SampleSize wants a range partition:
// before any map task runs, a few sample tasks call its Map on chunks of
// the input and report some of the keys, and the master turns them into
// nReduce-1 cut points that every later task carries (mr.Cuts).
//
// The master does not load the app, so it learns whether the app samples
// from the workers: each poll carries the app's SampleSize, and the first
// poll of the job decides. A later poll that disagrees means the workers
// run different apps; map output partitioned two ways would be silently
// unsorted, so the job fails instead.

const (
	sampleChunk   = 64 << 10 // bytes read at each sample point
	sampleChunks  = 64       // most sample points in a job
	sampleTasks   = 4        // most sample tasks in a job
	maxSampleSize = 1 << 20  // most keys a job samples, whatever its app asks
)

// sampling says whether the job has a sample phase.
type sampling int

const (
	samplingUndecided sampling = iota // no worker has polled yet
	samplingOff                       // the app does not sample; maps start at once
	samplingOn                        // sample tasks run first, then maps with cut points
)

func (m sampling) String() string {
	return [...]string{"undecided", "off", "on"}[m]
}

type samplePhase struct {
	mode   sampling
	asked  int          // the SampleSize of the job's first poll, or 0
	plan   [][]mr.Split // each sample task's chunks of input
	quota  []int        // each sample task's share of the keys
	tasks  []task
	queue  []int // idle sample tasks; may hold stale entries
	left   int   // sample tasks not yet committed
	keys   [][]string
	cuts   []string // set once every sample task has committed
	sample int      // keys the cuts were computed from
}

// samplePlan picks where sample tasks read: the whole input when it is at
// most sampleChunks*sampleChunk bytes, and otherwise sampleChunks chunks
// of sampleChunk bytes, one centred in each of sampleChunks equal stripes
// of the inputs laid end to end (a chunk stops at the end of its file).
// The chunks are grouped, in order, into at most sampleTasks tasks. A
// reader of a chunk skips the partial line at its start, as for any split.
func samplePlan(tasks [][]mr.Split) [][]mr.Split {
	type extent struct {
		file string
		size int64
	}
	var files []extent
	var total int64
	var columnar []mr.Split // Parquet and Arrow splits, sampled by row group
	for _, t := range tasks {
		for _, sp := range t {
			if sp.Format != "" {
				columnar = append(columnar, sp)
				continue
			}
			end := sp.Offset + sp.Length
			if n := len(files); n > 0 && !sp.Whole && sp.Offset > 0 && files[n-1].file == sp.File {
				total += end - files[n-1].size
				files[n-1].size = end // the next split of a file cut into several
				continue
			}
			files = append(files, extent{sp.File, end})
			total += end
		}
	}
	var chunks []mr.Split
	if total <= sampleChunks*sampleChunk {
		for _, f := range files {
			if f.size > 0 {
				chunks = append(chunks, mr.Split{File: f.file, Length: f.size, Whole: true})
			}
		}
	} else {
		stripe := total / sampleChunks // at least sampleChunk
		i, base := 0, int64(0)         // files[i] starts at base
		for k := range int64(sampleChunks) {
			at := k*stripe + (stripe-sampleChunk)/2
			for at >= base+files[i].size {
				base += files[i].size
				i++
			}
			off := at - base
			chunks = append(chunks, mr.Split{File: files[i].file, Offset: off, Length: min(sampleChunk, files[i].size-off)})
		}
	}
	chunks = append(chunks, sampleColumnar(columnar)...)
	n := min(sampleTasks, len(chunks))
	plan := make([][]mr.Split, n)
	for k := range n {
		plan[k] = chunks[k*len(chunks)/n : (k+1)*len(chunks)/n]
	}
	return plan
}

// sampleColumnar picks sample chunks of Parquet and Arrow splits, which
// can be cut only between row groups (record batches): all of them when
// they hold at most sampleChunks*sampleChunk bytes, else the first row
// group of each of sampleChunks splits spread evenly over them. A chunk's
// Length is its share of its split's, for the quota.
func sampleColumnar(splits []mr.Split) []mr.Split {
	var total int64
	var some []mr.Split // those with rows
	for _, sp := range splits {
		if sp.Count > 0 {
			some = append(some, sp)
			total += sp.Length
		}
	}
	if total <= sampleChunks*sampleChunk {
		return some
	}
	k := min(len(some), sampleChunks)
	out := make([]mr.Split, k)
	for i := range k {
		sp := some[i*len(some)/k]
		sp.Length, sp.Count, sp.Whole = sp.Length/int64(sp.Count), 1, false
		out[i] = sp
	}
	return out
}

// cutPoints returns the n-1 cut points that split the sorted keys into n
// equal ranges: cut i (from 1) is the key at position i*len(keys)/n. It
// sorts keys in place. Equal cuts are kept, so there are always n-1 of
// them, unless keys is empty or n < 2: then there are none.
func cutPoints(keys []string, n int) []string {
	if len(keys) == 0 || n < 2 {
		return nil
	}
	slices.Sort(keys)
	cuts := make([]string, n-1)
	for i := 1; i < n; i++ {
		cuts[i-1] = keys[i*len(keys)/n]
	}
	return cuts
}

// Poll gives a worker the next task to run, as Assign does, after taking
// note of what the worker's app wants: the first poll of the job decides
// whether there is a sample phase (args.SampleSize > 0); a later poll with
// another SampleSize fails the job. While sample tasks are outstanding no
// map task starts.
func (s *Scheduler) Poll(args mr.GetTaskArgs, now time.Time) (mr.Action, mr.Task) {
	s.declare(args.Worker, max(args.SampleSize, 0))
	return s.assign(args.Worker, args.Locations, now)
}

// declare applies one poll's SampleSize; see Poll.
func (s *Scheduler) declare(worker string, size int) {
	sp := &s.sample
	switch {
	case s.Over():
	case sp.mode == samplingUndecided && size == 0:
		sp.mode = samplingOff
	case sp.mode == samplingUndecided:
		sp.mode, sp.asked = samplingOn, size
		s.startSampling(min(size, maxSampleSize))
	case size == sp.asked:
	case sp.asked == 0:
		s.failure = fmt.Sprintf("worker %s runs an app that samples its input (SampleSize %d), but the job's first worker ran one that does not, so map tasks started without cut points; every worker of a job must run the same app", worker, size)
	case size == 0:
		s.failure = fmt.Sprintf("worker %s runs an app that does not sample its input (no SampleSize), but the job's first worker ran one that does (SampleSize %d) and its map tasks use the sampled cut points; every worker of a job must run the same app", worker, sp.asked)
	default:
		s.failure = fmt.Sprintf("worker %s runs an app with SampleSize %d, but the job's first worker ran one with SampleSize %d; every worker of a job must run the same app", worker, size, sp.asked)
	}
}

// startSampling queues the sample tasks and shares size keys among them in
// proportion to the bytes each reads. A job with one reduce task has no
// cut points to place, so it gets no sample tasks.
func (s *Scheduler) startSampling(size int) {
	sp := &s.sample
	if len(s.reduces) < 2 {
		sp.plan = nil
	}
	n := len(sp.plan)
	sp.tasks = make([]task, n)
	sp.quota = make([]int, n)
	sp.keys = make([][]string, n)
	sp.left = n
	var total int64
	bytes := make([]int64, n)
	for i, chunks := range sp.plan {
		for _, c := range chunks {
			bytes[i] += c.Length
		}
		total += bytes[i]
	}
	for i := range sp.tasks {
		sp.tasks[i].ref = mr.TaskRef{Kind: mr.SampleTask, ID: i}
		sp.queue = append(sp.queue, i)
		sp.quota[i] = int((int64(size)*bytes[i] + total - 1) / total) // total > 0: the plan skips empty files
	}
	if n == 0 {
		s.finishSampling() // no input to sample: no cuts
	}
}

// sampling reports whether map tasks must wait for sample tasks.
func (s *Scheduler) sampling() bool {
	return s.sample.mode == samplingOn && s.sample.left > 0
}

// assignSample starts the next queued sample task, if any.
func (s *Scheduler) assignSample(worker string, now time.Time) (mr.Action, mr.Task) {
	id, ok := pop(&s.sample.queue, s.sample.tasks)
	if !ok {
		return mr.Wait, mr.Task{}
	}
	t := s.start(&s.sample.tasks[id], worker, now)
	t.Splits = s.sample.plan[id]
	t.SampleSize = s.sample.quota[id]
	return mr.Run, t
}

// commitSample keeps a committed sample task's keys, at most its quota, and
// computes the cut points once the last one is in.
func (s *Scheduler) commitSample(t *task, keys []string) {
	sp := &s.sample
	t.state = taskDone
	sp.keys[t.ref.ID] = keys[:min(len(keys), sp.quota[t.ref.ID])]
	sp.left--
	if sp.left == 0 {
		s.finishSampling()
	}
}

func (s *Scheduler) finishSampling() {
	sp := &s.sample
	all := slices.Concat(sp.keys...)
	sp.cuts = cutPoints(all, len(s.reduces))
	sp.sample = len(all)
	sp.keys = nil
}

// describeSample names a sample task's input for humans.
func (s *Scheduler) describeSample(id int) string {
	chunks := s.sample.plan[id]
	first, last := chunks[0], chunks[len(chunks)-1]
	if len(chunks) > 1 {
		return fmt.Sprintf("%d input chunks, %s to %s", len(chunks), first.File, last.File)
	}
	return inputs.Describe(first)
}

// Cuts returns the cut points computed from the sample, and how many keys
// they came from; nil until every sample task has committed, and for a job
// without a sample phase.
func (s *Scheduler) Cuts() (cuts []string, sampled int) {
	return s.sample.cuts, s.sample.sample
}

// sampleSplit reports whether sp is a chunk of one of the sample tasks.
func (s *Scheduler) sampleSplit(sp mr.Split) bool {
	for _, chunks := range s.sample.plan {
		for _, c := range chunks {
			if c == sp {
				return true
			}
		}
	}
	return false
}
