package synth

import "time"

// timeHeap is a binary min-heap ordered by (time, insertion order): ties
// keep insertion order, which keeps output deterministic. It serves both
// the frames waiting for output and the actors waiting to step.
type timeHeap[T any] struct {
	h   []timed[T]
	seq uint64
}

// timed is one element of a timeHeap.
type timed[T any] struct {
	at  time.Duration
	seq uint64
	v   T
}

func (q *timeHeap[T]) Len() int { return len(q.h) }

// min is the earliest time in the heap; it must not be empty.
func (q *timeHeap[T]) min() time.Duration { return q.h[0].at }

func (q *timeHeap[T]) less(i, j int) bool {
	if q.h[i].at != q.h[j].at {
		return q.h[i].at < q.h[j].at
	}
	return q.h[i].seq < q.h[j].seq
}

// push sifts v into place at time at.
func (q *timeHeap[T]) push(at time.Duration, v T) {
	q.seq++
	q.h = append(q.h, timed[T]{at: at, seq: q.seq, v: v})
	for i := len(q.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// pop removes and returns the earliest element; the heap must not be empty.
func (q *timeHeap[T]) pop() timed[T] {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = timed[T]{}
	q.h = q.h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && q.less(l, m) {
			m = l
		}
		if r < n && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
	return top
}

// queue holds serialized frames waiting for their turn in the output, with
// a free list of frame buffers so that steady-state output does not
// allocate.
type queue struct {
	timeHeap[[]byte]
	free [][]byte
}

// push copies data (which the serializer will overwrite) into a recycled
// buffer and queues it at time at.
func (q *queue) push(at time.Duration, data []byte) {
	var buf []byte
	if n := len(q.free); n > 0 {
		buf, q.free = q.free[n-1][:0], q.free[:n-1]
	} else {
		buf = make([]byte, 0, 1600)
	}
	q.timeHeap.push(at, append(buf, data...))
}

func (q *queue) recycle(b []byte) { q.free = append(q.free, b) }

// Actor is one independent source of traffic (a client, a flow, a scanner)
// driven by the Scheduler. Step emits the packets of the actor's next event
// at now or later and returns when it wants to run next; done ends it.
type Actor interface {
	Step(b *Builder, now time.Duration) (next time.Duration, done bool)
}

// Scheduler runs many actors on one virtual clock and streams their packets:
// after each step it flushes every queued frame older than the earliest
// pending step, so memory stays bounded by the actors, not the capture.
// An actor must therefore never emit earlier than the time it was woken at.
type Scheduler struct {
	q timeHeap[Actor]
}

// Add schedules a's first step at time at. Actors may add other actors
// (a spawner starting flows) while the scheduler runs.
func (s *Scheduler) Add(at time.Duration, a Actor) { s.q.push(at, a) }

// Run steps actors in time order until none is left, the virtual clock
// passes end, or the builder's packet limit is reached, then flushes.
func (s *Scheduler) Run(b *Builder, end time.Duration) error {
	for s.q.Len() > 0 && !b.Full() {
		sl := s.q.pop()
		if sl.at > end {
			break
		}
		next, done := sl.v.Step(b, sl.at)
		if !done && next <= end {
			if next < sl.at {
				next = sl.at
			}
			s.Add(next, sl.v)
		}
		if s.q.Len() > 0 {
			if err := b.Flush(s.q.min()); err != nil {
				return err
			}
		}
	}
	return b.Close()
}
