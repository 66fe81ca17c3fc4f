package dissect

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	synOpts := []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0} // MSS 1460, NOP, WS 7, SACK-perm, EOL pad
	syn := tcph(40000, 5001, 1000, 0, FlagSYN, synOpts, nil)
	syn4 := ipv4h(addrC, addrS, ProtoTCP, 77, 0x4000, nil, syn)
	syn6 := ipv6h(addrC6, addrS6, ProtoTCP, nil, syn)
	data := ipv4h(addrC, addrS, ProtoTCP, 78, 0, nil, tcph(40000, 5001, 1001, 5, FlagACK|FlagPSH, nil, []byte("SW102: Hello[")))
	hopByHop := []byte{ProtoUDP, 0, 1, 4, 0, 0, 0, 0}
	fragHdr := func(next uint8, off uint16, more bool) []byte {
		v := off << 3
		if more {
			v |= 1
		}
		return []byte{next, 0, byte(v >> 8), byte(v), 0, 0, 0, 1}
	}
	destOpts := []byte{44, 0, 1, 4, 0, 0, 0, 0} // next: fragment
	ah := []byte{ProtoTCP, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}

	tests := []struct {
		name     string
		linkType int
		frame    []byte
		origLen  int // 0: len(frame)
		check    func(t *testing.T, p *Packet)
	}{
		{"ethernet_ipv4_syn_options", LinkEthernet, ether(etherIPv4, syn4), 0, func(t *testing.T, p *Packet) {
			want := Packet{IPVersion: 4, Src: addrC, Dst: addrS, TTL: 64, IPID: 77, Proto: ProtoTCP,
				SrcPort: 40000, DstPort: 5001, TCPFlags: FlagSYN, Seq: 1000, Window: 1000, MSS: 1460, WScale: 7}
			eqSummary(t, p, &want)
		}},
		{"ethernet_ipv6_syn", LinkEthernet, ether(etherIPv6, syn6), 0, func(t *testing.T, p *Packet) {
			want := Packet{IPVersion: 6, Src: addrC6, Dst: addrS6, TTL: 57, Proto: ProtoTCP,
				SrcPort: 40000, DstPort: 5001, TCPFlags: FlagSYN, Seq: 1000, Window: 1000, MSS: 1460, WScale: 7}
			eqSummary(t, p, &want)
		}},
		{"tcp_data_payload", LinkRaw, data, 0, func(t *testing.T, p *Packet) {
			if p.PayloadLen != 13 || string(p.Payload) != "SW102: Hello[" || p.WScale != -1 || p.MSS != 0 {
				t.Errorf("got len %d payload %q ws %d mss %d; want 13 %q -1 0", p.PayloadLen, p.Payload, p.WScale, p.MSS, "SW102: Hello[")
			}
		}},
		{"ethernet_padding_not_payload", LinkEthernet, ether(etherIPv4, append(ipv4h(addrC, addrS, ProtoTCP, 1, 0, nil, tcph(1, 2, 3, 4, FlagACK, nil, nil)), 0, 0, 0, 0, 0, 0)), 0, func(t *testing.T, p *Packet) {
			if p.PayloadLen != 0 || len(p.Payload) != 0 {
				t.Errorf("got PayloadLen %d, %d payload bytes; want 0, 0", p.PayloadLen, len(p.Payload))
			}
		}},
		{"vlan_8021q", LinkEthernet, ether(etherVLAN, append(vlan(0, 100, etherIPv4)[2:], syn4...)), 0, func(t *testing.T, p *Packet) {
			if p.SrcPort != 40000 || p.IPVersion != 4 {
				t.Errorf("got port %d version %d; want 40000 4", p.SrcPort, p.IPVersion)
			}
		}},
		{"qinq_8021ad", LinkEthernet, ether(etherQinQ, append(append([]byte{0, 200}, vlan(etherVLAN, 100, etherIPv6)[:]...), syn6...)), 0, func(t *testing.T, p *Packet) {
			if p.SrcPort != 40000 || p.IPVersion != 6 {
				t.Errorf("got port %d version %d; want 40000 6", p.SrcPort, p.IPVersion)
			}
		}},
		{"pppoe", LinkEthernet, ether(etherPPPoE, append([]byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}, syn4...)), 0, func(t *testing.T, p *Packet) {
			if p.DstPort != 5001 {
				t.Errorf("got port %d; want 5001", p.DstPort)
			}
		}},
		{"linux_sll", LinkLinuxSLL, append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd}, syn6...), 0, func(t *testing.T, p *Packet) {
			if p.Src != addrC6 {
				t.Errorf("got src %v; want %v", p.Src, addrC6)
			}
		}},
		{"linux_sll2", LinkLinuxSLL2, append([]byte{0x08, 0, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0}, syn4...), 0, func(t *testing.T, p *Packet) {
			if p.Src != addrC {
				t.Errorf("got src %v; want %v", p.Src, addrC)
			}
		}},
		{"null_little_endian", LinkNull, append([]byte{2, 0, 0, 0}, syn4...), 0, func(t *testing.T, p *Packet) {
			if p.IPVersion != 4 {
				t.Errorf("got version %d; want 4", p.IPVersion)
			}
		}},
		{"null_big_endian_inet6_freebsd", LinkNull, append([]byte{0, 0, 0, 28}, syn6...), 0, func(t *testing.T, p *Packet) {
			if p.IPVersion != 6 {
				t.Errorf("got version %d; want 6", p.IPVersion)
			}
		}},
		{"loop_inet6_macos", LinkLoop, append([]byte{0, 0, 0, 30}, syn6...), 0, func(t *testing.T, p *Packet) {
			if p.IPVersion != 6 {
				t.Errorf("got version %d; want 6", p.IPVersion)
			}
		}},
		{"linktype_ipv4", LinkIPv4, syn4, 0, func(t *testing.T, p *Packet) {
			if p.SrcPort != 40000 {
				t.Errorf("got port %d; want 40000", p.SrcPort)
			}
		}},
		{"linktype_ipv6", LinkIPv6, syn6, 0, func(t *testing.T, p *Packet) {
			if p.SrcPort != 40000 {
				t.Errorf("got port %d; want 40000", p.SrcPort)
			}
		}},
		{"ipv4_options", LinkRaw, ipv4h(addrC, addrS, ProtoUDP, 5, 0, []byte{0x94, 4, 0, 0}, udph(1234, 53, []byte{1, 2, 3})), 0, func(t *testing.T, p *Packet) {
			if p.SrcPort != 1234 || p.PayloadLen != 3 {
				t.Errorf("got port %d len %d; want 1234 3", p.SrcPort, p.PayloadLen)
			}
		}},
		{"ipv4_first_fragment", LinkRaw, ipv4h(addrC, addrS, ProtoUDP, 9, 0x2000, nil, udph(1234, 19283, make([]byte, 100))[:40]), 0, func(t *testing.T, p *Packet) {
			if !p.Fragment || p.SrcPort != 1234 {
				t.Errorf("got fragment %v port %d; want true 1234", p.Fragment, p.SrcPort)
			}
		}},
		{"ipv4_later_fragment", LinkRaw, ipv4h(addrC, addrS, ProtoUDP, 9, 5, nil, make([]byte, 40)), 0, func(t *testing.T, p *Packet) {
			if !p.Fragment || p.SrcPort != 0 || p.Proto != ProtoUDP {
				t.Errorf("got fragment %v port %d proto %d; want true 0 17", p.Fragment, p.SrcPort, p.Proto)
			}
		}},
		{"ipv6_hop_by_hop_udp", LinkRaw, ipv6h(addrC6, addrS6, 0, hopByHop, udph(5, 6, []byte("x"))), 0, func(t *testing.T, p *Packet) {
			if p.Proto != ProtoUDP || p.DstPort != 6 || p.PayloadLen != 1 {
				t.Errorf("got proto %d port %d len %d; want 17 6 1", p.Proto, p.DstPort, p.PayloadLen)
			}
		}},
		{"ipv6_dest_opts_first_fragment", LinkRaw, ipv6h(addrC6, addrS6, 60, append(destOpts, fragHdr(ProtoUDP, 0, true)...), udph(5, 6, nil)), 0, func(t *testing.T, p *Packet) {
			if p.Proto != ProtoUDP || !p.Fragment || p.DstPort != 6 {
				t.Errorf("got proto %d fragment %v port %d; want 17 true 6", p.Proto, p.Fragment, p.DstPort)
			}
		}},
		{"ipv6_later_fragment", LinkRaw, ipv6h(addrC6, addrS6, 44, fragHdr(ProtoUDP, 100, false), make([]byte, 16)), 0, func(t *testing.T, p *Packet) {
			if p.Proto != ProtoUDP || !p.Fragment || p.DstPort != 0 {
				t.Errorf("got proto %d fragment %v port %d; want 17 true 0", p.Proto, p.Fragment, p.DstPort)
			}
		}},
		{"ipv6_ah_skipped", LinkRaw, ipv6h(addrC6, addrS6, 51, ah, tcph(7, 8, 9, 0, FlagRST, nil, nil)), 0, func(t *testing.T, p *Packet) {
			if p.Proto != ProtoTCP || p.DstPort != 8 || !p.HasFlag(FlagRST) {
				t.Errorf("got proto %d port %d flags %x; want 6 8 RST", p.Proto, p.DstPort, p.TCPFlags)
			}
		}},
		{"snaplen_cut_tcp_header", LinkEthernet, ether(etherIPv4, syn4)[:14+20+10], 14 + len(syn4), func(t *testing.T, p *Packet) {
			if !p.Truncated || p.SrcPort != 40000 || p.Seq != 1000 || p.TCPFlags != 0 {
				t.Errorf("got truncated %v port %d seq %d flags %x; want true 40000 1000 0", p.Truncated, p.SrcPort, p.Seq, p.TCPFlags)
			}
		}},
		{"snaplen_cut_payload", LinkRaw, data[:45], len(data), func(t *testing.T, p *Packet) {
			if !p.Truncated || p.PayloadLen != 13 || len(p.Payload) != 5 {
				t.Errorf("got truncated %v len %d captured %d; want true 13 5", p.Truncated, p.PayloadLen, len(p.Payload))
			}
		}},
		{"ip_length_beyond_capture", LinkRaw, data[:45], 0, func(t *testing.T, p *Packet) {
			if !p.Truncated {
				t.Errorf("got truncated false; want true")
			}
		}},
		{"icmp_admin_prohibited_quotes_syn", LinkRaw, ipv4h(addrR, addrC, ProtoICMP, 1, 0, nil, icmph(3, 13, syn4)), 0, func(t *testing.T, p *Packet) {
			want := Quoted{IPVersion: 4, Src: addrC, Dst: addrS, Proto: ProtoTCP, SrcPort: 40000, DstPort: 5001, Seq: 1000, IPID: 77}
			if !p.HasQuoted || p.Quoted != want || p.ICMPType != 3 || p.ICMPCode != 13 || !p.IsICMPError() {
				t.Errorf("got %v %+v type %d/%d; want true %+v 3/13", p.HasQuoted, p.Quoted, p.ICMPType, p.ICMPCode, want)
			}
		}},
		{"icmp_short_quote_8_bytes", LinkRaw, ipv4h(addrR, addrC, ProtoICMP, 1, 0, nil, icmph(11, 0, syn4[:28])), 0, func(t *testing.T, p *Packet) {
			want := Quoted{IPVersion: 4, Src: addrC, Dst: addrS, Proto: ProtoTCP, SrcPort: 40000, DstPort: 5001, Seq: 1000, IPID: 77}
			if !p.HasQuoted || p.Quoted != want {
				t.Errorf("got %v %+v; want true %+v", p.HasQuoted, p.Quoted, want)
			}
		}},
		{"icmp_quote_ports_only", LinkRaw, ipv4h(addrR, addrC, ProtoICMP, 1, 0, nil, icmph(3, 3, syn4[:24])), 0, func(t *testing.T, p *Packet) {
			if !p.HasQuoted || p.Quoted.DstPort != 5001 || p.Quoted.Seq != 0 {
				t.Errorf("got %v port %d seq %d; want true 5001 0", p.HasQuoted, p.Quoted.DstPort, p.Quoted.Seq)
			}
		}},
		{"icmp_echo_no_quote", LinkRaw, ipv4h(addrR, addrC, ProtoICMP, 1, 0, nil, icmph(8, 0, syn4)), 0, func(t *testing.T, p *Packet) {
			if p.HasQuoted || p.IsICMPError() {
				t.Errorf("got quoted %v error %v; want false false", p.HasQuoted, p.IsICMPError())
			}
		}},
		{"icmpv6_packet_too_big_quotes_udp", LinkRaw, ipv6h(addrS6, addrC6, ProtoICMPv6, nil, icmph(2, 0, ipv6h(addrC6, addrS6, 0, hopByHop, udph(5, 6, nil)))), 0, func(t *testing.T, p *Packet) {
			want := Quoted{IPVersion: 6, Src: addrC6, Dst: addrS6, Proto: ProtoUDP, SrcPort: 5, DstPort: 6}
			if !p.HasQuoted || p.Quoted != want {
				t.Errorf("got %v %+v; want true %+v", p.HasQuoted, p.Quoted, want)
			}
		}},
		{"tso_zero_total_length", LinkRaw, func() []byte {
			b := ipv4h(addrC, addrS, ProtoTCP, 1, 0, nil, tcph(1, 2, 3, 4, FlagACK, nil, make([]byte, 100)))
			b[2], b[3] = 0, 0
			return b
		}(), 0, func(t *testing.T, p *Packet) {
			if p.PayloadLen != 100 {
				t.Errorf("got PayloadLen %d; want 100", p.PayloadLen)
			}
		}},
		{"bad_tcp_options_ignored", LinkRaw, ipv4h(addrC, addrS, ProtoTCP, 1, 0, nil, tcph(1, 2, 3, 0, FlagSYN, []byte{2, 9, 0, 0}, nil)), 0, func(t *testing.T, p *Packet) {
			if p.MSS != 0 || p.WScale != -1 {
				t.Errorf("got mss %d ws %d; want 0 -1", p.MSS, p.WScale)
			}
		}},
		{"not_ip_arp", LinkEthernet, ether(0x0806, make([]byte, 28)), 0, func(t *testing.T, p *Packet) {
			if p.IPVersion != 0 || p.Truncated {
				t.Errorf("got version %d truncated %v; want 0 false", p.IPVersion, p.Truncated)
			}
		}},
		{"runt_ethernet", LinkEthernet, []byte{1, 2, 3}, 0, func(t *testing.T, p *Packet) {
			if !p.Truncated {
				t.Errorf("got truncated false; want true")
			}
		}},
	}
	d := NewDecoder(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.origLen
			if orig == 0 {
				orig = len(tt.frame)
			}
			d.linkType = tt.linkType
			p := Packet{Input: 3, Frame: 9}
			if err := d.Decode(tt.frame, t0, len(tt.frame), orig, &p); err != nil {
				t.Fatalf("got error %v; want nil", err)
			}
			if p.Input != 3 || p.Frame != 9 || !p.Time.Equal(t0) {
				t.Errorf("got input %d frame %d time %v; want 3 9 %v", p.Input, p.Frame, p.Time, t0)
			}
			tt.check(t, &p)
		})
	}
}

