package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"gomr.dev/internal/auth"
)

// newHTTPMaster starts a master with a status server on addr over two
// small inputs, and stops it when the test ends.
func newHTTPMaster(t *testing.T, addr string, secret []byte) *Master {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"a.txt", "b.txt"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("one two\nthree\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	m, err := New(Options{Inputs: files, OutDir: filepath.Join(dir, "out"), Listen: "unix:" + filepath.Join(dir, "sock"),
		HTTP: addr, Secret: secret, NReduce: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v; want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return m
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestStatusAPI(t *testing.T) {
	m := newHTTPMaster(t, "127.0.0.1:0", nil)
	url := m.HTTPURL()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("HTTPURL = %q", url)
	}
	code, body := get(t, url+"api/job?kind=map&limit=1")
	if code != 200 {
		t.Fatalf("GET /api/job: %d %s", code, body)
	}
	var js JobStatus
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	if js.State != "running" || js.Tasks.Total != 2 || len(js.Tasks.Tasks) != 1 || js.Tasks.Limit != 1 || js.Job == nil || js.Job.InputBytes != 28 || len(js.Phases) != 2 {
		t.Fatalf("job = %+v", js)
	}
	for _, bad := range []string{"kind=nope", "state=weird", "limit=100000", "offset=-1", "workers=x"} {
		if code, _ := get(t, url+"api/job?"+bad); code != http.StatusBadRequest {
			t.Errorf("GET /api/job?%s: %d; want 400", bad, code)
		}
	}
	resp, err := http.Post(url+"api/job", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/job: %d; want 405", resp.StatusCode)
	}
	if code, body := get(t, url); code != 200 || !strings.Contains(body, "<") {
		t.Errorf("GET /: %d %.80s", code, body)
	}
	if code, _ := get(t, url+"nothing-here"); code != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d; want 404", code)
	}
}

func TestMetricsParse(t *testing.T) {
	m := newHTTPMaster(t, "127.0.0.1:0", nil)
	code, body := get(t, m.HTTPURL()+"metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for name, typ := range map[string]dto.MetricType{
		"mr_job_state":                  dto.MetricType_GAUGE,
		"mr_tasks":                      dto.MetricType_GAUGE,
		"mr_attempts_total":             dto.MetricType_COUNTER,
		"mr_workers":                    dto.MetricType_GAUGE,
		"mr_task_duration_seconds":      dto.MetricType_HISTOGRAM,
		"mr_map_input_bytes_total":      dto.MetricType_COUNTER,
		"mr_shuffle_bytes_total":        dto.MetricType_COUNTER,
		"mr_output_bytes_total":         dto.MetricType_COUNTER,
		"process_resident_memory_bytes": dto.MetricType_GAUGE,
	} {
		f := families[name]
		if f == nil || f.GetType() != typ {
			t.Errorf("metric %s: %v; want a %v", name, f, typ)
		}
	}
	idle := 0.0
	for _, mt := range families["mr_tasks"].GetMetric() {
		labels := map[string]string{}
		for _, l := range mt.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["kind"] == "map" && labels["state"] == "idle" {
			idle = mt.GetGauge().GetValue()
		}
	}
	if idle != 2 { // a map task per file, none started
		t.Errorf("mr_tasks{kind=map,state=idle} = %v; want 2", idle)
	}
}

func TestStatusNeedsTokenOffLoopback(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, []byte("x\n"), 0o644)
	_, err := New(Options{Inputs: []string{in}, OutDir: dir, Listen: "unix:" + filepath.Join(dir, "sock"), HTTP: ":0"})
	if err == nil || !strings.Contains(err.Error(), "--secret-file") {
		t.Fatalf("New with --http :0 and no secret: %v; want an error that asks for --secret-file", err)
	}

	secret := []byte("a secret of at least sixteen bytes")
	m := newHTTPMaster(t, ":0", secret)
	url := strings.Replace(m.HTTPURL(), "localhost", "127.0.0.1", 1)
	token := auth.StatusToken(secret)
	for _, tc := range []struct {
		name   string
		header []string
		want   int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"the secret as password", []string{"Authorization", "Basic " + basic("u", string(secret))}, http.StatusUnauthorized},
		{"wrong bearer", []string{"Authorization", "Bearer " + token[:31] + "x"}, http.StatusUnauthorized},
		{"bearer", []string{"Authorization", "Bearer " + token}, http.StatusOK},
		{"basic", []string{"Authorization", "Basic " + basic("anyone", token)}, http.StatusOK},
	} {
		for _, path := range []string{"", "api/job", "metrics"} {
			if code, _ := get(t, url+path, tc.header...); code != tc.want {
				t.Errorf("%s: GET /%s: %d; want %d", tc.name, path, code, tc.want)
			}
		}
	}
}

func basic(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestInterruptedJobLeavesASummary(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, []byte("x\n"), 0o644)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	// Files of an earlier job must go, _SUCCESS above all.
	for _, name := range []string{SuccessFile, SummaryFile, "mr-out-3"} {
		os.WriteFile(filepath.Join(out, name), []byte("old"), 0o644)
	}
	m, err := New(Options{Inputs: []string{in}, OutDir: out, Listen: "unix:" + filepath.Join(dir, "sock"), Flags: map[string]string{"nreduce": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SuccessFile, SummaryFile, "mr-out-3"} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s of an earlier job is still there", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(out, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var js JobStatus
	if err := json.Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	if js.State != "interrupted" || !strings.Contains(js.Failure, "canceled") || js.Job.Flags["nreduce"] != "10" || js.Job.Inputs[0].Path != in {
		t.Fatalf("summary: state %q, failure %q, job %+v", js.State, js.Failure, js.Job)
	}
	if _, err := os.Stat(filepath.Join(out, SuccessFile)); err == nil {
		t.Fatal("an interrupted job wrote _SUCCESS")
	}
}

func TestOneJobPerOutputDirectory(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.WriteFile(in, []byte("x\n"), 0o644)
	out := filepath.Join(dir, "out")
	newMaster := func(sock string) (*Master, error) {
		return New(Options{Inputs: []string{in}, OutDir: out, Listen: "unix:" + filepath.Join(dir, sock)})
	}
	first, err := newMaster("a")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(out, "mr-out-0"), []byte("the first job's"), 0o644)
	_, err = newMaster("b")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("locked by process %d on host", os.Getpid())) || !strings.Contains(err.Error(), "another --out") {
		t.Fatalf("second master on the same --out: %v; want a refusal naming the first", err)
	}
	if data, _ := os.ReadFile(filepath.Join(out, "mr-out-0")); string(data) != "the first job's" {
		t.Fatal("the refused master removed the first job's output")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	first.Run(ctx)
	third, err := newMaster("c")
	if err != nil {
		t.Fatalf("a master after the first ended: %v", err)
	}
	third.Run(ctx)
}
