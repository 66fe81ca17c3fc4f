package dissect

import (
	"encoding/binary"
	"reflect"
	"testing"
	"unsafe"
)

// Builders for frames of the link types NFLOG, PPP and 802.11.

// nflogh builds an NFLOG frame as the kernel logs it: the header, then the
// packet header (hardware protocol, hook), the prefix when there is one,
// the input interface, and the payload last (nil: none). family is the
// address family (2 IPv4, 10 IPv6, 3 ARP).
func nflogh(o binary.AppendByteOrder, family byte, group uint16, prefix string, payload []byte) []byte {
	b := []byte{family, 0, byte(group >> 8), byte(group)}
	tlv := func(typ uint16, v []byte) {
		b = o.AppendUint16(b, uint16(4+len(v)))
		b = o.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	tlv(1, []byte{0x08, 0x00, 1, 0})
	if prefix != "" {
		tlv(10, append([]byte(prefix), 0))
	}
	tlv(4, []byte{0, 0, 0, 2})
	if payload != nil {
		tlv(9, payload)
	}
	return b
}

// Addresses of 802.11 frames.
var (
	macAP  = []byte{0x00, 0x1a, 0x1e, 0x02, 0xfe, 0xb0}
	macSTA = []byte{0x66, 0x15, 0x48, 0x3c, 0x47, 0xe7}
	macGW  = []byte{0x88, 0xe0, 0xf3, 0x7f, 0xae, 0xc0}
)

// dot11h builds an 802.11 data frame header: fc1 holds the flags (to/from
// DS, more fragments, protected, order); a QoS data frame has the QoS
// control field (A-MSDU bit when amsdu) and, with the order flag, HT
// control.
func dot11h(fc1 byte, qos, amsdu bool, frag byte) []byte {
	fc0 := byte(0x08)
	if qos {
		fc0 = 0x88
	}
	h := cat([]byte{fc0, fc1, 0x2c, 0x00}, macSTA, macAP, macGW, []byte{0x10 | frag, 0x02})
	if fc1&0x03 == 0x03 {
		h = append(h, macGW...)
	}
	if qos {
		qc := byte(0)
		if amsdu {
			qc = 0x80
		}
		h = append(h, qc, 0)
		if fc1&0x80 != 0 {
			h = append(h, 0, 0, 0, 0)
		}
	}
	return h
}

// snap is the LLC/SNAP header (RFC 1042) for Ethernet type et.
func snap(et uint16) []byte { return []byte{0xAA, 0xAA, 0x03, 0, 0, 0, byte(et >> 8), byte(et)} }

// subframe is one A-MSDU subframe; pad pads it to 4 bytes (all but the
// last).
func subframe(msdu []byte, pad bool) []byte {
	b := cat(macSTA, macGW, be16(uint16(len(msdu))), msdu)
	for pad && len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// radiotaph builds a radiotap header with TSFT and Flags; words is the
// number of present bitmaps (extended when more than one).
func radiotaph(flags byte, words int) []byte {
	h := []byte{0, 0, 0, 0}
	for i := range words {
		w := uint32(0)
		if i == 0 {
			w = 0x3 // TSFT, Flags
		}
		if i < words-1 {
			w |= 1 << 31
		}
		h = binary.LittleEndian.AppendUint32(h, w)
	}
	for len(h)%8 != 0 {
		h = append(h, 0)
	}
	h = append(h, 1, 2, 3, 4, 5, 6, 7, 8) // TSFT
	h = append(h, flags, 0)               // Flags, and a pad byte
	binary.LittleEndian.PutUint16(h[2:], uint16(len(h)))
	return h
}

type linkCase struct {
	name     string
	linkType int
	frame    []byte
	inner    []byte // the raw IP packet carried; nil when none is
	want     Undecoded
	tunnel   Encap
}

func linkCases() []linkCase {
	le, be := binary.LittleEndian, binary.BigEndian
	fcs := []byte{0xde, 0xad, 0xbe, 0xef}
	qosHdr := dot11h(0x01, true, false, 0) // 26 bytes: radiotap's data pad makes it 28
	return []linkCase{
		{"nflog", LinkNFLOG, nflogh(le, 2, 5, "fw DROP IN: ", inSYN4), inSYN4, Undecoded{}, EncapNone},
		{"nflog_big_endian", LinkNFLOG, nflogh(be, 10, 5, "v6 reject", inData6), inData6, Undecoded{}, EncapNone},
		{"nflog_no_prefix", LinkNFLOG, nflogh(le, 2, 1, "", inUDP4), inUDP4, Undecoded{}, EncapNone},
		{"nflog_no_payload", LinkNFLOG, nflogh(le, 2, 1, "meta only", nil), nil, Undecoded{EncapNFLOG, CauseCut}, EncapNone},
		{"nflog_arp", LinkNFLOG, nflogh(le, 3, 1, "", make([]byte, 28)), nil, Undecoded{}, EncapNone},
		{"ppp_hdlc_fields", LinkPPP, cat([]byte{0xFF, 0x03, 0x00, 0x21}, inSYN4), inSYN4, Undecoded{}, EncapNone},
		{"ppp_bare_ipv6", LinkPPP, cat([]byte{0x00, 0x57}, inData6), inData6, Undecoded{}, EncapNone},
		{"ppp_compressed_protocol", LinkPPP, cat([]byte{0x21}, inUDP4), inUDP4, Undecoded{}, EncapNone},
		{"ppp_mpls", LinkPPP, cat([]byte{0x02, 0x81}, mplsh(1, inSYN4)), inSYN4, Undecoded{}, EncapMPLS},
		{"ppp_lcp", LinkPPP, cat([]byte{0xFF, 0x03, 0xC0, 0x21}, make([]byte, 14)), nil, Undecoded{}, EncapNone},
		{"ppp_ccp_compressed", LinkPPP, cat([]byte{0xFF, 0x03, 0x00, 0xFD}, make([]byte, 60)), nil, Undecoded{EncapPPP, CauseProtected}, EncapNone},
		{"ppp_cut", LinkPPP, []byte{0xFF, 0x03, 0x00}, nil, Undecoded{EncapPPP, CauseCut}, EncapNone},
		{"ppp_in_hdlc", LinkPPPHDLC, cat([]byte{0xFF, 0x03, 0x00, 0x21}, inSYN4), inSYN4, Undecoded{}, EncapNone},
		{"cisco_hdlc", LinkPPPHDLC, cat([]byte{0x0F, 0x00, 0x08, 0x00}, inUDP4), inUDP4, Undecoded{}, EncapNone},
		{"cisco_hdlc_ipv6", LinkPPPHDLC, cat([]byte{0x8F, 0x00, 0x86, 0xDD}, inData6), inData6, Undecoded{}, EncapNone},
		{"cisco_hdlc_slarp", LinkPPPHDLC, cat([]byte{0x8F, 0x00, 0x80, 0x35}, make([]byte, 20)), nil, Undecoded{}, EncapNone},
		{"80211_from_ds", LinkIEEE80211, cat(dot11h(0x02, false, false, 0), snap(etherIPv4), inSYN4), inSYN4, Undecoded{}, EncapNone},
		{"80211_qos_4addr_htc", LinkIEEE80211, cat(dot11h(0x83, true, false, 0), snap(etherIPv6), inData6), inData6, Undecoded{}, EncapNone},
		{"80211_bridge_tunnel", LinkIEEE80211, cat(dot11h(0x01, false, false, 0), []byte{0xAA, 0xAA, 0x03, 0, 0, 0xF8, 0x08, 0x00}, inUDP4), inUDP4, Undecoded{}, EncapNone},
		{"80211_protected", LinkIEEE80211, cat(dot11h(0x41, true, false, 0), make([]byte, 8+60)), nil, Undecoded{Encap80211, CauseProtected}, EncapNone},
		{"80211_later_fragment", LinkIEEE80211, cat(dot11h(0x01, false, false, 1), make([]byte, 60)), nil, Undecoded{Encap80211, CauseFragment}, EncapNone},
		{"80211_beacon", LinkIEEE80211, cat([]byte{0x80, 0x00, 0, 0}, macSTA, macAP, macAP, make([]byte, 40)), nil, Undecoded{}, EncapNone},
		{"80211_ack", LinkIEEE80211, cat([]byte{0xD4, 0x00, 0, 0}, macAP), nil, Undecoded{}, EncapNone},
		{"80211_null_function", LinkIEEE80211, cat([]byte{0x48, 0x01, 0, 0}, macAP, macSTA, macAP, []byte{0, 0}), nil, Undecoded{}, EncapNone},
		{"80211_eapol", LinkIEEE80211, cat(dot11h(0x02, true, false, 0), snap(0x888E), make([]byte, 99)), nil, Undecoded{}, EncapNone},
		{"80211_stp_llc", LinkIEEE80211, cat(dot11h(0x00, false, false, 0), []byte{0x42, 0x42, 0x03}, make([]byte, 35)), nil, Undecoded{}, EncapNone},
		{"80211_version_1", LinkIEEE80211, cat([]byte{0x09}, dot11h(0x02, false, false, 0)[1:], snap(etherIPv4), inSYN4), nil, Undecoded{Encap80211, CauseMalformed}, EncapNone},
		{"80211_header_cut", LinkIEEE80211, dot11h(0x02, false, false, 0)[:20], nil, Undecoded{Encap80211, CauseCut}, EncapNone},
		{"radiotap_fcs", LinkRadiotap, cat(radiotaph(0x10, 1), dot11h(0x02, false, false, 0), snap(etherIPv4), inSYN4, fcs), inSYN4, Undecoded{}, EncapNone},
		{"radiotap_data_pad", LinkRadiotap, cat(radiotaph(0x20, 1), qosHdr, []byte{0, 0}, snap(etherIPv6), inData6), inData6, Undecoded{}, EncapNone},
		{"radiotap_extended_present", LinkRadiotap, cat(radiotaph(0, 3), dot11h(0x02, false, false, 0), snap(etherIPv4), inUDP4), inUDP4, Undecoded{}, EncapNone},
		{"radiotap_bad_fcs", LinkRadiotap, cat(radiotaph(0x50, 1), dot11h(0x02, false, false, 0), snap(etherIPv4), inSYN4, fcs), nil, Undecoded{Encap80211, CauseBadFCS}, EncapNone},
		{"radiotap_cut", LinkRadiotap, radiotaph(0, 1)[:12], nil, Undecoded{Encap80211, CauseCut}, EncapNone},
	}
}

// TestLinkTypes decodes NFLOG, PPP, PPP in HDLC framing, 802.11 and
// radiotap frames: the packet is the one carried, as decoding it alone
// gives; frames that carry no packet by nature say nothing; the others
// say why.
func TestLinkTypes(t *testing.T) {
	for _, tc := range linkCases() {
		t.Run(tc.name, func(t *testing.T) {
			if !LinkTypeSupported(tc.linkType) {
				t.Fatalf("link type %d not supported", tc.linkType)
			}
			got := decodeAs(t, tc.linkType, tc.frame)
			if got.Undecoded != tc.want || got.Tunnel != tc.tunnel {
				t.Errorf("undecoded %v, tunnel %v; want %v, %v", got.Undecoded, got.Tunnel, tc.want, tc.tunnel)
			}
			if tc.inner == nil {
				if got.IPVersion != 0 {
					t.Errorf("got an IP packet %v -> %v; want none", got.Src, got.Dst)
				}
				return
			}
			want := decodeAs(t, LinkRaw, tc.inner)
			if g, w := innerOf(got), innerOf(want); !reflect.DeepEqual(g, w) || got.Truncated {
				t.Errorf("truncated %v, inner packet\n got: %+v\nwant: %+v", got.Truncated, g, w)
			}
		})
	}
}

// TestNFLOGFields: the group and the rule's prefix are the packet's; one
// prefix is one string (decoding it again allocates nothing); a payload
// cut by the snap length is decoded as far as it goes.
func TestNFLOGFields(t *testing.T) {
	d := NewDecoder(LinkNFLOG)
	f := nflogh(binary.LittleEndian, 2, 42, "fwdiag-drop: ", inSYN4)
	var p, q Packet
	d.Decode(f, t0, len(f), len(f), &p)
	if p.LogGroup != 42 || p.LogPrefix != "fwdiag-drop: " || p.SrcPort != 40000 || p.MSS != 1460 {
		t.Errorf("got group %d prefix %q port %d mss %d; want 42, %q, 40000, 1460", p.LogGroup, p.LogPrefix, p.SrcPort, p.MSS, "fwdiag-drop: ")
	}
	if n := testing.AllocsPerRun(100, func() { d.Decode(f, t0, len(f), len(f), &q) }); n != 0 {
		t.Errorf("%v allocations decoding a known prefix; want 0", n)
	}
	if unsafe.StringData(p.LogPrefix) != unsafe.StringData(q.LogPrefix) {
		t.Error("the same prefix decoded twice is two strings")
	}
	f = nflogh(binary.LittleEndian, 2, 42, "cut", cat(inData6))
	cut := len(f) - 290
	d.Decode(f[:cut], t0, cut, len(f), &p)
	if !p.Truncated || p.Seq != 5000 || p.Undecoded != (Undecoded{}) {
		t.Errorf("cut payload: truncated %v seq %d undecoded %v; want true, 5000, none", p.Truncated, p.Seq, p.Undecoded)
	}
	// Many prefixes (a damaged capture) do not grow the set without end.
	for i := range 2 * maxPrefixes {
		f := nflogh(binary.LittleEndian, 2, 1, "p"+itoa(uint64(i)), inSYN4)
		d.Decode(f, t0, len(f), len(f), &p)
		if p.LogPrefix != "p"+itoa(uint64(i)) {
			t.Fatalf("got prefix %q", p.LogPrefix)
		}
	}
	if len(d.prefixes) != maxPrefixes {
		t.Errorf("%d prefixes kept; want %d", len(d.prefixes), maxPrefixes)
	}
}

// TestAMSDU: an A-MSDU's subframes are one packet each, the first from
// Decode and the others from More; a reader delivers them all, with the
// frame's number.
func TestAMSDU(t *testing.T) {
	inners := [][]byte{inSYN4, inData6, inUDP4}
	body := cat(subframe(cat(snap(etherIPv4), inSYN4), true), subframe(cat(snap(etherIPv6), inData6), true), subframe(cat(snap(etherIPv4), inUDP4), false))
	f := cat(dot11h(0x02, true, true, 0), body)
	d := NewDecoder(LinkIEEE80211)
	var p Packet
	d.Decode(f, t0, len(f), len(f), &p)
	for i, in := range inners {
		if i > 0 && !d.More(&p) {
			t.Fatalf("More: false after %d packets", i)
		}
		if g, w := innerOf(p), innerOf(decodeAs(t, LinkRaw, in)); !reflect.DeepEqual(g, w) || p.Time != t0 {
			t.Errorf("subframe %d\n got: %+v\nwant: %+v", i, g, w)
		}
	}
	if d.More(&p) {
		t.Error("More: true after the last subframe")
	}
	// With an FCS after the last subframe (no radiotap to say so) and
	// through a reader.
	file := pcapBytes(false, false, 65535, LinkIEEE80211, rec{ts: t0, data: cat(f, []byte{1, 2, 3, 4})}, rec{ts: t0, data: cat(dot11h(0x02, false, false, 0), snap(etherIPv4), inSYN4)})
	s, err := openBytes(t, file)
	if err != nil {
		t.Fatal(err)
	}
	pkts, errs := readAll(t, s)
	if len(pkts) != 4 || len(errs) != 0 || pkts[0].Frame != 1 || pkts[2].Frame != 1 || pkts[3].Frame != 2 || pkts[2].SrcPort != 51000 {
		t.Errorf("got %d packets (errors %v); want 4, the first three from frame 1", len(pkts), errs)
	}
	if in := s.Inputs()[0]; in.Packets != 2 || in.Undecoded != nil || in.LinkTypes[0] != "ieee802_11" {
		t.Errorf("input: %d frames, undecoded %v, link types %v; want 2, none, ieee802_11", in.Packets, in.Undecoded, in.LinkTypes)
	}
	// In Aruba's GRE, as Zeek's gre-aruba-amsdu.pcap has it.
	g := outerIP(47, greh(0, false, false, false, false, 0x8240, f))
	d = NewDecoder(LinkEthernet)
	d.Decode(g, t0, len(g), len(g), &p)
	n := 1
	for ; d.More(&p); n++ {
		if p.Tunnel != EncapGRE || p.SrcPort != [3]uint16{40000, 40001, 51000}[n] {
			t.Errorf("Aruba subframe %d: %v port %d", n, p.Tunnel, p.SrcPort)
		}
	}
	if n != 3 {
		t.Errorf("Aruba GRE: %d packets; want 3", n)
	}
}

// TestUndecodedCounted80211: a reader counts the 802.11 frames left
// undecoded by reason; management, control and null frames are not
// counted.
func TestUndecodedCounted80211(t *testing.T) {
	var recs []rec
	want := map[Undecoded]uint64{}
	for _, tc := range linkCases() {
		if tc.linkType == LinkIEEE80211 {
			recs = append(recs, rec{ts: t0, data: tc.frame})
			if tc.want != (Undecoded{}) {
				want[tc.want]++
			}
		}
	}
	// A protected frame more: counts add up.
	recs = append(recs, rec{ts: t0, data: cat(dot11h(0x42, false, false, 0), make([]byte, 80))})
	want[Undecoded{Encap80211, CauseProtected}]++
	s, err := openBytes(t, pcapBytes(false, false, 65535, LinkIEEE80211, recs...))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, s)
	in := s.Inputs()[0]
	if !reflect.DeepEqual(in.Undecoded, want) || in.UndecodedTotal() != 5 {
		t.Errorf("undecoded %v (total %d); want %v (5)", in.Undecoded, in.UndecodedTotal(), want)
	}
	if b, _ := (Undecoded{Encap80211, CauseProtected}).MarshalText(); string(b) != "802.11: encrypted or compressed" {
		t.Errorf("MarshalText: %q", b)
	}
}
