package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/internal/store"
	"gomr.dev/master"
	"gomr.dev/mr"
)

// statusCmd prints a job's state from a master's status API, or from the
// summary a finished job left in its output directory.
func statusCmd(ctx context.Context, args []string) error {
	fs := newFlags("status", "[flags] ADDR | OUT/mr-job.json | OUT\n\nADDR is the master's --http address (host:port or a URL); OUT may be an s3:// --out.")
	asJSON := fs.Bool("json", false, "print the job as JSON (the /api/job document) instead of a summary")
	secretFile := fs.String("secret-file", "", "the job's shared secret, for a master whose page is not on a loopback address")
	tlsCA := fs.String("tls-ca", "", "connect with TLS, trusting a master whose certificate this CA (PEM) signed")
	token := fs.Bool("token", false, "print the status page's password, derived from --secret-file, and exit")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on a master that does not answer in this long")
	var s3 s3Flags
	s3.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := s3.configure(fs); err != nil {
		return err
	}
	var secret []byte
	if *secretFile != "" {
		var err error
		if secret, err = auth.ReadSecret(*secretFile); err != nil {
			return err
		}
	}
	if *token {
		if secret == nil {
			return usageError(fs, "--token needs --secret-file")
		}
		fmt.Println(auth.StatusToken(secret))
		return nil
	}
	if fs.NArg() != 1 {
		return usageError(fs, "want one ADDR, or a job's output directory")
	}
	target := fs.Arg(0)
	var raw []byte
	var err error
	if store.IsURL(target) {
		if raw, err = readSummary(ctx, target); err != nil {
			return err
		}
	} else if path, ok := summaryPath(target); ok {
		if raw, err = os.ReadFile(path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no %s there yet: the job has not ended, or its master wrote elsewhere; for a running job give the master's --http address", target, master.SummaryFile)
		} else if err != nil {
			return err
		}
	} else if strings.HasPrefix(target, "/") || strings.HasPrefix(target, ".") {
		return fmt.Errorf("%s: no such file or directory; give a job's output directory, its %s, or the master's --http address", target, master.SummaryFile)
	} else if raw, err = fetchJob(ctx, target, secret, *tlsCA, *timeout); err != nil {
		return err
	}
	if *asJSON {
		_, err := os.Stdout.Write(raw)
		return err
	}
	var js master.JobStatus
	if err := json.Unmarshal(raw, &js); err != nil {
		return fmt.Errorf("%s: not a job status document: %v", target, err)
	}
	printStatus(os.Stdout, js)
	return nil
}

// summaryPath reports whether target names a job summary on disk: the
// file itself, or an output directory holding one.
func summaryPath(target string) (string, bool) {
	fi, err := os.Stat(target)
	if err != nil {
		return "", false
	}
	if fi.IsDir() {
		return filepath.Join(target, master.SummaryFile), true
	}
	return target, true
}

