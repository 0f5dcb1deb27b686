package worker

import (
	"bytes"
	"slices"
	"unsafe"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// Skipping bad records, the worker's side (the master's is in
// master/skip.go). When the job skips them, Task.Skip is set, and before
// each call of app code the attempt tells the master which records the
// call is about to see (mr.Mark), so that the master knows where the
// attempt was if the process dies in the call. A map task marks each
// chunk it calls Map on: a piece of a split (see pieces), or, in the range
// where the task's last attempt crashed, a mapFanOut-th of it, so that each
// crash narrows the range down until it is one line. A reduce task marks
// every reduceEvery keys, and in a batch where the last attempt crashed,
// every key. Records the master has pinned as bad are left out.
//
// Marks cost little: one small write to the master's connection per
// megabyte piece of lab-form Map, per split of streaming Map, and per
// reduceEvery keys, none of them waiting for the master. Without Task.Skip
// nothing is marked.

// Marker is a Master that can be told where app code is (mr.Mark) without
// waiting for a reply. Client is one. A worker whose Master is not one
// sends no marks: it still skips records that panic, since it reports
// where the panic happened, but not those that kill the process.
type Marker interface {
	// Mark sends args to the master. It must not wait for the master's
	// answer, and must have handed the request to the operating system
	// when it returns, so that it is sent even if the process dies then.
	Mark(args mr.MarkArgs)
}

// mapFanOut is how many chunks a map attempt cuts the range its task's
// last attempt crashed in into, each called and marked on its own: a
// 64 MiB split is down to lines of text after three crashes.
const mapFanOut = 256

// maxMarkText bounds the text of a line a mark carries, for the master's
// log.
const maxMarkText = 80

// marker is an attempt's side of skipping bad records. A nil *marker, for
// a job that skips none, does nothing. Only the task's goroutine uses it.
type marker struct {
	plan *mr.SkipPlan
	send func(mr.MarkArgs) // nil when the Master is no Marker
	last mr.MarkArgs       // the latest mark sent

	// lineSplit, lineOff and lineNo cache the number of the line that
	// starts at lineOff in split lineSplit's text, so that marks of lines
	// count them incrementally.
	lineSplit     int
	lineOff       int64
	lineNo        int64
	skipKeys      map[string]bool // reduce: the keys to leave out
	narrow, batch int             // reduce: keys left to mark one by one, and in the latest batch mark
}

// newMarker returns the marker of attempt ref, run by worker, of a task
// whose skip plan is plan; nil when the job skips no records, or for a map
// task when a has no Map (MapBatch calls are not marked).
func newMarker(plan *mr.SkipPlan, a *app.App, worker string, ref mr.TaskRef, m Master) *marker {
	if plan == nil || ref.Kind == mr.SampleTask || (ref.Kind == mr.MapTask && a.Map == nil && a.MapEmit == nil) {
		return nil
	}
	mk := &marker{plan: plan, last: mr.MarkArgs{Worker: worker, Task: ref}, lineSplit: -1}
	if s, ok := m.(Marker); ok {
		mk.send = s.Mark
	}
	if ref.Kind == mr.ReduceTask {
		mk.skipKeys = make(map[string]bool)
		for _, r := range plan.Records {
			mk.skipKeys[r.Key] = true
		}
	}
	return mk
}

// mark sends m as the attempt's next mark.
func (mk *marker) mark(m mr.Mark) {
	m.Seq = mk.last.Mark.Seq + 1
	mk.last.Mark = m
	if mk.send != nil {
		mk.send(mk.last)
	}
}

// leave marks that app code is done with the records marked last, so that
// a death outside app code is blamed on none of them.
func (mk *marker) leave() {
	if mk == nil || mk.last.Mark.Idle() {
		return
	}
	mk.mark(mr.Mark{})
}

// blame returns the latest mark, for the report of an attempt that failed
// in app code; nil when there is none.
func (mk *marker) blame() *mr.Mark {
	if mk == nil || mk.last.Mark.Idle() {
		return nil
	}
	m := mk.last.Mark
	return &m
}

// chunks returns what to call Map on for the text data of split number
// split of the task, given the chunks it would be called on without
// skipping, which cover data in order and end at line ends. Lines the plan
// says to skip are left out, and the range the plan suspects is cut into
// about mapFanOut chunks ending at line ends, or single lines. Each chunk
// is a subslice of data. Without a plan for this split the chunks come
// back as they are.
func (mk *marker) chunks(split int, data []byte, chunks [][]byte) [][]byte {
	if mk == nil {
		return chunks
	}
	n := int64(len(data))
	points := []int64{0, n}
	var drop [][2]int64 // lines to leave out
	for _, r := range mk.plan.Records {
		if r.Split == split && r.Start >= 0 && r.Start < n && (r.Start == 0 || data[r.Start-1] == '\n') {
			d := [2]int64{r.Start, lineEnd(data, r.Start)}
			drop = append(drop, d)
			points = append(points, d[0], d[1])
		}
	}
	a, b := int64(-1), int64(-1)
	if s := mk.plan.Suspect; s != nil && s.Keys == 0 && s.Split == split && s.Start >= 0 && s.Start < min(s.End, n) {
		a, b = s.Start, min(s.End, n)
		points = append(points, a, b)
	}
	if a < 0 && len(drop) == 0 {
		return chunks
	}
	var off int64
	for _, c := range chunks {
		off += int64(len(c))
		points = append(points, off)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	var out [][]byte
next:
	for i := 0; i+1 < len(points); i++ {
		p, q := points[i], points[i+1]
		for _, d := range drop {
			if p >= d[0] && q <= d[1] {
				continue next
			}
		}
		if p < a || q > b {
			out = append(out, data[p:q])
			continue
		}
		size := max((b-a)/mapFanOut, 1)
		for p < q {
			e := min(p+size, q)
			if data[e-1] != '\n' {
				e = min(lineEnd(data, e), q)
			}
			out = append(out, data[p:e])
			p = e
		}
	}
	return out
}

// lineEnd returns the offset just past the line of data that holds
// offset i (or starts there), or len(data) if it has no newline.
func lineEnd(data []byte, i int64) int64 {
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return i + int64(j) + 1
	}
	return int64(len(data))
}

// mapChunk marks chunk, a subslice of split number split's text data,
// before Map is called on it. A chunk of one line is marked as a record,
// with its number and first bytes.
func (mk *marker) mapChunk(split int, data, chunk []byte) {
	if mk == nil {
		return
	}
	var start int64
	if len(chunk) > 0 {
		start = int64(uintptr(unsafe.Pointer(unsafe.SliceData(chunk))) - uintptr(unsafe.Pointer(unsafe.SliceData(data))))
	}
	m := mr.Mark{Split: split, Start: start, End: start + int64(len(chunk))}
	if i := bytes.IndexByte(chunk, '\n'); len(chunk) > 0 && (i < 0 || i == len(chunk)-1) {
		m.Record = true
		m.Line = mk.lineOf(split, data, start)
		m.Text = string(bytes.TrimRight(chunk[:min(len(chunk), maxMarkText)], "\r\n"))
	}
	mk.mark(m)
}

// lineOf returns the number of the line starting at off in split's data.
func (mk *marker) lineOf(split int, data []byte, off int64) int64 {
	if split != mk.lineSplit || off < mk.lineOff {
		mk.lineSplit, mk.lineOff, mk.lineNo = split, 0, 0
	}
	mk.lineNo += int64(bytes.Count(data[mk.lineOff:off], []byte{'\n'}))
	mk.lineOff = off
	return mk.lineNo
}

// reduceKey is called before Reduce is called for key. It reports whether
// to leave the key out, and otherwise marks it if it starts a batch of
// reduceEvery keys, or if it is in the batch the task's last attempt
// crashed in, where every key is marked on its own.
func (mk *marker) reduceKey(key string) (skip bool) {
	if mk == nil {
		return false
	}
	if len(mk.skipKeys) > 0 && mk.skipKeys[key] {
		return true
	}
	if s := mk.plan.Suspect; s != nil && s.Keys > 0 && key == s.Key {
		mk.narrow = s.Keys
	}
	if mk.narrow > 0 {
		mk.narrow--
		mk.batch = 0 // the next key not marked alone starts a batch
		mk.mark(mr.Mark{Key: key, Keys: 1, Record: true})
		return false
	}
	if mk.batch == 0 {
		mk.batch = reduceEvery
		mk.mark(mr.Mark{Key: key, Keys: reduceEvery})
	}
	mk.batch--
	return false
}

// blameKey returns the mark for a report of Reduce failing on key: the
// key alone, which the worker knows crashed.
func (mk *marker) blameKey(key string) *mr.Mark {
	if mk == nil {
		return nil
	}
	return &mr.Mark{Seq: mk.last.Mark.Seq + 1, Key: key, Keys: 1, Record: true}
}
