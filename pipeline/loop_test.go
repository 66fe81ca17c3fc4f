package pipeline

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// tickSource yields n packets captured 1 ms apart and counts them in its
// input, as a live capture does.
type tickSource struct {
	n, i int
	t0   time.Time
	info dissect.InputInfo
	// asked counts the calls of Inputs: each is a copy the reader made.
	asked int
}

func (s *tickSource) Next(p *dissect.Packet) error {
	if s.i == s.n {
		return io.EOF
	}
	s.i++
	*p = dissect.Packet{Frame: uint64(s.i), Time: s.t0.Add(time.Duration(s.i) * time.Millisecond)}
	s.info.Packets++
	s.info.Undecoded = map[dissect.Undecoded]uint64{{}: uint64(s.i)} // a map the copy must clone
	return nil
}
func (s *tickSource) Inputs() []*dissect.InputInfo {
	s.asked++
	return []*dissect.InputInfo{&s.info}
}
func (s *tickSource) Close() error { return nil }

// TestEagerReaderCopiesInputsSparingly: an eager reader whose analyzer
// always waits tries to hand a partial batch over after every packet, but
// copies the inputs' descriptions into at most one batch per 20 ms of
// capture time (the copy cost 8% of a busy live capture's CPU when it was
// made for each), never hands the analyzer descriptions older than it
// has, and gives the last batch the final ones.
func TestEagerReaderCopiesInputsSparingly(t *testing.T) {
	const n = 3000 // 3 s of capture time
	src := &tickSource{n: n, t0: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	var waiting atomic.Bool
	waiting.Store(true)
	full, free := reader{src: src, eager: true, inputs: true, waiting: &waiting}.start(context.Background())
	var got, batches, fresh int
	var seen uint64 // the packets of the newest inputs handed over
	for b := range full {
		batches++
		got += b.n
		if b.fresh {
			fresh++
			in := b.inputs[0]
			if in.Packets < seen || in.Packets > uint64(got) {
				t.Fatalf("batch %d: fresh inputs count %d packets; the analyzer had seen %d in inputs and %d in batches", batches, in.Packets, seen, got)
			}
			if in.Undecoded[dissect.Undecoded{}] != in.Packets {
				t.Fatalf("batch %d: the inputs' map says %d, their count %d: not a copy of one moment", batches, in.Undecoded[dissect.Undecoded{}], in.Packets)
			}
			seen = in.Packets
		}
		if b.last {
			if !b.fresh || b.inputs[0].Packets != n {
				t.Errorf("last batch: fresh %v, inputs count %d packets; want fresh and %d", b.fresh, b.inputs[0].Packets, n)
			}
		}
		free <- b
	}
	if got != n {
		t.Fatalf("got %d packets; want %d", got, n)
	}
	// The reader tries to hand a partial batch over after every packet;
	// a copy for each try was the cost.
	if max := n/int(inputsEvery/time.Millisecond) + 2; src.asked > max || fresh > max {
		t.Errorf("the inputs were copied %d times, into %d of %d batches; want at most %d (one per %v of capture time, and the last)", src.asked, fresh, batches, max, inputsEvery)
	}
}

// paceSource is a tickSource that waits a little before each packet, like
// a live link, and returns io.EOF when ctx ends or its packets are out.
type paceSource struct {
	tickSource
	delay time.Duration
}

func (s *paceSource) Next(p *dissect.Packet) error {
	time.Sleep(s.delay)
	return s.tickSource.Next(p)
}

// TestSnapshotInputsNeverGoBack: the snapshots of a live runner report
// the inputs as the reader last copied them; a batch the reader handed
// over without a fresh copy must not take them back to an older one.
func TestSnapshotInputsNeverGoBack(t *testing.T) {
	cfg, _ := Options{}.Config()
	src := &paceSource{tickSource: tickSource{n: 1500, t0: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}, delay: 20 * time.Microsecond}
	r := NewRunner(src, cfg, "test")
	r.SetInterval(time.Millisecond)
	var last uint64
	snaps := 0
	for s := range r.Start(context.Background()) {
		snaps++
		if len(s.Report.Inputs) != 1 {
			continue // before the first copy
		}
		got := s.Report.Inputs[0].Packets
		if got < last {
			t.Fatalf("snapshot %d: the input counts %d packets; an earlier one counted %d", snaps, got, last)
		}
		last = got
		if s.Done && got != 1500 {
			t.Errorf("final snapshot: the input counts %d packets; want 1500", got)
		}
	}
	if snaps < 5 {
		t.Errorf("%d snapshots; want several while the packets arrive", snaps)
	}
}
