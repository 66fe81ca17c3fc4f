package evidence

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/report"
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB = net.HardwareAddr{0x00, 0x66, 0x77, 0x88, 0x99, 0xAA}
)

func udp4(t *testing.T, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{192, 0, 2, 10}, DstIP: net.IP{198, 51, 100, 20}}
	u := &layers.UDP{SrcPort: 40000, DstPort: 19283}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload(payload))
}

// check decodes b and compares its checksums with those gopacket computes
// for the same headers.
func checkSums(t *testing.T, b []byte) {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	var ls []gopacket.SerializableLayer
	var got []uint16
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			ls = append(ls, l)
		case *layers.IPv4:
			got = append(got, l.Checksum)
			ls = append(ls, l)
		case *layers.IPv6:
			ls = append(ls, l)
		case *layers.TCP:
			got = append(got, l.Checksum)
			l.SetNetworkLayerForChecksum(p.NetworkLayer())
			ls = append(ls, l)
		case *layers.UDP:
			got = append(got, l.Checksum)
			l.SetNetworkLayerForChecksum(p.NetworkLayer())
			ls = append(ls, l)
		}
	}
	if app := p.ApplicationLayer(); app != nil {
		ls = append(ls, gopacket.Payload(app.Payload()))
	}
	again := gopacket.NewPacket(serialize(t, ls...), layers.LayerTypeEthernet, gopacket.Default)
	var want []uint16
	for _, l := range again.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			want = append(want, l.Checksum)
		case *layers.TCP:
			want = append(want, l.Checksum)
		case *layers.UDP:
			want = append(want, l.Checksum)
		}
	}
	if len(got) == 0 || !equal(got, want) {
		t.Errorf("checksums %04x, want %04x", got, want)
	}
}

func equal(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRewriteChecksums(t *testing.T) {
	red := report.NewRedactor([]byte("k"))
	w := newRewriter(red, true)
	in := udp4(t, []byte("hello, world"))
	out, err := w.rewrite(dissect.LinkEthernet, in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte{192, 0, 2, 10}) || bytes.Contains(out, macA) || bytes.Contains(out, macB) {
		t.Error("an address survived")
	}
	if want := red.Addr(netip.MustParseAddr("192.0.2.10")).As4(); !bytes.Equal(out[26:30], want[:]) {
		t.Errorf("source %v, want the redactor's %v", out[26:30], want)
	}
	if out[0]&0x02 == 0 || out[6]&0x02 == 0 {
		t.Error("redacted MACs not locally administered")
	}
	checkSums(t, out)

	// A first fragment: the UDP checksum covers bytes not in the packet,
	// so it is updated, not computed; the update must equal what computing
	// over the whole datagram gives.
	frag := append([]byte(nil), in...)
	frag[20] |= 0x20 // more fragments
	binary.BigEndian.PutUint16(frag[24:26], 0)
	binary.BigEndian.PutUint16(frag[24:26], ^fold(sum(frag[14:34], 0)))
	out, err = w.rewrite(dissect.LinkEthernet, frag)
	if err != nil {
		t.Fatal(err)
	}
	out[20] &^= 0x20
	binary.BigEndian.PutUint16(out[24:26], 0)
	binary.BigEndian.PutUint16(out[24:26], ^fold(sum(out[14:34], 0)))
	checkSums(t, out)

	// IPv4 UDP without a checksum keeps none.
	none := append([]byte(nil), in...)
	none[40], none[41] = 0, 0
	if out, _ = w.rewrite(dissect.LinkEthernet, none); out[40] != 0 || out[41] != 0 {
		t.Errorf("UDP checksum 0 became %x", out[40:42])
	}

	// IPv6 TCP, cut after the TCP header without payloads.
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP("2001:db8::10"), DstIP: net.ParseIP("2001:db8:1::20")}
	tcp := &layers.TCP{SrcPort: 50000, DstPort: 5001, Seq: 1, ACK: true, PSH: true, Window: 100, DataOffset: 5}
	tcp.SetNetworkLayerForChecksum(ip6)
	in6 := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip6, tcp, gopacket.Payload("secret"))
	out, err = w.rewrite(dissect.LinkEthernet, in6)
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, out)
	cut, err := newRewriter(red, false).rewrite(dissect.LinkEthernet, in6)
	if err != nil || len(cut) != 14+40+20 || !bytes.Equal(cut, out[:len(cut)]) {
		t.Errorf("cut: %d bytes, %v; want the %d header bytes", len(cut), err, 14+40+20)
	}

	// Not IP: left out, not written unredacted.
	arp := serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: 1, SourceHwAddress: macA, SourceProtAddress: []byte{192, 0, 2, 10}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 0, 2, 1}})
	if _, err := w.rewrite(dissect.LinkEthernet, arp); err != errNotIP {
		t.Errorf("ARP: %v, want %v", err, errNotIP)
	}
}

// TestRewriteMappedAndShort: an IPv4-mapped IPv6 address is replaced in
// all its 16 bytes (its last 4 are the real IPv4 address), and a BSD
// loopback frame too short for its header is refused, not a panic.
func TestRewriteMappedAndShort(t *testing.T) {
	red := report.NewRedactor([]byte("k"))
	w := newRewriter(red, true)
	ip := []byte{0x60, 0, 0, 0, 0, 0, 59, 64} // IPv6, no next header
	src := netip.MustParseAddr("::ffff:192.0.2.10").As16()
	dst := netip.MustParseAddr("2001:db8::1").As16()
	ip = append(append(ip, src[:]...), dst[:]...)
	out, err := w.rewrite(dissect.LinkRaw, ip)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte{192, 0, 2, 10}) {
		t.Errorf("the mapped address kept its IPv4 bytes: % x", out[8:24])
	}
	if got := netip.AddrFrom16([16]byte(out[8:24])); !got.Is4In6() {
		t.Errorf("the pseudonym %s is no longer IPv4-mapped", got)
	}
	if _, err := w.rewrite(dissect.LinkNull, []byte{2, 0}); err == nil {
		t.Error("a 2-byte loopback frame was rewritten")
	}
}
