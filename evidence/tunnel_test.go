package evidence

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// TestRedactRefusesTunnelledPackets: a lab capture carried in VXLAN is
// analysed by its inner flows; the rewriter reaches only the outer
// headers, so a redacted evidence capture leaves those packets out, says
// so, and holds none of the inner addresses.
func TestRedactRefusesTunnelledPackets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vxlan.pcap")
	var frames []pcaptest.Frame
	for _, o := range readPcap(t, captures+"mixed-rejects/client.pcap") {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(203, 0, 113, 1), DstIP: net.IPv4(203, 0, 113, 2)}
		udp := &layers.UDP{SrcPort: 49152, DstPort: 4789}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		b := pcaptest.Serialize(t, &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, &layers.VXLAN{ValidIDFlag: true, VNI: 100}, gopacket.Payload(o.data))
		frames = append(frames, pcaptest.Frame{CI: gopacket.CaptureInfo{Timestamp: o.ts}, Data: b})
	}
	pcaptest.Write(t, path, layers.LinkTypeEthernet, frames)
	rep, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no findings in the tunnelled capture")
	}
	var inner []netip.Addr
	for _, h := range rep.Hosts {
		inner = append(inner, netip.MustParseAddr(h.Addr))
	}
	red := report.NewRedactor([]byte("k"))
	red.Apply(rep)
	out := filepath.Join(t.TempDir(), "ev.pcapng")
	st, err := WriteFile(out, rep, Options{Redactor: red, Payload: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(st.Warnings, "\n"), "inside a tunnel cannot be redacted") {
		t.Errorf("warnings %q; want the tunnelled packets named", st.Warnings)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range inner {
		if bytes.Contains(raw, a.AsSlice()) {
			t.Errorf("inner address %s in the redacted evidence", a)
		}
	}
}
