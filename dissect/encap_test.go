package dissect

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// Builders for encapsulated frames. The inner packets are the same as in
// the plain frames, so that decoding a frame in its tunnel can be checked
// against decoding the inner packet as it is.

var (
	addrVT1 = netip.MustParseAddr("203.0.113.1") // tunnel endpoints
	addrVT2 = netip.MustParseAddr("203.0.113.2")
	addrVT6 = netip.MustParseAddr("2001:db8:ffff::1")
	addrTer = netip.MustParseAddr("2001:0:4137:9e50:8000:f12a:b9c8:2815") // a Teredo address
)

// outer4 wraps a UDP payload in Ethernet, IPv4 and UDP between the tunnel
// endpoints.
func outer4(sport, dport uint16, payload []byte) []byte {
	return ether(etherIPv4, ipv4h(addrVT1, addrVT2, ProtoUDP, 77, 0, nil, udph(sport, dport, payload)))
}

// outerIP wraps an IP payload of protocol proto in Ethernet and IPv4.
func outerIP(proto uint8, payload []byte) []byte {
	return ether(etherIPv4, ipv4h(addrVT1, addrVT2, proto, 78, 0, nil, payload))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func vxlanh(vni uint32, frame []byte) []byte {
	return cat([]byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, frame)
}

// geneveh builds a Geneve header with opts 4-byte words of options.
func geneveh(proto uint16, opts int, payload []byte) []byte {
	h := []byte{byte(opts), 0, byte(proto >> 8), byte(proto), 0, 0, 42, 0}
	for i := range opts {
		// Option class, type, length 0 (4-byte header only): one word each.
		h = append(h, 0x01, 0x02, byte(i), 0)
	}
	return cat(h, payload)
}

// greh builds a GRE header: csum, key, seq say which optional fields are
// there; version 1 is PPTP's (key always, ack when ack).
func greh(version uint8, csum, key, seq, ack bool, proto uint16, payload []byte) []byte {
	var f0, f1 byte
	var opt []byte
	if csum {
		f0 |= 0x80
		opt = append(opt, 0xAB, 0xCD, 0, 0)
	}
	if key {
		f0 |= 0x20
		opt = append(opt, 0, 0, 0, 9)
	}
	if seq {
		f0 |= 0x10
		opt = append(opt, 0, 0, 0, 1)
	}
	if ack {
		f1 |= 0x80
		opt = append(opt, 0, 0, 0, 2)
	}
	return cat([]byte{f0, f1 | version, byte(proto >> 8), byte(proto)}, opt, payload)
}

// gtph builds a GTPv1-U header of message type typ; ext, when not nil, is
// one extension header of that many 4-byte words.
func gtph(typ byte, seq bool, ext int, payload []byte) []byte {
	flags := byte(0x30)
	var opt []byte
	if seq || ext > 0 {
		nt := byte(0)
		if seq {
			flags |= 0x02
		}
		if ext > 0 {
			flags |= 0x04
			nt = 0x85 // PDU session container
		}
		opt = []byte{0, 1, 0, nt}
		if ext > 0 {
			e := make([]byte, ext*4)
			e[0] = byte(ext)
			opt = append(opt, e...) // ends with next type 0
		}
	}
	h := []byte{flags, typ, 0, 0, 0, 0, 0, 7}
	binary.BigEndian.PutUint16(h[2:], uint16(len(opt)+len(payload)))
	return cat(h, opt, payload)
}

// ayiyah builds an AYIYA header: a 16-byte identity, a 20-byte (SHA-1)
// signature, opcode op and next header nh.
func ayiyah(op, nh byte, payload []byte) []byte {
	h := []byte{0x41, 0x52, 0x10 | op, nh, 0x4f, 0x00, 0x00, 0x01}
	return cat(h, make([]byte, 16+20), payload)
}

func mplsh(labels int, payload []byte) []byte {
	var h []byte
	for i := range labels {
		bos := byte(0)
		if i == labels-1 {
			bos = 1
		}
		h = append(h, 0, 0x10*byte(i+1)>>4, byte(i+1)<<4|bos, 64)
	}
	return cat(h, payload)
}

// The inner packets.
var (
	synOpts  = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	inSYN4   = ipv4h(addrC, addrS, ProtoTCP, 4242, 0x4000, nil, tcph(40000, 443, 1000, 0, FlagSYN, synOpts, nil))
	inData6  = ipv6h(addrC6, addrS6, ProtoTCP, nil, tcph(40001, 22, 5000, 77, FlagACK|FlagPSH, nil, make([]byte, 300)))
	inUDP4   = ipv4h(addrC, addrS, ProtoUDP, 4243, 0, nil, udph(51000, 19283, make([]byte, 40)))
	inUDP6   = ipv6h(addrC6, addrS6, ProtoUDP, nil, udph(51001, 5060, make([]byte, 60)))
	inTer6   = ipv6h(addrTer, addrS6, ProtoTCP, nil, tcph(1286, 80, 9, 0, FlagSYN, synOpts, nil))
	inFrame4 = ether(etherIPv4, inSYN4)
	inFrame6 = ether(etherIPv6, inData6)
)

// innerOf is p without the fields that describe the frame rather than the
// packet, and without its slices: what a packet decoded in a tunnel must
// share with the same packet decoded as it is.
func innerOf(p Packet) Packet {
	q := Packet{IPVersion: p.IPVersion, Src: p.Src, Dst: p.Dst, TTL: p.TTL, IPID: p.IPID, Fragment: p.Fragment,
		Proto: p.Proto, SrcPort: p.SrcPort, DstPort: p.DstPort, TCPFlags: p.TCPFlags, Seq: p.Seq, Ack: p.Ack,
		Window: p.Window, MSS: p.MSS, WScale: p.WScale, PayloadLen: p.PayloadLen, ICMPType: p.ICMPType,
		ICMPCode: p.ICMPCode, HasQuoted: p.HasQuoted, Quoted: p.Quoted}
	return q
}

func decodeAs(t *testing.T, linkType int, f []byte) Packet {
	t.Helper()
	var p Packet
	if err := NewDecoder(linkType).Decode(f, t0, len(f), len(f), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

type encapCase struct {
	name  string
	frame []byte
	// inner is the packet the frame carries, as a raw IP packet or (when
	// innerEther) an Ethernet frame: decoded as it is, it must give the
	// same packet fields as the frame.
	inner      []byte
	innerEther bool
	tunnel     Encap
}

func tunnelCases() []encapCase {
	teredoOrigin := []byte{0, 0, 0xF1, 0x2A, 0xB9, 0xC8, 0x28, 0x15}
	teredoAuth := cat([]byte{0, 1, 2, 0, 'i', 'd'}, make([]byte, 9))
	erspan2 := []byte{0x10, 100, 0x00, 0x01, 0, 0, 0, 5}
	erspan3 := []byte{0x20, 100, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01}
	pbbTag := []byte{0, 0, 0x01, 0x00, 2, 0, 0, 0, 0, 7, 2, 0, 0, 0, 0, 8}
	return []encapCase{
		{"vxlan", outer4(50000, 4789, vxlanh(100, inFrame4)), inFrame4, true, EncapVXLAN},
		{"vxlan_8472_reply", outer4(8472, 50001, vxlanh(1, ether(etherIPv6, inUDP6))), ether(etherIPv6, inUDP6), true, EncapVXLAN},
		{"vxlan_vlan_inside", outer4(50000, 4789, vxlanh(7, ether(etherVLAN, cat(vlan(0, 100, etherIPv6)[2:], inData6)))), inFrame6, true, EncapVXLAN},
		{"geneve_ether_options", outer4(47101, 6081, geneveh(etherTEB, 3, inFrame4)), inFrame4, true, EncapGeneve},
		{"geneve_ipv6", outer4(47101, 6081, geneveh(etherIPv6, 0, inData6)), inData6, false, EncapGeneve},
		{"gre_ipv4", outerIP(47, greh(0, false, false, false, false, etherIPv4, inUDP4)), inUDP4, false, EncapGRE},
		{"gre_csum_key_seq_ipv6", outerIP(47, greh(0, true, true, true, false, etherIPv6, inData6)), inData6, false, EncapGRE},
		{"gre_teb_vlan", outerIP(47, greh(0, false, true, false, false, etherTEB, ether(etherVLAN, cat(vlan(0, 5, etherIPv4)[2:], inSYN4)))), inFrame4, true, EncapGRE},
		{"gre_mpls", outerIP(47, greh(0, false, false, false, false, etherMPLS, mplsh(2, inSYN4))), inSYN4, false, EncapMPLS},
		{"gre_in_ipv6", ether(etherIPv6, ipv6h(addrVT6, addrS6, 47, nil, greh(0, false, false, false, false, etherIPv4, inSYN4))), inSYN4, false, EncapGRE},
		{"erspan1", outerIP(47, greh(0, false, false, false, false, etherERSPAN, inFrame4)), inFrame4, true, EncapERSPAN},
		{"erspan2", outerIP(47, greh(0, false, false, true, false, etherERSPAN, cat(erspan2, inFrame6))), inFrame6, true, EncapERSPAN},
		{"erspan3_subheader", outerIP(47, greh(0, false, false, true, false, etherERSPAN3, cat(erspan3, make([]byte, 8), inFrame4))), inFrame4, true, EncapERSPAN},
		{"pptp", outerIP(47, greh(1, false, true, true, true, etherPPP, cat([]byte{0xFF, 0x03, 0x00, 0x21}, inSYN4))), inSYN4, false, EncapGRE},
		{"pptp_compressed_fields", outerIP(47, greh(1, false, true, true, false, etherPPP, cat([]byte{0x21}, inUDP4))), inUDP4, false, EncapGRE},
		{"gre_over_udp", outer4(36527, 4754, greh(0, false, false, false, false, etherIPv4, inUDP4)), inUDP4, false, EncapGREUDP},
		{"gtpu", outer4(2152, 2152, gtph(0xFF, false, 0, inSYN4)), inSYN4, false, EncapGTPU},
		{"gtpu_seq", outer4(5906, 2152, gtph(0xFF, true, 0, inData6)), inData6, false, EncapGTPU},
		{"gtpu_extension", outer4(2152, 2152, gtph(0xFF, false, 2, inUDP4)), inUDP4, false, EncapGTPU},
		{"teredo_origin", outer4(3544, 3797, cat(teredoOrigin, inTer6)), inTer6, false, EncapTeredo},
		{"teredo_auth_origin", outer4(3544, 3797, cat(teredoAuth, teredoOrigin, inTer6)), inTer6, false, EncapTeredo},
		{"teredo_relay_port", outer4(3797, 32900, inTer6), inTer6, false, EncapTeredo},
		{"ayiya", outer4(53859, 5072, ayiyah(1, 41, inData6)), inData6, false, EncapAYIYA},
		{"ayiya_ipv4", outer4(5072, 53859, ayiyah(1, 4, inSYN4)), inSYN4, false, EncapAYIYA},
		{"4in4", outerIP(4, inSYN4), inSYN4, false, EncapIPinIP},
		{"6in4", outerIP(41, inData6), inData6, false, EncapIPinIP},
		{"4in6", ether(etherIPv6, ipv6h(addrVT6, addrS6, 4, nil, inUDP4)), inUDP4, false, EncapIPinIP},
		{"6in6_after_dstopts", ether(etherIPv6, ipv6h(addrVT6, addrS6, 60, []byte{41, 0, 4, 1, 0, 0, 0, 0}, inData6)), inData6, false, EncapIPinIP},
		{"mpls", ether(etherMPLS, mplsh(3, inSYN4)), inSYN4, false, EncapMPLS},
		{"mpls_in_vlan_ipv6", ether(etherVLAN, cat(vlan(0, 9, etherMPLS)[2:], mplsh(1, inData6))), inData6, false, EncapMPLS},
		{"mpls_control_word_ether", ether(etherMPLS, mplsh(2, cat([]byte{0, 0, 0, 1}, inFrame4))), inFrame4, true, EncapMPLS},
		{"pbb", ether(etherVLAN, cat(vlan(0, 10, etherPBB)[2:], pbbTag, be16(etherVLAN), vlan(0, 20, etherIPv4)[2:], inSYN4)), inSYN4, false, EncapPBB},
		{"vntag", ether(etherVNTag, cat([]byte{0x80, 0x01, 0x00, 0x02}, be16(etherIPv6), inData6)), inData6, false, EncapVNTag},
		// The innermost encapsulation is the one named.
		{"vxlan_in_gre_in_mpls", ether(etherMPLS, mplsh(1, ipv4h(addrVT1, addrVT2, 47, 1, 0, nil,
			greh(0, false, false, false, false, etherIPv4, ipv4h(addrVT2, addrVT1, ProtoUDP, 2, 0, nil, udph(1, 4789, vxlanh(1, inFrame4))))))), inFrame4, true, EncapVXLAN},
	}
}

// TestTunnels decodes a packet in each tunnel and label stack: the result
// is the inner packet, as decoding it alone gives, with Tunnel naming the
// innermost encapsulation and nothing undecoded.
func TestTunnels(t *testing.T) {
	for _, tc := range tunnelCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAs(t, LinkEthernet, tc.frame)
			lt := LinkRaw
			if tc.innerEther {
				lt = LinkEthernet
			}
			want := decodeAs(t, lt, tc.inner)
			if want.IPVersion == 0 || want.Proto != ProtoTCP && want.Proto != ProtoUDP {
				t.Fatalf("bad test: the inner packet decodes to %+v", want)
			}
			if got.Tunnel != tc.tunnel || got.Undecoded != (Undecoded{}) || got.Truncated {
				t.Errorf("tunnel %v, undecoded %v, truncated %v; want %v, none, false", got.Tunnel, got.Undecoded, got.Truncated, tc.tunnel)
			}
			if g, w := innerOf(got), innerOf(want); !reflect.DeepEqual(g, w) {
				t.Errorf("inner packet\n got: %+v\nwant: %+v", g, w)
			}
			if string(got.Payload) != string(want.Payload) {
				t.Errorf("payload: %d bytes; want %d", len(got.Payload), len(want.Payload))
			}
		})
	}
}

