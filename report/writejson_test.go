package report_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pcaps/synth"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// TestWriteJSONIsTheEncoders: WriteJSON writes its long listings on their
// own goroutines and splices them in; the bytes must be exactly those
// json.Encoder with SetIndent("", "  ") writes, on a real analysis with
// hundreds of hosts, sessions and flows (the spliced path), with some of
// the listings empty or nil, and on a small report (the one-pass path).
func TestWriteJSONIsTheEncoders(t *testing.T) {
	o := synth.BusySiteOptions()
	o.SWClients, o.K2Clients, o.Flows, o.ScanHosts = 150, 300, 200, 12
	o.Duration = 10 * time.Minute
	path := pcaptest.Synth(t, "busysite", o)
	r, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hosts) < 256 || len(r.TCPFlows) < 256 || len(r.UDPFlows) == 0 || len(r.NPASessions) == 0 {
		t.Fatalf("the capture is too small to take the spliced path: %d hosts, %d tcp, %d udp flows, %d sessions",
			len(r.Hosts), len(r.TCPFlows), len(r.UDPFlows), len(r.NPASessions))
	}
	// Strings JSON escapes, in a listing and out of one.
	r.Hosts[0].Name = `<script>&"é` + "\u2028\t"
	r.Errors = append(r.Errors, `a "quoted" <error> & more`)

	same := func(name string, r *report.Report) {
		t.Helper()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := report.WriteJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			i := 0
			for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
				i++
			}
			t.Errorf("%s: WriteJSON differs from json.Encoder at byte %d of %d/%d: got %q, want %q", name, i, got.Len(), want.Len(),
				got.Bytes()[max(0, i-40):min(got.Len(), i+40)], want.Bytes()[max(0, i-40):min(want.Len(), i+40)])
		}
	}
	same("whole", r)
	c := *r
	c.UDPFlows = nil
	c.NPASessions = c.NPASessions[:0]
	same("nil udp_flows, empty npa_sessions", &c)
	c = *r
	c.Hosts, c.TCPFlows = c.Hosts[:3], c.TCPFlows[:2]
	c.UDPFlows, c.NPASessions = nil, nil
	same("small", &c)
}
