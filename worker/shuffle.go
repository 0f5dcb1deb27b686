package worker

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/internal/shuffle"
)

// The shuffle server is how map output that stays on a worker reaches the
// reducers. It speaks HTTP on connections that first pass the same
// handshake as the master's (internal/auth), so with a secret nobody
// without it gets a byte, and it serves only the map outputs this worker
// committed, as one stream per reducer (see servePart).

const (
	// fetchParallel is how many segments a reduce task fetches at once.
	fetchParallel = 4
	// fetchTries is how often a segment is tried before its owner is
	// reported unreachable.
	fetchTries = 3
	// fetchIdle bounds how long a fetch may receive nothing.
	fetchIdle = 15 * time.Second
	// dialTimeout bounds connecting to another worker, handshake included.
	dialTimeout = 5 * time.Second
)

// ShuffleOptions configure the shuffle server that a worker starts when it
// keeps map output of its own.
type ShuffleOptions struct {
	// Listen is the address to serve on. Default ":0", every interface on
	// a port of the system's choosing.
	Listen string
	// Advertise is the host other workers should dial. Default: this
	// host's address on its connection to the master.
	Advertise string
	// Secret, when set, must be proven by every fetcher; the worker proves
	// it in turn when fetching from others.
	Secret []byte
	// Listener, when set, is served instead of listening on Listen; the
	// worker closes it. It must be a TCP listener.
	Listener net.Listener
	// ServerTLS, when set, makes the server speak TLS; its certificate
	// must name the advertised host. ClientTLS is used to fetch from
	// other workers, with ServerName set to each one's host. Give every
	// worker of a job both, or neither.
	ServerTLS, ClientTLS *tls.Config
}

// shuffleServer serves this worker's committed map outputs from dir.
type shuffleServer struct {
	dir  string
	addr string // advertised host:port
	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve has returned

	mu    sync.Mutex      // guards files
	files map[string]bool // names in dir that may be served
}

// startShuffle listens on o.Listen and serves files of dir that are
// published. It advertises o.Advertise, else the address it listens on if
// that is one address, else host.
// Refused connections are reported through logf.
func startShuffle(o ShuffleOptions, dir, host string, logf func(string, ...any)) (*shuffleServer, error) {
	ln := o.Listener
	if ln == nil {
		listen := o.Listen
		if listen == "" {
			listen = ":0"
		}
		var err error
		if ln, err = net.Listen("tcp", listen); err != nil {
			return nil, fmt.Errorf("shuffle server: --shuffle-listen %s: %w", listen, err)
		}
	}
	bound := ln.Addr().(*net.TCPAddr)
	switch {
	case o.Advertise != "":
		host = o.Advertise
	case !bound.IP.IsUnspecified():
		host = bound.IP.String() // listening on one address: that is where to reach it
	}
	port := strconv.Itoa(bound.Port)
	if o.ServerTLS != nil {
		ln = tls.NewListener(ln, o.ServerTLS)
	}
	s := &shuffleServer{
		dir:   dir,
		addr:  net.JoinHostPort(host, port),
		ln:    ln,
		done:  make(chan struct{}),
		files: make(map[string]bool),
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.route),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(&authListener{Listener: ln, secret: o.Secret, logf: logf})
	}()
	return s, nil
}

func (s *shuffleServer) route(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/part" {
		http.NotFound(w, r)
		return
	}
	s.servePart(w, r)
}

// publish makes the file dir/name available to fetchers.
func (s *shuffleServer) publish(name string) {
	s.mu.Lock()
	s.files[name] = true
	s.mu.Unlock()
}

// unpublish withdraws dir/name, whose attempt did not commit.
func (s *shuffleServer) unpublish(name string) {
	s.mu.Lock()
	delete(s.files, name)
	s.mu.Unlock()
}

// forget withdraws every published file and removes it: the master no
// longer counts on them.
func (s *shuffleServer) forget() {
	s.mu.Lock()
	names := s.files
	s.files = make(map[string]bool)
	s.mu.Unlock()
	for name := range names {
		os.Remove(filepath.Join(s.dir, name))
	}
}

// close stops serving, cutting off fetches in flight, and waits for the
// server's goroutine. It is safe to call twice.
func (s *shuffleServer) close() {
	s.srv.Close()
	<-s.done
}

