package worker

import (
	"bytes"
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"gomr.dev/internal/app"
	"gomr.dev/internal/textgen"
	"gomr.dev/mr"
)

// BenchmarkMapCounter measures what an app counter costs when a word
// count's Map adds to it once per word: the map side of a word count
// (apps/wc's Map and Combine, the buffer, the output file) over 32 MiB of
// text, as runMap runs it, without and with the counter. The two should
// differ by less than 2%. With tasks=2, two such tasks run at once and
// add to the same counter, as tasks of a worker with --slots 2 would.
//
// Each iteration runs both, one after the other (in turn, plain first or
// counted first), and the metrics are medians: of each one's throughput
// (plain-MB/s, counter-MB/s, over all tasks), and of how much longer the
// counted run of an iteration took than the plain one, in wall time
// (overhead-%) and in the process's CPU time (cpu-overhead-%). Timings on
// a busy machine vary by several percent from run to run, so run it with
// -benchtime 20x or more.
func BenchmarkMapCounter(b *testing.B) {
	const size = 32 << 20
	var text bytes.Buffer
	if err := textgen.Write(&text, size, 1); err != nil {
		b.Fatal(err)
	}
	data := text.Bytes()
	read := func(mr.Split) ([]byte, error) { return data, nil }
	words := mr.Counter("bench-words")
	// run runs tasks map tasks at once and returns the time they took.
	run := func(tasks int, counter *mr.CounterVar) (wall, cpu time.Duration) {
		a := &app.App{
			MapEmit:   func(_, contents string, emit func(string, string)) { wcMap(contents, emit, counter) },
			Combine:   wcCombine,
			Partition: mr.DefaultPartition,
		}
		runtime.GC() // each run starts with the same heap
		start, cpu0 := time.Now(), processCPU(b)
		var wg sync.WaitGroup
		for range tasks {
			task := mr.Task{TaskRef: mr.TaskRef{Kind: mr.MapTask, Attempt: 1},
				Splits:  []mr.Split{{File: "text", Length: size, Whole: true}},
				NReduce: 10, MapMemory: 64 << 20, MergeFactor: 64, Dir: b.TempDir()}
			wg.Go(func() {
				if rep := runMap(a, task, read, &progress{}); rep.Failure != "" {
					b.Error(rep.Failure)
				}
			})
		}
		wg.Wait()
		return time.Since(start), processCPU(b) - cpu0
	}
	for _, tasks := range []int{1, 2} {
		b.Run(fmt.Sprint("tasks=", tasks), func(b *testing.B) {
			// Each iteration's two runs are close in time, so the ratio of
			// their times cancels most of what a changing load does to both.
			var plain, counted []time.Duration
			var ratio, cpuRatio []float64
			for i := 0; b.Loop(); i++ {
				var pw, pc, cw, cc time.Duration
				if i%2 == 0 {
					pw, pc = run(tasks, nil)
					cw, cc = run(tasks, words)
				} else {
					cw, cc = run(tasks, words)
					pw, pc = run(tasks, nil)
				}
				plain, counted = append(plain, pw), append(counted, cw)
				ratio = append(ratio, float64(cw)/float64(pw))
				cpuRatio = append(cpuRatio, float64(cc)/float64(pc))
			}
			mbs := func(d time.Duration) float64 { return float64(tasks*size) / d.Seconds() / 1e6 }
			b.ReportMetric(mbs(median(plain)), "plain-MB/s")
			b.ReportMetric(mbs(median(counted)), "counter-MB/s")
			b.ReportMetric(100*(median(ratio)-1), "overhead-%")
			b.ReportMetric(100*(median(cpuRatio)-1), "cpu-overhead-%")
		})
	}
}

func median[T cmp.Ordered](xs []T) T {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// processCPU is the CPU time, user and system, the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// wcMap is apps/wc's Map, which calls words.Add(1) per word when words
// is not nil: the branch costs next to nothing, and keeps both sides of
// the benchmark the same code.
func wcMap(contents string, emit func(key, value string), words *mr.CounterVar) {
	start := -1
	for i := 0; i < len(contents); {
		c := contents[i]
		letter, size := wcASCII[c], 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(contents[i:])
			letter = unicode.IsLetter(r)
		}
		if letter {
			if start < 0 {
				start = i
			}
		} else if start >= 0 {
			if words != nil {
				words.Add(1)
			}
			emit(contents[start:i], "1")
			start = -1
		}
		i += size
	}
	if start >= 0 {
		if words != nil {
			words.Add(1)
		}
		emit(contents[start:], "1")
	}
}

var wcASCII = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	return t
}()

// wcCombine is apps/wc's Combine.
func wcCombine(_ string, values []string) string {
	total := 0
	for _, v := range values {
		if v == "1" {
			total++
			continue
		}
		n, _ := strconv.Atoi(v)
		total += n
	}
	return strconv.Itoa(total)
}
