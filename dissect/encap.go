package dissect

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Encapsulations: tunnels and labels a packet can be carried in, and the link
// layers other than Ethernet that can fail to yield one.
//
// The fast path (decode.go) reads plain Ethernet, VLAN tags, PPPoE and IP
// and leaves this file only for a frame that is actually encapsulated: an
// Ethernet type it does not know (MPLS, PBB, VN-Tag), IP protocol 4, 41 or
// 47, or UDP on a tunnel port or with a Teredo payload. Here the tunnel
// header is checked first; only when it is sound and carries something
// fwdiag reads does the packet become the inner one (enter), with
// Packet.Tunnel saying which tunnel carried it. When the tunnel's own header
// fails, the outer packet stays as decoded and Packet.Undecoded says why;
// when a header further in fails, the packet has no IP (as for ARP) and
// Packet.Undecoded says why.
//
// gopacket's layers decode the GRE and VXLAN headers (DecodeFromBytes on
// layers kept in the Decoder: no allocation). The other headers are read
// here, because gopacket has no layer for them (MPLS as a DecodingLayer,
// PBB, VN-Tag, Teredo, AYIYA, ERSPAN III, NFLOG), or its layer allocates
// on every packet (Geneve: one or two per option; 802.11: per frame), refuses a
// frame cut by the snap length (GTP-U checks the whole message length is
// there), or assumes an FCS the capture may not have (802.11 strips four
// bytes from every frame). TestGopacketEncapReasons holds those reasons;
// TestEncapAgreesWithGopacket checks that the headers read here and
// gopacket's layers find the same inner packet.

// Encap names an encapsulation.
type Encap uint8

const (
	EncapNone   Encap = iota
	EncapVXLAN        // VXLAN: UDP port 4789, or 8472 (Linux's default, flannel)
	EncapGeneve       // Geneve: UDP port 6081
	EncapGRE          // GRE over IP (protocol 47), PPTP's enhanced GRE, Aruba's GRE
	EncapGREUDP       // GRE over UDP: port 4754 (RFC 8086)
	EncapERSPAN       // ERSPAN type I, II or III: mirrored frames in GRE
	EncapGTPU         // GTP-U: UDP port 2152
	EncapTeredo       // Teredo: UDP port 3544, or IPv6 to or from 2001::/32 in UDP
	EncapAYIYA        // AYIYA: UDP port 5072
	EncapIPinIP       // IP in IP (protocols 4 and 41): 4in4, 6in4, 4in6, 6in6
	EncapMPLS         // MPLS label stack (Ethernet types 0x8847, 0x8848; PPP 0x0281)
	EncapPBB          // 802.1ah provider backbone bridging (Ethernet type 0x88E7)
	EncapVNTag        // Cisco VN-Tag (Ethernet type 0x8926)
	EncapNFLOG        // the Linux NFLOG link layer (never a Packet.Tunnel)
	EncapPPP          // PPP, PPP in HDLC framing, Cisco HDLC (never a Packet.Tunnel)
	Encap80211        // IEEE 802.11, with or without radiotap (never a Packet.Tunnel)
	numEncap
)

var encapNames = [numEncap]string{
	EncapNone:   "none",
	EncapVXLAN:  "vxlan",
	EncapGeneve: "geneve",
	EncapGRE:    "gre",
	EncapGREUDP: "gre-udp",
	EncapERSPAN: "erspan",
	EncapGTPU:   "gtp-u",
	EncapTeredo: "teredo",
	EncapAYIYA:  "ayiya",
	EncapIPinIP: "ip-in-ip",
	EncapMPLS:   "mpls",
	EncapPBB:    "pbb",
	EncapVNTag:  "vn-tag",
	EncapNFLOG:  "nflog",
	EncapPPP:    "ppp",
	Encap80211:  "802.11",
}

// String returns the short name, e.g. "vxlan" or "gtp-u".
func (e Encap) String() string {
	if e < numEncap {
		return encapNames[e]
	}
	return "encap_" + itoa(uint64(e))
}

// Cause is why an encapsulated packet could not be decoded.
type Cause uint8

