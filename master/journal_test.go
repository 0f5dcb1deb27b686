package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gomr.dev/mr"
)

// journalOptions are a job's options over one input file in a new dir.
func journalOptions(t *testing.T) (Options, [][]mr.Split) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("a b\nc d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Options{Inputs: []string{in}, NReduce: 2, OutDir: filepath.Join(dir, "out"),
		Flags: map[string]string{"nreduce": "2", "param": "[]", "listen": "x"}}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return opt, [][]mr.Split{{{File: in, Length: 8, Whole: true}}}
}

func TestJournalResumesAndRefusesChanges(t *testing.T) {
	opt, tasks := journalOptions(t)
	j, err := openJob(opt.OutDir, opt, specOf(opt, "", tasks))
	if err != nil || j.resume != nil {
		t.Fatalf("openJob on an empty --out = %v, resume %v; want a new job", err, j.resume)
	}
	one := 1
	for _, r := range []record{
		{Epoch: new(int)},
		{Sample: &sampleRecord{}},
		{Map: &taskRecord{ID: 0, Output: "m0-a1", Attempt: 1, Stats: map[string]int64{"map_input_records": 2}}},
		{Epoch: &one},
		{Reduce: &taskRecord{ID: 1}},
	} {
		if err := j.journal.append(r, true); err != nil {
			t.Fatal(err)
		}
	}
	j.journal.close()
	// A crash mid-append leaves a torn line, which ends the journal.
	f, _ := os.OpenFile(filepath.Join(j.dir, journalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"reduce":{"id":0`)
	f.Close()

	// The same job, with a flag that does not shape the output changed.
	opt.Flags["listen"] = "y"
	again, err := openJob(opt.OutDir, opt, specOf(opt, "", tasks))
	if err != nil {
		t.Fatal(err)
	}
	r := again.resume
	if again.dir != j.dir || r == nil || r.epoch != 1 || r.sample == nil || len(r.maps) != 1 || len(r.reduces) != 1 || r.reduces[1].ID != 1 {
		t.Fatalf("resumed %s (want %s): %+v", again.dir, j.dir, r)
	}
	if got := statsOf(r.maps[0].Stats)[mr.MapInputRecords]; got != 2 {
		t.Fatalf("restored map_input_records = %d; want 2", got)
	}
	again.journal.close()

	// Another --nreduce, and a changed input, may not resume.
	opt.Flags["nreduce"], opt.NReduce = "3", 3
	later := time.Now().Add(time.Hour)
	os.Chtimes(opt.Inputs[0], later, later)
	_, err = openJob(opt.OutDir, opt, specOf(opt, "", tasks))
	for _, want := range []string{"cannot resume", "has changed", `--nreduce was "2", now "3"`, "--fresh"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("openJob with other flags and input = %v; want an error saying %q", err, want)
		}
	}
	// --fresh discards the old job.
	opt.Fresh = true
	fresh, err := openJob(opt.OutDir, opt, specOf(opt, "", tasks))
	if err != nil || fresh.resume != nil || fresh.dir == j.dir {
		t.Fatalf("openJob --fresh = %v, dir %s (old %s); want a new job", err, fresh.dir, j.dir)
	}
	if _, err := os.Stat(j.dir); !os.IsNotExist(err) {
		t.Fatalf("--fresh left the old job's directory: %v", err)
	}
	fresh.journal.close()
}

func TestRestore(t *testing.T) {
	s := newTestScheduler(3, 2)
	s.cfg.Epoch = 1
	r := &resume{
		sample: &sampleRecord{},
		maps: map[int]taskRecord{
			0: {ID: 0, Output: "m0-a1", Attempt: 1, Stats: map[string]int64{"map_input_records": 5}},
			1: {ID: 1, Output: "m1-a1", Attempt: 1}, // its file is gone
			2: {ID: 2, Output: "m2-a1", Attempt: 1, Addr: "h:1", Owner: "w9"},
		},
		reduces: map[int]taskRecord{0: {ID: 0}},
	}
	keep := func(rec taskRecord) bool { return rec.ID != 1 }
	maps, reduces := s.Restore(r, keep, func(int) bool { return true }, t0)
	if maps != 2 || reduces != 0 || s.mapsLeft != 1 || s.totals[mr.MapInputRecords] != 5 {
		t.Fatalf("restored %d maps, %d reduces, %d maps left, %d records; want 2, 0 (a map is missing), 1, 5",
			maps, reduces, s.mapsLeft, s.totals[mr.MapInputRecords])
	}
	if _, ok := s.workers["w9"]; !ok {
		t.Fatal("the worker holding restored map output is not taken to be alive")
	}
	// Only the lost map runs again, as attempt 2 of epoch 1.
	m1 := mustAssign(t, s, "a", t0, mr.MapTask, 1)
	if m1.Attempt != 1 || m1.Epoch != 1 || m1.File("m") != "m1-e1-a1" {
		t.Fatalf("re-run = attempt %d epoch %d file %s; want attempt 1 of epoch 1, m1-e1-a1", m1.Attempt, m1.Epoch, m1.File("m"))
	}
	// An attempt of the crashed master's epoch is told to stop, and its
	// report changes nothing.
	old := mr.TaskRef{Kind: mr.MapTask, ID: 1, Attempt: 1}
	if done, _ := s.Heartbeat(mr.HeartbeatArgs{Worker: "a", Task: old}, t0); !done {
		t.Fatal("a heartbeat from epoch 0 was not told to stop")
	}
	rep := ok("a", mr.Task{TaskRef: old}, 2)
	if o := s.Complete(rep, t0); o != Ignored {
		t.Fatalf("Complete(epoch 0 attempt) = %v; want ignored", o)
	}
	if o := s.Complete(ok("a", m1, 2), t0); o != Accepted {
		t.Fatalf("Complete(re-run) = %v", o)
	}
	// The worker w9 never comes back: its map output is written again.
	s.Expire(t0.Add(2 * time.Hour))
	if s.mapsLeft != 1 || s.maps[2].state != taskIdle {
		t.Fatalf("after w9's silence: %d maps left, map 2 %v; want 1, idle", s.mapsLeft, s.maps[2].state)
	}
}
