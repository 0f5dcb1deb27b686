package worker

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unsafe"

	"gomr.dev/internal/app"
	"gomr.dev/internal/format"
	"gomr.dev/internal/shuffle"
	"gomr.dev/mr"
)

// runMap calls Map on each of the task's splits in turn and writes their
// pairs, partitioned, sorted and combined, to one output file in the job
// directory. The report names the file and its partition index, and holds
// the attempt's built-in counters, which it also publishes to prog after
// each call of Map, for the heartbeats. On failure the counters are what
// the attempt had counted.
func runMap(a *app.App, t mr.Task, read func(mr.Split) ([]byte, error), prog *progress) mr.ReportArgs {
	var rep mr.ReportArgs
	base := filepath.Join(t.Dir, t.File("m"))
	var combine shuffle.CombineFunc
	if a.Combine != nil {
		combine = func(key string, values []string) (string, error) {
			v, err := callCombine(a, key, values)
			if err != nil {
				return "", fmt.Errorf("Combine(%.80q): %v", key, err)
			}
			return v, nil
		}
	}
	buf := shuffle.NewBuffer(t.NReduce, t.MapMemory, t.MergeFactor, base, combine)
	part := func(key string) int { return partition(a, key, t.NReduce) }
	var contents string // the input Map is working on, for progress
	emitted := 0
	emit := func(key, value string) {
		buf.Emit(key, value, part)
		if emitted++; emitted%emitEvery == 0 {
			prog.mapping(contents, key, rep.Stats[mr.MapInputBytes])
		}
	}
	for si, s := range t.Splits {
		if batched(a, s) {
			contents = ""
			// Typed batches, read here: the master ships only text.
			err := fmt.Errorf("MapBatch reads Parquet and Arrow inputs on the worker, and with --ship-inputs this worker has only their text; give workers the inputs, or also export Map")
			if !t.ShipInputs {
				err = mapBatches(a, s, emit, func(rows int64) {
					rep.Stats[mr.MapInputRecords] += rows
					bufferStats(&rep.Stats, buf.Stats())
					prog.publish(&rep.Stats, mapStats)
				})
			}
			if err != nil {
				rep.Failure = err.Error()
				buf.Finish(base)
				return rep
			}
			rep.Stats[mr.MapInputBytes] += s.Length
			continue
		}
		// Skipping bad records places them by their offsets in the whole
		// split's text, so then the split is read whole.
		subs := labReads(a, s, t.ShipInputs || prog.marks != nil)
		for _, sub := range subs {
			data, err := read(sub)
			if err != nil {
				rep.Failure = err.Error()
				buf.Finish(base) // removes spills
				return rep
			}
			if len(data) == 0 && len(subs) > 1 {
				continue // a long line that started in an earlier read
			}
			if a.Map == nil {
				// A streaming Map's pairs are mostly substrings of its
				// input, which the buffer may then keep as references.
				buf.Input(data)
			}
			// Map may keep substrings of contents; data is never written
			// to again, so sharing its bytes is safe.
			for _, piece := range prog.marks.chunks(si, data, pieces(a, sub, data)) {
				if prog.stop.Load() {
					rep.Failure = errSuperseded.Error()
					buf.Finish(base)
					return rep
				}
				contents = unsafe.String(unsafe.SliceData(piece), len(piece))
				prog.marks.mapChunk(si, data, piece) // see skip.go
				err := mapSplit(a, s, contents, emit)
				// Pieces end at line ends, so their lines add up to the
				// split's.
				rep.Stats[mr.MapInputBytes] += int64(len(piece))
				rep.Stats[mr.MapInputRecords] += lines(piece)
				bufferStats(&rep.Stats, buf.Stats())
				prog.publish(&rep.Stats, mapStats)
				if err != nil {
					rep.Failure = err.Error()
					rep.Mark = prog.marks.blame()
					buf.Finish(base)
					return rep
				}
			}
		}
		prog.marks.leave()
	}
	index, bs, err := buf.Finish(base)
	bufferStats(&rep.Stats, bs)
	prog.publish(&rep.Stats, mapStats)
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	rep.Output = base
	rep.Stats[mr.MapOutputMaterialized] = index[len(index)-1] // the runs, which the reducers read; not the index after them
	return rep
}

