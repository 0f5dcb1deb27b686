package app

import (
	"github.com/apache/arrow/go/v15/arrow"

	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"plugin"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"gomr.dev/mr"
)

// Exports of a fake app, in both forms a plugin can have them.
func goodMap(filename string, contents string) []mr.KeyValue {
	return []mr.KeyValue{{Key: filename, Value: contents}}
}
func goodReduce(key string, values []string) string   { return "reduce " + key }
func goodCombine(key string, values []string) string  { return "combine " + key }
func goodPartition(key string, nReduce int) int       { return 7 }
func badMap(contents string) []mr.KeyValue            { return nil }
func badReduce(key string, values []string) int       { return 0 }
func badCombine(key string, values []string) []string { return values }
func badPartition(key string, nReduce uint32) uint32  { return 0 }

type namedReduce func(key string, values []string) string

var (
	mapVar       mr.MapFunc       = goodMap
	reduceVar    mr.ReduceFunc    = goodReduce
	combineVar   mr.CombineFunc   = goodCombine
	partitionVar mr.PartitionFunc = goodPartition
	namedVar     namedReduce      = goodReduce
	nilMap       mr.MapFunc
	nilCombine   mr.CombineFunc
	notFunc      = 42
)

// fakeLookup is (*plugin.Plugin).Lookup over a fixed symbol table, with
// the same error for a missing name.
func fakeLookup(syms map[string]plugin.Symbol) lookupFunc {
	return func(name string) (plugin.Symbol, error) {
		if s, ok := syms[name]; ok {
			return s, nil
		}
		return nil, errors.New("plugin: symbol " + name + " not found in plugin fake")
	}
}

// with returns the exports of a minimal good app with changes applied;
// a nil symbol removes the export.
func with(changes map[string]plugin.Symbol) map[string]plugin.Symbol {
	syms := map[string]plugin.Symbol{"Map": goodMap, "Reduce": goodReduce}
	for k, v := range changes {
		if v == nil {
			delete(syms, k)
		} else {
			syms[k] = v
		}
	}
	return syms
}

func funcPtr(f any) uintptr { return reflect.ValueOf(f).Pointer() }

