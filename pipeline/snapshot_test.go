package pipeline

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pcaps/synth"
	"github.com/fwdiag/fwdiag/report"
)

const labCapture = "../pcaps/captures/npa-blocked/client.pcap"

func TestRunnerFinalSnapshotMatchesAnalyzeFiles(t *testing.T) {
	want, err := AnalyzeFiles([]string{labCapture}, Options{}, "test")
	if err != nil {
		t.Skipf("lab capture: %v", err)
	}
	cfg, _ := Options{}.Config()
	src, err := OpenFiles([]string{labCapture})
	if err != nil {
		t.Fatal(err)
	}
	var last Snapshot
	n := 0
	for s := range NewRunner(src, cfg, "test").Start(context.Background()) {
		last = s
		n++
	}
	if !last.Done || last.Err != nil {
		t.Fatalf("got last snapshot done %v err %v; want done, no error", last.Done, last.Err)
	}
	if last.Packets != want.Summary.Packets || len(last.Report.Findings) != len(want.Findings) {
		t.Errorf("got %d packets, %d findings; want %d, %d", last.Packets, len(last.Report.Findings), want.Summary.Packets, len(want.Findings))
	}
	if last.Report.Summary.Verdict != want.Summary.Verdict {
		t.Errorf("got verdict %q; want %q", last.Report.Summary.Verdict, want.Summary.Verdict)
	}
	if n > 3 {
		t.Errorf("got %d snapshots for a small file; want the final one and few others", n)
	}
}

// slowSource yields the packets of a file with a pause before each, like a
// quiet live link, and blocks at the end until its context is cancelled.
type slowSource struct {
	dissect.Source
	ctx   context.Context
	delay time.Duration
}

func (s *slowSource) Next(p *dissect.Packet) error {
	select {
	case <-s.ctx.Done():
		return io.EOF
	case <-time.After(s.delay):
	}
	err := s.Source.Next(p)
	if err == io.EOF {
		<-s.ctx.Done()
	}
	return err
}

