package worker

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"gomr.dev/internal/app"
	"gomr.dev/mr"
)

// The calls below run app code and turn a panic into an error that says
// what panicked and where, e.g. "panic: boom (at poison/main.go:21)".

func callMap(a *app.App, file, contents string) (kvs []mr.KeyValue, err error) {
	defer recoverTo(&err)
	return a.Map(file, contents), nil
}

func callReduce(a *app.App, key string, values []string) (out string, err error) {
	defer recoverTo(&err)
	return a.Reduce(key, values), nil
}

func callCombine(a *app.App, key string, values []string) (out string, err error) {
	defer recoverTo(&err)
	return a.Combine(key, values), nil
}

func callPartition(a *app.App, key string, n int) (p int, err error) {
	defer recoverTo(&err)
	p = a.Partition(key, n)
	if p < 0 || p >= n {
		return 0, fmt.Errorf("Partition returned %d for key %q; want 0 to %d", p, key, n-1)
	}
	return p, nil
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