// TestTunnelsUndecoded: a tunnel whose own header fails leaves the outer
// packet as it was, with the reason; one that carries nothing to read
// (keepalives, echo, heartbeats) leaves it without a reason; a payload
// that only looks like a tunnel is left alone.
func TestTunnelsUndecoded(t *testing.T) {
	none := Undecoded{}
	cases := []struct {
		name  string
		frame []byte
		want  Undecoded
		outer bool // the outer packet stays (else: no IP)
	}{
		{"vxlan_cut", outer4(50000, 4789, []byte{8, 0, 0, 0, 0}), Undecoded{EncapVXLAN, CauseCut}, true},
		{"vxlan_no_vni_flag", outer4(50000, 4789, cat([]byte{0, 0, 0, 0, 0, 0, 1, 0}, inFrame4)), Undecoded{EncapVXLAN, CauseMalformed}, true},
		{"vxlan_frame_cut", outer4(50000, 4789, vxlanh(1, inFrame4[:10])), Undecoded{EncapVXLAN, CauseCut}, true},
		{"vxlan_arp_inside", outer4(50000, 4789, vxlanh(1, ether(0x0806, make([]byte, 28)))), none, false},
		{"geneve_version_1", outer4(1, 6081, cat([]byte{0x40}, geneveh(etherIPv4, 0, inSYN4)[1:])), Undecoded{EncapGeneve, CauseMalformed}, true},
		{"geneve_options_cut", outer4(1, 6081, geneveh(etherIPv4, 3, nil)[:12]), Undecoded{EncapGeneve, CauseCut}, true},
		{"geneve_arp", outer4(1, 6081, geneveh(0x0806, 0, make([]byte, 28))), Undecoded{EncapGeneve, CauseProtocol}, true},
		{"gre_wccp", outerIP(47, greh(0, false, false, false, false, 0x883E, cat([]byte{0, 0, 0, 0}, inSYN4))), Undecoded{EncapGRE, CauseProtocol}, true},
		{"gre_keepalive", outerIP(47, greh(0, false, false, false, false, 0, nil)), none, true},
		{"gre_version_2", outerIP(47, greh(2, false, false, false, false, etherIPv4, inSYN4)), Undecoded{EncapGRE, CauseMalformed}, true},
		{"gre_cut", outerIP(47, greh(0, false, true, true, false, etherIPv4, nil)[:9]), Undecoded{EncapGRE, CauseCut}, true},
		{"gre_inner_ip_cut", outerIP(47, greh(0, false, false, false, false, etherIPv4, inSYN4[:12])), Undecoded{EncapGRE, CauseCut}, true},
		{"pptp_not_ppp", outerIP(47, greh(1, false, true, false, false, etherIPv4, inSYN4)), Undecoded{EncapGRE, CauseMalformed}, true},
		{"pptp_compressed", outerIP(47, greh(1, false, true, false, false, etherPPP, cat([]byte{0xFF, 0x03, 0x00, 0xFD}, make([]byte, 40)))), Undecoded{EncapPPP, CauseProtected}, false},
		{"pptp_lcp", outerIP(47, greh(1, false, true, false, false, etherPPP, cat([]byte{0xFF, 0x03, 0xC0, 0x21}, make([]byte, 10)))), none, false},
		{"erspan2_bad_version", outerIP(47, greh(0, false, false, true, false, etherERSPAN, cat(make([]byte, 8), inFrame4))), Undecoded{EncapERSPAN, CauseMalformed}, true},
		{"gtp_echo", outer4(2152, 2152, gtph(1, true, 0, nil)), none, true},
		{"gtp_version_2", outer4(2152, 2152, cat([]byte{0x48}, gtph(0xFF, false, 0, inSYN4)[1:])), Undecoded{EncapGTPU, CauseMalformed}, true},
		{"gtp_extension_cut", outer4(2152, 2152, gtph(0xFF, false, 3, inSYN4)[:16]), Undecoded{EncapGTPU, CauseCut}, true},
		{"gtp_not_ip", outer4(2152, 2152, gtph(0xFF, false, 0, inFrame4)), Undecoded{EncapGTPU, CauseProtocol}, true},
		{"teredo_port_not_ipv6", outer4(3544, 3797, inUDP4), Undecoded{EncapTeredo, CauseMalformed}, true},
		{"ayiya_heartbeat", outer4(53859, 5072, ayiyah(0, 59, nil)), none, true},
		{"ayiya_cut", outer4(53859, 5072, ayiyah(1, 41, nil)[:20]), Undecoded{EncapAYIYA, CauseCut}, true},
		{"4in4_carrying_ipv6", outerIP(4, inData6), Undecoded{EncapIPinIP, CauseMalformed}, true},
		{"mpls_not_ip", ether(etherMPLS, mplsh(1, cat([]byte{0x85}, make([]byte, 30)))), Undecoded{EncapMPLS, CauseProtocol}, false},
		{"mpls_stack_cut", ether(etherMPLS, mplsh(3, nil)[:6]), Undecoded{EncapMPLS, CauseCut}, false},
		{"mpls_endless_stack", ether(etherMPLS, make([]byte, 4*40)), Undecoded{EncapMPLS, CauseMalformed}, false},
		{"pbb_cut", ether(etherPBB, make([]byte, 10)), Undecoded{EncapPBB, CauseCut}, false},
		// Not tunnels: a QUIC short header can start like IPv6; a UDP
		// payload can start with two zero bytes.
		{"quic_not_teredo", outer4(443, 50000, cat([]byte{0x61}, make([]byte, 63))), none, true},
		{"ipv6_like_without_teredo_address", outer4(50000, 50001, inData6), none, true},
		{"zeros_not_teredo", outer4(50000, 50001, make([]byte, 80)), none, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeAs(t, LinkEthernet, tc.frame)
			if p.Undecoded != tc.want {
				t.Errorf("undecoded %v; want %v", p.Undecoded, tc.want)
			}
			switch {
			case tc.outer && (p.Tunnel != EncapNone || p.Src != addrVT1 || p.Dst != addrVT2):
				t.Errorf("got %v %v -> %v; want the outer packet %v -> %v", p.Tunnel, p.Src, p.Dst, addrVT1, addrVT2)
			case !tc.outer && p.IPVersion != 0 && p.Src == addrVT1:
				t.Errorf("got the outer packet %v -> %v; want none", p.Src, p.Dst)
			}
		})
	}
}

