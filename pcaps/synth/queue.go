package synth

import "time"

// pending is one serialized frame waiting for its turn in the output.
type pending struct {
	at   time.Duration
	seq  uint64
	data []byte
}

// queue is a binary min-heap of frames ordered by (time, emission order),
// with a free list of frame buffers so that steady-state output does not
// allocate. Ties keep emission order, which keeps output deterministic.
type queue struct {
	h    []pending
	free [][]byte
	seq  uint64
}

func (q *queue) Len() int { return len(q.h) }

func (q *queue) min() time.Duration { return q.h[0].at }

func (q *queue) less(i, j int) bool {
	if q.h[i].at != q.h[j].at {
		return q.h[i].at < q.h[j].at
	}
	return q.h[i].seq < q.h[j].seq
}

// push copies data (which the serializer will overwrite) into a recycled
// buffer and sifts it into place.
func (q *queue) push(at time.Duration, data []byte) {
	var buf []byte
	if n := len(q.free); n > 0 {
		buf, q.free = q.free[n-1][:0], q.free[:n-1]
	} else {
		buf = make([]byte, 0, 1600)
	}
	q.seq++
	q.h = append(q.h, pending{at: at, seq: q.seq, data: append(buf, data...)})
	for i := len(q.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

// pop removes and returns the earliest frame; the caller hands its buffer
// back with recycle once written.
func (q *queue) pop() pending {
	top := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = pending{}
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
	h   []slot
	seq uint64
}

type slot struct {
	at  time.Duration
	seq uint64
	a   Actor
}

func (s *Scheduler) less(i, j int) bool {
	if s.h[i].at != s.h[j].at {
		return s.h[i].at < s.h[j].at
	}
	return s.h[i].seq < s.h[j].seq
}

// Add schedules a's first step at time at. Actors may add other actors
// (a spawner starting flows) while the scheduler runs.
func (s *Scheduler) Add(at time.Duration, a Actor) {
	s.seq++
	s.h = append(s.h, slot{at: at, seq: s.seq, a: a})
	for i := len(s.h) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s.h[i], s.h[p] = s.h[p], s.h[i]
		i = p
	}
}

func (s *Scheduler) pop() slot {
	top := s.h[0]
	n := len(s.h) - 1
	s.h[0] = s.h[n]
	s.h[n] = slot{}
	s.h = s.h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s.h[i], s.h[m] = s.h[m], s.h[i]
		i = m
	}
	return top
}

// Run steps actors in time order until none is left, the virtual clock
// passes end, or the builder's packet limit is reached, then flushes.
func (s *Scheduler) Run(b *Builder, end time.Duration) error {
	for len(s.h) > 0 && !b.Full() {
		sl := s.pop()
		if sl.at > end {
			break
		}
		next, done := sl.a.Step(b, sl.at)
		if !done && next <= end {
			if next < sl.at {
				next = sl.at
			}
			s.Add(next, sl.a)
		}
		if len(s.h) > 0 {
			if err := b.Flush(s.h[0].at); err != nil {
				return err
			}
		}
	}
	return b.Close()
}
