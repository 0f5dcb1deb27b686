package app

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"plugin"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"gomr.dev/internal/format"
	"gomr.dev/mr"
)

// App is a loaded app. Its funcs are the plugin's own code: they may panic,
// and they are safe for concurrent use only if the app makes them so.
//
// Map and Reduce each come in two forms, and exactly one of each pair is
// set: the lab's (Map, Reduce) or the streaming one (MapEmit, ReduceIter),
// whichever the plugin's Map and Reduce are declared as.
type App struct {
	Path    string // as given to Load
	Map     mr.MapFunc
	MapEmit mr.MapEmitFunc
	// MapBatch, when the plugin exports it, takes the record batches of
	// Parquet and Arrow inputs; Map and MapEmit may then both be nil.
	MapBatch   mr.MapBatchFunc
	Reduce     mr.ReduceFunc
	ReduceIter mr.ReduceIterFunc
	Combine    mr.CombineFunc    // nil when the plugin exports none
	Partition  mr.PartitionFunc  // mr.DefaultPartition when the plugin exports none
	SampleSize mr.SampleSizeFunc // nil when the plugin exports none
	// ValueType is what the plugin's ValueType returned, checked: the
	// value column's type in columnar output; "" when it exports none.
	ValueType string
}

// Classes of Load errors, for errors.Is. The messages of the errors Load
// returns are written for users; these are only for telling them apart.
var (
	// ErrNotApp: the file is missing, is not a Go plugin, or lacks an
	// export or has one with the wrong type.
	ErrNotApp = errors.New("app: not a valid app")
	// ErrMismatch: the plugin was built by another toolchain, with other
	// flags or from other sources than the running binary.
	ErrMismatch = errors.New("app: built differently from this binary")
	// ErrUnsupported: the running binary cannot load plugins at all.
	ErrUnsupported = errors.New("app: this binary cannot load plugins")
)

// The exports an app must, or may, have, as the errors show them.
const (
	sigMap       = "func Map(filename string, contents string) []mr.KeyValue"
	sigMapEmit   = "func Map(filename string, contents string, emit func(key, value string))"
	sigMapBatch  = "func MapBatch(filename string, batch arrow.Record, emit func(key, value string))"
	sigReduce    = "func Reduce(key string, values []string) string"
	sigReduceIt  = "func Reduce(key string, values iter.Seq[string]) string"
	sigCombine   = "func Combine(key string, values []string) string"
	sigPartition = "func Partition(key string, nReduce int) int"
	sigSample    = "func SampleSize() int"
	sigValueType = "func ValueType() string"
)

// Advice that ends the messages.
const (
	buildApps   = "build apps with 'make apps'"
	rebuildApps = "rebuild apps with 'make apps' from the same checkout and with the same flags as bin/mr"
)

// Load opens the app plugin at path and resolves its exports. It runs the
// plugin's init functions. Every error it returns is a one-line message
// for the user that names path; see the package documentation for the
// classes. Loading a path that loaded before returns the same code again.
func Load(path string) (*App, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	// Vet the file before handing it to the dynamic loader: the plugin
	// package throws an unrecoverable fatal error ("runtime: no plugin
	// module data") for a shared library that is not a Go plugin, and a
	// plugin from another toolchain may not even agree with this runtime on
	// the layout of the tables it checks.
	info, err := buildinfo.ReadFile(path)
	if err := checkBuild(path, info, err, runtime.Version()); err != nil {
		return nil, err
	}
	p, err := plugin.Open(path)
	if err != nil {
		return nil, explainOpenError(path, err, compareBuilds(info, selfInfo()))
	}
	return resolve(path, p.Lookup)
}

// checkFile returns an error unless path names a regular file.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return newError(ErrNotApp, err, "app %s: no such file; %s", path, buildApps)
	case err != nil:
		return newError(ErrNotApp, err, "app %s: %s", path, cause(err))
	case fi.IsDir():
		return newError(ErrNotApp, nil, "app %s: is a directory, not a plugin file; %s and give the path of a .so", path, buildApps)
	case !fi.Mode().IsRegular():
		return newError(ErrNotApp, nil, "app %s: not a regular file (mode %s); %s", path, fi.Mode().Type(), buildApps)
	}
	return nil
}