// eqSummary compares the header fields of a decoded packet.
func eqSummary(t *testing.T, got, want *Packet) {
	t.Helper()
	g := *got
	g.Time, g.CapLen, g.OrigLen, g.Payload, g.Input, g.Frame = want.Time, 0, 0, nil, 0, 0
	w := *want
	w.Payload = nil
	if g.IPVersion != w.IPVersion || g.Src != w.Src || g.Dst != w.Dst || g.TTL != w.TTL || g.IPID != w.IPID ||
		g.Proto != w.Proto || g.SrcPort != w.SrcPort || g.DstPort != w.DstPort || g.TCPFlags != w.TCPFlags ||
		g.Seq != w.Seq || g.Ack != w.Ack || g.Window != w.Window || g.MSS != w.MSS || g.WScale != w.WScale ||
		g.Fragment != w.Fragment || g.Truncated != w.Truncated {
		t.Errorf("got %+v; want %+v", g, w)
	}
}

func TestDecodeUnsupportedLinkType(t *testing.T) {
	var p Packet
	err := NewDecoder(147).Decode([]byte{1, 2, 3}, t0, 3, 3, &p)
	if _, ok := err.(UnsupportedLinkTypeError); !ok {
		t.Errorf("got %v; want UnsupportedLinkTypeError", err)
	}
}