func TestResolve(t *testing.T) {
	const (
		wantMap       = "func Map(filename string, contents string) []mr.KeyValue, or func Map(filename string, contents string, emit func(key, value string))"
		wantReduce    = "func Reduce(key string, values []string) string, or func Reduce(key string, values iter.Seq[string]) string"
		wantCombine   = "func Combine(key string, values []string) string"
		wantPartition = "func Partition(key string, nReduce int) int"
	)
	tests := []struct {
		name    string
		syms    map[string]plugin.Symbol
		wantErr string
		// For a good app, the output of each func on fixed inputs; ""
		// for Combine means nil, for Partition means mr.DefaultPartition.
		combine   string
		partition string
	}{
		{name: "minimal", syms: with(nil)},
		{name: "all funcs", syms: with(map[string]plugin.Symbol{"Combine": goodCombine, "Partition": goodPartition}),
			combine: "combine k", partition: "7"},
		{name: "all vars", syms: map[string]plugin.Symbol{"Map": &mapVar, "Reduce": &reduceVar, "Combine": &combineVar, "Partition": &partitionVar},
			combine: "combine k", partition: "7"},
		{name: "var of named func type", syms: with(map[string]plugin.Symbol{"Reduce": &namedVar})},
		{name: "nil Combine var is absent", syms: with(map[string]plugin.Symbol{"Combine": &nilCombine})},

		{name: "missing Map", syms: with(map[string]plugin.Symbol{"Map": nil}),
			wantErr: "app x.so does not export Map; an app must export " + wantMap},
		{name: "missing both", syms: map[string]plugin.Symbol{},
			wantErr: "app x.so does not export Map; an app must export " + wantMap},
		{name: "missing Reduce", syms: with(map[string]plugin.Symbol{"Reduce": nil}),
			wantErr: "app x.so does not export Reduce; an app must export " + wantReduce},
		{name: "nil Map var", syms: with(map[string]plugin.Symbol{"Map": &nilMap}),
			wantErr: "app x.so does not export Map; an app must export " + wantMap},
		{name: "wrong Map", syms: with(map[string]plugin.Symbol{"Map": badMap}),
			wantErr: "app x.so exports Map as func(string) []mr.KeyValue; an app must export " + wantMap},
		{name: "Map var not a func", syms: with(map[string]plugin.Symbol{"Map": &notFunc}),
			wantErr: "app x.so exports Map as a variable of type int; an app must export " + wantMap},
		{name: "Map var pointer to func", syms: with(map[string]plugin.Symbol{"Map": &[]*mr.MapFunc{&mapVar}[0]}),
			wantErr: "app x.so exports Map as a variable of type *func(string, string) []mr.KeyValue; an app must export " + wantMap},
		{name: "wrong Reduce", syms: with(map[string]plugin.Symbol{"Reduce": badReduce}),
			wantErr: "app x.so exports Reduce as func(string, []string) int; an app must export " + wantReduce},
		{name: "Reduce has Map's type", syms: with(map[string]plugin.Symbol{"Reduce": &mapVar}),
			wantErr: "app x.so exports Reduce as a variable of type func(string, string) []mr.KeyValue; an app must export " + wantReduce},
		{name: "wrong Combine", syms: with(map[string]plugin.Symbol{"Combine": badCombine}),
			wantErr: "app x.so exports Combine as func(string, []string) []string; Combine is optional, but if exported it must be " + wantCombine},
		{name: "wrong Partition", syms: with(map[string]plugin.Symbol{"Partition": badPartition}),
			wantErr: "app x.so exports Partition as func(string, uint32) uint32; Partition is optional, but if exported it must be " + wantPartition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := resolve("x.so", fakeLookup(tt.syms))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("resolve = %+v, want error %q", a, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("error:\n got %q\nwant %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrNotApp) {
					t.Errorf("errors.Is(%v, ErrNotApp) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if a.Path != "x.so" {
				t.Errorf("Path = %q", a.Path)
			}
			if got := a.Map("f", "c"); !reflect.DeepEqual(got, []mr.KeyValue{{Key: "f", Value: "c"}}) {
				t.Errorf("Map = %v", got)
			}
			if got := a.Reduce("k", nil); got != "reduce k" {
				t.Errorf("Reduce = %q", got)
			}
			switch {
			case tt.combine == "" && a.Combine != nil:
				t.Errorf("Combine is not nil")
			case tt.combine != "" && (a.Combine == nil || a.Combine("k", nil) != tt.combine):
				t.Errorf("Combine is not the app's")
			}
			switch {
			case tt.partition == "" && funcPtr(a.Partition) != funcPtr(mr.DefaultPartition):
				t.Errorf("Partition is not mr.DefaultPartition")
			case tt.partition != "" && fmt.Sprint(a.Partition("k", 10)) != tt.partition:
				t.Errorf("Partition is not the app's")
			}
		})
	}
}

// The streaming forms resolve into MapEmit and ReduceIter instead.
func TestResolveStreamingForms(t *testing.T) {
	emitMap := func(filename, contents string, emit func(key, value string)) { emit(filename, contents) }
	iterReduce := func(key string, values iter.Seq[string]) string {
		n := 0
		for range values {
			n++
		}
		return fmt.Sprint(key, n)
	}
	a, err := resolve("x.so", fakeLookup(map[string]plugin.Symbol{"Map": emitMap, "Reduce": iterReduce}))
	if err != nil {
		t.Fatal(err)
	}
	if a.Map != nil || a.Reduce != nil || a.MapEmit == nil || a.ReduceIter == nil {
		t.Fatalf("resolve = %+v; want only the streaming forms set", a)
	}
	var got []string
	a.MapEmit("f", "c", func(k, v string) { got = append(got, k+"="+v) })
	if fmt.Sprint(got) != "[f=c]" {
		t.Errorf("MapEmit emitted %v", got)
	}
	if r := a.ReduceIter("k", slices.Values([]string{"a", "b"})); r != "k2" {
		t.Errorf("ReduceIter = %q", r)
	}
}

func TestExplainOpenError(t *testing.T) {
	const rebuild = "rebuild apps with 'make apps' from the same checkout and with the same flags as bin/mr"
	tests := []struct {
		name   string
		err    string
		diff   string
		want   string
		wantIs error
	}{
		{
			name:   "no cgo",
			err:    "plugin: not implemented",
			want:   "app bin/apps/wc.so: this mr binary was built without cgo (CGO_ENABLED=0) and cannot load apps; rebuild it with 'make build' on a machine with gcc",
			wantIs: ErrUnsupported,
		},
		{
			name:   "package version",
			err:    `plugin.Open("bin/apps/wc"): plugin was built with a different version of package internal/cpu`,
			want:   "app bin/apps/wc.so was built with a different version of package internal/cpu than this mr binary; " + rebuild,
			wantIs: ErrMismatch,
		},
		{
			name:   "package version with diff",
			err:    `plugin.Open("bin/apps/wc"): plugin was built with a different version of package internal/runtime/sys`,
			diff:   "app: -race=true; this binary: -race unset",
			want:   "app bin/apps/wc.so was built with a different version of package internal/runtime/sys than this mr binary; " + rebuild + " (app: -race=true; this binary: -race unset)",
			wantIs: ErrMismatch,
		},
		{
			name:   "package version, previous failure",
			err:    `plugin.Open("bin/apps/wc"): plugin was built with a different version of package gomr.dev/mr (previous failure)`,
			want:   "app bin/apps/wc.so was built with a different version of package gomr.dev/mr than this mr binary; " + rebuild,
			wantIs: ErrMismatch,
		},
		{
			name:   "already loaded",
			err:    `plugin.Open("bin/apps/wc"): plugin already loaded`,
			want:   "app bin/apps/wc.so: another build of the same app package is already loaded in this process, and a process can hold only one; restart it to load this one",
			wantIs: ErrMismatch,
		},
		{
			name:   "not ELF",
			err:    `plugin.Open("bin/apps/wc.so"): /home/u/gomr/bin/apps/wc.so: invalid ELF header`,
			want:   "app bin/apps/wc.so: cannot load plugin: /home/u/gomr/bin/apps/wc.so: invalid ELF header; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "executable",
			err:    `plugin.Open("bin/apps/wc.so"): /home/u/gomr/bin/apps/wc.so: cannot dynamically load executable`,
			want:   "app bin/apps/wc.so: cannot load plugin: /home/u/gomr/bin/apps/wc.so: cannot dynamically load executable; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "multi-line",
			err:    "plugin.Open(\"bin/apps/wc.so\"): libfoo.so: cannot open\n\tshared object file:\n No such file or directory\n",
			want:   "app bin/apps/wc.so: cannot load plugin: libfoo.so: cannot open shared object file: No such file or directory; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "removed after stat",
			err:    `plugin.Open("bin/apps/wc.so"): realpath failed`,
			want:   "app bin/apps/wc.so: no such file; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "unknown shape",
			err:    "plugin: something new\nand odd",
			want:   "app bin/apps/wc.so: cannot load plugin: plugin: something new and odd; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := errors.New(tt.err)
			err := explainOpenError("bin/apps/wc.so", orig, tt.diff)
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
			if !errors.Is(err, orig) {
				t.Errorf("error does not wrap the plugin error")
			}
		})
	}
}