const (
	CauseNone      Cause = iota
	CauseCut             // a header was cut short: by the snap length, or shorter than it claims
	CauseMalformed       // a header field is invalid (version, flags, lengths)
	CauseProtocol        // it carries a protocol fwdiag does not read (a GRE type, MPLS without IP...)
	CauseProtected       // encrypted or compressed: an 802.11 protected frame, PPP compression
	CauseFragment        // a later 802.11 fragment: the headers are in the first one
	CauseBadFCS          // the capture marks the frame's FCS as bad (radiotap)
	CauseDepth           // encapsulations nested deeper than fwdiag follows (maxEncap)
	numCause
)

var causeNames = [numCause]string{
	CauseNone:      "none",
	CauseCut:       "cut short",
	CauseMalformed: "malformed",
	CauseProtocol:  "protocol not followed",
	CauseProtected: "encrypted or compressed",
	CauseFragment:  "later fragment",
	CauseBadFCS:    "bad FCS",
	CauseDepth:     "nested too deep",
}

func (c Cause) String() string {
	if c < numCause {
		return causeNames[c]
	}
	return "cause_" + itoa(uint64(c))
}

// Undecoded is why the packet a frame carries could not be decoded: the
// encapsulation that stopped and the cause. The zero value means nothing
// was left undecoded.
type Undecoded struct {
	Encap Encap
	Cause Cause
}

// String returns e.g. "802.11: encrypted or compressed".
func (u Undecoded) String() string { return u.Encap.String() + ": " + u.Cause.String() }

// MarshalText makes Undecoded usable as a JSON object key.
func (u Undecoded) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// Ethernet types and limits of the slow path.
const (
	etherMPLS      = 0x8847
	etherMPLSMulti = 0x8848
	etherPBB       = 0x88E7 // 802.1ah I-TAG
	etherVNTag     = 0x8926
	etherTEB       = 0x6558 // transparent Ethernet bridging: an Ethernet frame follows
	etherERSPAN    = 0x88BE // ERSPAN type I and II (GRE protocol)
	etherERSPAN3   = 0x22EB // ERSPAN type III (GRE protocol)
	etherPPP       = 0x880B // PPP (GRE protocol, PPTP)
	maxEncap       = 8      // tunnels and labels followed, one inside the other
	maxLabels      = 16     // MPLS labels in one stack
)

// encState is the per-frame state of the slow path, reset by decode.
type encState struct {
	depth uint8 // encapsulations entered
	// fragOuter says an outer IP packet of the frame was a fragment (the
	// first: later ones carry no tunnel header), so the inner packet is
	// incomplete in this frame: it is marked Fragment, and Truncated only
	// as the outer was, since the inner headers' claims reach into the
	// fragments that follow.
	fragOuter, truncOuter bool
}

// tunnelPort names the tunnel a UDP port is registered for. One compare
// sends away the ports outside 2152-8472, the well-known and ephemeral
// ones most UDP uses.
func tunnelPort(port uint16) Encap {
	if port-2152 > 8472-2152 {
		return EncapNone
	}
	switch port {
	case 4789, 8472:
		return EncapVXLAN
	case 6081:
		return EncapGeneve
	case 2152:
		return EncapGTPU
	case 3544:
		return EncapTeredo
	case 5072:
		return EncapAYIYA
	case 4754:
		return EncapGREUDP
	}
	return EncapNone
}

