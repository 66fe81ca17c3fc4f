package pipeline

import (
	"context"
	"errors"
	"io"
	"maps"
	"sync/atomic"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
)

// The one read -> analyze loop that analyze, tui and live share: a reader
// goroutine owns the source and fills batches of decoded packets; the
// goroutine that owns the analyzer applies them in order. The analyzer
// sees exactly the sequence one goroutine would give it, so the report is
// the same either way (TestParallelRunMatchesSerial), while the read
// system calls and header parsing overlap the flow engine on the second
// core.

// batchSize is how many packets a batch carries between the goroutines.
const batchSize = 4096

// inFlight is how many batches circulate between the two goroutines.
const inFlight = 3

// payloadHead is how much of each payload crosses to the analyzer: the flow
// engine reads payload only to recognise a service's greeting (SPEC §4
// hints) and to fingerprint packets across capture points, which fit in
// the first bytes.
const payloadHead = 32

// batch is a run of decoded packets with copies of their payload heads (the
// source's buffer is reused by the next read), the inputs' descriptions as
// the reader saw them when it handed the batch over (when asked for), and
// how the source ended.
type batch struct {
	pkts [batchSize]dissect.Packet
	// keys are the packets' flow keys as far as the packet alone decides
	// them (flows.Prepare), worked out by the reader: the analyzing
	// goroutine is the slower of the two on a busy site, the more so with
	// scanners in it.
	keys [batchSize]flows.KeyPrep
	// keyed says keys are worked out for this batch: only while the
	// analyzer is the slower side (the reader waited for a free batch);
	// when the reader is, the work stays where it was.
	keyed bool
	arena [batchSize * payloadHead]byte
	n     int
	// inputs are copies, so the analysis side never reads InputInfo while
	// the source updates it. fresh says they were copied for this
	// hand-over; a stale batch's are older than the analyzer's.
	inputs []dissect.InputInfo
	fresh  bool
	err    error // the error that ended the source (not io.EOF, not a cancellation)
	last   bool  // the source ended: no batch follows
}

// reader fills batches from a source.
type reader struct {
	src dissect.Source
	// eager hands a partial batch over as soon as the analyzer waits, so a
	// quiet live link shows each packet without delay; a file is read in
	// whole batches.
	eager bool
	// inputs copies the inputs' descriptions into every batch (snapshots
	// report them as they grow).
	inputs bool
	// waiting, with eager, is set by the analyzer while it waits for a
	// batch: only then does the reader copy the inputs and try to hand a
	// partial batch over, not after every packet.
	waiting *atomic.Bool
	// closeSrc closes the source when reading ends.
	closeSrc bool
}

// inputsEvery is how often, at most, an eager reader copies the inputs'
// descriptions into a partial batch. Under load the analyzer waits after
// nearly every small batch, and a copy each time (the slices and maps
// cloned) took 8% of a live capture's CPU at 430k packets/s; the
// snapshots that read them come every 250 ms or more, and a full or last
// batch always carries a fresh copy.
const inputsEvery = 20 * time.Millisecond

// start runs the reader on its own goroutine and returns the channel of
// filled batches (closed after the last) and the channel the consumer
// returns them on. Cancelling ctx ends the reading after the packet in hand.
func (rd reader) start(ctx context.Context) (full <-chan *batch, free chan<- *batch) {
	// Live (eager): unbuffered, so a send succeeds only when the analyzer
	// waits. A file: buffered, so the reader goes on into the free batch
	// while the analyzer is still busy with the one before, instead of
	// waiting for it at every hand-over (each side then sleeps and wakes
	// less, which costs tens of microseconds a time on a virtual machine).
	var fullC chan *batch
	if rd.eager {
		fullC = make(chan *batch)
	} else {
		fullC = make(chan *batch, inFlight)
	}
	freeC := make(chan *batch, inFlight)
	for i := 0; i < inFlight; i++ {
		freeC <- &batch{}
	}
	go rd.read(ctx, fullC, freeC)
	return fullC, freeC
}