// checkBuild vets the build info of the file at path, as returned by
// buildinfo.ReadFile, against the Go version of this binary.
func checkBuild(path string, info *debug.BuildInfo, err error, goVersion string) error {
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr):
		return newError(ErrNotApp, err, "app %s: cannot read: %s", path, cause(err))
	case err != nil:
		// "not a Go executable" or "unrecognized file format".
		return newError(ErrNotApp, err, "app %s: not a Go plugin (%s); %s", path, cause(err), buildApps)
	}
	if mode, ok := setting(info, "-buildmode"); ok && mode != "plugin" {
		return newError(ErrNotApp, nil, "app %s: built with -buildmode=%s, not as a Go plugin; %s", path, mode, buildApps)
	}
	if info.GoVersion != goVersion {
		return newError(ErrMismatch, nil, "app %s was built with %s but this mr binary with %s; %s", path, info.GoVersion, goVersion, rebuildApps)
	}
	return nil
}

// openPrefix starts every error of plugin.Open that comes from loading the
// file, followed by the path (without ".so" once dlopen has succeeded) and
// `"): `.
const openPrefix = `plugin.Open("`

// explainOpenError rewrites an error from plugin.Open(path) into a
// one-line message for the user. diff, when not empty, lists the build
// settings in which the plugin differs from this binary; it is shown with
// a version mismatch.
func explainOpenError(path string, err error, diff string) error {
	msg := err.Error()
	// The stub in plugin_stubs.go, used when cgo is off or the OS has no
	// plugin support, fails every call with exactly this text; observed
	// with a loader built with CGO_ENABLED=0: "plugin: not implemented".
	if msg == "plugin: not implemented" {
		return newError(ErrUnsupported, err, "app %s: this mr binary was built without cgo (CGO_ENABLED=0) and cannot load apps; rebuild it with 'make build' on a machine with gcc", path)
	}
	detail := msg
	if rest, ok := strings.CutPrefix(msg, openPrefix); ok {
		if i := strings.Index(rest, `"): `); i >= 0 {
			detail = rest[i+len(`"): `):]
		}
	}
	// A plugin that failed once keeps failing, with this suffix.
	detail = strings.TrimSuffix(oneLine(detail), " (previous failure)")

	// The runtime compares a hash of every package the plugin shares with
	// the binary. Observed with go1.26.8 on linux/amd64, each load in a
	// fresh process, loader built with no flags unless said:
	//   plugin -race:             plugin.Open("/tmp/appso/good-race"): plugin was built with a different version of package internal/runtime/sys
	//   plugin -trimpath:         plugin.Open("/tmp/appso/good-trim"): plugin was built with a different version of package internal/cpu
	//   plugin -gcflags=all=-N:   ...: plugin was built with a different version of package internal/poll
	//                             (but testdata/plugins/nomap, which imports only strconv, loaded)
	//   plugin -gcflags=all=-l:   ...: plugin was built with a different version of package internal/bytealg
	//   loader -race, plugin not: ...: plugin was built with a different version of package internal/runtime/sys
	//   same sources, copied to another directory, no -trimpath:
	//                             ...: plugin was built with a different version of package gomr.dev/mr
	//   a second build of an app package after the first failed to load:
	//                             ...: plugin was built with a different version of package gomr.dev/testdata/plugins/nomap
	// These loaded fine: plugin and loader both -trimpath from different
	// directories; plugin with -tags foo, GOAMD64=v3, -ldflags=-X... or
	// -cover (app outside the loader's main module), loader without.
	// A plugin from another Go release would fail the same way, but
	// checkBuild stops it before it gets here.
	const versionMsg = "plugin was built with a different version of package "
	if i := strings.Index(detail, versionMsg); i >= 0 {
		pkg := detail[i+len(versionMsg):]
		if diff != "" {
			diff = " (" + diff + ")"
		}
		return newError(ErrMismatch, err, "app %s was built with a different version of package %s than this mr binary; %s%s", path, pkg, rebuildApps, diff)
	}
	switch detail {
	case "plugin already loaded":
		// Two files with the same plugin path (the app's import path),
		// such as two builds of one app. Observed loading nomap.so and
		// then nomap-N.so in one process:
		// plugin.Open("/tmp/appso/nomap-N"): plugin already loaded
		return newError(ErrMismatch, err, "app %s: another build of the same app package is already loaded in this process, and a process can hold only one; restart it to load this one", path)
	case "realpath failed":
		// Removed since checkFile looked.
		return newError(ErrNotApp, err, "app %s: no such file; %s", path, buildApps)
	}
	return newError(ErrNotApp, err, "app %s: cannot load plugin: %s; %s", path, detail, buildApps)
}