// maybeTeredo is the cheap test, on every UDP payload b (n bytes as the
// headers claim) off the tunnel ports, for Teredo on a port other than
// 3544 (a relay's): an IPv6 header whose length fills the datagram (or a
// bubble: no next header, no payload), alone or after an origin
// indication. Random payloads rarely pass (a QUIC short header starts like
// IPv6 one time in four, and then its length must match); teredo decides.
func maybeTeredo(b []byte, n int) bool {
	if len(b) >= 48 && b[0] == 0 && b[1] == 0 {
		b, n = b[8:], n-8
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	return plen+40 == n || plen == 0 && b[6] == 59
}

// resetInner clears what describes the packet and keeps what describes
// the frame (TestResetInner's frameFields: it holds both lists to the
// struct).
func (p *Packet) resetInner() {
	p.IPVersion, p.Src, p.Dst, p.TTL, p.IPID, p.Fragment, p.Proto = 0, netip.Addr{}, netip.Addr{}, 0, 0, false, 0
	p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window, p.MSS, p.WScale = 0, 0, 0, 0, 0, 0, 0, -1
	p.PayloadLen, p.Payload, p.ICMPType, p.ICMPCode, p.HasQuoted, p.Quoted, p.DNS = 0, nil, 0, 0, false, Quoted{}, nil
}

// undecoded records why the frame's packet could not be decoded.
func undecoded(p *Packet, e Encap, c Cause) { p.Undecoded = Undecoded{e, c} }

// enter makes p the packet that an encapsulation of kind carries. It
// returns false, with the reason in p, when the nesting is too deep.
func (d *Decoder) enter(kind Encap, p *Packet) bool {
	if d.enc.depth >= maxEncap {
		undecoded(p, kind, CauseDepth)
		return false
	}
	d.enc.depth++
	p.resetInner()
	p.Tunnel = kind
	return true
}

// What a tunnel header says comes next.
type next uint8

const (
	nextIP        next = iota // an IPv4 or IPv6 packet
	nextEther                 // an Ethernet frame
	nextEtherType             // the payload of the Ethernet type carry is given
	nextPPP                   // a PPP frame (PPTP)
	next80211                 // an 802.11 frame without FCS (Aruba)
)

// carry enters a tunnel of kind found in an IP packet and decodes what it
// carries.
func (d *Decoder) carry(kind Encap, nx next, et uint16, b []byte, p *Packet) {
	if p.Fragment && !d.enc.fragOuter {
		d.enc.fragOuter, d.enc.truncOuter = true, p.Truncated
	}
	if !d.enter(kind, p) {
		return
	}
	switch nx {
	case nextIP:
		d.ip(b, p)
	case nextEther:
		d.frame(b, p)
	case nextEtherType:
		d.ether(et, b, p)
	case nextPPP:
		d.ppp(b, p)
	case next80211:
		d.dot11(b, false, p)
	}
	d.fixFragment(p)
}

// fixFragment marks the inner packet of an outer fragment.
func (d *Decoder) fixFragment(p *Packet) {
	if d.enc.fragOuter {
		p.Fragment, p.Truncated = true, d.enc.truncOuter
	}
}

// ipReady checks that b starts with an IP header worth entering a tunnel
// for: of version want (0: either), and long enough for the addresses.
func ipReady(b []byte, want uint8) Cause {
	if len(b) < 1 {
		return CauseCut
	}
	v := b[0] >> 4
	switch {
	case v != 4 && v != 6:
		return CauseProtocol
	case want != 0 && v != want:
		return CauseMalformed
	case v == 4 && len(b) < 20, v == 6 && len(b) < 40:
		return CauseCut
	}
	return CauseNone
}

// etherReady checks that a tunnel's protocol field (an Ethernet type) names
// something fwdiag follows, with enough of it there to enter for.
func etherReady(et uint16, b []byte) Cause {
	switch et {
	case etherIPv4:
		return ipReady(b, 4)
	case etherIPv6:
		return ipReady(b, 6)
	case etherTEB:
		if len(b) < 14 {
			return CauseCut
		}
	case etherVLAN, etherQinQ, etherQinQOld, etherPPPoE, etherMPLS, etherMPLSMulti, etherPBB, etherVNTag:
		if len(b) < 4 {
			return CauseCut
		}
	default:
		return CauseProtocol
	}
	return CauseNone
}

// carryEtherType enters a tunnel whose header names its payload by
// Ethernet type (GRE, Geneve).
func (d *Decoder) carryEtherType(kind Encap, et uint16, b []byte, p *Packet) {
	if c := etherReady(et, b); c != CauseNone {
		undecoded(p, kind, c)
		return
	}
	d.carry(kind, nextEtherType, et, b, p)
}

// frame decodes an Ethernet frame carried in a tunnel.
func (d *Decoder) frame(b []byte, p *Packet) {
	if len(b) < 14 {
		p.Truncated = true
		return
	}
	d.ether(binary.BigEndian.Uint16(b[12:14]), b[14:], p)
}

// etherOther follows the Ethernet types the fast path leaves: MPLS, PBB,
// VN-Tag, and an Ethernet frame in a tunnel. Any other is not IP.
func (d *Decoder) etherOther(et uint16, b []byte, p *Packet) {
	switch et {
	case etherMPLS, etherMPLSMulti:
		d.mpls(b, p)
	case etherPBB:
		// I-TAG (flags and service id), the customer's addresses, then
		// the customer's Ethernet type.
		if len(b) < 18 {
			p.Truncated = true
			undecoded(p, EncapPBB, CauseCut)
			return
		}
		if d.enter(EncapPBB, p) {
			d.ether(binary.BigEndian.Uint16(b[16:18]), b[18:], p)
		}
	case etherVNTag:
		if len(b) < 6 {
			p.Truncated = true
			undecoded(p, EncapVNTag, CauseCut)
			return
		}
		if d.enter(EncapVNTag, p) {
			d.ether(binary.BigEndian.Uint16(b[4:6]), b[6:], p)
		}
	case etherTEB:
		if d.enc.depth < maxEncap {
			d.enc.depth++
			d.frame(b, p)
		}
	}
}

// mpls follows an MPLS label stack to the packet under it, which MPLS does
// not name: the first nibble tells IPv4 or IPv6 from a pseudowire control
// word (0) with an Ethernet frame after it (RFC 4448).
func (d *Decoder) mpls(b []byte, p *Packet) {
	for i := 0; ; i++ {
		if len(b) < 4 {
			p.Truncated = true
			undecoded(p, EncapMPLS, CauseCut)
			return
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
		if i == maxLabels {
			undecoded(p, EncapMPLS, CauseMalformed)
			return
		}
	}
	if len(b) < 1 {
		p.Truncated = true
		undecoded(p, EncapMPLS, CauseCut)
		return
	}
	switch b[0] >> 4 {
	case 4, 6:
		if d.enter(EncapMPLS, p) {
			d.ip(b, p)
		}
	case 0:
		if len(b) < 4+14 {
			p.Truncated = true
			undecoded(p, EncapMPLS, CauseCut)
			return
		}
		if d.enter(EncapMPLS, p) {
			d.frame(b[4:], p)
		}
	default:
		undecoded(p, EncapMPLS, CauseProtocol)
	}
}

// ipTunnel follows the IP protocols that carry a packet: IP in IP and GRE.
// b is the captured IP payload of a first or only fragment.
func (d *Decoder) ipTunnel(b []byte, p *Packet) {
	switch p.Proto {
	case 4, 41:
		want := uint8(4)
		if p.Proto == 41 {
			want = 6
		}
		if c := ipReady(b, want); c != CauseNone {
			undecoded(p, EncapIPinIP, c)
			return
		}
		d.carry(EncapIPinIP, nextIP, 0, b, p)
	case 47:
		d.gre(EncapGRE, b, p)
	}
}

// gre follows a GRE packet (over IP, or over UDP when kind is EncapGREUDP).
func (d *Decoder) gre(kind Encap, b []byte, p *Packet) {
	if len(b) < 4 {
		// Cut before its flags: gopacket would return before resetting
		// them (the last packet's RoutingPresent) and allocate an error.
		undecoded(p, kind, CauseCut)
		return
	}
	g := &d.greL
	err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback)
	pl := g.Payload
	g.BaseLayer, g.GRERouting = layers.BaseLayer{}, nil // keep no reference to the frame
	switch {
	case err != nil && g.RoutingPresent:
		undecoded(p, kind, CauseMalformed) // too many source route entries, or cut in them
		return
	case err != nil:
		undecoded(p, kind, CauseCut)
		return
	case g.Version == 1:
		// PPTP's enhanced GRE always carries PPP.
		if g.Protocol != etherPPP {
			undecoded(p, kind, CauseMalformed)
			return
		}
		d.carry(kind, nextPPP, 0, pl, p)
		return
	case g.Version != 0:
		undecoded(p, kind, CauseMalformed)
		return
	}
	switch et := uint16(g.Protocol); {
	case et == 0:
		// A keepalive (Cisco's: the reply inside, with protocol 0): no
		// packet, nothing damaged.
	case et == etherERSPAN:
		// Type II has an 8-byte header (version 1) and GRE sequence
		// numbers; type I has neither.
		hl := 0
		if g.SeqPresent {
			hl = 8
		}
		switch {
		case len(pl) < hl+14:
			undecoded(p, EncapERSPAN, CauseCut)
		case hl == 8 && pl[0]>>4 != 1:
			undecoded(p, EncapERSPAN, CauseMalformed)
		default:
			d.carry(EncapERSPAN, nextEther, 0, pl[hl:], p)
		}
	case et == etherERSPAN3:
		// Version 2: 12 bytes, 8 more when the O flag says a
		// platform-specific subheader follows.
		if len(pl) < 12 {
			undecoded(p, EncapERSPAN, CauseCut)
			return
		}
		hl := 12
		if pl[11]&1 != 0 {
			hl += 8
		}
		switch {
		case pl[0]>>4 != 2:
			undecoded(p, EncapERSPAN, CauseMalformed)
		case len(pl) < hl+14:
			undecoded(p, EncapERSPAN, CauseCut)
		default:
			d.carry(EncapERSPAN, nextEther, 0, pl[hl:], p)
		}
	case et&0x0F == 0 && (et&0xFF00 == 0x8200 || et&0xFF00 == 0x8300 && et <= 0x8370):
		// Aruba's access points tunnel 802.11 frames to the controller
		// with these types (as Zeek and Wireshark read them).
		if len(pl) < 24 {
			undecoded(p, kind, CauseCut)
			return
		}
		d.carry(kind, next80211, 0, pl, p)
	case et == etherPPP:
		d.carry(kind, nextPPP, 0, pl, p)
	default:
		d.carryEtherType(kind, et, pl, p)
	}
}

// udpTunnel follows a UDP payload b that tunnelPort or maybeTeredo picked;
// n is its length as the headers claim. When the payload is not the
// tunnel it should be, p stays the UDP packet.
func (d *Decoder) udpTunnel(kind Encap, b []byte, n int, p *Packet) {
	switch kind {
	case EncapNone:
		// A relay's Teredo on another port: only when sure.
		if inner, c := teredo(b, n, true); c == CauseNone {
			d.carry(EncapTeredo, nextIP, 0, inner, p)
		}
	case EncapTeredo:
		if inner, c := teredo(b, n, false); c != CauseNone {
			undecoded(p, kind, c)
		} else {
			d.carry(kind, nextIP, 0, inner, p)
		}
	case EncapVXLAN:
		if len(b) < 8 {
			undecoded(p, kind, CauseCut) // not worth gopacket's error allocation
			return
		}
		v := &d.vxlanL
		err := v.DecodeFromBytes(b, gopacket.NilDecodeFeedback)
		pl := v.Payload
		v.BaseLayer = layers.BaseLayer{}
		switch {
		case err != nil:
			undecoded(p, kind, CauseCut)
		case !v.ValidIDFlag:
			undecoded(p, kind, CauseMalformed)
		case len(pl) < 14:
			undecoded(p, kind, CauseCut)
		default:
			d.carry(kind, nextEther, 0, pl, p)
		}
	case EncapGeneve:
		if len(b) < 8 {
			undecoded(p, kind, CauseCut)
			return
		}
		hl := 8 + int(b[0]&0x3F)*4
		switch {
		case b[0]>>6 != 0:
			undecoded(p, kind, CauseMalformed)
		case len(b) < hl:
			undecoded(p, kind, CauseCut)
		default:
			d.carryEtherType(kind, binary.BigEndian.Uint16(b[2:4]), b[hl:], p)
		}
	case EncapGTPU:
		d.gtpu(b, p)
	case EncapAYIYA:
		d.ayiya(b, p)
	case EncapGREUDP:
		d.gre(kind, b, p)
	}
}

// gtpu follows a GTP-U (GTPv1-U) message: a G-PDU carries a packet; echo,
// error indication and end marker messages are the tunnel's own and carry
// none.
func (d *Decoder) gtpu(b []byte, p *Packet) {
	if len(b) < 8 {
		undecoded(p, EncapGTPU, CauseCut)
		return
	}
	if b[0]>>5 != 1 || b[0]&0x10 == 0 { // version 1, protocol type GTP (not GTP')
		undecoded(p, EncapGTPU, CauseMalformed)
		return
	}
	if b[1] != 0xFF {
		return
	}
	hl := 8
	if b[0]&0x07 != 0 {
		// Sequence number, N-PDU number and next extension header type,
		// then the extension headers, each counting its length in 4-byte
		// units and ending with the type of the next.
		hl = 12
		if len(b) < hl {
			undecoded(p, EncapGTPU, CauseCut)
			return
		}
		for nt := b[11]; b[0]&0x04 != 0 && nt != 0; {
			if len(b) < hl+1 {
				undecoded(p, EncapGTPU, CauseCut)
				return
			}
			n := int(b[hl]) * 4
			if n == 0 {
				undecoded(p, EncapGTPU, CauseMalformed)
				return
			}
			if len(b) < hl+n {
				undecoded(p, EncapGTPU, CauseCut)
				return
			}
			nt = b[hl+n-1]
			hl += n
		}
	}
	if c := ipReady(b[hl:], 0); c != CauseNone {
		undecoded(p, EncapGTPU, c)
		return
	}
	d.carry(EncapGTPU, nextIP, 0, b[hl:], p)
}

// ayiya follows an AYIYA (anything in anything) packet: a forward
// operation carries the packet its next header names; heartbeats and the
// rest carry none.
func (d *Decoder) ayiya(b []byte, p *Packet) {
	if len(b) < 8 {
		undecoded(p, EncapAYIYA, CauseCut)
		return
	}
	// Identity (2^n bytes) and signature (4n bytes) lengths, then the
	// opcode (1: forward) and the next header; an epoch time follows.
	hl := 8 + 1<<(b[0]>>4) + int(b[1]>>4)*4
	if b[2]&0x0F != 1 {
		return
	}
	var want uint8
	switch b[3] {
	case 4:
		want = 4
	case 41:
		want = 6
	case 59: // no next header
		return
	default:
		undecoded(p, EncapAYIYA, CauseProtocol)
		return
	}
	if len(b) < hl {
		undecoded(p, EncapAYIYA, CauseCut)
		return
	}
	if c := ipReady(b[hl:], want); c != CauseNone {
		undecoded(p, EncapAYIYA, c)
		return
	}
	d.carry(EncapAYIYA, nextIP, 0, b[hl:], p)
}

// teredo finds the IPv6 packet in a Teredo payload b (n bytes as the UDP
// header claims): optional authentication and origin indication headers,
// then IPv6. On a port other than Teredo's (sure), only a packet that is
// surely Teredo passes: IPv6 whose length fills the datagram exactly and
// with a Teredo address (2001::/32) at one end.
func teredo(b []byte, n int, sure bool) ([]byte, Cause) {
	if len(b) >= 4 && b[0] == 0 && b[1] == 1 {
		// Authentication: client id and authentication value lengths,
		// then the id, the value, an 8-byte nonce and a confirmation byte.
		hl := 4 + int(b[2]) + int(b[3]) + 9
		if len(b) < hl {
			return nil, CauseCut
		}
		b, n = b[hl:], n-hl
	}
	if len(b) >= 2 && b[0] == 0 && b[1] == 0 {
		// Origin indication: the client's obfuscated port and address.
		if len(b) < 8 {
			return nil, CauseCut
		}
		b, n = b[8:], n-8
	}
	if c := ipReady(b, 6); c != CauseNone {
		if c == CauseProtocol {
			c = CauseMalformed
		}
		return nil, c
	}
	if sure {
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		teredoAddr := func(a []byte) bool { return a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0 }
		bubble := b[6] == 59 && plen == 0 // a bubble may carry stray bytes
		if 40+plen != n && !bubble || !teredoAddr(b[8:12]) && !teredoAddr(b[24:28]) {
			return nil, CauseMalformed
		}
	}
	return b, CauseNone
}
