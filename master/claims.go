package master

import (
	"gomr.dev/mr"
)

// Map tasks are handed out in claims of consecutive ids. A worker that
// asks for a map task takes the next one of its claim; once its claim is
// used up it claims a new run from the ids never started, of a size that
// shrinks as they run out (guided self-scheduling: what is left over
// twice the live workers); once none are left, it takes the back half of
// the largest claim another worker has not yet started. So each worker
// ends up holding a few runs of consecutive map outputs, whatever the
// number of tasks, and a reduce task learns where every map output is as
// a few ranges per worker (mr.Locations) rather than one entry per map
// task: at the paper's scale, 200,000 map tasks on 2,000 workers, a
// reduce task's locations stay about 100 KB.
//
// Tasks that run again (lost, failed, or whose output was lost) go
// through mapQueue, after the ids never started and before stealing.

// claimFrom is the fewest map tasks a job must have for claims of more
// than one: a smaller job's locations are small anyway, and its tasks go
// out one at a time, in id order, which is easier to follow.
const claimFrom = 64

// span is map task ids [next, end).
type span struct{ next, end int }

func (p span) len() int { return p.end - p.next }

// claimMap takes the next map task for worker from its claim or a new
// claim; with steal, it may take over part of another worker's claim. It
// reports whether there was one.
func (s *Scheduler) claimMap(worker string, steal bool) (int, bool) {
	c := s.claims[worker]
	if c == nil || c.len() == 0 {
		if !s.newClaim(worker) && (!steal || !s.steal(worker)) {
			return 0, false
		}
		c = s.claims[worker]
	}
	id := c.next
	c.next++
	s.claimed--
	return id, true
}

// newClaim gives worker a claim on the front of the first run of ids
// never started.
func (s *Scheduler) newClaim(worker string) bool {
	for len(s.fresh) > 0 && s.fresh[0].len() == 0 {
		s.fresh = s.fresh[1:]
	}
	if len(s.fresh) == 0 {
		return false
	}
	left := 0
	for _, f := range s.fresh {
		left += f.len()
	}
	n := max(1, left/(2*max(1, len(s.workers))))
	if len(s.maps) < claimFrom {
		n = 1 // too few for runs to matter: hand them out in order
	}
	f := &s.fresh[0]
	n = min(n, f.len())
	s.claims[worker] = &span{f.next, f.next + n}
	s.claimed += n
	f.next += n
	return true
}

// steal moves the back half (at least one) of the largest claim another
// worker has not started to worker.
func (s *Scheduler) steal(worker string) bool {
	if s.claimed == 0 {
		return false
	}
	var most *span
	for w, c := range s.claims {
		if w != worker && c.len() > 0 && (most == nil || c.len() > most.len()) {
			most = c
		}
	}
	if most == nil {
		return false
	}
	n := (most.len() + 1) / 2
	s.claims[worker] = &span{most.end - n, most.end}
	most.end -= n
	return true
}

// release returns a dead worker's unstarted claim to the ids never
// started.
func (s *Scheduler) release(worker string) {
	if c := s.claims[worker]; c != nil {
		if c.len() > 0 {
			s.fresh = append(s.fresh, *c)
			s.claimed -= c.len()
		}
		delete(s.claims, worker)
	}
}

// locations returns where every map task's committed output is, packed
// for reduce tasks; the caller must only call it once every map task has
// committed. It is built once and kept until a map output changes.
func (s *Scheduler) locations() mr.Locations {
	if s.locs != nil {
		return s.locs
	}
	var srcs []mr.Source
	at := map[string]int{} // source index by address
	for id := range s.maps {
		t := &s.maps[id]
		a, ok := at[t.addr]
		if !ok {
			a = len(srcs)
			at[t.addr] = a
			srcs = append(srcs, mr.Source{Addr: t.addr})
		}
		att, epoch := t.wrote.Attempt, t.wrote.Epoch
		maps := srcs[a].Maps
		if n := len(maps); n > 0 {
			if last := &maps[n-1]; last.First+last.Count == id && last.Attempt == att && last.Epoch == epoch {
				last.Count++
				continue
			}
		}
		srcs[a].Maps = append(maps, mr.MapRange{First: id, Count: 1, Attempt: att, Epoch: epoch})
	}
	s.locs = mr.EncodeLocations(srcs)
	s.locsSeq++
	s.locsID = s.cfg.Nonce + s.locsSeq
	return s.locs
}