// compareBuilds says how the build of an app differs from this binary's:
// the build settings and module versions that differ or, when none do,
// that the cause lies elsewhere. It returns "" if it cannot tell. A
// setting missing on one side counts as empty.
func compareBuilds(app, self *debug.BuildInfo) string {
	if app == nil || self == nil {
		return ""
	}
	a, s := buildKeys(app), buildKeys(self)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range s {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var inApp, inSelf []string
	for _, k := range keys {
		if a[k] == s[k] {
			continue
		}
		inApp = append(inApp, showSetting(k, a[k]))
		inSelf = append(inSelf, showSetting(k, s[k]))
	}
	if len(inApp) == 0 {
		// Observed: identical sources built without -trimpath in two
		// directories differ in gomr.dev/mr, since paths are compiled in.
		return "their build settings match, so their sources differ, or they were built in different directories without -trimpath"
	}
	const max = 4
	if len(inApp) > max {
		inApp, inSelf = append(inApp[:max], "..."), append(inSelf[:max], "...")
	}
	return "app: " + strings.Join(inApp, ", ") + "; this binary: " + strings.Join(inSelf, ", ")
}

// buildKeys flattens the build settings and module versions that can
// make a plugin differ from the binary into one map. It leaves out the
// build mode, which differs by design, and version control stamps, which
// do not change code.
func buildKeys(bi *debug.BuildInfo) map[string]string {
	m := make(map[string]string)
	for _, s := range bi.Settings {
		if s.Key == "-buildmode" || strings.HasPrefix(s.Key, "vcs") {
			continue
		}
		m[s.Key] = s.Value
	}
	for _, d := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if d.Path == "" {
			continue
		}
		m[d.Path] = moduleVersion(d)
	}
	return m
}

// moduleVersion shows where a module's code came from: its version, or
// its replacement.
func moduleVersion(d *debug.Module) string {
	if r := d.Replace; r != nil {
		return strings.TrimSpace("=> " + r.Path + " " + r.Version)
	}
	return d.Version
}

func showSetting(k, v string) string {
	switch {
	case v == "":
		return k + " unset"
	case strings.HasPrefix(k, "-") || strings.ToUpper(k) == k:
		return k + "=" + v // -trimpath=true, GOAMD64=v3
	}
	return k + " " + v // a module and its version
}

// selfInfo returns the build info of the running binary, or nil.
func selfInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

func setting(bi *debug.BuildInfo, key string) (string, bool) {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value, true
		}
	}
	return "", false
}

// lookupFunc is (*plugin.Plugin).Lookup, or a fake of it in tests.
type lookupFunc = func(name string) (plugin.Symbol, error)

// resolve fills in an App from the exports lookup finds.
func resolve(path string, lookup lookupFunc) (*App, error) {
	a := &App{Path: path}
	var err error
	if a.MapBatch, err = export[mr.MapBatchFunc](path, lookup, "MapBatch", sigMapBatch, false); err != nil {
		return nil, err
	}
	// With MapBatch, Map is optional.
	if _, lerr := lookup("Map"); a.MapBatch == nil || lerr == nil {
		if a.Map, a.MapEmit, err = exportEither[mr.MapFunc, mr.MapEmitFunc](path, lookup, "Map", sigMap, sigMapEmit); err != nil {
			return nil, err
		}
	}
	if a.Reduce, a.ReduceIter, err = exportEither[mr.ReduceFunc, mr.ReduceIterFunc](path, lookup, "Reduce", sigReduce, sigReduceIt); err != nil {
		return nil, err
	}
	if a.Combine, err = export[mr.CombineFunc](path, lookup, "Combine", sigCombine, false); err != nil {
		return nil, err
	}
	if a.Partition, err = export[mr.PartitionFunc](path, lookup, "Partition", sigPartition, false); err != nil {
		return nil, err
	}
	if a.Partition == nil {
		a.Partition = mr.DefaultPartition
	}
	if a.SampleSize, err = export[mr.SampleSizeFunc](path, lookup, "SampleSize", sigSample, false); err != nil {
		return nil, err
	}
	valueType, err := export[mr.ValueTypeFunc](path, lookup, "ValueType", sigValueType, false)
	if err != nil {
		return nil, err
	}
	if valueType != nil {
		if a.ValueType, err = callValueType(valueType); err != nil {
			return nil, newError(ErrNotApp, nil, "app %s: ValueType: %v", path, err)
		}
	}
	return a, nil
}

