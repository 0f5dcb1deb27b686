package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"gomr.dev/master"
)

// progress shows a job's state on one redrawn line when stderr is a
// terminal, and keeps log lines from tearing it. Elsewhere it just logs.
type progress struct {
	out  *os.File
	tty  bool
	t0   time.Time
	mu   sync.Mutex // guards line; serialises writes to out
	line string
	done chan struct{}
	wg   sync.WaitGroup
}

func newProgress(out *os.File) *progress {
	fi, err := out.Stat()
	return &progress{
		out:  out,
		tty:  err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb",
		t0:   time.Now(),
		done: make(chan struct{}),
	}
}

// Logf prints one line above the progress line.
func (p *progress) Logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.line != "" {
		fmt.Fprint(p.out, "\r\033[K")
	}
	fmt.Fprintf(p.out, "mr run: "+format+"\n", args...)
	if p.tty && p.line != "" {
		fmt.Fprint(p.out, p.line)
	}
}

// start redraws the line from status until stop; only on a terminal.
func (p *progress) start(status func() master.Status) {
	if !p.tty {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			p.draw(status())
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
}

func (p *progress) draw(st master.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sample := ""
	if st.Samples > 0 {
		sample = fmt.Sprintf("sample %d/%d  ", st.SamplesDone, st.Samples)
	}
	p.line = fmt.Sprintf("%smap %d/%d (%d running)  reduce %d/%d (%d running)  workers %d  %v",
		sample, st.MapsDone, st.Maps, st.MapsRunning, st.ReducesDone, st.Reduces, st.ReducesRunning,
		st.Workers, time.Since(p.t0).Round(100*time.Millisecond))
	fmt.Fprint(p.out, "\r\033[K"+p.line)
}

// stop ends the redraw and clears the line. Safe to call once.
func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.line != "" {
		fmt.Fprint(p.out, "\r\033[K")
		p.line = ""
	}
}
