package mr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Source is where a reduce task finds some of the committed map outputs:
// on the worker whose shuffle server listens at Addr, or in the job's
// shared directory when Addr is "". A reducer asks each source once for
// its partition of all the outputs the source holds.
type Source struct {
	Addr string
	Maps []MapRange // ascending and disjoint
}

// MapRange names the committed outputs of map tasks First to
// First+Count-1, each written by attempt Attempt of epoch Epoch: map task
// i's output is the file TaskRef{MapTask, i, Attempt, Epoch}.File("m").
type MapRange struct {
	First, Count   int
	Attempt, Epoch int
}

// Ref names the attempt that wrote map task id's output, one of r's.
func (r MapRange) Ref(id int) TaskRef {
	return TaskRef{Kind: MapTask, ID: id, Attempt: r.Attempt, Epoch: r.Epoch}
}

// Locations is a reduce task's []Source, packed: the master builds it once
// per change of the map outputs and hands the same bytes to every reduce
// task, so that at the paper's scale (200,000 map tasks on 2,000 workers)
// a reply stays small and cheap to encode. Map tasks on one worker come in
// runs of consecutive ids (see the scheduler's claims), so a source is a
// few ranges, not one entry per map task.
type Locations []byte

// EncodeLocations packs srcs.
func EncodeLocations(srcs []Source) Locations {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(srcs)))
	for _, s := range srcs {
		b = binary.AppendUvarint(b, uint64(len(s.Addr)))
		b = append(b, s.Addr...)
		b = binary.AppendUvarint(b, uint64(len(s.Maps)))
		next, att, epoch := 0, 1, 0
		for _, r := range s.Maps {
			// Ranges ascend, so store the gap from the last; and most
			// outputs are first attempts of one epoch, so store the
			// attempt and epoch only when they change, flagged in the
			// count's low bit.
			b = binary.AppendUvarint(b, uint64(r.First-next))
			if r.Attempt == att && r.Epoch == epoch {
				b = binary.AppendUvarint(b, uint64(r.Count)<<1)
			} else {
				b = binary.AppendUvarint(b, uint64(r.Count)<<1|1)
				b = binary.AppendUvarint(b, uint64(r.Attempt))
				b = binary.AppendUvarint(b, uint64(r.Epoch))
				att, epoch = r.Attempt, r.Epoch
			}
			next = r.First + r.Count
		}
	}
	return Locations(b)
}

var errLocations = errors.New("malformed map output locations")

// Sources unpacks l, checking that it names every map task in [0, nMap)
// exactly once, each source's ranges in ascending order.
func (l Locations) Sources(nMap int) ([]Source, error) {
	b := []byte(l)
	next := func() (int, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<40 {
			return 0, errLocations
		}
		b = b[n:]
		return int(v), nil
	}
	n, err := next()
	if err != nil {
		return nil, err
	}
	if n > len(b) {
		return nil, errLocations
	}
	seen := make([]uint64, (nMap+63)/64) // a bit per map task
	named := 0
	srcs := make([]Source, n)
	for i := range srcs {
		alen, err := next()
		if err != nil || alen > len(b) {
			return nil, errLocations
		}
		srcs[i].Addr, b = string(b[:alen]), b[alen:]
		nr, err := next()
		if err != nil || nr > len(b) {
			return nil, errLocations
		}
		srcs[i].Maps = make([]MapRange, nr)
		end, att, epoch := 0, 1, 0
		for j := range srcs[i].Maps {
			gap, err := next()
			if err != nil {
				return nil, err
			}
			count, err := next()
			if err != nil {
				return nil, err
			}
			if count&1 != 0 {
				if att, err = next(); err != nil {
					return nil, err
				}
				if epoch, err = next(); err != nil {
					return nil, err
				}
			}
			r := MapRange{First: end + gap, Count: count >> 1, Attempt: att, Epoch: epoch}
			if r.Count < 1 || r.First+r.Count > nMap {
				return nil, fmt.Errorf("%w: maps %d to %d of %d", errLocations, r.First, r.First+r.Count-1, nMap)
			}
			for m := r.First; m < r.First+r.Count; m++ {
				if seen[m/64]&(1<<(m%64)) != 0 {
					return nil, fmt.Errorf("%w: map %d named twice", errLocations, m)
				}
				seen[m/64] |= 1 << (m % 64)
			}
			named += r.Count
			srcs[i].Maps[j] = r
			end = r.First + r.Count
		}
	}
	if len(b) != 0 {
		return nil, errLocations
	}
	if named != nMap {
		for m := range nMap {
			if seen[m/64]&(1<<(m%64)) == 0 {
				return nil, fmt.Errorf("%w: they leave out map task %d", errLocations, m)
			}
		}
	}
	return srcs, nil
}