// bufferStats copies a map buffer's counts into st. Spilled records and
// bytes are those of the spill files and of the merge passes before the
// last; the output file the last merge writes is MapOutputMaterialized.
func bufferStats(st *mr.Stats, bs shuffle.Stats) {
	st[mr.MapOutputRecords] = bs.Pairs
	st[mr.MapOutputBytes] = bs.PairBytes
	st[mr.CombineInputRecords] = bs.CombineIn
	st[mr.CombineOutputRecords] = bs.CombineOut
	st[mr.SpilledRecords] = bs.SpillRecords
	st[mr.SpilledBytes] = bs.SpillBytes
	st[mr.MapSpills] = bs.Spills
}

// lines counts the lines in data, a last one without a newline included.
func lines(data []byte) int64 {
	n := int64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// labWhole is the largest file a lab-form Map is handed whole, and
// labPiece about the size of the pieces it gets of anything larger.
const (
	labWhole = 4 << 20
	labPiece = 1 << 20
)

// pieces returns the chunks to call Map on for a split's data. A lab-form
// Map returns every pair of its chunk at once, as a []KeyValue of about
// five times the chunk's size that the collector must scan (plus the
// []string of words a lab app builds first), so its memory grows with the
// chunk: a whole 64 MiB file cost a worker over 700 MiB. So a lab-form Map
// is handed a file whole only up to labWhole bytes; a larger file, or a
// split of one, is cut at line boundaries into pieces of about labPiece
// bytes (each piece ends at a line end; a line longer than labPiece stays
// whole). Every piece comes with the file's real name. A streaming Map
// gets the split as it is: a whole file up to --split-size.
func pieces(a *app.App, s mr.Split, data []byte) [][]byte {
	if a.Map == nil || len(data) <= labPiece || s.Whole && len(data) <= labWhole {
		return [][]byte{data}
	}
	var out [][]byte
	for len(data) > labPiece {
		cut := bytes.IndexByte(data[labPiece:], '\n')
		if cut < 0 {
			break
		}
		cut += labPiece + 1
		out = append(out, data[:cut])
		data = data[cut:]
	}
	if len(data) > 0 {
		out = append(out, data)
	}
	return out
}

// labReads returns the reads that make up split s for a lab-form Map,
// whose pieces (see pieces) are all it ever holds of them. A text split
// that pieces would cut is read a piece at a time, as sub-splits of
// labPiece bytes whose lines add up to the split's, so the worker never
// holds the whole split: it was the largest thing in a lab-form worker's
// heap. Columnar splits, anything a streaming Map reads, and splits the
// caller wants whole (read from the master, or placed by offsets in the
// whole split, as skipping bad records does) come whole.
func labReads(a *app.App, s mr.Split, whole bool) []mr.Split {
	if a.Map == nil || whole || s.Format != "" || s.Length <= labPiece || s.Whole && s.Length <= labWhole {
		return []mr.Split{s}
	}
	var subs []mr.Split
	for off, end := s.Offset, s.Offset+s.Length; off < end; off += labPiece {
		subs = append(subs, mr.Split{File: s.File, Offset: off, Length: min(labPiece, end-off)})
	}
	return subs
}

// partition calls the app's Partition, panicking with a clear message when
// its answer is out of range; the panic surfaces as Map's failure.
func partition(a *app.App, key string, n int) int {
	p := a.Partition(key, n)
	if p < 0 || p >= n {
		panic(fmt.Sprintf("Partition returned %d for key %.80q; want 0 to %d", p, key, n-1))
	}
	return p
}

// reduceEnv is where a reduce task gets its input and puts its files.
type reduceEnv struct {
	// scratch is a directory for this task's temporary files: fetched
	// segments and merge passes.
	scratch string
	// gather finds the task's runs, fetching those other workers hold
	// into dir and taking over the copies an earlier attempt left in
	// kept; see gatherer.gather.
	gather func(dir, kept string) (gathered, error)
	// put sends a piece of output to a master that collects it.
	put func(mr.PutOutputArgs) (mr.PutOutputReply, error)
	// upload, when set, sends the finished output to the store it goes
	// to (see mr.Task.Out) and returns the name it has there, for the
	// report; the output is then written to a temporary file first.
	upload func(f *os.File) (string, error)
}

// reduceEvery is how many keys a reduce task handles between
// publications of its counters.
const reduceEvery = 4096

// runReduce fetches the partition's runs held by other workers, merges
// them with the rest, and calls Reduce once per key, in key order, writing
// "key value" lines to a file in the job directory (or sending them to the
// master) that the master moves into place if this attempt commits first.
// Runs whose owners cannot be reached are reported in rep.Unreachable, and
// damaged runs (see corrupt) in rep.Corrupt.
//
// The report holds the attempt's built-in counters. While the task runs,
// the merge adds the bytes it reads of the runs to prog's ShuffleBytes,
// and env.fetch may add what it copies to its ShuffleBytesFetched; the
// other counters are published every reduceEvery keys.
func runReduce(a *app.App, t mr.Task, env reduceEnv, prog *progress) (rep mr.ReportArgs) {
	defer func() {
		rep.Stats[mr.ShuffleBytes] = prog.stats[mr.ShuffleBytes].Load()
		rep.Stats[mr.ShuffleBytesFetched] = prog.stats[mr.ShuffleBytesFetched].Load()
	}()
	tmp, err := os.MkdirTemp(env.scratch, t.File("r")+"-")
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	defer os.RemoveAll(tmp)
	// Copies fetched by an attempt of this task that could not fetch
	// everything wait for the next attempt on this worker, which the
	// master prefers to give it. Renaming the directory hands it to one
	// attempt only.
	kept := filepath.Join(env.scratch, fmt.Sprintf("r%d-kept", t.ID))
	adopted := filepath.Join(tmp, "kept")
	if os.Rename(kept, adopted) != nil {
		adopted = ""
	}
	fetched := filepath.Join(tmp, "fetched")
	if err := os.Mkdir(fetched, 0o755); err != nil {
		rep.Failure = err.Error()
		return rep
	}
	in, err := env.gather(fetched, adopted)
	if err != nil {
		rep.Failure = fmt.Sprintf("fetch map output: %v", err)
		return rep
	}
	if len(in.unreachable) > 0 || len(in.corrupt) > 0 {
		os.Rename(fetched, kept) // fails harmlessly if another attempt kept its copies first
		rep.Unreachable, rep.Corrupt = in.unreachable, in.corrupt
		return rep
	}
	prog.size.Store(in.size())
	runs := in.locals()
	m, err := shuffle.Open(runs, t.MergeFactor, filepath.Join(tmp, "merge"), &prog.stats[mr.ShuffleBytes])
	if err != nil {
		if rep.Corrupt = corrupt(err, in.runs, fetched, kept); rep.Corrupt == nil {
			rep.Failure = fmt.Sprintf("read map output: %v", err)
		}
		return rep
	}
	defer m.Close()
	st := &rep.Stats
	st[mr.SpilledRecords], st[mr.SpilledBytes] = m.PassRecords, m.PassBytes
	prog.publish(st, reduceStats)
	name := filepath.Join(t.Dir, t.File("out"))
	var out *os.File
	staged := t.CollectOutput || env.upload != nil // written here, then sent
	if staged {
		out, err = os.Create(filepath.Join(tmp, "out"))
	} else {
		out, err = os.Create(name)
	}
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	defer out.Close()
	if !staged {
		defer func() {
			if rep.Failure != "" {
				os.Remove(name) // what a failed or stopped attempt wrote is no use to anyone
			}
		}()
	}
	rows, err := newRowWriter(a, t, out)
	if err != nil {
		rep.Failure = err.Error()
		return rep
	}
	var values []string
	var groups, outLines, outBytes int64
	count := func() {
		st[mr.ReduceInputGroups], st[mr.ReduceInputRecords] = groups, m.Taken()
		st[mr.OutputRecords], st[mr.OutputBytes] = outLines, outBytes
		prog.publish(st, reduceStats)
	}
	defer count()
	for m.Next() {
		if prog.stop.Load() {
			rep.Failure = errSuperseded.Error()
			return rep
		}
		key := m.Key()
		if prog.marks.reduceKey(key) {
			continue // a bad record; see skip.go
		}
		var v string
		if a.ReduceIter != nil {
			v, err = callReduceIter(a, key, m.Values())
		} else {
			values = m.AppendValues(values[:0])
			v, err = callReduce(a, key, values)
		}
		groups++
		if err != nil {
			rep.Failure = fmt.Sprintf("Reduce(%.80q): %v", key, err)
			rep.Mark = prog.marks.blameKey(key)
			return rep
		}
		if err := rows.Write(key, v); err != nil {
			rep.Failure = err.Error()
			return rep
		}
		outLines++
		outBytes += int64(len(key) + 1 + len(v) + 1)
		if groups%reduceEvery == 0 {
			count()
		}
	}
	prog.marks.leave()
	if err := m.Err(); err != nil {
		if rep.Corrupt = corrupt(err, in.runs, fetched, kept); rep.Corrupt == nil {
			rep.Failure = fmt.Sprintf("read map output: %v", err)
		} else {
			os.Remove(out.Name()) // made of a damaged input: never to be committed
		}
		return rep
	}
	if err := rows.Close(); err != nil {
		rep.Failure = fmt.Sprintf("write output: %v", err)
		return rep
	}
	if t.Output != "" && t.Output != "text" {
		// A columnar file's size is what it holds; the count so far was
		// the rows' text.
		if fi, err := out.Stat(); err == nil {
			outBytes = fi.Size()
		}
	}
	if t.CollectOutput {
		if name, rep.OutputCRC, err = send(out, t.TaskRef, env.put); err != nil {
			rep.Failure = fmt.Sprintf("send output to the master: %v", err)
			return rep
		}
	} else if env.upload != nil {
		if name, err = env.upload(out); err != nil {
			rep.Failure = fmt.Sprintf("upload output: %v", err)
			return rep
		}
	} else if err := out.Sync(); err != nil {
		rep.Failure = err.Error()
		return rep
	}
	rep.Output = name
	return rep
}

// newRowWriter writes a reduce task's rows to out in the job's output
// format, typed as the app's ValueType, with the app, the number of
// reduce tasks and the partition in the file's metadata.
func newRowWriter(a *app.App, t mr.Task, out *os.File) (format.RowWriter, error) {
	f, err := format.OutputNamed(t.Output)
	if err != nil {
		return nil, err
	}
	return f.NewWriter(out, format.OutputOptions{
		ValueType:   a.ValueType,
		Compression: t.Compression,
		Metadata: map[string]string{
			"gomr.app":       filepath.Base(a.Path),
			"gomr.nreduce":   strconv.Itoa(t.NReduce),
			"gomr.partition": strconv.Itoa(t.ID),
		},
	})
}

// outputPiece is how much reduce output one PutOutput call carries.
const outputPiece = 4 << 20

// corrupt turns err, from merging the runs, into the damaged map outputs
// to report, named as the map tasks wrote them; it returns nil when err is
// not about a damaged segment (see shuffle.SegmentError). Having met one,
// it checks the other runs too, so that one attempt reports them all. It
// removes the fetched files holding damaged copies, with their manifests,
// and keeps the other fetched files in kept for the next attempt, as for
// unreachable map output.
func corrupt(err error, runs []input, fetched, kept string) []mr.CorruptSegment {
	var first *shuffle.SegmentError
	if !errors.As(err, &first) {
		return nil
	}
	bad := []*shuffle.SegmentError{first}
	locals := make([]mr.Segment, len(runs))
	for i, r := range runs {
		locals[i] = r.local
	}
	for _, e := range shuffle.Verify(locals) {
		if e.Segment != first.Segment {
			bad = append(bad, e)
		}
	}
	var out []mr.CorruptSegment
	remote := false
	for _, r := range runs {
		remote = remote || r.given.Addr != ""
	}
	for _, e := range bad {
		i := slices.Index(locals, e.Segment)
		if i < 0 {
			continue
		}
		if r := runs[i]; r.local.Path != r.given.Path {
			os.Remove(r.local.Path) // a fetched copy: the file and its manifest go
			os.Remove(r.local.Path + manifestExt)
		}
		out = append(out, mr.CorruptSegment{Segment: runs[i].given, Why: e.Err.Error()})
	}
	if remote {
		os.Rename(fetched, kept) // fails harmlessly if another attempt kept its copies first
	}
	return out
}

// castagnoli is the CRC-32C table, for the sum of collected output.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// send streams the finished output in f to the master, a piece at a time,
// and returns where the master keeps it and the CRC-32C of what it sent,
// which the master checks the collected file against.
func send(f *os.File, ref mr.TaskRef, put func(mr.PutOutputArgs) (mr.PutOutputReply, error)) (string, uint32, error) {
	buf := make([]byte, outputPiece)
	var off int64
	var sum uint32
	path := ""
	for {
		n, err := f.ReadAt(buf, off)
		if n > 0 || off == 0 {
			sum = crc32.Update(sum, castagnoli, buf[:n])
			reply, perr := put(mr.PutOutputArgs{Task: ref, Offset: off, Data: buf[:n]})
			if perr != nil {
				return "", 0, perr
			}
			path = reply.Path
			off += int64(n)
		}
		if err == io.EOF {
			return path, sum, nil
		}
		if err != nil {
			return "", 0, err
		}
	}
}

// valuesOf adapts a slice to the iterator form, for Sequential.
var valuesOf = slices.Values[[]string]
