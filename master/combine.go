package master

import "sync"

// combiner runs functions under a mutex for many goroutines at once (flat
// combining). Thousands of workers' calls contend for the master's lock;
// a sync.Mutex that many wait for hands itself from one waiter to the next
// through the Go scheduler, a switch per call, and a simulation of the
// paper's 2,000 workers spent more time handing the lock over than
// holding it. Here a goroutine that finds the lock busy queues its
// function and sleeps; whichever goroutine holds the lock runs the queue's
// functions too, in arrival order, before it lets go.
type combiner struct {
	mu *sync.Mutex // the lock the functions run under

	qmu   sync.Mutex // guards queue and busy; held only to queue or take
	queue []*combined
	busy  bool // some goroutine is running functions under mu
}

type combined struct {
	f    func()
	done chan struct{} // closed once f has run, or to hand over the lead
	lead bool          // set before done closes: run f and the queue yourself
}

// maxCombine bounds the functions one goroutine runs for others before it
// hands the lead to the next in the queue, so that its own caller waits
// no longer than that.
const maxCombine = 512

// do runs f under the mutex, by this goroutine or another, and returns
// once it has run. f must not block.
func (c *combiner) do(f func()) {
	p := &combined{f: f, done: make(chan struct{})}
	c.qmu.Lock()
	if c.busy {
		c.queue = append(c.queue, p)
		c.qmu.Unlock()
		<-p.done
		if !p.lead {
			return
		}
	} else {
		c.busy = true
		c.qmu.Unlock()
	}
	c.lead(p)
}

// lead runs first's function and those queued behind it under the mutex,
// until the queue is empty or maxCombine have run, and then hands the
// lead on.
func (c *combiner) lead(first *combined) {
	c.mu.Lock()
	first.f()
	ran := 1
	for {
		c.qmu.Lock()
		switch {
		case len(c.queue) == 0:
			c.busy = false
			c.qmu.Unlock()
			c.mu.Unlock()
			return
		case ran >= maxCombine:
			next := c.queue[0]
			c.queue = c.queue[1:] // busy stays set: next leads now
			c.qmu.Unlock()
			c.mu.Unlock()
			next.lead = true
			close(next.done)
			return
		}
		batch := c.queue
		c.queue = nil
		c.qmu.Unlock()
		for _, p := range batch {
			p.f()
			close(p.done)
			ran++
		}
	}
}
