package dissect

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gpInner decodes a frame with gopacket's full decoder and returns the
// innermost IP packet that has a TCP or UDP header after it.
func gpInner(frame []byte, first gopacket.Decoder) (src, dst netip.AddrPort, ok bool) {
	pk := gopacket.NewPacket(frame, first, gopacket.Default)
	ls := pk.Layers()
	for i := len(ls) - 1; i > 0; i-- {
		var sp, dp uint16
		switch l := ls[i].(type) {
		case *layers.TCP:
			sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.UDP:
			sp, dp = uint16(l.SrcPort), uint16(l.DstPort)
		default:
			continue
		}
		var s, d netip.Addr
		switch ip := ls[i-1].(type) {
		case *layers.IPv4:
			s, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			d, _ = netip.AddrFromSlice(ip.DstIP.To4())
		case *layers.IPv6:
			s, _ = netip.AddrFromSlice(ip.SrcIP)
			d, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			continue
		}
		return netip.AddrPortFrom(s, sp), netip.AddrPortFrom(d, dp), true
	}
	return
}

// TestEncapAgreesWithGopacket: where gopacket has the layers of a tunnel
// (VXLAN, Geneve, GRE with what it carries, ERSPAN II, PPTP, GTP-U, IP in
// IP, MPLS), its full decoder finds the same inner flow in the frames of
// TestTunnels as fwdiag does. For the others it finds none: it has no
// layer for them.
func TestEncapAgreesWithGopacket(t *testing.T) {
	noLayer := map[string]bool{ // gopacket does not get to the inner packet
		"gre_over_udp":            true, // no port 4754
		"erspan3_subheader":       true, // no ERSPAN III
		"teredo_origin":           true,
		"teredo_auth_origin":      true,
		"teredo_relay_port":       true,
		"ayiya":                   true,
		"ayiya_ipv4":              true,
		"mpls_control_word_ether": true, // guesses by nibble: no control word
		"pbb":                     true,
		"vntag":                   true,
		"vxlan_8472_reply":        true, // port 4789 only
	}
	agree := 0
	for _, tc := range tunnelCases() {
		p := decodeAs(t, LinkEthernet, tc.frame)
		src, dst, ok := gpInner(tc.frame, layers.LayerTypeEthernet)
		switch {
		case noLayer[tc.name] && ok && src.Addr() != addrVT1:
			t.Errorf("%s: gopacket finds %v -> %v: take it off the list of layers it lacks", tc.name, src, dst)
		case noLayer[tc.name]:
		case !ok:
			t.Errorf("%s: gopacket finds no inner flow", tc.name)
		case src != netip.AddrPortFrom(p.Src, p.SrcPort) || dst != netip.AddrPortFrom(p.Dst, p.DstPort):
			t.Errorf("%s: gopacket finds %v -> %v; fwdiag %v:%d -> %v:%d", tc.name, src, dst, p.Src, p.SrcPort, p.Dst, p.DstPort)
		default:
			agree++
		}
	}
	if agree < 20 {
		t.Errorf("gopacket agrees on %d frames only", agree)
	}
}

// TestGopacketEncapReasons holds why encap.go and link.go read most
// headers themselves rather than with gopacket's layers (v1.7.7).
func TestGopacketEncapReasons(t *testing.T) {
	t.Run("geneve_allocates_per_option", func(t *testing.T) {
		b := geneveh(etherIPv4, 3, inSYN4)
		var g layers.Geneve
		n := testing.AllocsPerRun(100, func() { g.DecodeFromBytes(b, gopacket.NilDecodeFeedback) })
		if n < 3 {
			t.Errorf("gopacket's Geneve: %v allocations for 3 options; the reason was one each (two with data)", n)
		}
		f := outer4(1, 6081, b)
		d := NewDecoder(LinkEthernet)
		var p Packet
		if n := testing.AllocsPerRun(100, func() { d.Decode(f, t0, len(f), len(f), &p) }); n != 0 {
			t.Errorf("fwdiag: %v allocations", n)
		}
	})
	t.Run("gtp_refuses_a_cut_frame", func(t *testing.T) {
		b := gtph(0xFF, true, 0, inData6)[:12+60] // the snap length cut the inner packet
		var g layers.GTPv1U
		if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err == nil {
			t.Error("gopacket's GTPv1U decodes a message cut short: the reason is gone")
		}
		f := outer4(2152, 2152, gtph(0xFF, true, 0, inData6))
		cut := len(f) - len(inData6) + 60
		var p Packet
		NewDecoder(LinkEthernet).Decode(f[:cut], t0, cut, len(f), &p)
		if p.Tunnel != EncapGTPU || p.SrcPort != 40001 || !p.Truncated {
			t.Errorf("fwdiag: %v port %d truncated %v; want the inner packet, cut", p.Tunnel, p.SrcPort, p.Truncated)
		}
	})
	t.Run("dot11_assumes_an_fcs", func(t *testing.T) {
		// A frame without FCS, as Aruba's GRE and many captures have them:
		// gopacket takes its last 4 bytes for one.
		hdr := dot11h(0x02, false, false, 0)
		f := cat(hdr, snap(etherIPv4), inSYN4)
		var d layers.Dot11
		if err := d.DecodeFromBytes(f, gopacket.NilDecodeFeedback); err != nil {
			t.Fatal(err)
		}
		if len(d.Payload) != len(f)-len(hdr)-4 {
			t.Errorf("gopacket's Dot11 payload: %d bytes of %d: the reason is gone", len(d.Payload), len(f)-len(hdr))
		}
		if n := testing.AllocsPerRun(100, func() { d.DecodeFromBytes(f, gopacket.NilDecodeFeedback) }); n == 0 {
			t.Error("gopacket's Dot11 no longer allocates")
		}
		if p := decodeAs(t, LinkIEEE80211, f); p.Truncated || p.SrcPort != 40000 {
			t.Errorf("fwdiag: truncated %v port %d", p.Truncated, p.SrcPort)
		}
	})
	t.Run("no_mpls_decoding_layer", func(t *testing.T) {
		if _, ok := any(&layers.MPLS{}).(gopacket.DecodingLayer); ok {
			t.Error("gopacket's MPLS is a DecodingLayer now")
		}
	})
	t.Run("no_layer", func(t *testing.T) {
		// PBB, VN-Tag, Teredo, AYIYA and NFLOG: gopacket stops at the
		// outer packet.
		frames := map[string][]byte{}
		for _, tc := range tunnelCases() {
			switch tc.name {
			case "pbb", "vntag", "teredo_origin", "ayiya":
				frames[tc.name] = tc.frame
			}
		}
		for name, f := range frames {
			if s, _, ok := gpInner(f, layers.LayerTypeEthernet); ok && s.Addr() != addrVT1 {
				t.Errorf("%s: gopacket finds the inner flow", name)
			}
		}
		nf := nflogh(binary.LittleEndian, 2, 1, "x", inSYN4)
		pk := gopacket.NewPacket(nf, layers.LinkType(LinkNFLOG), gopacket.Default)
		if pk.Layer(layers.LayerTypeTCP) != nil || pk.ErrorLayer() == nil {
			t.Errorf("gopacket decodes NFLOG: %v", pk)
		}
	})
}
