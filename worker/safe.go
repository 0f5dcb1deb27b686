package worker

import (
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"

	"gomr.dev/internal/app"
	"gomr.dev/internal/format"
	"gomr.dev/mr"
)

// The calls below run app code and turn a panic into an error that says
// what panicked and where, e.g. "panic: boom (at poison/main.go:21)".

// callMap runs whichever form of Map the app has, handing every pair to
// emit in the order Map produced it.
func callMap(a *app.App, file, contents string, emit func(key, value string)) (err error) {
	defer recoverTo(&err)
	if a.MapEmit != nil {
		a.MapEmit(file, contents, emit)
		return nil
	}
	for _, kv := range a.Map(file, contents) {
		emit(kv.Key, kv.Value)
	}
	return nil
}

func callMapBatch(a *app.App, file string, batch arrow.Record, emit func(key, value string)) (err error) {
	defer recoverTo(&err)
	a.MapBatch(file, batch, emit)
	return nil
}

// mapSplit calls the app's Map on contents, the text of split s (or of a
// piece of it); an app that exports only MapBatch has none, which is an
// error for text. An error from Map is prefixed with Map and the file.
func mapSplit(a *app.App, s mr.Split, contents string, emit func(key, value string)) error {
	if a.Map == nil && a.MapEmit == nil {
		return fmt.Errorf("the app exports only MapBatch, which reads Parquet and Arrow inputs, and %s is text; export Map too", s.File)
	}
	if err := callMap(a, s.File, contents, emit); err != nil {
		return fmt.Errorf("Map(%s): %v", s.File, err)
	}
	return nil
}

// batched reports whether split s goes to the app's MapBatch.
func batched(a *app.App, s mr.Split) bool { return a.MapBatch != nil && s.Format != "" }

// mapBatches reads split s as record batches and calls MapBatch on each;
// rows is called with each batch's row count. A read error names the file
// and row group; an app error is prefixed with MapBatch and the file.
func mapBatches(a *app.App, s mr.Split, emit func(key, value string), rows func(int64)) error {
	var appErr error
	err := format.ReadRecords(s, func(rec arrow.Record) error {
		if appErr = callMapBatch(a, s.File, rec, emit); appErr != nil {
			return errStopRead
		}
		rows(rec.NumRows())
		return nil
	})
	if appErr != nil {
		return fmt.Errorf("MapBatch(%s): %v", s.File, appErr)
	}
	return err
}

var errStopRead = errors.New("stopped")

func callReduce(a *app.App, key string, values []string) (out string, err error) {
	defer recoverTo(&err)
	return a.Reduce(key, values), nil
}

func callReduceIter(a *app.App, key string, values iter.Seq[string]) (out string, err error) {
	defer recoverTo(&err)
	return a.ReduceIter(key, values), nil
}

func callCombine(a *app.App, key string, values []string) (out string, err error) {
	defer recoverTo(&err)
	return a.Combine(key, values), nil
}

func recoverTo(err *error) {
	v := recover()
	if v == nil {
		return
	}
	if v == errSuperseded {
		*err = errSuperseded // our own panic, out of emit: not the app's fault
		return
	}
	msg := fmt.Sprintf("panic: %v", v)
	if loc := panicSite(); loc != "" {
		msg += " (at " + loc + ")"
	}
	*err = fmt.Errorf("%s", msg)
}

// panicSite finds the frame that panicked: the first one, walking out from
// the deferred call, that is not in the runtime.
func panicSite() string {
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if f.Function != "" && !strings.HasPrefix(f.Function, "runtime.") {
			dir := filepath.Base(filepath.Dir(f.File))
			return fmt.Sprintf("%s/%s:%d", dir, filepath.Base(f.File), f.Line)
		}
		if !more {
			return ""
		}
	}
}
