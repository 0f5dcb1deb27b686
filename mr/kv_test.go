package mr

import (
	"hash/fnv"
	"math/rand"
	"testing"
)

// DefaultPartition must stay the lab's ihash: FNV-1a 32 as hash/fnv
// computes it, masked to 31 bits.
func TestDefaultPartitionIsLabHash(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for range 1000 {
		b := make([]byte, rng.Intn(20))
		rng.Read(b)
		h := fnv.New32a()
		h.Write(b)
		want := int(h.Sum32()&0x7fffffff) % 10
		if got := DefaultPartition(string(b), 10); got != want {
			t.Fatalf("DefaultPartition(%q) = %d; want %d", b, got, want)
		}
	}
}
