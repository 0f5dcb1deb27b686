package worker

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unsafe"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// sampleSize is what the app's SampleSize returns, 0 when it exports none
// or returns a negative number. Workers ask once, at start, and tell the
// master with every poll.
func sampleSize(a *app.App) (n int, err error) {
	if a.SampleSize == nil {
		return 0, nil
	}
	defer recoverTo(&err)
	return max(a.SampleSize(), 0), nil
}

// runSample calls Map on each of the task's chunks and reports a uniform
// random sample of at most t.SampleSize of the keys it emits, values
// ignored. The reservoir's generator is seeded by the task ID, so every
// attempt of a task reports the same keys and a job's cut points depend
// only on its input. It publishes the input it has read to prog after
// each call of Map.
func runSample(a *app.App, t mr.Task, read func(mr.Split) ([]byte, error), prog *progress) mr.ReportArgs {
	var rep mr.ReportArgs
	rng := rand.New(rand.NewPCG(uint64(t.ID), 0x73616d706c65))
	var keys []string
	seen := 0
	emit := func(key, _ string) {
		seen++
		if len(keys) < t.SampleSize {
			keys = append(keys, strings.Clone(key))
		} else if j := rng.IntN(seen); j < t.SampleSize {
			keys[j] = strings.Clone(key)
		}
	}
	for _, s := range t.Splits {
		data, err := read(s)
		if err != nil {
			rep.Failure = err.Error()
			return rep
		}
		contents := unsafe.String(unsafe.SliceData(data), len(data)) // never written again
		err = callMap(a, s.File, contents, emit)
		rep.Stats[mr.MapInputBytes] += int64(len(data))
		rep.Stats[mr.MapInputRecords] += lines(data)
		prog.publish(&rep.Stats, sampleStats)
		if err != nil {
			rep.Failure = fmt.Sprintf("Map(%s): %v", s.File, err)
			return rep
		}
	}
	rep.Sample = keys
	return rep
}
