package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomr.dev/internal/inputs"
)

// mr gen --format parquet writes the lines mr gen writes as text, read
// back through the input reader: one line column, or key and payload.
func TestGenParquet(t *testing.T) {
	dir := t.TempDir()
	for _, kind := range []string{"text", "records"} {
		for _, f := range []string{"text", "parquet"} {
			err := genCmd(context.Background(), []string{"--kind", kind, "--format", f, "--files", "2", "--size", "300000", "--out", filepath.Join(dir, kind)})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 2 {
			base := filepath.Join(dir, kind, kind+"-"+string(rune('0'+i)))
			text, err := os.ReadFile(base + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			splits, err := inputs.Splits([]string{base + ".parquet"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := inputs.Read(splits[0])
			if err != nil {
				t.Fatal(err)
			}
			want := string(text)
			if kind == "records" { // key, tab, payload; backslashes escaped
				esc := strings.NewReplacer(`\`, `\\`)
				var b strings.Builder
				for line := range strings.Lines(want) {
					b.WriteString(esc.Replace(line[:10]) + "\t" + esc.Replace(line[11:]))
				}
				want = b.String()
			}
			if splits[0].Format != "parquet" || string(got) != want {
				t.Errorf("%s %d: parquet reads back %d bytes, format %q; want the text's %d", kind, i, len(got), splits[0].Format, len(want))
			}
		}
	}
	if err := genCmd(context.Background(), []string{"--format", "csv"}); err == nil || !strings.Contains(err.Error(), "want text or parquet") {
		t.Errorf("--format csv: %v", err)
	}
}
