package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"sort"
	"testing"
)

type group struct {
	key    string
	values []string
}

// refMerge is the specification: concatenate the runs in order, stable
// sort by key, and group equal keys.
func refMerge(runs [][]kv) []group {
	var all []kv
	for _, r := range runs {
		all = append(all, r...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].k < all[j].k })
	var out []group
	for _, p := range all {
		if n := len(out); n > 0 && out[n-1].key == p.k {
			out[n-1].values = append(out[n-1].values, p.v)
		} else {
			out = append(out, group{p.k, []string{p.v}})
		}
	}
	return out
}

func openRuns(t *testing.T, c codec, runs [][]kv) []*Reader {
	t.Helper()
	readers := make([]*Reader, len(runs))
	for i, r := range runs {
		readers[i] = NewReader(bytes.NewReader(encode(t, c, r)))
	}
	t.Cleanup(func() {
		for _, r := range readers {
			r.Close()
		}
	})
	return readers
}

// mergeAll drains a Merger, alternating Values and AppendValues.
func mergeAll(t *testing.T, m *Merger) []group {
	t.Helper()
	var out []group
	for i := 0; m.Next(); i++ {
		g := group{key: m.Key()}
		if i%2 == 0 {
			for v := range m.Values() {
				g.values = append(g.values, v)
			}
		} else {
			g.values = m.AppendValues(nil)
		}
		out = append(out, g)
	}
	if err := m.Err(); err != nil {
		t.Fatalf("merge: %v", err)
	}
	if m.Next() || m.Key() != "" {
		t.Fatalf("Next after the end returned true or key %q", m.Key())
	}
	return out
}

func equalGroups(t *testing.T, got, want []group) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i].key != want[i].key || !slices.Equal(got[i].values, want[i].values) {
			t.Fatalf("group %d: got %q %q, want %q %q", i, got[i].key, got[i].values, want[i].key, want[i].values)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
}

