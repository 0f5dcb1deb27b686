package inputs

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gomr.dev/internal/format"
	"gomr.dev/mr"
)

// Reading every split of a file and concatenating them must give the file
// back exactly: each line lands in exactly one split, whole.
func TestSplitsCoverFileExactly(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	for trial := range 300 {
		var b bytes.Buffer
		for range rng.Intn(40) {
			b.WriteString(strings.Repeat("x", rng.Intn(30)))
			if rng.Intn(8) > 0 {
				b.WriteByte('\n')
			}
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		size := int64(1 + rng.Intn(50))
		splits, err := Splits([]string{path}, size)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for _, s := range splits {
			part, err := Read(s)
			if err != nil {
				t.Fatal(err)
			}
			got.Write(part)
			if len(part) > 0 && got.Len() < b.Len() && part[len(part)-1] != '\n' {
				t.Fatalf("trial %d: split %+v ends mid-line: %q", trial, s, part)
			}
		}
		if !bytes.Equal(got.Bytes(), b.Bytes()) {
			t.Fatalf("trial %d size %d: splits give\n%q\nwant\n%q", trial, size, got.Bytes(), b.Bytes())
		}
	}
}

func TestSplitsWholeAndEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	small := filepath.Join(dir, "small")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(small, []byte("a\nb\n"), 0o644)
	splits, err := Splits([]string{empty, small}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 2 || !splits[0].Whole || splits[0].Length != 0 || !splits[1].Whole || splits[1].Length != 4 {
		t.Fatalf("splits = %+v", splits)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.txt", "a.txt", "sub/c.txt", "sub/deeper/d.txt", ".mr-job/m-0"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x\n"), 0o644)
	}
	got, err := Expand([]string{filepath.Join(dir, "b.txt"), filepath.Join(dir, "sub"), filepath.Join(dir, "*.txt")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"b.txt", "sub/c.txt", "sub/deeper/d.txt", "a.txt", "b.txt"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Expand = %v\nwant %v", got, want)
	}
	all, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("Expand(dir) = %v: want 4 files, scratch dir skipped", all)
	}
}

func TestExpandErrors(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{filepath.Join(dir, "missing.txt")}, "missing.txt: no such file or directory"},
		{[]string{filepath.Join(dir, "*.nope")}, "pattern matches no file"},
		{[]string{fifo}, "fifo: not a regular file"},
		{[]string{}, ErrNoInputs.Error()},
	} {
		_, err := Expand(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Expand(%v) = %v; want error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestTasksPacking(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, bytes.Repeat([]byte("abcdefg\n"), n/8), 0o644)
		return p
	}
	var small []string
	for i := range 100 {
		small = append(small, write(fmt.Sprintf("s%03d", i), 800))
	}
	big := write("big", 80000)
	tests := []struct {
		name      string
		files     []string
		size      int64
		wantTasks int
	}{
		// 100 files of 800 bytes: total/16 = 5000 bytes a task, 6 files each.
		{"small files packed", small, 1 << 20, 17},
		// The split size caps packing too: 2 files of 800 per 2000 bytes.
		{"capped by split size", small, 2000, 50},
		// Few files each above total/16 stay one task per file.
		{"few files", small[:4], 1 << 20, 4},
		// A big file cut in 8 splits of 10000, each its own task.
		{"big file split", []string{big}, 10000, 8},
		{"never split, still packed", small, 0, 17},
	}
	for _, tc := range tests {
		tasks, err := Tasks(tc.files, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != tc.wantTasks {
			t.Errorf("%s: %d tasks; want %d", tc.name, len(tasks), tc.wantTasks)
		}
		// Every file appears once, in order.
		var got []string
		for _, task := range tasks {
			for _, s := range task {
				if s.Whole {
					got = append(got, s.File)
				}
			}
		}
		if tc.name != "big file split" && strings.Join(got, ",") != strings.Join(tc.files, ",") {
			t.Errorf("%s: files out of order or lost", tc.name)
		}
	}
}

// A job may mix formats: small Parquet files pack with text files, a big
// one is cut at row groups into tasks of its own, and a truncated one
// fails planning with one line naming it.
func TestTasksMixedFormats(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "a.txt")
	os.WriteFile(text, bytes.Repeat([]byte("one two\n"), 100), 0o644)
	var lines bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	small, big := filepath.Join(dir, "small.data"), filepath.Join(dir, "big.data")
	for _, p := range []struct {
		path string
		n    int
	}{{small, 100}, {big, lines.Len()}} {
		f, _ := os.Create(p.path)
		var data bytes.Buffer
		data.Write(lines.Bytes()[:min(p.n*8, lines.Len())])
		if err := format.LinesToParquet(f, &data, 1000, nil, nil); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	tasks, err := Tasks([]string{text, small, big}, 40000)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 4 || len(tasks[0]) != 2 || tasks[0][0].Format != "" || tasks[0][1].Format != "parquet" || !tasks[0][1].Whole {
		t.Fatalf("tasks %+v: want text and the small Parquet file packed, then the big one cut", tasks)
	}
	var got bytes.Buffer
	groups := 0
	for _, task := range tasks[1:] {
		if len(task) != 1 || task[0].File != big || task[0].First != groups {
			t.Fatalf("task %+v: want one split of %s from row group %d", task, big, groups)
		}
		groups += task[0].Count
		b, err := Read(task[0])
		if err != nil {
			t.Fatal(err)
		}
		got.Write(b)
	}
	if groups != 20 || !bytes.Equal(got.Bytes(), lines.Bytes()) {
		t.Errorf("big file: %d row groups, %d bytes read; want 20 and %d", groups, got.Len(), lines.Len())
	}
	data, _ := os.ReadFile(big)
	os.WriteFile(big, data[:len(data)-10], 0o644)
	_, err = Tasks([]string{text, small, big}, 40000)
	if err == nil || !strings.HasPrefix(err.Error(), "input "+big+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("truncated file: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		s    mr.Split
		want string
	}{
		{mr.Split{File: "a", Length: 9, Whole: true}, "input a"},
		{mr.Split{File: "a", Offset: 10, Length: 5}, "input a bytes 10-15"},
		{mr.Split{File: "p", Offset: 10, Length: 5, Format: "parquet", First: 3, Count: 2}, "input p row groups 3-4"},
		{mr.Split{File: "r", Format: "arrow", First: 7, Count: 1}, "input r record batch 7"},
		{mr.Split{File: "r", Format: "arrow", Count: 4, Whole: true}, "input r"},
	} {
		if got := Describe(tc.s); got != tc.want {
			t.Errorf("Describe(%+v) = %q; want %q", tc.s, got, tc.want)
		}
	}
}
