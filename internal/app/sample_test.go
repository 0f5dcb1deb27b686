package app

import (
	"plugin"
	"testing"
)

// SampleSize is optional: absent means nil; present must be func() int.
func TestResolveSampleSize(t *testing.T) {
	a, err := resolve("x.so", fakeLookup(with(nil)))
	if err != nil || a.SampleSize != nil {
		t.Fatalf("without the export: SampleSize = %v, err = %v; want nil, nil", a.SampleSize, err)
	}
	a, err = resolve("x.so", fakeLookup(with(map[string]plugin.Symbol{"SampleSize": func() int { return 500 }})))
	if err != nil || a.SampleSize == nil || a.SampleSize() != 500 {
		t.Fatalf("with the export: err = %v; want SampleSize() = 500", err)
	}
	_, err = resolve("x.so", fakeLookup(with(map[string]plugin.Symbol{"SampleSize": func() int64 { return 500 }})))
	want := "app x.so exports SampleSize as func() int64; SampleSize is optional, but if exported it must be func SampleSize() int"
	if err == nil || err.Error() != want {
		t.Fatalf("mistyped export: err = %v; want %q", err, want)
	}
}