// servePart answers "POST /part?p=P&n=N", whose body names map outputs
// this worker holds, one per line, with partition P of each (of N), as
// one stream in the order asked: per output a frame of a status byte, a
// uvarint length, and that many bytes, the run itself (partOK), or why it
// cannot be had (partMissing: not held here; partDamaged: its index is
// bad). A reducer asks each worker once for all the map outputs it needs
// from it, whatever their number.
func (s *shuffleServer) servePart(w http.ResponseWriter, r *http.Request) {
	p, err1 := strconv.Atoi(r.URL.Query().Get("p"))
	n, err2 := strconv.Atoi(r.URL.Query().Get("n"))
	if r.Method != http.MethodPost || err1 != nil || err2 != nil || p < 0 || p >= n {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPartRequest))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	names := strings.Fields(string(body))
	w.Header().Set("Content-Type", "application/octet-stream")
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	for _, name := range names {
		if err := s.writePart(bw, name, p, n); err != nil {
			return // the reducer went away, or this side's disk failed: it will see the stream end early
		}
	}
}

// maxPartRequest bounds a part request's list of names.
const maxPartRequest = 64 << 20

// Frame statuses of a part stream.
const (
	partOK byte = iota
	partMissing
	partDamaged
)

// writePart writes one frame of a part stream: partition p of the map
// output name, or why not.
func (s *shuffleServer) writePart(w io.Writer, name string, p, n int) error {
	frame := func(status byte, data []byte) error {
		hdr := binary.AppendUvarint([]byte{status}, uint64(len(data)))
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		_, err := w.Write(data)
		return err
	}
	s.mu.Lock()
	published := s.files[name]
	s.mu.Unlock()
	if !cleanName(name) || !published {
		return frame(partMissing, []byte("no such map output"))
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return frame(partMissing, []byte(err.Error()))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return frame(partMissing, []byte(err.Error()))
	}
	ix, err := shuffle.ReadIndex(f, fi.Size(), n)
	var off, length int64
	if err == nil {
		off, length, err = ix.Partition(p)
	}
	if err != nil {
		return frame(partDamaged, []byte(err.Error()))
	}
	hdr := binary.AppendUvarint([]byte{partOK}, uint64(length))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	// Past the header the reducer counts on exactly length bytes; if the
	// file cannot give them, cutting the stream short is the only way to
	// say so.
	_, err = io.Copy(w, io.NewSectionReader(f, off, length))
	return err
}

// cleanName reports whether name names a file in the served directory,
// not one elsewhere.
func cleanName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// authListener hands out connections that run the server side of the
// handshake on their first read or write, in the connection's own
// goroutine, so that a slow client cannot hold up the accept loop.
type authListener struct {
	net.Listener
	secret []byte
	logf   func(string, ...any)
}

func (l *authListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &authConn{Conn: c, secret: l.secret, logf: l.logf}, nil
}

type authConn struct {
	net.Conn
	secret []byte
	logf   func(string, ...any)
	once   sync.Once
	err    error
}

func (c *authConn) shake() {
	c.once.Do(func() {
		if c.err = auth.Server(c.Conn, c.secret, dialTimeout); c.err != nil {
			c.logf("shuffle server: refused a connection from %s: %v", c.RemoteAddr(), c.err)
			c.Conn.Close()
		}
	})
}

func (c *authConn) Read(p []byte) (int, error) {
	if c.shake(); c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (c *authConn) Write(p []byte) (int, error) {
	if c.shake(); c.err != nil {
		return 0, c.err
	}
	return c.Conn.Write(p)
}

// idleConn fails a read that waits longer than idle, so a fetch from a
// worker that vanished mid-transfer ends.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

// fetcher copies partitions of map output from other workers' shuffle
// servers; see gather.go.
type fetcher struct {
	client *http.Client
}

func newFetcher(secret []byte, tlsConfig *tls.Config) *fetcher {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		var cfg *tls.Config
		if tlsConfig != nil {
			cfg = tlsConfig.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		if c, err = auth.Connect(ctx, c, cfg, secret, dialTimeout); err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: fetchIdle}, nil
	}
	return &fetcher{client: &http.Client{Transport: &http.Transport{
		DialContext:           dial,
		MaxIdleConnsPerHost:   fetchParallel,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: fetchIdle,
		DisableCompression:    true,
	}}}
}

// close drops idle connections.
func (f *fetcher) close() { f.client.CloseIdleConnections() }

// errUnreachable marks a fetch that failed at the owner's end, as opposed
// to writing the copy here.
var errUnreachable = errors.New("unreachable")

// localWriter remembers a write error, so that a copy can tell a failure
// here from one at the far end, and counts the bytes written, in n and,
// when it is not nil, in fetched.
type localWriter struct {
	w       io.Writer
	err     error
	n       int64
	fetched *atomic.Int64
}

func (l *localWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err != nil && l.err == nil {
		l.err = err
	}
	l.n += int64(n)
	if l.fetched != nil {
		l.fetched.Add(int64(n))
	}
	return n, err
}