// TestTunnelDepth: tunnels nested deeper than maxEncap stop with a reason
// instead of recursing on.
func TestTunnelDepth(t *testing.T) {
	pkt := inSYN4
	for range maxEncap + 2 {
		pkt = ipv4h(addrVT1, addrVT2, 4, 1, 0, nil, pkt)
	}
	p := decodeAs(t, LinkEthernet, ether(etherIPv4, pkt))
	if p.Undecoded != (Undecoded{EncapIPinIP, CauseDepth}) || p.Tunnel != EncapIPinIP || p.Proto != 4 {
		t.Errorf("got undecoded %v tunnel %v proto %d; want %v in ip-in-ip, protocol 4", p.Undecoded, p.Tunnel, p.Proto, Undecoded{EncapIPinIP, CauseDepth})
	}
	// Transparent Ethernet bridging in itself, as deep as a frame holds.
	f := inFrame4
	for range 500 {
		f = ether(etherTEB, f)
	}
	if p := decodeAs(t, LinkEthernet, f); p.IPVersion != 0 {
		t.Errorf("Ethernet in Ethernet 500 deep: got %+v; want nothing decoded", p)
	}
}

// TestTunnelOuterFragment: the first fragment of an outer packet holds the
// tunnel and inner headers; the inner packet is marked a fragment, and not
// cut, since the rest of it is in the next fragment.
func TestTunnelOuterFragment(t *testing.T) {
	full := udph(50000, 4789, vxlanh(1, ether(etherIPv6, inData6)))
	first := full[:200]
	f := ether(etherIPv4, ipv4h(addrVT1, addrVT2, ProtoUDP, 9, 0x2000, nil, first))
	p := decodeAs(t, LinkEthernet, f)
	want := decodeAs(t, LinkRaw, inData6)
	if p.Tunnel != EncapVXLAN || !p.Fragment || p.Truncated || p.SrcPort != want.SrcPort || p.Seq != want.Seq || p.PayloadLen != want.PayloadLen {
		t.Errorf("got tunnel %v fragment %v truncated %v ports %d seq %d payload %d; want vxlan, fragment, not truncated, %d, %d, %d",
			p.Tunnel, p.Fragment, p.Truncated, p.SrcPort, p.Seq, p.PayloadLen, want.SrcPort, want.Seq, want.PayloadLen)
	}
	// Cut by the snap length instead: truncated, not a fragment.
	f = outer4(50000, 4789, vxlanh(1, ether(etherIPv6, inData6)))
	var q Packet
	NewDecoder(LinkEthernet).Decode(f[:200], t0, 200, len(f), &q)
	if q.Tunnel != EncapVXLAN || q.Fragment || !q.Truncated || q.Seq != want.Seq {
		t.Errorf("cut: got tunnel %v fragment %v truncated %v seq %d; want vxlan, not a fragment, truncated, %d", q.Tunnel, q.Fragment, q.Truncated, q.Seq, want.Seq)
	}
}