func buildInfo(goVersion string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: goVersion}
	for _, s := range settings {
		k, v, _ := strings.Cut(s, "=")
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: k, Value: v})
	}
	return bi
}

func TestCheckBuild(t *testing.T) {
	tests := []struct {
		name   string
		info   *debug.BuildInfo
		err    error
		want   string // "" for no error
		wantIs error
	}{
		{name: "plugin", info: buildInfo("go1.26.8", "-buildmode=plugin", "CGO_ENABLED=1")},
		{name: "no buildmode recorded", info: buildInfo("go1.26.8")},
		{
			name:   "not Go",
			err:    fmt.Errorf("could not read Go build info from x.so: %w", errors.New("not a Go executable")),
			want:   "app x.so: not a Go plugin (not a Go executable); build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "unreadable",
			err:    fmt.Errorf("could not read Go build info from x.so: %w", &fs.PathError{Op: "open", Path: "x.so", Err: fs.ErrPermission}),
			want:   "app x.so: cannot read: permission denied",
			wantIs: fs.ErrPermission,
		},
		{
			name:   "executable",
			info:   buildInfo("go1.26.8", "-buildmode=exe"),
			want:   "app x.so: built with -buildmode=exe, not as a Go plugin; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "c-shared",
			info:   buildInfo("go1.26.8", "-buildmode=c-shared"),
			want:   "app x.so: built with -buildmode=c-shared, not as a Go plugin; build apps with 'make apps'",
			wantIs: ErrNotApp,
		},
		{
			name:   "other Go",
			info:   buildInfo("go1.25.3", "-buildmode=plugin"),
			want:   "app x.so was built with go1.25.3 but this mr binary with go1.26.8; rebuild apps with 'make apps' from the same checkout and with the same flags as bin/mr",
			wantIs: ErrMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkBuild("x.so", tt.info, tt.err, "go1.26.8")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("checkBuild: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got %v\nwant %q", err, tt.want)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
		})
	}
}

