package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gomr.dev/internal/app"
	"gomr.dev/internal/inputs"
	"gomr.dev/mr"
)

// markFake is a Master that records the marks it is sent.
type markFake struct {
	Master
	mu    sync.Mutex // guards marks
	marks []mr.MarkArgs
}

func (f *markFake) Mark(args mr.MarkArgs) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks = append(f.marks, args)
}

func (f *markFake) last() mr.Mark {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.marks[len(f.marks)-1].Mark
}

func TestSkipChunks(t *testing.T) {
	data := []byte("l0\nl1\nl2\nl3\nl4\nl5\nl6\nl7\n") // 8 lines of 3 bytes
	halves := [][]byte{data[:12], data[12:]}
	for _, tc := range []struct {
		name string
		plan mr.SkipPlan
		want string // the chunks, |-separated
	}{
		{"nothing to do", mr.SkipPlan{}, "l0 l1 l2 l3|l4 l5 l6 l7"},
		{"a line left out", mr.SkipPlan{Records: []mr.Mark{{Start: 6, End: 9, Record: true}}}, "l0 l1|l3|l4 l5 l6 l7"},
		{"the first and last lines left out", mr.SkipPlan{Records: []mr.Mark{{Start: 0}, {Start: 21}}}, "l1 l2 l3|l4 l5 l6"},
		{"a record of another split", mr.SkipPlan{Records: []mr.Mark{{Split: 1, Start: 6}}}, "l0 l1 l2 l3|l4 l5 l6 l7"},
		{"a record not at a line start", mr.SkipPlan{Records: []mr.Mark{{Start: 7}}}, "l0 l1 l2 l3|l4 l5 l6 l7"},
		{"a suspect range, in lines", mr.SkipPlan{Suspect: &mr.Mark{Start: 3, End: 15}}, "l0|l1|l2|l3|l4|l5 l6 l7"},
		{"a suspect range past the end", mr.SkipPlan{Suspect: &mr.Mark{Start: 18, End: 99}}, "l0 l1 l2 l3|l4 l5|l6|l7"},
		{"a suspect line left out", mr.SkipPlan{Suspect: &mr.Mark{Start: 0, End: 12}, Records: []mr.Mark{{Start: 3}}}, "l0|l2|l3|l4 l5 l6 l7"},
		{"a reduce suspect", mr.SkipPlan{Suspect: &mr.Mark{Key: "a", Keys: 4}}, "l0 l1 l2 l3|l4 l5 l6 l7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := tc.plan
			mk := newMarker(&plan, fieldsApp(false), "w", mr.TaskRef{Kind: mr.MapTask}, nil)
			var got []string
			for _, c := range mk.chunks(0, data, halves) {
				got = append(got, strings.Join(strings.Fields(string(c)), " "))
			}
			if strings.Join(got, "|") != tc.want {
				t.Fatalf("chunks %q; want %s", got, tc.want)
			}
		})
	}
	// A large suspect range is cut into mapFanOut chunks of whole lines.
	big := []byte(strings.Repeat("abcdefghi\n", 4*mapFanOut))
	mk := newMarker(&mr.SkipPlan{Suspect: &mr.Mark{Start: 0, End: int64(len(big))}}, fieldsApp(false), "w", mr.TaskRef{Kind: mr.MapTask}, nil)
	chunks := mk.chunks(0, big, [][]byte{big})
	if len(chunks) != mapFanOut || len(chunks[0]) != 40 {
		t.Fatalf("%d chunks, the first of %d bytes; want %d of 40", len(chunks), len(chunks[0]), mapFanOut)
	}
}

// writeLines writes n lines "wN", with "BAD" as line bad (if not -1), to
// a file, and returns its whole split.
func writeLines(t *testing.T, n, bad int) mr.Split {
	var b strings.Builder
	for i := range n {
		if i == bad {
			b.WriteString("BAD\n")
		} else {
			fmt.Fprintf(&b, "w%d\n", i)
		}
	}
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return mr.Split{File: path, Length: int64(b.Len()), Whole: true}
}

// A Map that crashes on one line is narrowed down to that line and skips
// it, whether it takes its input in one call (streaming) or in pieces;
// and whether the master learns where from the report (a panic) or from
// the marks alone (a death). The master's side is played here by the
// rule of master/skip.go: each crash's mark is the next suspect, and a
// line that crashed twice is skipped.
func TestSkipNarrowsMapToALine(t *testing.T) {
	const n, bad = 20000, 12345
	split := writeLines(t, n, bad)
	for _, streaming := range []bool{false, true} {
		for _, die := range []bool{false, true} {
			t.Run(fmt.Sprintf("streaming=%v,die=%v", streaming, die), func(t *testing.T) {
				var seen map[string]int // lines mapped in the latest attempt
				mapLines := func(contents string) {
					if strings.Contains(contents, "BAD") {
						panic("bad line")
					}
					for _, l := range strings.Fields(contents) {
						seen[l]++
					}
				}
				a := &app.App{Partition: mr.DefaultPartition}
				if streaming {
					a.MapEmit = func(_, contents string, emit func(string, string)) { mapLines(contents) }
				} else {
					a.Map = func(_, contents string) []mr.KeyValue { mapLines(contents); return nil }
				}
				plan := &mr.SkipPlan{}
				pins := map[int64]int{}
				for attempt := 1; ; attempt++ {
					if attempt > 6 {
						t.Fatalf("still crashing after %d attempts; plan %+v", attempt-1, plan)
					}
					seen = map[string]int{}
					fake := &markFake{}
					task := mapTask(t.TempDir(), 0, []mr.Split{split})
					task.Attempt, task.Skip = attempt, plan
					prog := &progress{marks: newMarker(plan, a, "w", task.TaskRef, fake)}
					rep := runMap(a, task, inputs.Read, prog)
					if rep.Failure == "" {
						if last := fake.last(); !last.Idle() {
							t.Errorf("last mark %+v; want one that says app code is done", last)
						}
						break
					}
					m := *rep.Mark
					if last := fake.last(); last != m {
						t.Fatalf("attempt %d: reported mark %+v, last sent %+v; want the same", attempt, m, last)
					}
					if die {
						m = fake.last()
					}
					next := &mr.SkipPlan{Suspect: &m, Records: plan.Records}
					if m.Record {
						if m.Text != "BAD" || m.Line != bad {
							t.Fatalf("attempt %d pinned line %d %q; want %d BAD", attempt, m.Line, m.Text, bad)
						}
						if pins[m.Start]++; pins[m.Start] == 2 {
							next = &mr.SkipPlan{Records: append(plan.Records, m)}
						}
					}
					plan = next
				}
				if len(seen) != n-1 || seen["BAD"] != 0 || seen["w0"] != 1 || seen[fmt.Sprintf("w%d", n-1)] != 1 {
					t.Fatalf("the attempt that succeeded mapped %d distinct lines; want %d, each once, BAD not among them", len(seen), n-1)
				}
			})
		}
	}
}

