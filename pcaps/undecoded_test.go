package pcaps_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// TestUndecodedTrafficIsSaid: a capture of GRE carrying a protocol fwdiag
// does not follow used to read "OK: no problem found"; it now says that
// the packets inside were not decoded, how many and why, as a warning
// when they are most of the input.
func TestUndecodedTrafficIsSaid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gre.pcap")
	const n = 200
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	var frames []pcaptest.Frame
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{198, 51, 100, 1}, Id: uint16(i)}
		// GRE carrying EtherType 0x88B5 (local experimental): nothing
		// fwdiag follows.
		gre := &layers.GRE{Protocol: layers.EthernetType(0x88B5)}
		frames = append(frames, pcaptest.Frame{CI: gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond)},
			Data: pcaptest.Serialize(t, eth, ip, gre, gopacket.Payload(make([]byte, 64)))})
	}
	pcaptest.Write(t, path, layers.LinkTypeEthernet, frames)

	r, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var found *report.Finding
	for i := range r.Findings {
		if r.Findings[i].Kind == "capture_undecoded" {
			found = &r.Findings[i]
		}
	}
	if found == nil {
		t.Fatalf("no capture_undecoded finding; verdict %q", r.Summary.Verdict)
	}
	if found.Count != n || found.Severity != "warning" {
		t.Errorf("capture_undecoded count %d severity %s; want %d, warning", found.Count, found.Severity, n)
	}
	if r.Summary.Counts["warning"] == 0 {
		t.Errorf("verdict %q; want a warning, not OK", r.Summary.Verdict)
	}
}
