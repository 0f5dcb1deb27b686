package worker

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gomr.dev/internal/shuffle"
	"gomr.dev/mr"
)

// A reduce task gathers its partition of every map output before it
// merges them. Task.Locations says where each map task's output is: in
// the shared job directory, on this worker, or on another worker. Local
// ones it finds itself, reading the two index entries that bound its
// partition at the end of each file (internal/shuffle). From each other
// worker it asks once, for its partition of all the outputs that worker
// holds, and gets them back as one stream in map task order (see
// shuffleServer.servePart), which it writes into one file per worker.

// input is one map task's run of the reduce task's partition: where it
// lies in the map output, as reports name it (given), and where to read
// it here (local), the same unless it was fetched.
type input struct{ given, local mr.Segment }

// gathered is what gather found: the runs to merge, in map task order
// (empty runs left out), and the map outputs it could not have.
type gathered struct {
	runs        []input
	unreachable []mr.Segment        // their owners could not be reached, or the master wrote them off
	corrupt     []mr.CorruptSegment // damaged, or gone from where they should be
}

// size is the bytes of map output to merge.
func (g *gathered) size() int64 {
	var n int64
	for _, r := range g.runs {
		n += r.local.Length
	}
	return n
}

// locals lists the runs' local segments, in order.
func (g *gathered) locals() []mr.Segment {
	out := make([]mr.Segment, len(g.runs))
	for i, r := range g.runs {
		out[i] = r.local
	}
	return out
}

// gatherer finds a reduce task's runs.
type gatherer struct {
	t       mr.Task
	self    string   // this worker's shuffle server; "" when it has none
	selfDir string   // where this worker keeps its map output
	f       *fetcher // nil when no source is remote
	off     *writtenOff
	fetched *atomic.Int64 // counts bytes fetched; may be nil
}

// gather finds the task's runs, fetching remote ones into dir. Copies
// that an earlier attempt of the task left in kept ("" for none) are moved
// over and used rather than fetched again. err is a failure on this side,
// such as a full disk, or locations that make no sense.
func (g *gatherer) gather(ctx context.Context, dir, kept string) (gathered, error) {
	var out gathered
	t := g.t
	srcs, err := t.Locations.Sources(t.NMap)
	if err != nil {
		return out, err
	}
	have := adopt(kept, dir)
	var remote []mr.Source
	for _, src := range srcs {
		switch {
		case src.Addr == "":
			err = out.local(src, t.Dir, t.ID, t.NReduce)
		case src.Addr == g.self:
			err = out.local(src, g.selfDir, t.ID, t.NReduce)
		default:
			remote = append(remote, src)
		}
		if err != nil {
			return out, err
		}
	}
	if len(remote) > 0 {
		if err := g.fetchAll(ctx, remote, dir, have, &out); err != nil {
			return out, err
		}
	}
	slices.SortFunc(out.runs, func(a, b input) int { return cmp.Compare(a.given.Map, b.given.Map) })
	return out, ctx.Err()
}

// local adds the runs of src's map outputs, which are files in dir.
func (out *gathered) local(src mr.Source, dir string, part, nPart int) error {
	for _, r := range src.Maps {
		for id := r.First; id < r.First+r.Count; id++ {
			path := filepath.Join(dir, r.Ref(id).File("m"))
			seg, err := shuffle.PartitionOf(path, id, nPart, part)
			seg.Addr = src.Addr
			var bad *shuffle.SegmentError
			switch {
			case errors.As(err, &bad):
				out.corrupt = append(out.corrupt, mr.CorruptSegment{Segment: seg, Why: bad.Err.Error()})
			case err != nil:
				return err
			case seg.Length > 0:
				local := seg
				local.Addr = ""
				out.runs = append(out.runs, input{given: seg, local: local})
			}
		}
	}
	return nil
}

// fetchAll fetches the remote sources, at most fetchParallel at once.
func (g *gatherer) fetchAll(ctx context.Context, srcs []mr.Source, dir string, have map[string]mr.Segment, out *gathered) error {
	var mu sync.Mutex // guards out and first
	var first error
	sem := make(chan struct{}, fetchParallel)
	var wg sync.WaitGroup
	for _, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var one gathered
			err := g.fetchSource(ctx, src, dir, have, &one)
			mu.Lock()
			defer mu.Unlock()
			out.runs = append(out.runs, one.runs...)
			out.unreachable = append(out.unreachable, one.unreachable...)
			out.corrupt = append(out.corrupt, one.corrupt...)
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return first
}