// reduceRuns writes the map output of the counter inputs, with one
// partition, to a directory, and returns it and the number of map tasks:
// the keys are a, cat, dog and the.
func reduceRuns(t *testing.T) (string, int) {
	dir := t.TempDir()
	splits := writeCounterInputs(t)
	for i, s := range splits {
		rep := runMap(fieldsApp(false), mapTask(dir, i, []mr.Split{s}), inputs.Read, &progress{})
		if rep.Failure != "" {
			t.Fatal(rep.Failure)
		}
	}
	return dir, len(splits)
}

// A reduce marks a batch of keys at its first, marks each key of a suspect
// batch, blames a key that panics, and leaves out a key the plan says to.
func TestSkipReduceKey(t *testing.T) {
	dir, nMap := reduceRuns(t)
	a := fieldsApp(false)
	reduce := a.Reduce
	a.Reduce = func(key string, values []string) string {
		if key == "dog" {
			panic("bad key")
		}
		return reduce(key, values)
	}
	show := func(f *markFake) string {
		var s []string
		for _, m := range f.marks {
			switch {
			case m.Mark.Idle():
				s = append(s, "done")
			case m.Mark.Record:
				s = append(s, m.Mark.Key)
			default:
				s = append(s, fmt.Sprintf("%s+%d", m.Mark.Key, m.Mark.Keys))
			}
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name   string
		plan   mr.SkipPlan
		marks  string
		blame  string // the key the report blames, or the output
		output string
	}{
		{"a batch", mr.SkipPlan{}, "a+4096", "dog", ""},
		{"a suspect batch", mr.SkipPlan{Suspect: &mr.Mark{Key: "a", Keys: 4096}}, "a cat dog", "dog", ""},
		{"a suspect key", mr.SkipPlan{Suspect: &mr.Mark{Key: "cat", Keys: 1, Record: true}}, "a+4096 cat dog+4096", "dog", ""},
		{"a key left out", mr.SkipPlan{Records: []mr.Mark{{Key: "dog", Keys: 1, Record: true}}}, "a+4096 done", "", "a 1\ncat 2\nthe 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := reduceTask(dir, 0, 1, nMap, located("", 0, nMap))
			task.Skip = &tc.plan
			env := localEnv(t, task)
			fake := &markFake{}
			rep := runReduce(a, task, env, &progress{marks: newMarker(task.Skip, a, "w", task.TaskRef, fake)})
			if got := show(fake); got != tc.marks {
				t.Errorf("marks %q; want %q", got, tc.marks)
			}
			if tc.blame != "" {
				if rep.Mark == nil || rep.Mark.Key != tc.blame || !rep.Mark.Record {
					t.Fatalf("report %q blames %+v; want key %s", rep.Failure, rep.Mark, tc.blame)
				}
				return
			}
			if rep.Failure != "" {
				t.Fatal(rep.Failure)
			}
			if b, _ := os.ReadFile(rep.Output); string(b) != tc.output {
				t.Fatalf("output %q; want %q", b, tc.output)
			}
		})
	}
}

// A task of a job that skips no bad records sends no marks; one of a job
// that does marks its Map call, and that it is done.
func TestSkipMarksOnlyWhenOn(t *testing.T) {
	split := writeLines(t, 10, -1)
	for _, on := range []bool{false, true} {
		task := mapTask(t.TempDir(), 0, []mr.Split{split})
		want := "[]"
		if on {
			task.Skip = &mr.SkipPlan{}
			want = fmt.Sprintf("[{1 0 0 %d  0 false 0 } {2 0 0 0  0 false 0 }]", split.Length)
		}
		m := &markFake{Master: &watchMaster{task: task, beats: make(chan mr.HeartbeatArgs, 1), report: make(chan mr.ReportArgs, 1)}}
		if err := Run(context.Background(), Options{App: fieldsApp(false), Master: m, ID: "w"}); err != nil {
			t.Fatal(err)
		}
		var got []mr.Mark
		for _, a := range m.marks {
			if a.Worker != "w" || a.Task != task.TaskRef {
				t.Fatalf("mark %+v; want worker w and %+v", a, task.TaskRef)
			}
			got = append(got, a.Mark)
		}
		if fmt.Sprint(got) != want && !(want == "[]" && got == nil) {
			t.Fatalf("skipping %v: marks %v; want %s", on, got, want)
		}
	}
}
