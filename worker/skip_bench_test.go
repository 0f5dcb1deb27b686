package worker

import (
	"net"
	"net/rpc"
	"path/filepath"
	"testing"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// markSink is a master that takes marks and does nothing with them.
type markSink struct{}

func (markSink) Mark(args mr.MarkArgs, reply *mr.MarkReply) error { return nil }

// BenchmarkMark measures what a mark costs the worker: Client.Mark over a
// unix socket to a net/rpc server, as between a worker and its master. A
// streaming word count marks twice per split (64 MiB) and once per 4096
// reduce keys; a lab-form one twice per 1 MiB piece, so at a few
// microseconds a mark, marks cost well under 0.1% of a job.
func BenchmarkMark(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "m.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
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
	c, err := NewClient("unix:"+sock, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.timeout = 5e9
	if _, err := c.conn(b.Context()); err != nil {
		b.Fatal(err)
	}
	args := mr.MarkArgs{Worker: "worker-1", Task: mr.TaskRef{Kind: mr.MapTask, ID: 3, Attempt: 1},
		Mark: mr.Mark{Split: 0, Start: 1 << 20, End: 2 << 20}}
	b.ResetTimer()
	for i := range b.N {
		args.Mark.Seq = int64(i + 1)
		c.Mark(args)
	}
}