// wanted is one map output to fetch from a source.
type wanted struct {
	id   int
	name string
}

// fetchSource fetches this task's partition of every map output src
// holds, trying fetchTries times, each time for what is still missing.
// Map outputs the master writes off meanwhile are given up at once, as
// unreachable, rather than waited for through a dead host's timeouts.
func (g *gatherer) fetchSource(ctx context.Context, src mr.Source, dir string, have map[string]mr.Segment, out *gathered) error {
	var left []wanted
	for _, r := range src.Maps {
		for id := r.First; id < r.First+r.Count; id++ {
			w := wanted{id, r.Ref(id).File("m")}
			given := mr.Segment{Path: w.name, Addr: src.Addr, Map: id}
			if seg, ok := have[copyKey(src.Addr, w.name)]; ok {
				given.Length = seg.Length
				seg.Map = id
				if seg.Length > 0 {
					out.runs = append(out.runs, input{given: given, local: seg})
				}
				continue
			}
			left = append(left, w)
		}
	}
	for try := 1; len(left) > 0; try++ {
		left = g.dropWrittenOff(left, src.Addr, out)
		if len(left) == 0 {
			break
		}
		got, err := g.stream(ctx, src.Addr, left, dir, out)
		left = left[got:]
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !errors.Is(err, errUnreachable) {
			return err // this side's failure, which another try will not mend
		}
		if try == fetchTries || !sleepOrWriteOff(ctx, g.off, time.Duration(try)*300*time.Millisecond) {
			break
		}
	}
	left = g.dropWrittenOff(left, src.Addr, out)
	for _, w := range left {
		out.unreachable = append(out.unreachable, mr.Segment{Path: w.name, Addr: src.Addr, Map: w.id})
	}
	return ctx.Err()
}

// dropWrittenOff moves the map outputs of left that the master has
// written off to out.unreachable, and returns the rest.
func (g *gatherer) dropWrittenOff(left []wanted, addr string, out *gathered) []wanted {
	kept := left[:0]
	for _, w := range left {
		if g.off.has(w.id) {
			out.unreachable = append(out.unreachable, mr.Segment{Path: w.name, Addr: addr, Map: w.id})
			continue
		}
		kept = append(kept, w)
	}
	return kept
}

// stream asks addr for the task's partition of each of want, in one
// request, and writes the runs into a new file in dir, noting each whole
// one in the file's manifest. It returns how many of want it settled, in
// order: received, or reported missing or damaged (added to out). The
// stream is cut when the master writes off one of want.
func (g *gatherer) stream(ctx context.Context, addr string, want []wanted, dir string, out *gathered) (settled int, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWatch := watchWrittenOff(sctx, g.off, want, cancel)
	defer stopWatch()

	var body strings.Builder
	for _, w := range want {
		body.WriteString(w.name)
		body.WriteByte('\n')
	}
	u := url.URL{Scheme: "http", Host: addr, Path: "/part",
		RawQuery: fmt.Sprintf("p=%d&n=%d", g.t.ID, g.t.NReduce)}
	req, err := http.NewRequestWithContext(sctx, http.MethodPost, u.String(), strings.NewReader(body.String()))
	if err != nil {
		return 0, err
	}
	resp, err := g.f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: fetch map output from %s: %v", errUnreachable, addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: fetch map output from %s: %s", errUnreachable, addr, resp.Status)
	}
	data, err := os.CreateTemp(dir, fmt.Sprintf("s%016x-*", hashAddr(addr)))
	if err != nil {
		return 0, err
	}
	defer data.Close()
	man, err := os.Create(data.Name() + manifestExt)
	if err != nil {
		return 0, err
	}
	defer man.Close()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	lw := &localWriter{w: data, fetched: g.fetched}
	for _, w := range want {
		given := mr.Segment{Path: w.name, Addr: addr, Map: w.id}
		status, err := r.ReadByte()
		var n uint64
		if err == nil {
			n, err = binary.ReadUvarint(r)
		}
		if err == nil && status != partOK && n > 1<<20 {
			err = fmt.Errorf("a %d-byte reason", n)
		}
		if err != nil {
			return settled, fmt.Errorf("%w: fetch map %d output from %s: %v", errUnreachable, w.id, addr, err)
		}
		if status != partOK {
			why := make([]byte, n)
			if _, err := io.ReadFull(r, why); err != nil {
				return settled, fmt.Errorf("%w: fetch map %d output from %s: %v", errUnreachable, w.id, addr, err)
			}
			if status == partDamaged {
				out.corrupt = append(out.corrupt, mr.CorruptSegment{Segment: given, Why: string(why)})
			} else {
				out.unreachable = append(out.unreachable, given)
			}
			settled++
			continue
		}
		start := lw.n
		copied, err := io.CopyN(lw, r, int64(n))
		if lw.err != nil {
			return settled, lw.err
		}
		if err != nil {
			if g.fetched != nil {
				g.fetched.Add(-copied) // a run not whole is not fetched
			}
			return settled, fmt.Errorf("%w: fetch map %d output from %s: got %d of %d bytes: %v", errUnreachable, w.id, addr, copied, n, err)
		}
		given.Length = int64(n)
		local := mr.Segment{Path: data.Name(), Offset: start, Length: int64(n), Map: w.id}
		if _, err := fmt.Fprintf(man, "%s\t%s\t%d\t%d\n", addr, w.name, start, n); err != nil {
			return settled, err
		}
		if n > 0 {
			out.runs = append(out.runs, input{given: given, local: local})
		}
		settled++
	}
	return settled, nil
}