// TestUndecodedCounted: a reader counts the frames left undecoded by
// reason in InputInfo.Undecoded; frames decoded, and those that carry no
// packet by nature (a GRE keepalive), are not counted.
func TestUndecodedCounted(t *testing.T) {
	var ng ngFile
	ng.shb(false).idb(LinkEthernet, 65535, 0)
	for _, tc := range tunnelCases()[:3] {
		ng.epb(0, 1, tc.frame, len(tc.frame), 0)
	}
	ng.epb(0, 2, outer4(50000, 4789, []byte{1}), 51, 0)
	ng.epb(0, 3, outerIP(47, greh(0, false, false, false, false, 0x883E, inSYN4)), 80, 0)
	ng.epb(0, 3, outerIP(47, greh(0, false, false, false, false, 0x883E, inSYN4)), 80, 0)
	ng.epb(0, 4, outerIP(47, greh(0, false, false, false, false, 0, nil)), 38, 0)
	s, err := openBytes(t, ng.b)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := readAll(t, s)
	in := s.Inputs()[0]
	want := map[Undecoded]uint64{{EncapVXLAN, CauseCut}: 1, {EncapGRE, CauseProtocol}: 2}
	if len(pkts) != 7 || !reflect.DeepEqual(in.Undecoded, want) || in.UndecodedTotal() != 3 {
		t.Errorf("%d packets, undecoded %v (total %d); want 7, %v (3)", len(pkts), in.Undecoded, in.UndecodedTotal(), want)
	}
	if b, _ := (Undecoded{EncapGRE, CauseProtocol}).MarshalText(); string(b) != "gre: protocol not followed" {
		t.Errorf("MarshalText: %q", b)
	}
}

