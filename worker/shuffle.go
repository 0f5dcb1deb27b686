package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// The shuffle server is how map output that stays on a worker reaches the
// reducers. It speaks HTTP on connections that first pass the same
// handshake as the master's (internal/auth), so with a secret nobody
// without it gets a byte, and it serves only the map outputs this worker
// committed, as "GET /map/NAME?off=N&len=M".

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
		Handler:           http.HandlerFunc(s.serveMap),
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

func (s *shuffleServer) serveMap(w http.ResponseWriter, r *http.Request) {
	name, ok := cutPrefix(r.URL.Path, "/map/")
	off, err1 := strconv.ParseInt(r.URL.Query().Get("off"), 10, 64)
	n, err2 := strconv.ParseInt(r.URL.Query().Get("len"), 10, 64)
	if r.Method != http.MethodGet || !ok || err1 != nil || err2 != nil || off < 0 || n < 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	published := s.files[name]
	s.mu.Unlock()
	if !published {
		http.Error(w, "no such map output", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		http.Error(w, "no such map output", http.StatusNotFound)
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || off+n > fi.Size() {
		http.Error(w, "range outside the map output", http.StatusRequestedRangeNotSatisfiable)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, io.NewSectionReader(f, off, n))
}

// cutPrefix returns the file name after prefix, refusing paths into
// other directories.
func cutPrefix(s, prefix string) (string, bool) {
	name, ok := strings.CutPrefix(s, prefix)
	return name, ok && name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
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

// fetcher copies segments from other workers' shuffle servers.
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

// writtenOff collects the map tasks whose output the master has declared
// lost, as heard in heartbeats, so that fetches of it stop at once rather
// than wait out a dead host's timeouts.
type writtenOff struct {
	mu   sync.Mutex            // guards maps
	maps map[int]chan struct{} // closed once the map task is written off
}

func (w *writtenOff) ch(m int) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maps == nil {
		w.maps = make(map[int]chan struct{})
	}
	c := w.maps[m]
	if c == nil {
		c = make(chan struct{})
		w.maps[m] = c
	}
	return c
}

// add writes off the map tasks ids. It may be called any number of times.
func (w *writtenOff) add(ids []int) {
	for _, m := range ids {
		c := w.ch(m)
		w.mu.Lock()
		select {
		case <-c:
		default:
			close(c)
		}
		w.mu.Unlock()
	}
}

// copyName names the local copy of a segment, the same in every attempt
// of a reduce task, so that a later attempt can find an earlier one's.
func copyName(s mr.Segment) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d", s.Addr, s.Path, s.Offset, s.Length)
	return fmt.Sprintf("m%d-%016x", s.Map, h.Sum64())
}

// fetch makes local copies, in dir, of the segments in segs that live on
// other workers, at most fetchParallel at once, trying each fetchTries
// times. Copies that an earlier attempt left complete in kept ("" for
// none) are moved over rather than fetched again. Segments readable here
// (shared, or this worker's own, served from self) are returned as they
// are. A fetch of a map task that off writes off stops at once. It returns
// segs with fetched ones replaced by their copies, and the segments whose
// owners could not be reached or that were written off; err is a failure
// on this side, such as a full disk.
//
// The bytes copied over the network are added to fetched, when it is not
// nil, as they arrive; a try that fails takes its bytes back out, so at
// the end fetched has grown by the length of the segments fetched. Copies
// moved over from kept are not counted: this call did not fetch them.
func (f *fetcher) fetch(ctx context.Context, segs []mr.Segment, dir, kept, self string, off *writtenOff, fetched *atomic.Int64) (local, unreachable []mr.Segment, err error) {
	local = make([]mr.Segment, len(segs))
	errs := make([]error, len(segs))
	sem := make(chan struct{}, fetchParallel)
	var wg sync.WaitGroup
	for i, s := range segs {
		if s.Addr == "" || s.Addr == self {
			local[i] = s
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			path := filepath.Join(dir, copyName(s))
			local[i] = mr.Segment{Path: path, Length: s.Length, Map: s.Map}
			if kept != "" {
				old := filepath.Join(kept, copyName(s))
				if fi, err := os.Stat(old); err == nil && fi.Size() == s.Length && os.Rename(old, path) == nil {
					return
				}
			}
			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			gone := off.ch(s.Map)
			go func() {
				select {
				case <-gone:
					cancel()
				case <-fctx.Done():
				}
			}()
			for try := 1; ; try++ {
				errs[i] = f.get(fctx, s, path, fetched)
				if errs[i] == nil || try == fetchTries || !errors.Is(errs[i], errUnreachable) || !sleep(fctx, time.Duration(try)*300*time.Millisecond) {
					break
				}
			}
			select {
			case <-gone:
				if errs[i] != nil {
					errs[i] = fmt.Errorf("%w: the master wrote off map %d's output on %s", errUnreachable, s.Map, s.Addr)
				}
			default:
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		switch {
		case e == nil:
		case errors.Is(e, errUnreachable):
			unreachable = append(unreachable, segs[i])
		case err == nil:
			err = e
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return local, unreachable, err
}

// get copies one segment into path, adding the bytes it copies to fetched
// (when not nil) as they arrive, and taking them back out if it fails.
func (f *fetcher) get(ctx context.Context, s mr.Segment, path string, fetched *atomic.Int64) (err error) {
	u := url.URL{Scheme: "http", Host: s.Addr, Path: "/map/" + filepath.Base(s.Path),
		RawQuery: fmt.Sprintf("off=%d&len=%d", s.Offset, s.Length)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: fetch map %d output from %s: %v", errUnreachable, s.Map, s.Addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: fetch map %d output from %s: %s", errUnreachable, s.Map, s.Addr, resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	w := &localWriter{w: out, fetched: fetched}
	defer func() {
		if err != nil && fetched != nil {
			fetched.Add(-w.n)
		}
	}()
	n, err := io.Copy(w, resp.Body)
	if cerr := out.Close(); w.err == nil {
		w.err = cerr
	}
	if w.err != nil {
		return w.err // this side's failure, which another try will not mend
	}
	if err != nil || n != s.Length {
		return fmt.Errorf("%w: fetch map %d output from %s: got %d of %d bytes: %v", errUnreachable, s.Map, s.Addr, n, s.Length, err)
	}
	return nil
}

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