func (rd reader) read(ctx context.Context, full chan<- *batch, free chan *batch) {
	defer close(full)
	if rd.closeSrc {
		defer rd.src.Close()
	}
	b := rd.take(free)
	var copied time.Time // the capture time of the packet after which the inputs were last copied
	for {
		if ctx.Err() != nil {
			break
		}
		p := &b.pkts[b.n] // Next sets every field (the Source contract): no reset
		err := rd.src.Next(p)
		if err == io.EOF {
			break
		}
		if err != nil {
			var fe *dissect.FrameError
			if errors.As(err, &fe) && !fe.Fatal {
				continue // damaged frame: recorded by the source, skipped
			}
			if ctx.Err() == nil {
				b.err = err
			}
			break
		}
		h := b.arena[b.n*payloadHead : b.n*payloadHead+payloadHead]
		p.Payload = h[:copy(h, p.Payload)]
		if b.keyed {
			flows.Prepare(p, &b.keys[b.n])
		}
		b.n++
		if b.n == batchSize {
			rd.hand(b, full)
			b = rd.take(free)
			continue
		}
		if rd.eager && (rd.waiting == nil || rd.waiting.Load()) {
			if rd.inputs {
				// The packet's capture time stands for the clock, which
				// costs as much to read as the copy.
				if d := p.Time.Sub(copied); d >= inputsEvery || d < 0 {
					b.inputs, b.fresh, copied = copyInputs(b.inputs, rd.src.Inputs()), true, p.Time
				}
			}
			select {
			case full <- b:
				b = rd.take(free)
			default:
			}
		}
	}
	b.last = true
	rd.hand(b, full)
}

// take returns an empty batch from the pool. A batch that was not free
// at once means the analyzer is the slower side: the reader then works
// out the flow keys of the next batch for it (batch.keyed).
func (rd reader) take(free chan *batch) *batch {
	var b *batch
	keyed := false
	select {
	case b = <-free:
	default:
		b, keyed = <-free, true
	}
	b.n, b.err, b.last, b.keyed, b.fresh = 0, nil, false, keyed || keyAlways, false
	return b
}

// keyAlways makes the reader work out every batch's keys (tests: the
// report must not depend on which side did).
var keyAlways bool

// hand gives a batch to the analyzer: into the channel's buffer (a file),
// or waiting until the analyzer takes it (live).
func (rd reader) hand(b *batch, full chan<- *batch) {
	if rd.inputs {
		b.inputs, b.fresh = copyInputs(b.inputs, rd.src.Inputs()), true
	}
	full <- b
}

// copyInputs copies the inputs' descriptions into dst, cloning the slices
// the source may still append to.
func copyInputs(dst []dissect.InputInfo, src []*dissect.InputInfo) []dissect.InputInfo {
	dst = dst[:0]
	for _, in := range src {
		c := *in
		c.LinkTypes = append([]string(nil), in.LinkTypes...)
		c.Errors = append([]*dissect.FrameError(nil), in.Errors...)
		c.Interfaces = append([]dissect.Interface(nil), in.Interfaces...)
		c.Undecoded = maps.Clone(in.Undecoded)
		dst = append(dst, c)
	}
	return dst
}

// apply feeds a batch's packets to the analyzer.
func (b *batch) apply(an *flows.Analyzer) {
	if !b.keyed {
		for i := 0; i < b.n; i++ {
			an.Add(&b.pkts[i])
		}
		return
	}
	for i := 0; i < b.n; i++ {
		an.AddPrepared(&b.pkts[i], &b.keys[i])
	}
}

// Run reads src to its end into an analyzer (on this goroutine; the reading
// and decoding on another). Damaged frames are recorded by the source and
// skipped; the error that ended the source early is returned.
func Run(src dissect.Source, an *flows.Analyzer) error {
	full, free := reader{src: src}.start(context.Background())
	var err error
	for b := range full {
		b.apply(an)
		if b.last {
			err = b.err
		}
		free <- b
	}
	return err
}
