package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/report"
)

// DefaultSnapshotInterval is how often a Runner publishes a report while it
// reads: a few times a second is enough to watch a diagnosis form, and rare
// enough that building the report costs the capture little.
const DefaultSnapshotInterval = 250 * time.Millisecond

// heartbeat is the longest time without a snapshot while nothing arrives.
const heartbeat = time.Second

// buildShare bounds the analysis goroutine's time spent building snapshots:
// after a build that took d, the next snapshot waits at least buildShare*d.
// Building a report walks every flow (on a 2M-packet capture, Result plus
// Build takes about 150 ms: BenchmarkSnapshotBuild); at a fixed 250 ms
// interval that would leave the packets little more than a third of the
// time, and a live capture would drop.
const buildShare = 4

// Snapshot is one published state of a running analysis. The Report is
// freshly built for each snapshot and never modified afterwards, so the
// receiver may keep it and hand it to other goroutines.
type Snapshot struct {
	Report  *report.Report
	Packets uint64        // packets analysed so far
	Rate    float64       // packets per second of wall time since the previous snapshot
	Drops   int64         // packets the kernel dropped (live capture); -1 when unknown
	Elapsed time.Duration // wall time since the runner started
	// Build is how long building this snapshot's report took; the next
	// snapshot comes no sooner than buildShare times that.
	Build time.Duration
	// Done is true for the last snapshot: the source ended, failed or was
	// cancelled. Err holds the error that ended it, if any (never io.EOF
	// or a cancellation).
	Done bool
	Err  error
}

// Runner reads a Source in its own goroutine, feeds an Analyzer and
// publishes report snapshots. The Analyzer is used by one goroutine only
// (the runner's analysis loop); the source by another (the reader), so a
// source that blocks, as a live capture does between packets, never delays
// a snapshot.
type Runner struct {
	// Immutable after NewRunner.
	src      dissect.Source
	an       *flows.Analyzer
	version  string
	interval time.Duration
	now      func() time.Time
	// build makes a snapshot's report; tests replace it with a slow one.
	build func(inputs []*dissect.InputInfo) *report.Report

	// paused suppresses publishing (analysis goes on, so nothing is lost).
	paused atomic.Bool
	// waiting is true while the analysis waits for a batch (reader.waiting).
	waiting atomic.Bool

	// firewalls and fixOpts are the devices and names the fixes are
	// written for (SetFirewalls).
	firewalls []fix.Firewall
	fixOpts   fix.Options
}

// NewRunner returns a runner that analyses src with cfg. version is written
// into the reports.
func NewRunner(src dissect.Source, cfg flows.Config, version string) *Runner {
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	r := &Runner{src: src, an: flows.New(cfg), version: version, interval: DefaultSnapshotInterval, now: time.Now}
	r.build = func(inputs []*dissect.InputInfo) *report.Report {
		return report.BuildWith(diagnose.Run(r.an.View(), ev, inputs), inputs, report.Options{Version: r.version, Firewalls: r.firewalls, Fix: r.fixOpts})
	}
	return r
}

// SetFirewalls has the snapshots' fixes written for fws (nil: the
// profile's device) with o; call it before Start.
func (r *Runner) SetFirewalls(fws []fix.Firewall, o fix.Options) {
	r.firewalls, r.fixOpts = fws, o
}

// SetInterval changes the publishing interval; call it before Start. It is
// the shortest interval: when building a report is slow, snapshots come
// less often (see buildShare).
func (r *Runner) SetInterval(d time.Duration) {
	if d > 0 {
		r.interval = d
	}
}

// SetPaused stops (true) or resumes (false) publishing intermediate
// snapshots. The analysis keeps running while paused and the final snapshot
// is always published.
func (r *Runner) SetPaused(p bool) { r.paused.Store(p) }

// Paused reports whether publishing is paused.
func (r *Runner) Paused() bool { return r.paused.Load() }

// Start runs the analysis until the source ends or ctx is cancelled, and
// returns the channel of snapshots. The channel holds at most one snapshot:
// when the receiver is slow, an unread snapshot is replaced by the newer
// one, so a slow UI never holds up the capture. The last snapshot (Done
// true) is always delivered, then the channel is closed. Cancelling ctx ends
// the reading cleanly: the packets read so far are analysed and reported.
// The source is closed when reading ends.
func (r *Runner) Start(ctx context.Context) <-chan Snapshot {
	out := make(chan Snapshot, 1)
	full, free := reader{src: r.src, eager: true, inputs: true, closeSrc: true, waiting: &r.waiting}.start(ctx)
	go r.analyse(full, free, out)
	return out
}

// analyse is the analysis goroutine: it owns the analyzer.
func (r *Runner) analyse(batches <-chan *batch, free chan<- *batch, out chan Snapshot) {
	defer close(out)
	start := r.now()
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	period := r.interval // the ticker's period, adapted to the build time
	var (
		inputs     []dissect.InputInfo
		packets    uint64
		lastPkts   uint64
		lastTime   = start
		dirty      = true
		endErr     error
		publish    func(done bool)
		inputPtrs  []*dissect.InputInfo
		sinceStart = func() time.Duration { return r.now().Sub(start) }
	)
	publish = func(done bool) {
		inputPtrs = inputPtrs[:0]
		var drops int64 = -1
		for i := range inputs {
			inputPtrs = append(inputPtrs, &inputs[i])
			if inputs[i].Drops >= 0 {
				drops = max(drops, 0) + inputs[i].Drops
			}
		}
		t := r.now()
		rate := 0.0
		if dt := t.Sub(lastTime).Seconds(); dt > 0 {
			rate = float64(packets-lastPkts) / dt
		}
		lastPkts, lastTime = packets, t
		// The cost is measured on the wall clock whatever r.now says: it
		// is time taken from the packets.
		t0 := time.Now()
		if done {
			r.an.Finish() // the capture is over, as analyze's is
		}
		rep := r.build(inputPtrs)
		cost := time.Since(t0)
		s := Snapshot{
			Report:  rep,
			Packets: packets, Rate: rate, Drops: drops, Elapsed: sinceStart(), Build: cost, Done: done, Err: endErr,
		}
		if next := max(r.interval, buildShare*cost); !done && next != period {
			// Slow builds space the snapshots out (and space them back
			// when the builds get quick again), so the packets keep most
			// of this goroutine.
			period = next
			tick.Reset(period)
		}
		if done {
			// The last snapshot must arrive: drop an unread older one.
			select {
			case <-out:
			default:
			}
			out <- s
			return
		}
		select {
		case out <- s:
		default:
			// Replace the unread snapshot with this newer one.
			select {
			case <-out:
			default:
			}
			select {
			case out <- s:
			default:
			}
		}
	}
	for {
		r.waiting.Store(true)
		select {
		case b, ok := <-batches:
			r.waiting.Store(false)
			if !ok {
				publish(true)
				return
			}
			b.apply(r.an)
			packets += uint64(b.n)
			dirty = dirty || b.n > 0
			if b.fresh {
				inputs = append(inputs[:0], b.inputs...)
			}
			if b.last {
				endErr = b.err
				publish(true)
				return
			}
			free <- b
		case <-tick.C:
			r.waiting.Store(false)
			// A quiet link still gets a snapshot now and then, so elapsed
			// time and the rate (falling to zero) stay current.
			if (dirty || r.now().Sub(lastTime) >= heartbeat) && !r.paused.Load() {
				publish(false)
				dirty = false
			}
		}
	}
}