// frameFields are the Packet fields that describe the frame as captured,
// which entering a tunnel keeps; every other field describes the packet
// and is cleared. (Packet orders its fields by use, not by this split.)
var frameFields = map[string]bool{"Time": true, "Frame": true, "Input": true, "Interface": true, "PacketID": true,
	"IfIndex": true, "Truncated": true, "Outgoing": true, "Dropped": true, "Tunnel": true, "Undecoded": true,
	"LogGroup": true, "CapLen": true, "OrigLen": true, "LogPrefix": true}

// TestResetInner: entering a tunnel clears every field that describes the
// packet and keeps every field that describes the frame (frameFields), so
// that a field added to either part must be placed in one of them.
func TestResetInner(t *testing.T) {
	var p Packet
	v := reflect.ValueOf(&p).Elem()
	typ := v.Type()
	for i := range v.NumField() {
		f := v.Field(i)
		switch x := f.Addr().Interface().(type) {
		case *time.Time:
			*x = t0
		case *netip.Addr:
			*x = addrC
		case *Undecoded:
			*x = Undecoded{EncapGRE, CauseCut}
		case *Quoted:
			*x = Quoted{IPVersion: 4, SrcPort: 1}
		case *[]byte:
			*x = []byte{1}
		case *[]DNSAnswer:
			*x = []DNSAnswer{{Name: "x"}}
		default:
			switch f.Kind() {
			case reflect.Bool:
				f.SetBool(true)
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				f.SetInt(3)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				f.SetUint(3)
			case reflect.String:
				f.SetString("x")
			default:
				t.Fatalf("field %s: give this test a value of type %v", typ.Field(i).Name, f.Type())
			}
		}
	}
	before := p
	p.resetInner()
	want := Packet{WScale: -1}
	w := reflect.ValueOf(want)
	for i := range v.NumField() {
		name := typ.Field(i).Name
		got := v.Field(i).Interface()
		if frameFields[name] {
			if !reflect.DeepEqual(got, reflect.ValueOf(before).Field(i).Interface()) {
				t.Errorf("frame field %s: changed to %v", name, got)
			}
		} else if !reflect.DeepEqual(got, w.Field(i).Interface()) {
			t.Errorf("packet field %s: %v kept; want it cleared", name, got)
		}
	}
}

// TestGRECutAfterRoutingPresent: a GRE header cut before its flags is
// cut short, whatever the packet before it on the same decoder set (a
// routing-present GRE packet left that flag in gopacket's layer).
func TestGRECutAfterRoutingPresent(t *testing.T) {
	d := NewDecoder(LinkEthernet)
	var p Packet
	routed := outerIP(47, []byte{0x40, 0, 0x08, 0x00, 0, 0, 0, 0}) // routing present, cut in the entries
	if err := d.Decode(routed, t0, len(routed), len(routed), &p); err != nil {
		t.Fatal(err)
	}
	cut := outerIP(47, []byte{0x00, 0x00})
	p = Packet{}
	if err := d.Decode(cut, t0, len(cut), len(cut), &p); err != nil {
		t.Fatal(err)
	}
	if p.Undecoded != (Undecoded{EncapGRE, CauseCut}) {
		t.Errorf("a 2-byte GRE header: %v; want gre: cut short", p.Undecoded)
	}
}