// callValueType calls an app's ValueType and checks its answer.
func callValueType(f mr.ValueTypeFunc) (vt string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	vt = f()
	if !slices.Contains(format.ValueTypes, vt) {
		return "", fmt.Errorf("returned %q; want one of %s", vt, strings.Join(format.ValueTypes, ", "))
	}
	return vt, nil
}

// export looks up the export name, which must be a func of type F, or a
// variable holding one (plugin.Lookup returns a pointer to a variable).
// Any func type with F's underlying type will do, so a variable of a named
// func type declared by the app is accepted too. An export that is absent,
// or a nil variable, yields the zero F and, if required, an error that
// shows sig, the declaration wanted.
func export[F any](path string, lookup lookupFunc, name, sig string, required bool) (F, error) {
	var zero F
	absent := func() (F, error) {
		if !required {
			return zero, nil
		}
		return zero, newError(ErrNotApp, nil, "app %s does not export %s; an app must export %s", path, name, sig)
	}
	sym, err := lookup(name)
	if err != nil || sym == nil { // Lookup's only error is "not found"
		return absent()
	}
	want := reflect.TypeFor[F]()
	v := reflect.ValueOf(sym)
	if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Func {
		if v.IsNil() {
			return absent()
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Func && v.Type().ConvertibleTo(want) {
		if v.IsNil() {
			return absent()
		}
		return v.Convert(want).Interface().(F), nil
	}
	has := describe(sym)
	if required {
		return zero, newError(ErrNotApp, nil, "app %s exports %s as %s; an app must export %s", path, name, has, sig)
	}
	return zero, newError(ErrNotApp, nil, "app %s exports %s as %s; %s is optional, but if exported it must be %s", path, name, has, name, sig)
}

// exportEither resolves a required export that may take either of two
// forms, sig1 (F1) or sig2 (F2); exactly one of the results is non-nil.
func exportEither[F1, F2 any](path string, lookup lookupFunc, name, sig1, sig2 string) (F1, F2, error) {
	var z1 F1
	var z2 F2
	if f, err := export[F1](path, lookup, name, sig1, true); err == nil {
		return f, z2, nil
	}
	if f, err := export[F2](path, lookup, name, sig2, true); err == nil {
		return z1, f, nil
	}
	// Report against both forms; export's own message names one.
	if _, err := export[F1](path, lookup, name, sig1, true); err != nil && strings.Contains(err.Error(), "does not export") {
		return z1, z2, newError(ErrNotApp, nil, "app %s does not export %s; an app must export %s, or %s", path, name, sig1, sig2)
	}
	sym, _ := lookup(name)
	return z1, z2, newError(ErrNotApp, nil, "app %s exports %s as %s; an app must export %s, or %s", path, name, describe(sym), sig1, sig2)
}

// describe says what a plugin symbol is: a func's type, or a variable's.
func describe(sym plugin.Symbol) string {
	t := reflect.TypeOf(sym)
	if t.Kind() == reflect.Pointer {
		return "a variable of type " + t.Elem().String()
	}
	return t.String()
}

// loadError is the type of every error Load returns. Its message is
// complete on its own; kind and cause are there for errors.Is and As.
type loadError struct {
	msg   string
	kind  error // ErrNotApp, ErrMismatch or ErrUnsupported
	cause error // the error being explained, or nil
}

func newError(kind, cause error, format string, args ...any) error {
	return &loadError{msg: oneLine(fmt.Sprintf(format, args...)), kind: kind, cause: cause}
}

func (e *loadError) Error() string { return e.msg }

func (e *loadError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// cause returns the innermost message of err, without the operation and
// path that the caller's message already gives: "permission denied" for
// "stat x.so: permission denied".
func cause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// oneLine folds every run of white space in s, newlines included, into
// one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
