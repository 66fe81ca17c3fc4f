package pipeline

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/report"
)

// FuzzAnalyze runs the whole analyze path (read, decode, flows, report,
// JSON and text) on arbitrary bytes: it must end in a report or an error,
// never a panic or a hang. Seeded from the lab captures.
func FuzzAnalyze(f *testing.F) {
	// The first 4 KB of each capture: a header and a few dozen packets.
	// Go's fuzzer mutates large inputs slowly, and the flow logic is
	// reached within the first packets.
	seeds, _ := filepath.Glob("../pcaps/captures/*/client.pcap")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b[:min(len(b), 4096)])
		}
	}
	cfg, err := Options{}.Config()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := dissect.NewReader(bytes.NewReader(data), "fuzz.pcap", 0)
		if err != nil {
			return
		}
		r, err := AnalyzeSource(src, cfg, "fuzz")
		if err != nil {
			return
		}
		if err := report.WriteJSON(io.Discard, r); err != nil {
			t.Fatalf("JSON: %v", err)
		}
		if err := report.WriteText(io.Discard, r); err != nil {
			t.Fatalf("text: %v", err)
		}
	})
}
