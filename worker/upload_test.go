package worker

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"gomr.dev/internal/app"
	"gomr.dev/internal/store"
	"gomr.dev/internal/store/storetest"
	"gomr.dev/mr"
)

// uploadMaster hands out one reduce task whose output goes to a store,
// and answers its report with accepted, as a master does for the attempt
// that commits, or not, as for one that lost.
type uploadMaster struct {
	task     mr.Task
	accepted bool
	mu       sync.Mutex // guards the fields below
	given    bool
	report   *mr.ReportArgs
}

func (m *uploadMaster) GetTask(ctx context.Context, args mr.GetTaskArgs) (mr.GetTaskReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.given {
		return mr.GetTaskReply{Action: mr.Exit}, nil
	}
	m.given = true
	return mr.GetTaskReply{Action: mr.Run, Task: m.task}, nil
}

func (m *uploadMaster) Heartbeat(context.Context, mr.HeartbeatArgs) (mr.HeartbeatReply, error) {
	return mr.HeartbeatReply{}, nil
}

func (m *uploadMaster) Report(ctx context.Context, args mr.ReportArgs) (mr.ReportReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.report = &args
	return mr.ReportReply{Accepted: m.accepted}, nil
}

func (m *uploadMaster) ReadSplit(context.Context, mr.Split) ([]byte, error) {
	return nil, errors.New("not shipped")
}

func (m *uploadMaster) PutOutput(context.Context, mr.PutOutputArgs) (mr.PutOutputReply, error) {
	return mr.PutOutputReply{}, errors.New("not collected")
}

// A reduce attempt uploads its output to Out/out<R>-a<N> and reports that
// name; when the master does not accept the report (another attempt
// committed first), the worker removes its upload.
func TestReduceUploadsAndLoserRemovesIt(t *testing.T) {
	srv := storetest.Start(t)
	srv.Bucket(t, "outs")
	for _, accepted := range []bool{true, false} {
		t.Run("accepted="+strconv.FormatBool(accepted), func(t *testing.T) {
			dir := t.TempDir()
			task := mr.Task{
				TaskRef: mr.TaskRef{Kind: mr.ReduceTask, ID: 2, Attempt: 1}, NReduce: 3,
				Dir: dir, Heartbeat: time.Second, MergeFactor: 8, Out: "s3://outs/job/.mr-abc",
				Locations: mr.EncodeLocations(nil), // no map output: an empty partition
			}
			m := &uploadMaster{task: task, accepted: accepted}
			a := &app.App{Reduce: func(string, []string) string { return "" }, Partition: mr.DefaultPartition}
			if err := Run(context.Background(), Options{App: a, Master: m, ID: "w", WorkDir: filepath.Join(dir, "work")}); err != nil {
				t.Fatal(err)
			}
			want := "s3://outs/job/.mr-abc/" + task.File("out")
			if m.report == nil || m.report.Failure != "" || m.report.Output != want {
				t.Fatalf("report = %+v; want output %s", m.report, want)
			}
			_, err := store.Stat(context.Background(), want)
			if accepted && err != nil {
				t.Errorf("the accepted attempt's upload is gone: %v", err)
			}
			if !accepted && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the losing attempt's upload is still there: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, task.File("out"))); err == nil {
				t.Errorf("the attempt wrote its output into the job directory too")
			}
		})
	}
}