func TestDNSAnswers(t *testing.T) {
	name := func(s string) []byte {
		var b []byte
		for _, l := range splitDots(s) {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		return append(b, 0)
	}
	rr := func(owner []byte, typ uint16, rdata []byte) []byte {
		b := append([]byte{}, owner...)
		b = append(b, byte(typ>>8), byte(typ), 0, 1, 0, 0, 0, 60, byte(len(rdata)>>8), byte(len(rdata)))
		return append(b, rdata...)
	}
	msg := func(flags uint16, q string, answers ...[]byte) []byte {
		b := []byte{0x12, 0x34, byte(flags >> 8), byte(flags), 0, 1, 0, byte(len(answers)), 0, 0, 0, 0}
		b = append(b, name(q)...)
		b = append(b, 0, 1, 0, 1)
		for _, a := range answers {
			b = append(b, a...)
		}
		return b
	}
	ptrQ := []byte{0xC0, 12}
	a1 := netip.MustParseAddr("203.0.113.5")
	a2 := netip.MustParseAddr("2001:db8::5")
	tests := []struct {
		name string
		msg  []byte
		want []DNSAnswer
	}{
		{"cname_chain_maps_question", msg(0x8180, "PRS.Sassafras.COM",
			rr(ptrQ, 5, name("a.cdn.example")),
			rr(name("A.cdn.example"), 5, name("b.cdn.example")),
			rr(name("b.cdn.example"), 1, a1.AsSlice()),
			rr(name("b.cdn.example"), 28, a2.AsSlice())),
			[]DNSAnswer{{"prs.sassafras.com", a1}, {"prs.sassafras.com", a2}}},
		{"unrelated_answer_keeps_owner", msg(0x8180, "www.sassafras.com",
			rr(name("other.example"), 1, a1.AsSlice())),
			[]DNSAnswer{{"other.example", a1}}},
		{"query_ignored", msg(0x0100, "www.sassafras.com", rr(ptrQ, 1, a1.AsSlice())), nil},
		{"pointer_loop", msg(0x8180, "x.example", rr([]byte{0xC0, 27}, 1, a1.AsSlice())), nil},
		{"cut_answer_keeps_earlier", msg(0x8180, "x.example", rr(ptrQ, 1, a1.AsSlice()), rr(ptrQ, 1, a1.AsSlice()))[:56], []DNSAnswer{{"x.example", a1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := ipv4h(addrS, addrC, ProtoUDP, 1, 0, nil, udph(53, 40000, tt.msg))
			var p Packet
			NewDecoder(LinkRaw).Decode(frame, t0, len(frame), len(frame), &p)
			if len(p.DNS) != len(tt.want) {
				t.Fatalf("got %v; want %v", p.DNS, tt.want)
			}
			for i := range tt.want {
				if p.DNS[i] != tt.want[i] {
					t.Errorf("answer %d: got %v; want %v", i, p.DNS[i], tt.want[i])
				}
			}
		})
	}
	t.Run("dns_over_tcp", func(t *testing.T) {
		m := msg(0x8180, "www.sassafras.com", rr(ptrQ, 1, a1.AsSlice()))
		frame := ipv4h(addrS, addrC, ProtoTCP, 1, 0, nil, tcph(53, 40000, 1, 1, FlagACK|FlagPSH, nil, append([]byte{0, byte(len(m))}, m...)))
		var p Packet
		NewDecoder(LinkRaw).Decode(frame, t0, len(frame), len(frame), &p)
		if len(p.DNS) != 1 || p.DNS[0].Name != "www.sassafras.com" {
			t.Errorf("got %v; want www.sassafras.com %v", p.DNS, a1)
		}
	})
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// TestEveryNamedLinkTypeDecodes: every link type named as supported is
// one Decode's switch takes, and an unnamed one is refused, so the list
// and the decoder cannot drift apart.
func TestEveryNamedLinkTypeDecodes(t *testing.T) {
	var p Packet
	for lt := range 300 {
		err := NewDecoder(lt).Decode([]byte{0x45, 0, 0, 20}, time.Time{}, 4, 4, &p)
		var u UnsupportedLinkTypeError
		refused := errors.As(err, &u)
		if refused == LinkTypeSupported(lt) {
			t.Errorf("link type %d (%s): supported %v, Decode refused %v", lt, LinkTypeName(lt), LinkTypeSupported(lt), refused)
		}
	}
}
