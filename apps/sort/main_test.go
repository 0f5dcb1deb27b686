package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gomr.dev/mr"
)

// output is what the engine writes for one key: "key value\n".
func output(input string) string {
	type kv struct{ k, v string }
	var kvs []kv
	Map("in", input, func(k, v string) { kvs = append(kvs, kv{k, v}) })
	slices.SortStableFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	var b strings.Builder
	for i := 0; i < len(kvs); {
		j := i
		for j < len(kvs) && kvs[j].k == kvs[i].k {
			j++
		}
		var values []string
		for _, x := range kvs[i:j] {
			values = append(values, x.v)
		}
		fmt.Fprintf(&b, "%s %s\n", kvs[i].k, Reduce(kvs[i].k, slices.Values(values)))
		i = j
	}
	return b.String()
}

func TestRecordsRoundTrip(t *testing.T) {
	recs := []string{
		"KKKKKKKKK2 payload two\n",
		"KKKKKKKKK1  payload one, with a leading space\n",
		"KKKKKKKKK3 \n", // empty payload
		"KKKKKKKKK1 a second record with key 1\n",
		"KKKKKKKKK0 zero\r\n", // bytes are bytes
	}
	got := output(strings.Join(recs, ""))
	want := recs[4] + recs[1] + recs[3] + recs[0] + recs[2] // stable by key
	if got != want {
		t.Fatalf("output:\n%q\nwant\n%q", got, want)
	}
}

// Lines that are not "10-byte key, space, rest" keep their bytes, with one
// space after the key.
func TestOtherLines(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0123456789abc\n", "0123456789 abc\n"},
		{"0123456789\n", "0123456789 \n"},
		{"short\n", "short \n"},
		{"\n", " \n"},
		{"no-newline-at-the-end", "no-newline -at-the-end\n"},
		{"", ""},
	} {
		if got := output(tc.in); got != tc.want {
			t.Errorf("output(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestPartitionUsesCuts(t *testing.T) {
	defer mr.SetCuts(nil)
	mr.SetCuts(nil)
	if p := Partition("zzzzzzzzzz", 4); p != 0 {
		t.Fatalf("without cuts: partition %d; want 0", p)
	}
	mr.SetCuts([]string{"3333333333", "6666666666", "9999999999"})
	for key, want := range map[string]int{"0000000000": 0, "3333333333": 1, "5555555555": 1, "6666666666": 2, "9999999999": 3, "~~~~~~~~~~": 3} {
		if p := Partition(key, 4); p != want {
			t.Errorf("Partition(%q) = %d; want %d", key, p, want)
		}
	}
}

func TestSampleSize(t *testing.T) {
	if SampleSize() <= 0 {
		t.Fatal("SampleSize must be positive, or the engine does not sample")
	}
}