// manifestExt ends the name of a fetched file's manifest, which lists the
// whole runs in it: "addr name offset length" a line.
const manifestExt = ".m"

// copyKey names a fetched run by where it came from.
func copyKey(addr, name string) string { return addr + "\x00" + name }

func hashAddr(addr string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, addr)
	return h.Sum64()
}

// adopt moves the fetched files an earlier attempt left in kept into dir,
// and returns the runs their manifests list, by copyKey. Files it cannot
// read are left behind.
func adopt(kept, dir string) map[string]mr.Segment {
	have := map[string]mr.Segment{}
	if kept == "" {
		return have
	}
	mans, _ := filepath.Glob(filepath.Join(kept, "*"+manifestExt))
	for _, man := range mans {
		data := strings.TrimSuffix(man, manifestExt)
		moved := filepath.Join(dir, filepath.Base(data))
		if os.Rename(data, moved) != nil {
			continue
		}
		text, err := os.ReadFile(man)
		if err != nil {
			continue
		}
		os.Rename(man, moved+manifestExt) // so a later attempt can adopt it again
		fi, err := os.Stat(moved)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(text), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 4 {
				continue
			}
			off, err1 := strconv.ParseInt(f[2], 10, 64)
			n, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || off < 0 || n < 0 || off+n > fi.Size() {
				continue
			}
			have[copyKey(f[0], f[1])] = mr.Segment{Path: moved, Offset: off, Length: n}
		}
	}
	return have
}

// writtenOff collects the map tasks whose output the master has declared
// lost, as heard in heartbeats, so that fetches of it stop at once rather
// than wait out a dead host's timeouts.
type writtenOff struct {
	mu   sync.Mutex    // guards maps and news
	maps map[int]bool  // written off
	news chan struct{} // closed and replaced when maps grows
}

// add writes off the map tasks ids. It may be called any number of times.
func (w *writtenOff) add(ids []int) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maps == nil {
		w.maps = map[int]bool{}
	}
	grew := false
	for _, id := range ids {
		grew = grew || !w.maps[id]
		w.maps[id] = true
	}
	if grew && w.news != nil {
		close(w.news)
		w.news = nil
	}
}

// has reports whether map task id is written off.
func (w *writtenOff) has(id int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maps[id]
}

// changed returns a channel closed when more is written off.
func (w *writtenOff) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.news == nil {
		w.news = make(chan struct{})
	}
	return w.news
}

// watchWrittenOff calls cancel as soon as one of want is written off,
// until ctx ends or the returned stop is called; stop waits for it.
func watchWrittenOff(ctx context.Context, off *writtenOff, want []wanted, cancel func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			news := off.changed()
			if slices.ContainsFunc(want, func(w wanted) bool { return off.has(w.id) }) {
				cancel()
				return
			}
			select {
			case <-news:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// sleepOrWriteOff waits d, or less if the master writes off more map
// output meanwhile; it returns false if ctx ends first.
func sleepOrWriteOff(ctx context.Context, off *writtenOff, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-off.changed():
	case <-ctx.Done():
		return false
	}
	return true
}
