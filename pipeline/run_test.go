package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/report"
)

// serialRun is the one-goroutine loop that Run replaces.
func serialRun(src dissect.Source, an *flows.Analyzer) {
	var p dissect.Packet
	for {
		p.Reset()
		err := src.Next(&p)
		if err == io.EOF {
			return
		}
		var fe *dissect.FrameError
		if err != nil && !(errors.As(err, &fe) && !fe.Fatal) {
			return
		}
		if err == nil {
			an.Add(&p)
		}
	}
}

func reportOf(t *testing.T, paths []string, parallel bool) []byte {
	t.Helper()
	cfg, err := Options{}.Config()
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	an := flows.New(cfg)
	if parallel {
		if err := Run(src, an); err != nil {
			t.Fatal(err)
		}
	} else {
		serialRun(src, an)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(report.Build(diagnose.Run(an.View(), ev, src.Inputs()), src.Inputs(), "t")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestParallelRunMatchesSerial: the report is byte-identical whether the
// reader runs on its own goroutine or not, and whether it works out the
// flow keys or the analyzer does, on captures of many batches.
func TestParallelRunMatchesSerial(t *testing.T) {
	for _, paths := range [][]string{
		{"../pcaps/captures/healthy/firewall.pcap"},
		{"../pcaps/captures/mixed-rejects/client.pcap", "../pcaps/captures/mixed-rejects/server.pcap"},
		{"../pcaps/captures/synth-npa-idle-2h/capture.pcap"},
	} {
		a, b := reportOf(t, paths, true), reportOf(t, paths, false)
		if len(a) < 1000 {
			t.Fatalf("%v: report too small to compare (%d bytes)", paths, len(a))
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%v: parallel and serial reports differ", paths)
		}
		// The flow keys worked out by the reader (flows.Prepare), as
		// when the analyzer is the slower side, give the same report.
		keyAlways = true
		c := reportOf(t, paths, true)
		keyAlways = false
		if !bytes.Equal(c, b) {
			t.Errorf("%v: with the keys prepared by the reader, the report differs", paths)
		}
	}
}

// BenchmarkRun measures the whole pipeline on the npa-idle-2h capture read
// from the page cache: read, decode, flows.
func BenchmarkRun(b *testing.B) {
	cfg, _ := Options{}.Config()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src, err := OpenFiles([]string{"../pcaps/captures/healthy/firewall.pcap"})
		if err != nil {
			b.Fatal(err)
		}
		if err := Run(src, flows.New(cfg)); err != nil {
			b.Fatal(err)
		}
		src.Close()
	}
}

// BenchmarkRunner measures the snapshot Runner (the TUI's and live's
// loop: eager hand-over, inputs copied into batches) over the same
// capture; its allocations per run show what the reader spends on
// hand-overs.
func BenchmarkRunner(b *testing.B) {
	cfg, _ := Options{}.Config()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src, err := OpenFiles([]string{"../pcaps/captures/healthy/firewall.pcap"})
		if err != nil {
			b.Fatal(err)
		}
		r := NewRunner(src, cfg, "bench")
		r.SetInterval(time.Hour) // the final snapshot only
		for range r.Start(context.Background()) {
		}
	}
}
