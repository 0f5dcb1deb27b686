package mr

import "testing"

func TestRangePartition(t *testing.T) {
	defer SetCuts(nil)
	for _, tc := range []struct {
		cuts    []string
		nReduce int
		key     string
		want    int
	}{
		{nil, 1, "x", 0},
		{nil, 5, "x", 0}, // no cuts: everything in partition 0
		{[]string{"m"}, 2, "", 0},
		{[]string{"m"}, 2, "a", 0},
		{[]string{"m"}, 2, "l~", 0},
		{[]string{"m"}, 2, "m", 1}, // equal to a cut: the partition above
		{[]string{"m"}, 2, "m\x00", 1},
		{[]string{"m"}, 2, "z", 1},
		{[]string{"c", "f", "t"}, 4, "b", 0},
		{[]string{"c", "f", "t"}, 4, "c", 1},
		{[]string{"c", "f", "t"}, 4, "e", 1},
		{[]string{"c", "f", "t"}, 4, "f", 2},
		{[]string{"c", "f", "t"}, 4, "s", 2},
		{[]string{"c", "f", "t"}, 4, "t", 3},
		{[]string{"c", "f", "t"}, 4, "zz", 3},
		// A common key can make cuts repeat: the partitions between them
		// stay empty, and the key itself goes above them all.
		{[]string{"a", "k", "k", "k"}, 5, "k", 4},
		{[]string{"a", "k", "k", "k"}, 5, "j", 1},
		// Byte order, not locale order.
		{[]string{"a"}, 2, "B", 0},
		{[]string{"\xff"}, 2, "\xfe", 0},
		// More cuts than partitions (a caller's mismatch): clamp.
		{[]string{"c", "f", "t"}, 2, "zz", 1},
		{[]string{"c", "f", "t"}, 0, "zz", 0},
	} {
		SetCuts(tc.cuts)
		if got := RangePartition(tc.key, tc.nReduce); got != tc.want {
			t.Errorf("cuts %q: RangePartition(%q, %d) = %d; want %d", tc.cuts, tc.key, tc.nReduce, got, tc.want)
		}
	}
}

func TestCutsDefault(t *testing.T) {
	SetCuts(nil)
	if c := Cuts(); c != nil {
		t.Fatalf("Cuts() = %q; want nil", c)
	}
}
