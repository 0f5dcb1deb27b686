package worker

import (
	"fmt"
	"iter"
	"path/filepath"
	"runtime"
	"strings"

	"gomr.dev/internal/app"
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
