package shuffle

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gomr.dev/mr"
)

type pair struct {
	part       int
	key, value string
}

// randomPairs makes n pairs over a small key space, so keys repeat, with
// values that record their emission order.
func randomPairs(rng *rand.Rand, n, nPart int) []pair {
	ps := make([]pair, n)
	for i := range ps {
		k := fmt.Sprintf("k%d", rng.Intn(n/4+1))
		if rng.Intn(10) == 0 {
			k += strings.Repeat("x", rng.Intn(30)) // some keys past the 8-byte prefix
		}
		ps[i] = pair{mr.DefaultPartition(k, nPart), k, strconv.Itoa(i)}
	}
	return ps
}

// readFile reads every partition of a map output file back.
func readFile(t *testing.T, path string, index []int64) []pair {
	t.Helper()
	var out []pair
	for p := 0; p+1 < len(index); p++ {
		m, err := Open([]Segment{{Path: path, Offset: index[p], Length: index[p+1] - index[p]}}, 64, path+".r", nil)
		if err != nil {
			t.Fatal(err)
		}
		for m.Next() {
			for v := range m.Values() {
				out = append(out, pair{p, m.Key(), v})
			}
		}
		if err := m.Err(); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	return out
}

func TestBufferSortsAndSpills(t *testing.T) {
	for _, tc := range []struct {
		name           string
		budget, factor int
		wantSpills     bool
	}{
		{"in memory", 64 << 20, 64, false},
		{"spills", 8 << 10, 64, true},
		{"spills, multi-pass merge", 4 << 10, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(7))
			pairs := randomPairs(rng, 5000, 5)
			base := filepath.Join(t.TempDir(), "m0")
			b := NewBuffer(5, tc.budget, tc.factor, base, nil)
			for _, p := range pairs {
				b.Add(p.part, p.key, p.value)
			}
			index, stats, err := b.Finish(base)
			if err != nil {
				t.Fatal(err)
			}
			if (stats.Spills > 0) != tc.wantSpills {
				t.Fatalf("spills = %d; want spills: %v", stats.Spills, tc.wantSpills)
			}
			want := slices.Clone(pairs)
			slices.SortStableFunc(want, func(x, y pair) int {
				return cmp.Or(cmp.Compare(x.part, y.part), strings.Compare(x.key, y.key))
			})
			got := readFile(t, base, index)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d pairs, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			left, _ := filepath.Glob(base + ".*")
			if len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func firstDiff(a, b []pair) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func sum(key string, values []string) (string, error) {
	n := 0
	for _, v := range values {
		x, err := strconv.Atoi(v)
		if err != nil {
			return "", err
		}
		n += x
	}
	return strconv.Itoa(n), nil
}

func TestBufferCombines(t *testing.T) {
	for _, budget := range []int{64 << 20, 4 << 10} {
		rng := rand.New(rand.NewSource(3))
		pairs := randomPairs(rng, 20000, 3)
		want := map[string]int{}
		base := filepath.Join(t.TempDir(), "m0")
		b := NewBuffer(3, budget, 3, base, sum)
		for _, p := range pairs {
			b.Add(p.part, p.key, "1")
			want[p.key]++
		}
		index, stats, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		if budget < 1<<20 && stats.Spills < 3 {
			t.Fatalf("budget %d: %d spills; want several", budget, stats.Spills)
		}
		got := map[string]int{}
		prev := pair{part: -1}
		for _, p := range readFile(t, base, index) {
			if p.part != mr.DefaultPartition(p.key, 3) {
				t.Fatalf("key %q in partition %d", p.key, p.part)
			}
			if p.part == prev.part && p.key <= prev.key {
				t.Fatalf("key %q after %q: not sorted, or not combined to one pair", p.key, prev.key)
			}
			n, _ := strconv.Atoi(p.value)
			got[p.key] += n
			prev = p
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("budget %d: combined counts differ", budget)
		}
	}
}

func TestBufferRejectsInconsistentPartition(t *testing.T) {
	b := NewBuffer(2, 1<<20, 4, filepath.Join(t.TempDir(), "m"), sum)
	b.Add(0, "k", "1")
	b.Add(1, "k", "1")
	if _, _, err := b.Finish(filepath.Join(t.TempDir(), "m")); err == nil || !strings.Contains(err.Error(), "Partition") {
		t.Fatalf("err = %v; want a Partition error", err)
	}
}

// Open over many segments with a small merge factor goes through several
// passes and still yields every value in segment order.
func TestOpenMultiPass(t *testing.T) {
	dir := t.TempDir()
	var segs []Segment
	want := map[string][]string{}
	for s := range 37 {
		base := filepath.Join(dir, fmt.Sprintf("m%d", s))
		b := NewBuffer(1, 1<<20, 4, base, nil)
		for i := range 50 {
			k := fmt.Sprintf("key%02d", (i*7+s)%13)
			v := fmt.Sprintf("%d.%d", s, i)
			b.Add(0, k, v)
			want[k] = append(want[k], v)
		}
		index, _, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, Segment{Path: base, Offset: index[0], Length: index[1] - index[0]})
	}
	m, err := Open(segs, 3, filepath.Join(dir, "r0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.PassBytes == 0 {
		t.Fatal("37 segments with factor 3 merged in one pass")
	}
	got := map[string][]string{}
	var keys []string
	for m.Next() {
		keys = append(keys, m.Key())
		for v := range m.Values() {
			got[m.Key()] = append(got[m.Key()], v)
		}
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if !slices.IsSorted(keys) || len(keys) != 13 {
		t.Fatalf("keys %v", keys)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("values differ from input order")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "r0*")); len(left) > 0 {
		t.Fatalf("temporary runs left: %v", left)
	}
	if _, err := os.Stat(segs[0].Path); err != nil {
		t.Fatal("Open removed an input segment")
	}
}

// A key with more values than fit comfortably in memory streams through
// Values: the live heap stays small while all of them pass.
func TestManyValuesStream(t *testing.T) {
	const n, size = 300000, 100 // 30 MB of values for one key
	dir := t.TempDir()
	base := filepath.Join(dir, "m0")
	b := NewBuffer(1, 4<<20, 64, base, nil)
	val := strings.Repeat("v", size-8)
	for i := range n {
		b.Add(0, "hot", fmt.Sprintf("%08d", i)+val)
	}
	index, _, err := b.Finish(base)
	if err != nil {
		t.Fatal(err)
	}
	b = nil
	m, err := Open([]Segment{{Path: base, Offset: index[0], Length: index[1] - index[0]}}, 64, base+".r", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.Next() || m.Key() != "hot" {
		t.Fatal("no hot key")
	}
	var ms runtime.MemStats
	var peak uint64
	count := 0
	for v := range m.Values() {
		if v[:8] != fmt.Sprintf("%08d", count) {
			t.Fatalf("value %d out of order: %.8s", count, v)
		}
		count++
		if count%50000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if count != n {
		t.Fatalf("streamed %d values; want %d", count, n)
	}
	if peak > 12<<20 {
		t.Fatalf("live heap reached %d MiB while streaming %d MiB of values: they are being held", peak>>20, n*size>>20)
	}
}

// Mostly distinct keys make the buffer switch from grouping to sorting
// part way through a task; the output must not show the seam.
func TestBufferSwitchesToSorting(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	var pairs []pair
	for i := range 3 * probePairs {
		k := fmt.Sprintf("r%09d", rng.Intn(1<<30))
		if i%10 == 0 && i > 0 {
			k = pairs[rng.Intn(len(pairs))].key // some keys repeat, across the switch
		}
		pairs = append(pairs, pair{mr.DefaultPartition(k, 4), k, strconv.Itoa(i)})
	}
	base := filepath.Join(t.TempDir(), "m0")
	b := NewBuffer(4, 64<<20, 64, base, nil)
	for _, p := range pairs {
		b.Add(p.part, p.key, p.value)
	}
	if b.grouped {
		t.Fatal("still grouping distinct keys")
	}
	index, _, err := b.Finish(base)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(pairs)
	slices.SortStableFunc(want, func(x, y pair) int {
		return cmp.Or(cmp.Compare(x.part, y.part), strings.Compare(x.key, y.key))
	})
	if got := readFile(t, base, index); !slices.Equal(got, want) {
		t.Fatalf("first difference at %d of %d", firstDiff(got, want), len(want))
	}
}

// runPairs makes n pairs whose values come in runs: each key's values are
// drawn from a few, and repeat for a while, as a word count's "1"s do,
// with now and then a value that is new.
func runPairs(rng *rand.Rand, n, nPart int) []pair {
	vals := []string{"1", "", "2", "one"}
	ps := make([]pair, n)
	v := vals[0]
	for i := range ps {
		k := fmt.Sprintf("k%d", rng.Intn(200))
		if rng.Intn(7) == 0 {
			k += strings.Repeat("y", rng.Intn(20))
		}
		switch r := rng.Intn(100); {
		case r < 5:
			v = vals[rng.Intn(len(vals))]
		case r < 7:
			v = strconv.Itoa(i)
		}
		ps[i] = pair{mr.DefaultPartition(k, nPart), k, v}
	}
	return ps
}

// Runs of equal values must come out as many pairs as went in, in
// emission order, with or without spills.
func TestBufferRunsOfEqualValues(t *testing.T) {
	for _, budget := range []int{64 << 20, 8 << 10} {
		rng := rand.New(rand.NewSource(11))
		pairs := runPairs(rng, 30000, 4)
		base := filepath.Join(t.TempDir(), "m0")
		b := NewBuffer(4, budget, 3, base, nil)
		for _, p := range pairs {
			b.Emit(p.key, p.value, func(k string) int { return mr.DefaultPartition(k, 4) })
		}
		index, stats, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		if (stats.Spills > 0) != (budget < 1<<20) {
			t.Fatalf("budget %d: %d spills", budget, stats.Spills)
		}
		want := slices.Clone(pairs)
		slices.SortStableFunc(want, func(x, y pair) int {
			return cmp.Or(cmp.Compare(x.part, y.part), strings.Compare(x.key, y.key))
		})
		if got := readFile(t, base, index); !slices.Equal(got, want) {
			t.Fatalf("budget %d: got %d pairs, want %d; first difference at %d", budget, len(got), len(want), firstDiff(got, want))
		}
	}
}

// concat is a Combine that is associative but not commutative: it tells
// whether values reach it, and come out of it, in emission order.
func concat(key string, values []string) (string, error) {
	return strings.Join(values, "."), nil
}

// With runs of equal values and a Combine that keeps order, each key's
// values, combined in any way, must still spell its values in order.
func TestBufferCombineKeepsOrder(t *testing.T) {
	for _, budget := range []int{64 << 20, 16 << 10} {
		rng := rand.New(rand.NewSource(5))
		pairs := runPairs(rng, 20000, 3)
		want := map[string][]string{}
		base := filepath.Join(t.TempDir(), "m0")
		b := NewBuffer(3, budget, 2, base, concat)
		for _, p := range pairs {
			b.Emit(p.key, p.value, func(k string) int { return mr.DefaultPartition(k, 3) })
			want[p.key] = append(want[p.key], p.value)
		}
		index, stats, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		if budget < 1<<20 && stats.Spills < 3 {
			t.Fatalf("budget %d: %d spills; want several", budget, stats.Spills)
		}
		got := map[string][]string{}
		for _, p := range readFile(t, base, index) {
			got[p.key] = append(got[p.key], p.value)
		}
		if len(got) != len(want) {
			t.Fatalf("budget %d: %d keys; want %d", budget, len(got), len(want))
		}
		for k, vs := range want {
			if g, w := strings.Join(got[k], "."), strings.Join(vs, "."); g != w {
				t.Fatalf("budget %d: key %q: values %.60q...; want %.60q...", budget, k, g, w)
			}
		}
	}
}

// hashKey's prefix is the first 8 bytes, big-endian and zero-padded, and
// its hash tells apart keys that differ only in length or in one byte.
func TestHashKey(t *testing.T) {
	seen := map[uint64]string{}
	check := func(k string) {
		h, pfx, sfx := hashKey(k, 42)
		if pfx != prefix(k) {
			t.Fatalf("prefix of %q = %#x; want %#x", k, pfx, prefix(k))
		}
		var want uint64
		if len(k) > 8 {
			want = binary.LittleEndian.Uint64([]byte(k[len(k)-8:]))
		}
		if sfx != want {
			t.Fatalf("suffix of %q = %#x; want %#x", k, sfx, want)
		}
		if h2, _, _ := hashKey(strings.Clone(k), 42); h2 != h {
			t.Fatalf("hash of %q differs between copies", k)
		}
		if other, ok := seen[h]; ok {
			t.Fatalf("%q and %q hash alike", k, other)
		}
		seen[h] = k
	}
	base := "abcdefghijklmnopqrstuvwxyz0123456789"
	for n := range len(base) + 1 {
		k := base[:n]
		check(k)
		check(k + "\x00")
		for i := range n {
			check(k[:i] + "#" + k[i+1:])
		}
	}
}

// countingCombine wraps a Combine and counts, on its own, what it was
// handed and what it returned, for checking Stats against.
type countingCombine struct {
	f             CombineFunc
	calls, values int64
}

func (c *countingCombine) combine(key string, values []string) (string, error) {
	c.calls++
	c.values += int64(len(values))
	return c.f(key, values)
}

// countRecords reads back every record of a map output file.
func countRecords(t *testing.T, path string, index []int64) int64 {
	t.Helper()
	return int64(len(readFile(t, path, index)))
}

// Stats must count every pair and byte added, and exactly what Combine
// was handed and returned: in memory, where keys are combined every
// combineEvery values and at the end, and with a tiny budget that makes
// the buffer spill many times and merge in passes.
func TestBufferStats(t *testing.T) {
	for _, tc := range []struct {
		combine bool
		budget  int
	}{{true, 64 << 20}, {true, 4 << 10}, {false, 64 << 20}, {false, 4 << 10}} {
		t.Run(fmt.Sprintf("combine=%v,budget=%d", tc.combine, tc.budget), func(t *testing.T) {
			rng := rand.New(rand.NewSource(13))
			pairs := runPairs(rng, 20000, 3)
			if tc.combine {
				for i := range pairs {
					pairs[i].value = strconv.Itoa(1 + i%3)
				}
			}
			var wantBytes int64
			for _, p := range pairs {
				wantBytes += int64(len(p.key) + len(p.value))
			}
			cc := &countingCombine{f: sum}
			var f CombineFunc
			if tc.combine {
				f = cc.combine
			}
			base := filepath.Join(t.TempDir(), "m0")
			b := NewBuffer(3, tc.budget, 2, base, f)
			for _, p := range pairs {
				b.Emit(p.key, p.value, func(k string) int { return mr.DefaultPartition(k, 3) })
			}
			if got := b.Stats(); got.Pairs != int64(len(pairs)) || got.PairBytes != wantBytes {
				t.Fatalf("before Finish: %d pairs, %d bytes; want %d, %d", got.Pairs, got.PairBytes, len(pairs), wantBytes)
			}
			index, st, err := b.Finish(base)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pairs != int64(len(pairs)) || st.PairBytes != wantBytes {
				t.Errorf("%d pairs, %d bytes; want %d, %d", st.Pairs, st.PairBytes, len(pairs), wantBytes)
			}
			spills := tc.budget < 1<<20
			if spills && st.Spills <= 2 || !spills && st.Spills != 0 {
				t.Fatalf("%d spills; want none in memory, more than the merge factor, 2, with a tiny budget", st.Spills)
			}
			if st.CombineIn != cc.values || st.CombineOut != cc.calls {
				t.Errorf("combine in/out %d/%d; Combine was handed %d values in %d calls", st.CombineIn, st.CombineOut, cc.values, cc.calls)
			}
			out := countRecords(t, base, index)
			if tc.combine {
				// Every pair reaches the output through some number of
				// Combines, each of which turns its values into one.
				if st.CombineIn == 0 || st.Pairs-st.CombineIn+st.CombineOut != out {
					t.Errorf("%d pairs, combine in %d, out %d, but %d records in the output", st.Pairs, st.CombineIn, st.CombineOut, out)
				}
			} else if out != st.Pairs {
				t.Errorf("%d records in the output; want %d", out, st.Pairs)
			}
			switch {
			case !spills && (st.SpillRecords != 0 || st.SpillBytes != 0):
				t.Errorf("spilled %d records, %d bytes without spills", st.SpillRecords, st.SpillBytes)
			case spills && (st.SpillRecords == 0 || st.SpillBytes == 0):
				t.Errorf("spilled %d records, %d bytes", st.SpillRecords, st.SpillBytes)
			case spills && !tc.combine && st.SpillRecords <= st.Pairs:
				// Every pair is in some spill, and the passes wrote more.
				t.Errorf("%d spilled records of %d pairs; want more, with passes", st.SpillRecords, st.Pairs)
			}
		})
	}
}

// With spills made at known points, the spill counters are exact: each
// pair is written to one spill, and again by each merge pass it goes
// through; the final output is not a spill.
func TestBufferSpillCounts(t *testing.T) {
	for _, tc := range []struct {
		factor int
		passes int64 // that every pair goes through, with 4 spills
	}{{4, 0}, {2, 1}} {
		t.Run(fmt.Sprint("factor=", tc.factor), func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "m0")
			b := NewBuffer(2, 64<<20, tc.factor, base, nil)
			var spillSize int64
			n := 0
			for s := range 4 {
				for i := range 1000 {
					b.Emit(fmt.Sprintf("k%d", i%37), strconv.Itoa(i%5+s), func(k string) int { return mr.DefaultPartition(k, 2) })
					n++
				}
				if err := b.spill(); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(b.spills[s].path)
				if err != nil {
					t.Fatal(err)
				}
				spillSize += fi.Size()
			}
			index, st, err := b.Finish(base)
			if err != nil {
				t.Fatal(err)
			}
			if st.Spills != 4 || st.SpillRecords != int64(n)*(1+tc.passes) {
				t.Errorf("%d spills, %d records spilled; want 4, %d", st.Spills, st.SpillRecords, int64(n)*(1+tc.passes))
			}
			if tc.passes == 0 && st.SpillBytes != spillSize || tc.passes > 0 && st.SpillBytes <= spillSize {
				t.Errorf("%d bytes spilled; the spill files hold %d, and there were %d passes", st.SpillBytes, spillSize, tc.passes)
			}
			if st.CombineIn != 0 || st.CombineOut != 0 {
				t.Errorf("combine in/out %d/%d without a Combine", st.CombineIn, st.CombineOut)
			}
			if out := countRecords(t, base, index); out != int64(n) {
				t.Errorf("%d records in the output; want %d", out, n)
			}
		})
	}
}

// A merge counts the bytes it reads of its segments as it reads them,
// exactly the segments' length by the end; a multi-pass merge counts the
// records its passes wrote.
func TestOpenCountsReads(t *testing.T) {
	dir := t.TempDir()
	// One large segment, of values that do not compress, so that the
	// merge reads it a buffer at a time.
	base := filepath.Join(dir, "big")
	b := NewBuffer(1, 64<<20, 4, base, nil)
	rng := rand.New(rand.NewSource(1))
	for i := range 20000 {
		v := make([]byte, 100)
		for j := range v {
			v[j] = byte('a' + rng.Intn(26))
		}
		b.Add(0, fmt.Sprintf("k%06d", i), string(v))
	}
	index, _, err := b.Finish(base)
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	m, err := Open([]Segment{{Path: base, Length: index[1]}}, 4, filepath.Join(dir, "r"), &read)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Next() {
		t.Fatal("no keys")
	}
	if n := read.Load(); n == 0 || n >= index[1] {
		t.Errorf("after the first key, %d of %d bytes read; want some, not all", n, index[1])
	}
	for m.Next() {
	}
	m.Close()
	if n := read.Load(); n != index[1] {
		t.Errorf("after the last key, %d of %d bytes read", n, index[1])
	}

	// 37 segments of 50 records, merged in passes of 3: 36 segments go
	// into the 12 runs of pass 0 (1800 records); 12 of those into the 4
	// runs of pass 1 (1800); and in pass 2 three of those (1350), then
	// the fourth with the segment left over since pass 0 (500).
	var segs []Segment
	var total int64
	for s := range 37 {
		base := filepath.Join(dir, fmt.Sprintf("m%d", s))
		b := NewBuffer(1, 1<<20, 4, base, nil)
		for i := range 50 {
			b.Add(0, fmt.Sprintf("key%02d", (i*7+s)%13), fmt.Sprintf("%d.%d", s, i))
		}
		index, _, err := b.Finish(base)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, Segment{Path: base, Offset: index[0], Length: index[1] - index[0]})
		total += index[1] - index[0]
	}
	read.Store(0)
	m, err = Open(segs, 3, filepath.Join(dir, "r0"), &read)
	if err != nil {
		t.Fatal(err)
	}
	values := int64(0)
	for m.Next() {
		for range m.Values() {
			values++
		}
	}
	m.Close()
	if m.PassRecords != 1800+1800+1350+500 || values != 37*50 {
		t.Errorf("passes wrote %d records, merge yielded %d values; want 5450, %d", m.PassRecords, values, 37*50)
	}
	if n := read.Load(); n != total {
		t.Errorf("%d of %d bytes of segments read; the passes' runs must not count", n, total)
	}
}