func TestSettingsDiff(t *testing.T) {
	self := buildInfo("go1.26.8", "-buildmode=exe", "-compiler=gc", "CGO_ENABLED=1", "CGO_CFLAGS=", "GOAMD64=v1", "vcs.revision=abc")
	self.Main = debug.Module{Path: "gomr.dev", Version: "(devel)"}
	self.Deps = []*debug.Module{{Path: "example.com/a", Version: "v1.0.0"}}
	tests := []struct {
		name string
		app  *debug.BuildInfo
		deps []*debug.Module // the app's; nil for the same as self's
		want string
	}{
		{name: "unknown", app: nil, want: ""},
		{
			name: "same but for mode, vcs and empty settings",
			app:  buildInfo("go1.26.8", "-buildmode=plugin", "-compiler=gc", "CGO_ENABLED=1", "GOAMD64=v1", "vcs.revision=def"),
			want: "their build settings match, so their sources differ, or they were built in different directories without -trimpath",
		},
		{
			name: "replaced module",
			app:  buildInfo("go1.26.8", "-buildmode=plugin", "-compiler=gc", "CGO_ENABLED=1", "GOAMD64=v1"),
			deps: []*debug.Module{{Path: "example.com/a", Version: "v1.0.0", Replace: &debug.Module{Path: "../a"}}},
			want: "app: example.com/a => ../a; this binary: example.com/a v1.0.0",
		},
		{
			name: "trimpath",
			app:  buildInfo("go1.26.8", "-buildmode=plugin", "-compiler=gc", "-trimpath=true", "CGO_ENABLED=1", "GOAMD64=v1"),
			want: "app: -trimpath=true; this binary: -trimpath unset",
		},
		{
			name: "several",
			app:  buildInfo("go1.26.8", "-buildmode=plugin", "-compiler=gc", "-race=true", "-gcflags=all=-N -l", "CGO_ENABLED=1", "GOAMD64=v3"),
			deps: []*debug.Module{},
			want: "app: -gcflags=all=-N -l, -race=true, GOAMD64=v3, example.com/a unset; this binary: -gcflags unset, -race unset, GOAMD64=v1, example.com/a v1.0.0",
		},
		{
			name: "many",
			app:  buildInfo("go1.26.8", "-a=1", "-b=1", "-c=1", "-d=1", "-e=1", "-compiler=gc", "CGO_ENABLED=1", "GOAMD64=v1"),
			want: "app: -a=1, -b=1, -c=1, -d=1, ...; this binary: -a unset, -b unset, -c unset, -d unset, ...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.app != nil {
				tt.app.Main = self.Main
				tt.app.Deps = tt.deps
				if tt.deps == nil {
					tt.app.Deps = self.Deps
				}
			}
			if got := compareBuilds(tt.app, self); got != tt.want {
				t.Errorf("compareBuilds:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestLoadBeforeOpen drives Load through the checks that stop a file
// before plugin.Open, so it is safe under the race detector.
func TestLoadBeforeOpen(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("not a plugin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path   string
		want   string
		wantIs error
	}{
		{filepath.Join(dir, "wc.so"), "app " + filepath.Join(dir, "wc.so") + ": no such file; build apps with 'make apps'", fs.ErrNotExist},
		{dir, "app " + dir + ": is a directory, not a plugin file; build apps with 'make apps' and give the path of a .so", ErrNotApp},
		{text, "app " + text + ": not a Go plugin (unrecognized file format); build apps with 'make apps'", ErrNotApp},
		// The test binary itself: a Go program, but not a plugin.
		{self, "app " + self + ": built with -buildmode=exe, not as a Go plugin; build apps with 'make apps'", ErrNotApp},
	}
	for _, tt := range tests {
		a, err := Load(tt.path)
		if err == nil {
			t.Errorf("Load(%s) = %+v, want error", tt.path, a)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Load(%s):\n got %q\nwant %q", tt.path, err, tt.want)
		}
		if !errors.Is(err, ErrNotApp) || !errors.Is(err, tt.wantIs) {
			t.Errorf("Load(%s): errors.Is(err, ErrNotApp / %v) = false", tt.path, tt.wantIs)
		}
	}
}

// MapBatch makes Map optional; a MapBatch of the wrong type is refused
// with the signature wanted.
func TestResolveMapBatch(t *testing.T) {
	batch := func(filename string, batch arrow.Record, emit func(key, value string)) {}
	a, err := resolve("x.so", fakeLookup(with(map[string]plugin.Symbol{"Map": nil, "MapBatch": batch})))
	if err != nil || a.MapBatch == nil || a.Map != nil || a.MapEmit != nil {
		t.Fatalf("MapBatch alone: %+v, %v", a, err)
	}
	a, err = resolve("x.so", fakeLookup(with(map[string]plugin.Symbol{"MapBatch": batch})))
	if err != nil || a.MapBatch == nil || a.Map == nil {
		t.Fatalf("MapBatch beside Map: %+v, %v", a, err)
	}
	_, err = resolve("x.so", fakeLookup(with(map[string]plugin.Symbol{"MapBatch": goodMap})))
	if err == nil || !strings.Contains(err.Error(), sigMapBatch) {
		t.Errorf("wrong MapBatch: %v", err)
	}
}