func TestMergeTable(t *testing.T) {
	tests := []struct {
		name string
		runs [][]kv
		want []group
	}{
		{"no runs", nil, nil},
		{"empty runs", [][]kv{{}, {}}, nil},
		{"single run", [][]kv{{{"a", "1"}, {"a", "2"}, {"b", "3"}}},
			[]group{{"a", []string{"1", "2"}}, {"b", []string{"3"}}}},
		{"interleaved", [][]kv{{{"a", "r0"}, {"c", "r0"}}, {{"b", "r1"}, {"d", "r1"}}},
			[]group{{"a", []string{"r0"}}, {"b", []string{"r1"}}, {"c", []string{"r0"}}, {"d", []string{"r1"}}}},
		// A shared key's values come in run order, then written order,
		// wherever the key sits in each run.
		{"duplicates across and within runs", [][]kv{
			{{"k", "0a"}, {"k", "0b"}, {"z", "0c"}},
			{},
			{{"a", "2a"}, {"k", "2b"}, {"k", "2c"}},
			{{"k", "3a"}},
		}, []group{
			{"a", []string{"2a"}},
			{"k", []string{"0a", "0b", "2b", "2c", "3a"}},
			{"z", []string{"0c"}},
		}},
		{"empty key and values", [][]kv{{{"", ""}, {"", "x"}}, {{"", "y"}, {"a", ""}}},
			[]group{{"", []string{"", "x", "y"}}, {"a", []string{""}}}},
		{"byte order", [][]kv{{{"B", "1"}, {"a", "2"}}, {{"\xff", "3"}}, {{"\x00", "4"}, {"ab", "5"}}},
			[]group{{"\x00", []string{"4"}}, {"B", []string{"1"}}, {"a", []string{"2"}}, {"ab", []string{"5"}}, {"\xff", []string{"3"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := refMerge(tt.runs); !groupsEqual(want, tt.want) {
				t.Fatalf("reference disagrees with the table: %q", want)
			}
			m, err := NewMerger(openRuns(t, codecS2, tt.runs))
			if err != nil {
				t.Fatal(err)
			}
			equalGroups(t, mergeAll(t, m), tt.want)
		})
	}
}

func groupsEqual(a, b []group) bool {
	return slices.EqualFunc(a, b, func(x, y group) bool {
		return x.key == y.key && slices.Equal(x.values, y.values)
	})
}

// randomRuns makes n sorted runs over a small vocabulary, so keys repeat
// within and across runs. Each value names its run and position, so any
// misordering shows. Half the vocabularies are short random bytes; the
// others are up to 12 bytes over {0x00, 'a', 0xff}, so keys share 8-byte
// prefixes and differ only in length or padding-like zeros. Half the time
// values name blocks of positions instead, so that runs repeat records.
func randomRuns(rng *rand.Rand, n int) [][]kv {
	vocab := make([]string, 1+rng.Intn(30))
	long := rng.Intn(2) == 0
	for i := range vocab {
		if !long {
			vocab[i] = randBytes(rng, rng.Intn(4))
			continue
		}
		b := make([]byte, rng.Intn(13))
		for j := range b {
			b[j] = "\x00a\xff"[rng.Intn(3)]
		}
		vocab[i] = string(b)
	}
	// With blocks > 1, values name blocks of positions, so that a run
	// holds repeats of a record for the Writer to frame as such.
	block := 1 + rng.Intn(2)*rng.Intn(10)
	runs := make([][]kv, n)
	for i := range runs {
		keys := make([]string, rng.Intn(40*block))
		for j := range keys {
			keys[j] = vocab[rng.Intn(len(vocab))]
		}
		sort.Strings(keys)
		for j, k := range keys {
			runs[i] = append(runs[i], kv{k, fmt.Sprintf("r%d.%d", i, j/block)})
		}
	}
	return runs
}

func TestMergeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for iter := range 300 {
		n := rng.Intn(9)
		if iter%10 == 0 {
			n = 20 + rng.Intn(20) // deeper, uneven trees
		}
		runs := randomRuns(rng, n)
		c := codecs[iter%len(codecs)]
		m, err := NewMerger(openRuns(t, c, runs))
		if err != nil {
			t.Fatal(err)
		}
		got := mergeAll(t, m)
		if want := refMerge(runs); !groupsEqual(got, want) {
			t.Logf("iteration %d, runs %q", iter, runs)
			equalGroups(t, got, want)
		}
	}
}

// TestMergePartialValues consumes a random prefix of each key's values,
// sometimes over two ranges, and checks Next skips the rest.
func TestMergePartialValues(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for range 200 {
		runs := randomRuns(rng, 1+rng.Intn(6))
		want := refMerge(runs)
		m, err := NewMerger(openRuns(t, codecZstd, runs))
		if err != nil {
			t.Fatal(err)
		}
		var got []group
		for m.Next() {
			g := group{key: m.Key()}
			take := rng.Intn(4) // 0..3 values, often fewer than there are
			for range 1 + rng.Intn(2) {
				// Breaking out of a range consumes the value it broke on,
				// so stop right after the value that reaches take.
				if len(g.values) < take {
					for v := range m.Values() {
						g.values = append(g.values, v)
						if len(g.values) == take {
							break
						}
					}
				}
				take++ // a second range continues after the first
			}
			got = append(got, g)
		}
		if m.Err() != nil {
			t.Fatal(m.Err())
		}
		if len(got) != len(want) {
			t.Fatalf("got %d keys, want %d", len(got), len(want))
		}
		taken := 0
		for _, g := range got {
			taken += len(g.values)
		}
		if m.Taken() != int64(taken) {
			t.Fatalf("Taken = %d; %d values were yielded", m.Taken(), taken)
		}
		for i := range want {
			if got[i].key != want[i].key || !slices.Equal(got[i].values, want[i].values[:len(got[i].values)]) {
				t.Fatalf("key %d: got %q %q, want a prefix of %q %q", i, got[i].key, got[i].values, want[i].key, want[i].values)
			}
		}
	}
}

func TestMergeStaleValues(t *testing.T) {
	runs := [][]kv{{{"a", "1"}, {"a", "2"}, {"b", "3"}, {"b", "4"}}}
	m, err := NewMerger(openRuns(t, codecS2, runs))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.AppendValues(nil)); n != 0 {
		t.Fatalf("AppendValues before Next gave %d values", n)
	}
	m.Next()
	stale := m.Values()
	m.Next()
	for v := range stale {
		t.Fatalf("stale Values yielded %q under key %q", v, m.Key())
	}
	if got := m.AppendValues(nil); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("values of b = %q", got)
	}
}