// readSummary reads a job summary from an object store: target is the
// job's s3:// --out, or its mr-job.json.
func readSummary(ctx context.Context, target string) ([]byte, error) {
	name := target
	if path.Base(target) != master.SummaryFile {
		name = store.Join(target, master.SummaryFile)
	}
	f, err := store.Open(ctx, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s there yet: the job has not ended, or its master wrote elsewhere", target, master.SummaryFile)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// fetchJob gets /api/job from the master's status server at addr.
func fetchJob(ctx context.Context, addr string, secret []byte, tlsCA string, timeout time.Duration) ([]byte, error) {
	if !strings.Contains(addr, "://") {
		scheme := "http"
		if tlsCA != "" {
			scheme = "https"
		}
		addr = scheme + "://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, &exitError{2, fmt.Errorf("%s: want the master's --http address, host:port or a URL, or a job's output directory", addr)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/job"
	u.RawQuery = "state=troubled&limit=5"
	client := &http.Client{Timeout: timeout}
	if tlsCA != "" {
		cfg, err := auth.ClientTLS(u.Hostname(), tlsCA, "", "")
		if err != nil {
			return nil, err
		}
		client.Transport = &http.Transport{TLSClientConfig: cfg}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if secret != nil {
		req.Header.Set("Authorization", "Bearer "+auth.StatusToken(secret))
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %v (is the master running with --http at that address?)", u.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", u.Host, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && secret == nil:
		return nil, fmt.Errorf("%s: the status page needs the job's secret; pass --secret-file", u.Host)
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%s: the master refused this secret; pass the job's --secret-file", u.Host)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s: %s", u.Host, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// printStatus writes one screen about the job.
func printStatus(w io.Writer, js master.JobStatus) {
	fmt.Fprintf(w, "job %s", js.State)
	if js.State == "running" {
		fmt.Fprintf(w, ", %s phase", js.Phase)
	}
	fmt.Fprintf(w, ", %v elapsed (started %s)\n", seconds(js.Elapsed), js.Started.Local().Format("2006-01-02 15:04:05"))
	if js.Failure != "" {
		fmt.Fprintf(w, "failure: %s\n", js.Failure)
	}
	for _, p := range js.Phases {
		fmt.Fprintf(w, "  %-7s %s %3.0f%%  %d/%d done, %d running", p.Kind, bar(p.Progress, 20), 100*p.Progress, p.Done, p.Tasks, p.Running)
		if p.Rate > 0 {
			fmt.Fprintf(w, ", %s/s", human(int64(p.Rate)))
		}
		if p.ETA != nil {
			fmt.Fprintf(w, ", ETA %v", seconds(*p.ETA))
		} else if p.Ended != nil {
			fmt.Fprintf(w, ", took %v", seconds(p.Seconds))
		}
		fmt.Fprintln(w)
	}
	ws := js.Workers
	fmt.Fprintf(w, "workers: %d alive, %d dead\n", ws.Alive, ws.Dead)
	live := js.State == "running"
	fmt.Fprintf(w, "counters%s:\n", map[bool]string{true: " (committed, + in flight)", false: ""}[live])
	printCounterMap(w, js.Counters.Builtin, js.Running.Builtin, live, builtinOrder())
	if len(js.Counters.User)+len(js.Running.User) > 0 {
		fmt.Fprintln(w, "user counters:")
		printCounterMap(w, js.Counters.User, js.Running.User, live, nil)
	}
	if n := js.Tasks.Counts["troubled"]; n > 0 {
		fmt.Fprintf(w, "tasks with failed or lost attempts: %d\n", n)
		for _, t := range js.Tasks.Tasks {
			if t.Failures+t.Lost == 0 {
				continue
			}
			fmt.Fprintf(w, "  %s %d (%s): %s, %d attempts, %d failed, %d lost", t.Kind, t.ID, t.Input, t.State, t.Attempts, t.Failures, t.Lost)
			if t.LastError != "" {
				fmt.Fprintf(w, "; last error: %.160s", t.LastError)
			}
			fmt.Fprintln(w)
		}
	}
	if n := len(js.Events); n > 0 {
		fmt.Fprintln(w, "recent events:")
		for _, e := range js.Events[max(0, n-5):] {
			fmt.Fprintf(w, "  %s %s %d attempt %d on %s: %.160s\n", e.Time.Local().Format("15:04:05"), e.Kind, e.Task, e.Attempt, e.Worker, e.What)
		}
	}
}

// builtinOrder lists the built-in counters in their documented order.
func builtinOrder() []string {
	names := make([]string, mr.NumStats)
	for i := range names {
		names[i] = mr.Stat(i).String()
	}
	return names
}

func printCounterMap(w io.Writer, done, running map[string]int64, live bool, order []string) {
	if order == nil {
		for name := range done {
			order = append(order, name)
		}
		for name := range running {
			if _, ok := done[name]; !ok {
				order = append(order, name)
			}
		}
		slices.Sort(order)
	}
	for _, name := range order {
		fmt.Fprintf(w, "  %-30s %15d", name, done[name])
		if live && running[name] != 0 {
			fmt.Fprintf(w, "  + %d", running[name])
		}
		fmt.Fprintln(w)
	}
}

// printCounters logs a short summary of a finished job's counters.
func printCounters(logf func(string, ...any), js master.JobStatus) {
	c := js.Counters.Builtin
	logf("counters: map %d records (%s) in, %d pairs out; combine %d -> %d; %d records spilled; shuffle %s (%s fetched); reduce %d keys, %d values; output %d records (%s); attempts %d failed, %d lost",
		c["map_input_records"], human(c["map_input_bytes"]), c["map_output_records"],
		c["combine_input_records"], c["combine_output_records"], c["spilled_records"],
		human(c["shuffle_bytes"]), human(c["shuffle_bytes_fetched"]),
		c["reduce_input_groups"], c["reduce_input_records"], c["output_records"], human(c["output_bytes"]),
		c["attempts_failed"], c["attempts_lost"])
	if len(js.Counters.User) > 0 {
		var names []string
		for name := range js.Counters.User {
			names = append(names, name)
		}
		slices.Sort(names)
		var b strings.Builder
		for i, name := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%d", name, js.Counters.User[name])
		}
		logf("user counters: %s", b.String())
	}
}

// phaseTasks is how many tasks the job's phase of that kind has.
func phaseTasks(js master.JobStatus, kind string) int {
	for _, p := range js.Phases {
		if p.Kind == kind {
			return p.Tasks
		}
	}
	return 0
}

func bar(frac float64, width int) string {
	n := int(frac*float64(width) + 0.5)
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func seconds(s float64) time.Duration {
	d := time.Duration(s * float64(time.Second))
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// human shows n in binary units.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
