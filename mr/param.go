package mr

import "sync/atomic"

// params holds the job's parameters. The engine sets them once per job,
// before any Map or Reduce runs; apps only read them.
var params atomic.Pointer[map[string]string]

// Param returns the job parameter given as `--param name=value`, or "" when
// the job has none by that name.
func Param(name string) string {
	v, _ := LookupParam(name)
	return v
}

// LookupParam returns the job parameter called name and whether it was set.
func LookupParam(name string) (string, bool) {
	p := params.Load()
	if p == nil {
		return "", false
	}
	v, ok := (*p)[name]
	return v, ok
}

// SetParams replaces the job parameters. It is for the engine, not for apps.
// The map must not be modified after the call.
func SetParams(p map[string]string) {
	params.Store(&p)
}