func TestMergeUnsorted(t *testing.T) {
	runs := [][]kv{{{"a", "1"}, {"c", "2"}}, {{"b", "3"}, {"a", "4"}}}
	m, err := NewMerger(openRuns(t, codecS2, runs))
	if err != nil {
		t.Fatal(err)
	}
	for m.Next() {
		m.AppendValues(nil)
	}
	if !errors.Is(m.Err(), ErrUnsorted) {
		t.Fatalf("Err = %v, want ErrUnsorted", m.Err())
	}
	var re *RunError
	if !errors.As(m.Err(), &re) || re.Run != 1 {
		t.Fatalf("Err = %v, want a RunError naming run 1", m.Err())
	}
}

func TestMergeCorruptRun(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var pairs []kv
	for i := range 2000 {
		// Incompressible values, so the run spans several blocks and
		// the cut leaves whole blocks before it.
		pairs = append(pairs, kv{fmt.Sprintf("%05d", i), randBytes(rng, 100)})
	}
	good := encode(t, codecS2, pairs)
	cut := good[:len(good)*2/3]
	m, err := NewMerger([]*Reader{NewReader(bytes.NewReader(good)), NewReader(bytes.NewReader(cut))})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m.Next() {
		n += len(m.AppendValues(nil))
	}
	var re *RunError
	if !errors.Is(m.Err(), ErrCorrupt) || !errors.As(m.Err(), &re) || re.Run != 1 {
		t.Fatalf("Err = %v after %d values, want ErrCorrupt in run 1", m.Err(), n)
	}
	_, err = NewMerger([]*Reader{NewReader(bytes.NewReader(good)), NewReader(bytes.NewReader(good[:5]))})
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &re) || re.Run != 1 {
		t.Fatalf("NewMerger on a broken run: %v, want ErrCorrupt in run 1", err)
	}
}

// A key whose values are runs of repeats in every run comes out of
// AppendValues complete, in run order, in a slice allocated once at its
// size rather than grown step by step.
func TestAppendValuesRepeats(t *testing.T) {
	const n = 300000
	var runs [][]kv
	for i := range 3 {
		var r []kv
		for range n {
			r = append(r, kv{"hot", fmt.Sprint(i)})
		}
		r = append(r, kv{"z", "last"})
		runs = append(runs, r)
	}
	for _, c := range codecs {
		m, err := NewMerger(openRuns(t, c, runs))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Next() || m.Key() != "hot" {
			t.Fatalf("%v: first key %q", c, m.Key())
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := m.AppendValues(nil)
		runtime.ReadMemStats(&after)
		if len(got) != 3*n || got[0] != "0" || got[n-1] != "0" || got[n] != "1" || got[3*n-1] != "2" {
			t.Fatalf("%v: %d values, want %d in run order", c, len(got), 3*n)
		}
		// Growing step by step allocates several times the final slice.
		if size := uint64(3 * n * 16); after.TotalAlloc-before.TotalAlloc > size*5/4 {
			t.Errorf("%v: allocated %d bytes for a %d-byte values slice", c, after.TotalAlloc-before.TotalAlloc, size)
		}
		if !m.Next() || m.Key() != "z" || len(m.AppendValues(nil)) != 3 || m.Next() || m.Err() != nil {
			t.Fatalf("%v: after the hot key: key %q, err %v", c, m.Key(), m.Err())
		}
		if m.Taken() != 3*n+3 {
			t.Errorf("%v: Taken = %d; want %d, repeats included", c, m.Taken(), 3*n+3)
		}
	}
}
