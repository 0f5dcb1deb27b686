package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"sync"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// Master is what a worker needs from its master. Client implements it over
// net/rpc; tests use fakes.
type Master interface {
	GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error)
	Heartbeat(ctx context.Context, args mr.HeartbeatArgs) (mr.HeartbeatReply, error)
	Report(ctx context.Context, args mr.ReportArgs) (mr.ReportReply, error)
	ReadSplit(ctx context.Context, s mr.Split) ([]byte, error)
	PutOutput(ctx context.Context, args mr.PutOutputArgs) (mr.PutOutputReply, error)
}

// errCallTimeout is returned when the master does not answer in time.
var errCallTimeout = errors.New("master did not answer in time")

// Client calls a master over net/rpc, dialling on first use and again
// after any transport failure. It is safe for concurrent use.
type Client struct {
	addr    string
	timeout time.Duration // per call, on top of the master's long poll
	secret  []byte        // proven to the master on every new connection; nil for none
	tls     *tls.Config   // nil for plain connections

	mu    sync.Mutex  // guards rpc and local
	rpc   *rpc.Client // nil until dialled, and after a failure
	local net.Addr    // this end of the last connection
}

// NewClient returns a client for the master at addr ("host:port" or
// "unix:/path") that proves secret (nil for none) on each connection. It
// does not dial yet.
func NewClient(addr string, timeout time.Duration, secret []byte) (*Client, error) {
	if _, _, err := mr.ParseAddr(addr); err != nil {
		return nil, err
	}
	return &Client{addr: addr, timeout: timeout, secret: secret}, nil
}

// UseTLS makes every later connection TLS with cfg. Call it before the
// first call.
func (c *Client) UseTLS(cfg *tls.Config) { c.tls = cfg }

func (c *Client) GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error) {
	return callFor[mr.GetTaskReply](ctx, c, "GetTask", args)
}

func (c *Client) Heartbeat(ctx context.Context, args mr.HeartbeatArgs) (mr.HeartbeatReply, error) {
	return callFor[mr.HeartbeatReply](ctx, c, "Heartbeat", args)
}

func (c *Client) Report(ctx context.Context, args mr.ReportArgs) (mr.ReportReply, error) {
	return callFor[mr.ReportReply](ctx, c, "Report", args)
}

// ReadSplit reads a split's lines from a master that ships inputs.
func (c *Client) ReadSplit(ctx context.Context, s mr.Split) ([]byte, error) {
	r, err := callFor[mr.ReadSplitReply](ctx, c, "ReadSplit", mr.ReadSplitArgs{Split: s})
	return r.Data, err
}

// PutOutput sends a piece of reduce output to a master that collects it.
func (c *Client) PutOutput(ctx context.Context, args mr.PutOutputArgs) (mr.PutOutputReply, error) {
	return callFor[mr.PutOutputReply](ctx, c, "PutOutput", args)
}

// Mark sends a mark to the master (see mr.Mark) without waiting for the
// reply: net/rpc's Go writes and flushes the request to the connection
// before it returns, so once Mark returns the mark is with the kernel,
// which delivers it even if this process then exits or is killed. The
// master's server handles each request in a goroutine of its own, so a
// mark never waits behind a long poll on the same connection; it waits
// only for another request being written. Marks go on the connection the
// worker's other calls use, which the master reads to its end before it
// can hear of the worker's death from it. Without a connection, or when
// the write fails, the mark is lost: the next call with a deadline
// notices the failure and dials again.
func (c *Client) Mark(args mr.MarkArgs) {
	c.mu.Lock()
	cl := c.rpc
	c.mu.Unlock()
	if cl != nil {
		cl.Go(mr.ServiceName+".Mark", args, new(mr.MarkReply), make(chan *rpc.Call, 1))
	}
}

// GetApp fetches the job's app from the master.
func (c *Client) GetApp(ctx context.Context) (mr.GetAppReply, error) {
	return callFor[mr.GetAppReply](ctx, c, "GetApp", mr.GetAppArgs{})
}

// callFor makes one call into a reply of its own. After a timeout or a
// cancelled ctx, net/rpc may still be decoding the late answer into that
// reply, so on error it is never read: the caller gets a zero R.
func callFor[R any](ctx context.Context, c *Client, method string, args any) (R, error) {
	r := new(R)
	if err := c.call(ctx, method, args, r); err != nil {
		var zero R
		return zero, err
	}
	return *r, nil
}

// Close drops the connection, if any.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc == nil {
		return nil
	}
	err := c.rpc.Close()
	c.rpc = nil
	return err
}

func (c *Client) conn(ctx context.Context) (*rpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc != nil {
		return c.rpc, nil
	}
	network, address, _ := mr.ParseAddr(c.addr)
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if conn, err = auth.Connect(ctx, conn, c.tls, c.secret, c.timeout); err != nil {
		return nil, err
	}
	c.rpc = rpc.NewClient(conn)
	c.local = conn.LocalAddr()
	return c.rpc, nil
}

// LocalHost is this host's address on its last connection to the master,
// which other workers can most likely reach too; 127.0.0.1 for a master
// on a unix socket or before the first call.
func (c *Client) LocalHost() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tcp, ok := c.local.(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		return tcp.IP.String()
	}
	return "127.0.0.1"
}

// call makes one RPC with a deadline; net/rpc has none of its own. On a
// transport failure the connection is dropped so the next call redials.
func (c *Client) call(ctx context.Context, method string, args, reply any) error {
	cl, err := c.conn(ctx)
	if err != nil {
		return err
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	call := cl.Go(mr.ServiceName+"."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		err = call.Error
	case <-timer.C:
		err = errCallTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		var se rpc.ServerError
		if !errors.As(err, &se) {
			c.mu.Lock()
			if c.rpc == cl {
				cl.Close()
				c.rpc = nil
			}
			c.mu.Unlock()
		}
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}
