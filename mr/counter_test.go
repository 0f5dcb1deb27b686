package mr

import (
	"sync"
	"testing"
)

// Adds from many goroutines at once all count, and goroutines spread over
// the counter's cache lines rather than share one.
func TestCounterAddsUp(t *testing.T) {
	c := Counter("test-adds-up")
	if Counter("test-adds-up") != c {
		t.Fatal("Counter made a second counter for the same name")
	}
	const goroutines, adds = 8, 10000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range adds {
				if i%10 == 0 {
					c.Add(-1)
				} else {
					c.Add(int64(g + 1))
				}
			}
		}()
	}
	wg.Wait()
	var want int64
	for g := range goroutines {
		want += int64(adds/10*9*(g+1) - adds/10)
	}
	if got := CounterValues()[c.Name()]; got != want {
		t.Fatalf("value %d; want %d", got, want)
	}
	used := 0
	for i := range c.shards {
		if c.shards[i].v.Load() != 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("%d goroutines added to %d of the counter's %d cache lines; want them spread", goroutines, used, counterShards)
	}
}

// BenchmarkCounterAdd is one Add by every goroutine at once (run it with
// -cpu 1,2,4): with one cache line for the counter, its time grows with
// the goroutines that share it.
func BenchmarkCounterAdd(b *testing.B) {
	c := Counter("bench-add")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Add(1)
		}
	})
}
