package master

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gomr.dev/internal/auth"
	"gomr.dev/mr"
)

// page holds the status page. It is self-contained: a cluster may have
// no way out to the internet.
//
//go:embed page
var page embed.FS

// statusServer serves the status page, its JSON API and the Prometheus
// metrics of one job. It only reads the job.
type statusServer struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{} // closed when Serve has returned
}

// maxTasksPage bounds the tasks one API call lists.
const maxTasksPage = 1000

// startHTTP listens on opt.HTTP and serves the job there until
// stopHTTP. A listener on anything but a loopback address requires the
// job's secret, and serves TLS when the master does.
func (m *Master) startHTTP() error {
	addr := m.opt.HTTP
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %s: want host:port, such as 127.0.0.1:8080 or :8080", addr)
	}
	token := ""
	if !loopback(host) {
		if len(m.opt.Secret) == 0 {
			return fmt.Errorf("--http %s: the status page would be open to the network; give the job a --secret-file, which guards it, or listen on 127.0.0.1", addr)
		}
		token = auth.StatusToken(m.opt.Secret)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	scheme := "http"
	if m.opt.TLS != nil {
		// The master's certificate, without asking browsers for one of
		// their own: the token guards the page.
		cfg := m.opt.TLS.Clone()
		cfg.ClientAuth = tls.NoClientCert
		ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &jobCollector{m})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/job", m.serveJob)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	assets, _ := fs.Sub(page, "page")
	mux.Handle("GET /page/", http.StripPrefix("/page/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, assets, "index.html")
	})
	var h http.Handler = mux
	if token != "" {
		h = guard(mux, token)
	}
	s := &statusServer{
		srv: &http.Server{
			Handler:           readOnly(h),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		ln:   ln,
		url:  fmt.Sprintf("%s://%s/", scheme, displayAddr(ln.Addr(), host)),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // returns http.ErrServerClosed once stopHTTP closes it
	}()
	m.http = s
	return nil
}

// stopHTTP closes the status server, letting requests in flight finish
// for a moment, and waits for it.
func (m *Master) stopHTTP() {
	if m.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if m.http.srv.Shutdown(ctx) != nil {
		m.http.srv.Close()
	}
	<-m.http.done
}

// HTTPURL is the status page's address, or "" when the master serves none.
func (m *Master) HTTPURL() string {
	if m.http == nil {
		return ""
	}
	return m.http.url
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// displayAddr is the address to show for a listener: the host it was
// given when that names one, with the port it got.
func displayAddr(a net.Addr, host string) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// guard refuses requests without the token.
func guard(h http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.CheckToken(r, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="mr master: the password is 'mr status --token --secret-file FILE'"`)
			http.Error(w, "this status page needs the job's token: the password printed by 'mr status --token --secret-file FILE', with any user name, or as 'Authorization: Bearer TOKEN'", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readOnly answers GET and HEAD only, and keeps browsers from framing
// the page or guessing content types.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the status page is read-only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:")
		h.ServeHTTP(w, r)
	})
}

// serveJob answers /api/job?kind=&state=&offset=&limit=&workers= with
// the job as JSON; see JobStatus.
func (m *Master) serveJob(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.Encode(m.Snapshot(q))
}

// parseQuery reads the API's query parameters.
func parseQuery(r *http.Request) (Query, error) {
	v := r.URL.Query()
	q := Query{Kind: v.Get("kind"), State: v.Get("state")}
	switch q.Kind {
	case "", "sample", "map", "reduce":
	default:
		return q, fmt.Errorf("kind %q: want sample, map or reduce", q.Kind)
	}
	switch q.State {
	case "", "idle", "running", "committing", "done", "troubled":
	default:
		return q, fmt.Errorf("state %q: want idle, running, committing, done or troubled", q.State)
	}
	for _, p := range []struct {
		name string
		to   *int
		max  int
	}{{"offset", &q.Offset, 1 << 30}, {"limit", &q.Limit, maxTasksPage}, {"workers", &q.Workers, maxTasksPage}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > p.max {
			return q, fmt.Errorf("%s %q: want a number from 0 to %d", p.name, s, p.max)
		}
		*p.to = n
	}
	return q, nil
}

// Snapshot describes the job now; see JobStatus.
func (m *Master) Snapshot(q Query) JobStatus {
	m.mu.Lock()
	js := m.sched.Snapshot(time.Now(), q)
	m.mu.Unlock()
	js.Job = &m.spec
	return js
}

// jobCollector exposes the job to Prometheus, reading it at each scrape.
type jobCollector struct{ m *Master }

var (
	descState    = prometheus.NewDesc("mr_job_state", "1 for the job's state: running, succeeded or failed.", []string{"state"}, nil)
	descElapsed  = prometheus.NewDesc("mr_job_elapsed_seconds", "Time since the job started, to its end.", nil, nil)
	descTasks    = prometheus.NewDesc("mr_tasks", "Tasks by kind and state.", []string{"kind", "state"}, nil)
	descAttempts = prometheus.NewDesc("mr_attempts_total", "Finished task attempts by kind and outcome: ok, failed, lost, or superseded (finished after another attempt committed).", []string{"kind", "outcome"}, nil)
	descRunning  = prometheus.NewDesc("mr_attempts_running", "Task attempts in flight, by kind.", []string{"kind"}, nil)
	descWorkers  = prometheus.NewDesc("mr_workers", "Workers by state: alive, or dead (declared dead after --worker-timeout of silence).", []string{"state"}, nil)
	descDuration = prometheus.NewDesc("mr_task_duration_seconds", "Run time of each task's committing attempt, by kind.", []string{"kind"}, nil)
	descUser     = prometheus.NewDesc("mr_user_counter_total", "The app's counters (mr.Counter), summed over committed attempts.", []string{"name"}, nil)
	descBuiltin  = func() (d [mr.NumStats]*prometheus.Desc) {
		for i := range d {
			name := mr.Stat(i).String()
			d[i] = prometheus.NewDesc("mr_"+name+"_total", "Built-in counter "+name+", summed over committed attempts.", nil, nil)
		}
		return d
	}()
	durationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 150, 300, 600, 1800, 3600}
)

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descElapsed, descTasks, descAttempts, descRunning, descWorkers, descDuration, descUser} {
		ch <- d
	}
	for _, d := range descBuiltin {
		ch <- d
	}
}

func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	now := time.Now()
	m.mu.Lock()
	v := m.sched.Metrics(now)
	elapsed := m.sched.elapsed(now)
	m.mu.Unlock()
	for _, st := range []string{"running", "succeeded", "failed"} {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(v.State == st), st)
	}
	ch <- prometheus.MustNewConstMetric(descElapsed, prometheus.GaugeValue, elapsed.Seconds())
	for k, n := range v.Tasks {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for k, n := range v.Attempts {
		ch <- prometheus.MustNewConstMetric(descAttempts, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	for _, kind := range []string{"sample", "map", "reduce"} {
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, float64(v.Running[kind]), kind)
		ch <- histogram(descDuration, v.Durations[kind], kind)
	}
	ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(v.Alive), "alive")
	ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(v.Dead), "dead")
	for i, d := range descBuiltin {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v.Stats[i]))
	}
	for name, n := range v.Counters {
		ch <- prometheus.MustNewConstMetric(descUser, prometheus.CounterValue, float64(n), name)
	}
}

// histogram buckets durations into a constant histogram.
func histogram(d *prometheus.Desc, durations []float64, kind string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(durationBuckets))
	var sum float64
	for _, s := range durations {
		sum += s
		for _, ub := range durationBuckets {
			if s <= ub {
				buckets[ub]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(durations)), sum, buckets, kind)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