func TestRunnerPublishesWhileReadingAndStopsOnCancel(t *testing.T) {
	cfg, _ := Options{}.Config()
	inner, err := OpenFiles([]string{labCapture})
	if err != nil {
		t.Skipf("lab capture: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRunner(&slowSource{Source: inner, ctx: ctx, delay: 2 * time.Millisecond}, cfg, "test")
	r.SetInterval(20 * time.Millisecond)
	snaps := r.Start(ctx)
	var mid []uint64
	deadline := time.After(10 * time.Second)
	for len(mid) < 3 {
		select {
		case s := <-snaps:
			if s.Done {
				t.Fatal("runner finished before cancel")
			}
			mid = append(mid, s.Packets)
		case <-deadline:
			t.Fatal("no intermediate snapshots")
		}
	}
	// Paused: no intermediate snapshot arrives.
	r.SetPaused(true)
	select {
	case <-snaps: // one may have been in the channel already
	default:
	}
	select {
	case s := <-snaps:
		t.Errorf("got a snapshot (%d packets) while paused", s.Packets)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	var last Snapshot
	for s := range snaps {
		last = s
	}
	if !last.Done || last.Err != nil || last.Packets < mid[len(mid)-1] {
		t.Errorf("final snapshot: done %v err %v packets %d; want done, no error, >= %d", last.Done, last.Err, last.Packets, mid[len(mid)-1])
	}
	if last.Report == nil || last.Rate < 0 {
		t.Errorf("final snapshot has no report")
	}
}

// loopSource yields the packets of a file over and over, with a pause
// before each, like a busy live link, until its context is cancelled.
type loopSource struct {
	dissect.Source
	ctx   context.Context
	path  string
	delay time.Duration
}

func (s *loopSource) Next(p *dissect.Packet) error {
	for {
		select {
		case <-s.ctx.Done():
			return io.EOF
		case <-time.After(s.delay):
		}
		err := s.Source.Next(p)
		if err != io.EOF {
			return err
		}
		s.Source.Close()
		if s.Source, err = OpenFiles([]string{s.path}); err != nil {
			return err
		}
	}
}

// TestRunnerSpacesSnapshotsWhenBuildIsSlow gives the runner a report build
// that takes 40 ms and a 10 ms interval while packets keep arriving: the
// snapshots must come at least 4 builds apart (160 ms), not every 50 ms, so
// the analysis goroutine spends at most a fifth of its time building; and
// once builds are quick again the interval comes back.
func TestRunnerSpacesSnapshotsWhenBuildIsSlow(t *testing.T) {
	cfg, _ := Options{}.Config()
	inner, err := OpenFiles([]string{labCapture})
	if err != nil {
		t.Skipf("lab capture: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRunner(&loopSource{Source: inner, ctx: ctx, path: labCapture, delay: 500 * time.Microsecond}, cfg, "test")
	r.SetInterval(10 * time.Millisecond)
	const slow = 40 * time.Millisecond
	var slowBuilds atomic.Bool
	slowBuilds.Store(true)
	realBuild := r.build
	r.build = func(in []*dissect.InputInfo) *report.Report {
		if slowBuilds.Load() {
			time.Sleep(slow)
		}
		return realBuild(in)
	}
	snaps := r.Start(ctx)
	// gaps returns the times between n+1 snapshots.
	gaps := func(n int) []time.Duration {
		var out []time.Duration
		var last time.Time
		deadline := time.After(10 * time.Second)
		for len(out) < n {
			select {
			case s := <-snaps:
				if s.Done {
					t.Fatal("runner finished before cancel")
				}
				now := time.Now()
				if !last.IsZero() {
					out = append(out, now.Sub(last))
				}
				last = now
			case <-deadline:
				t.Fatalf("got %d snapshots in 10 s", len(out))
			}
		}
		return out
	}
	<-snaps // the first snapshot comes after the first (slow) build
	got := gaps(5)
	for _, g := range got {
		if g < buildShare*slow*9/10 {
			t.Errorf("snapshot gaps %v with %v builds; want each >= %v", got, slow, buildShare*slow)
			break
		}
	}
	slowBuilds.Store(false)
	gaps(2) // let a quick build reset the interval
	got = gaps(5)
	var sum time.Duration
	for _, g := range got {
		sum += g
	}
	if avg := sum / time.Duration(len(got)); avg > 60*time.Millisecond {
		t.Errorf("snapshot gaps %v once builds are quick; want about the 10 ms interval", got)
	}
	cancel()
	for range snaps {
	}
}

// benchCapture is the big capture the snapshot cost is measured on; make it
// with: go run ./pcaps/synth/cmd/fwgen -scenario volume -packets 2000000 -o /tmp/fwdiag-bench/volume-2000000.pcap
const benchCapture = "/tmp/fwdiag-bench/volume-2000000.pcap"

// BenchmarkSnapshotBuild measures what one snapshot costs the analysis
// goroutine once a big capture has been read: Analyzer.View, diagnose.Run
// and report.Build. Run it with
//
//	go test ./pipeline -run '^$' -bench SnapshotBuild -benchtime 10x
func BenchmarkSnapshotBuild(b *testing.B) {
	src, err := OpenFiles([]string{benchCapture})
	if err != nil {
		b.Skipf("big capture: %v", err)
	}
	cfg, _ := Options{}.Config()
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	an := flows.New(cfg)
	t0 := time.Now()
	if err := Run(src, an); err != nil {
		b.Fatal(err)
	}
	inputs := src.Inputs()
	b.Logf("read %d packets in %v", inputs[0].Packets, time.Since(t0))
	src.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := report.Build(diagnose.Run(an.View(), ev, inputs), inputs, "bench")
		if r == nil {
			b.Fatal("no report")
		}
	}
}

// TestNoLiveScanAttemptsListed: a scan's failed attempts are summarised in
// its syn_scan finding, not listed as flows, also those still live when
// the capture ends (flows.Analyzer.Finish), both by AnalyzeFiles and in a
// runner's last snapshot: only answered attempts and those too young to
// have been answered are listed. The capture: a busy site's ten minutes
// with a scanner sweeping 100 hosts x 200 ports (pcaps/synth), enough
// attempts to fill the live table, so that the scanner is known early.
func TestNoLiveScanAttemptsListed(t *testing.T) {
	o := synth.BusySiteOptions()
	o.SWClients, o.K2Clients, o.Flows, o.ScanHosts, o.Duration = 20, 20, 10, 100, 10*time.Minute
	path := pcaptest.Synth(t, "busysite", o)
	const scanner = "10.99.0.10"
	check := func(name string, r *report.Report) {
		t.Helper()
		scans, failed, young := 0, 0, 0
		for _, f := range r.Findings {
			if f.Kind == diagnose.SynScan && f.Client == scanner && f.Count > 15000 {
				scans++
			}
		}
		for _, f := range r.TCPFlows {
			if f.Client != scanner || f.ConnState != "REJ" && f.ConnState != "S0" {
				continue
			}
			failed++
			if r.Summary.End.Sub(f.First) < flows.EvictAge && f.ConnState == "S0" {
				young++
			}
		}
		if scans != 1 || failed != young || failed > 100 {
			t.Errorf("%s: %d syn_scan findings of %s over 15000 attempts; %d of its failed attempts listed, %d of them young; want 1, none but a few young ones", name, scans, scanner, failed, young)
		}
	}
	want, err := AnalyzeFiles([]string{path}, Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	check("AnalyzeFiles", want)
	cfg, _ := Options{}.Config()
	src, err := OpenFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	var last Snapshot
	for s := range NewRunner(src, cfg, "test").Start(context.Background()) {
		last = s
	}
	check("the last snapshot", last.Report)
	if len(last.Report.TCPFlows) != len(want.TCPFlows) || last.Report.TCPFlowsOmitted != want.TCPFlowsOmitted {
		t.Errorf("the last snapshot lists %d TCP flows, %d omitted; AnalyzeFiles %d, %d", len(last.Report.TCPFlows), last.Report.TCPFlowsOmitted, len(want.TCPFlows), want.TCPFlowsOmitted)
	}
}
