package worker

import (
	"bytes"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/auth"
	"gomr.dev/internal/inputs"
	"gomr.dev/internal/textgen"
	"gomr.dev/mr"
)

// markSink is a master that takes marks and does nothing with them.
type markSink struct{}

func (markSink) Mark(args mr.MarkArgs, reply *mr.MarkReply) error { return nil }

// sinkClient returns a Client connected, over a unix socket, to a net/rpc
// server that takes marks, as a worker is to its master.
func sinkClient(b *testing.B) *Client {
	sock := filepath.Join(b.TempDir(), "m.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	srv := rpc.NewServer()
	srv.RegisterName(mr.ServiceName, markSink{})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if auth.Server(conn, nil, time.Second) == nil {
				go srv.ServeConn(conn)
			}
		}
	}()
	c, err := NewClient("unix:"+sock, 5*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if _, err := c.conn(b.Context()); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkMark measures what a mark costs the worker: Client.Mark over a
// unix socket to a net/rpc server, as between a worker and its master.
func BenchmarkMark(b *testing.B) {
	c := sinkClient(b)
	args := mr.MarkArgs{Worker: "worker-1", Task: mr.TaskRef{Kind: mr.MapTask, ID: 3, Attempt: 1},
		Mark: mr.Mark{Split: 0, Start: 1 << 20, End: 2 << 20}}
	for i := 0; b.Loop(); i++ {
		args.Mark.Seq = int64(i + 1)
		c.Mark(args)
	}
}

// BenchmarkMapSkip measures what skipping bad records costs a map task
// that meets none: the map side of a word count over 32 MiB of text, as
// runMap runs it, without and with a skip plan (marks sent over a unix
// socket). The lab-form Map is called, and marked, once per 1 MiB piece,
// the streaming one once per split. As in BenchmarkMapCounter, each
// iteration runs both, in turn, and overhead-% and cpu-overhead-% are
// medians of how much longer the run with marks took.
func BenchmarkMapSkip(b *testing.B) {
	const size = 32 << 20
	var text bytes.Buffer
	if err := textgen.Write(&text, size, 1); err != nil {
		b.Fatal(err)
	}
	// A real file, read by the real reader: without skipping, a lab-form
	// Map's split is read 1 MiB at a time (see labReads), with it whole.
	path := filepath.Join(b.TempDir(), "text")
	if err := os.WriteFile(path, text.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	read := inputs.Read
	c := sinkClient(b)
	streaming := &app.App{
		MapEmit:   func(_, contents string, emit func(string, string)) { wcMap(contents, emit, nil) },
		Combine:   wcCombine,
		Partition: mr.DefaultPartition,
	}
	lab := &app.App{
		Map: func(_, contents string) (kvs []mr.KeyValue) {
			wcMap(contents, func(k, v string) { kvs = append(kvs, mr.KeyValue{Key: k, Value: v}) }, nil)
			return kvs
		},
		Combine:   wcCombine,
		Partition: mr.DefaultPartition,
	}
	run := func(a *app.App, skip bool) (wall, cpu time.Duration) {
		task := mr.Task{TaskRef: mr.TaskRef{Kind: mr.MapTask, Attempt: 1},
			Splits:  []mr.Split{{File: path, Offset: 1, Length: size - 1}},
			NReduce: 10, MapMemory: 64 << 20, MergeFactor: 64, Dir: b.TempDir()}
		prog := &progress{}
		if skip {
			task.Skip = &mr.SkipPlan{}
			prog.marks = newMarker(task.Skip, a, "w", task.TaskRef, c)
		}
		runtime.GC()
		start, cpu0 := time.Now(), processCPU(b)
		if rep := runMap(a, task, read, prog); rep.Failure != "" {
			b.Fatal(rep.Failure)
		}
		return time.Since(start), processCPU(b) - cpu0
	}
	for _, form := range []struct {
		name string
		app  *app.App
	}{{"streaming", streaming}, {"lab", lab}} {
		b.Run(form.name, func(b *testing.B) {
			var ratio, cpuRatio []float64
			for i := 0; b.Loop(); i++ {
				var pw, pc, sw, sc time.Duration
				if i%2 == 0 {
					pw, pc = run(form.app, false)
					sw, sc = run(form.app, true)
				} else {
					sw, sc = run(form.app, true)
					pw, pc = run(form.app, false)
				}
				ratio = append(ratio, float64(sw)/float64(pw))
				cpuRatio = append(cpuRatio, float64(sc)/float64(pc))
			}
			median := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
			b.ReportMetric(100*(median(ratio)-1), "overhead-%")
			b.ReportMetric(100*(median(cpuRatio)-1), "cpu-overhead-%")
		})
	}
}
