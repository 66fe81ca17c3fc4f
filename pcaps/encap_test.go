package pcaps_test

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// A lab capture whose frames come in a tunnel or another link layer must
// give the report of the capture itself. Before fwdiag read these, a
// capture of VXLAN, of NFLOG or of 802.11 said "OK: no problem found"
// whatever its packets showed.

// carryings turn an Ethernet frame into another link type's frame.
var carryings = []struct {
	name     string
	linkType layers.LinkType
	frame    func(t *testing.T, eth []byte) []byte
}{
	{"nflog", layers.LinkType(239), func(t *testing.T, eth []byte) []byte {
		// tcpdump -i nflog: the header (family, version, group), then
		// TLVs in the host's byte order, the packet (from IP on) last.
		fam := byte(3)
		switch binary.BigEndian.Uint16(eth[12:14]) {
		case 0x0800:
			fam = 2
		case 0x86DD:
			fam = 10
		}
		b := []byte{fam, 0, 0, 5}
		tlv := func(typ uint16, v []byte) {
			b = binary.LittleEndian.AppendUint16(b, uint16(4+len(v)))
			b = binary.LittleEndian.AppendUint16(b, typ)
			b = append(b, v...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
		}
		tlv(1, []byte{eth[12], eth[13], 1, 0})
		tlv(10, []byte("fwdiag test\x00"))
		tlv(9, eth[14:])
		return b
	}},
	{"radiotap_80211", layers.LinkTypeIEEE80211Radio, func(t *testing.T, eth []byte) []byte {
		// A radiotap header with flags (the frame ends with an FCS),
		// an 802.11 data frame from the access point, LLC/SNAP.
		rt := []byte{0, 0, 10, 0, 0x02, 0, 0, 0, 0x10, 0}
		hdr := []byte{0x08, 0x02, 0, 0}
		hdr = append(hdr, eth[0:6]...)
		hdr = append(hdr, 2, 0, 0, 0, 0, 9)
		hdr = append(hdr, eth[6:12]...)
		hdr = append(hdr, 0x10, 0)
		snap := []byte{0xAA, 0xAA, 0x03, 0, 0, 0, eth[12], eth[13]}
		f := append(append(append(rt, hdr...), snap...), eth[14:]...)
		return append(f, 0, 0, 0, 0)
	}},
	{"vxlan", layers.LinkTypeEthernet, func(t *testing.T, eth []byte) []byte {
		// By gopacket's layers: the frame in VXLAN between two VTEPs.
		buf := gopacket.NewSerializeBuffer()
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(203, 0, 113, 1), DstIP: net.IPv4(203, 0, 113, 2)}
		udp := &layers.UDP{SrcPort: 49152, DstPort: 4789}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
			ip, udp, &layers.VXLAN{ValidIDFlag: true, VNI: 100}, gopacket.Payload(eth))
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}},
}

// carry writes the capture at path with each frame carried as c does.
func carry(t *testing.T, path, out string, linkType layers.LinkType, frame func(*testing.T, []byte) []byte) bool {
	t.Helper()
	frames, link := pcaptest.Read(t, path)
	if link != layers.LinkTypeEthernet {
		return false
	}
	for i, f := range frames {
		if f.CI.CaptureLength < f.CI.Length {
			t.Fatalf("%s: a frame cut by the snap length: not handled here", path)
		}
		nf := frame(t, f.Data)
		frames[i].Data = nf
		frames[i].CI.CaptureLength, frames[i].CI.Length = len(nf), len(nf)
	}
	pcaptest.Write(t, out, linkType, frames)
	return true
}

// reportBody is a report's JSON without what names the input files.
func reportBody(t *testing.T, r *report.Report) string {
	t.Helper()
	c := *r
	c.Inputs, c.Errors = nil, nil
	b, err := json.MarshalIndent(&c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCarriedCapturesSameReport analyses every Ethernet lab capture and the
// same capture carried in NFLOG, in 802.11 behind radiotap, and in VXLAN:
// the reports are the same: verdict, findings, flows.
func TestCarriedCapturesSameReport(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("captures", "*", "*.pcap"))
	dir := t.TempDir()
	n := 0
	for _, path := range paths {
		exp := readExpect(t, filepath.Join(filepath.Dir(path), "expect.txt"))
		opts := options(t, exp.flags)
		orig, err := pipeline.AnalyzeFiles([]string{path}, opts, "test")
		if err != nil {
			t.Fatal(err)
		}
		want := reportBody(t, orig)
		for _, c := range carryings {
			out := filepath.Join(dir, c.name+".pcap")
			if !carry(t, path, out, c.linkType, c.frame) {
				break
			}
			r, err := pipeline.AnalyzeFiles([]string{out}, opts, "test")
			if err != nil {
				t.Fatal(err)
			}
			// Evidence names the input: the original's name for both.
			got := strings.ReplaceAll(reportBody(t, r), out, path)
			// Rows name their capture point by the file's name.
			got = strings.ReplaceAll(got, `"capture_point": "`+filepath.Base(out), `"capture_point": "`+filepath.Base(path))
			if got != want {
				t.Errorf("%s in %s: the report differs from the capture's own:\n%s", path, c.name, firstDiff(got, want))
			}
			if len(r.Errors) != 0 || r.Inputs[0].Packets != orig.Inputs[0].Packets {
				t.Errorf("%s in %s: errors %v, %d packets; want none, %d", path, c.name, r.Errors, r.Inputs[0].Packets, orig.Inputs[0].Packets)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d captures compared", n)
	}
}

// firstDiff shows where two texts part: the first differing line, with
// the lines before it.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			from := max(i-3, 0)
			return strings.Join(w[from:i], "\n") + "\n got: " + g[i] + "\nwant: " + w[i]
		}
	}
	return "lengths differ"
}
