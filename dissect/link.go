package dissect

import "encoding/binary"

// Link layers that carry IP another way than Ethernet does: NFLOG, PPP and
// 802.11. None is on the fast path; each is read here by hand (see
// encap.go for why not with gopacket's layers).

// maxPrefixes bounds the NFLOG prefixes a Decoder keeps as strings, so that
// a capture of many rules allocates each once and a damaged one with a new
// prefix in every frame cannot grow the set without end.
const maxPrefixes = 256

// nflog decodes a Linux NFLOG frame (what tcpdump -i nflog:N records): a
// 4-byte header (address family, version, group), then TLVs, each with a
// length and type in the logging host's byte order and padded to 4 bytes.
// The payload TLV (type 9) holds the packet from its IP header on; the
// prefix TLV (10) the rule's log prefix.
func (d *Decoder) nflog(b []byte, p *Packet) {
	if len(b) < 4 {
		p.Truncated = true
		undecoded(p, EncapNFLOG, CauseCut)
		return
	}
	p.LogGroup = binary.BigEndian.Uint16(b[2:4])
	b = b[4:]
	// The byte order is the logging host's; a pcap reader on a host of the
	// other order may have swapped the TLV headers to its own. The first
	// TLV decides: read little-endian, a length within the frame and a
	// type among the few NFULA_ values, or else it is big-endian.
	order := binary.ByteOrder(binary.LittleEndian)
	if len(b) >= 4 {
		l, t := int(binary.LittleEndian.Uint16(b)), binary.LittleEndian.Uint16(b[2:])&0x7FFF
		if l < 4 || l > len(b) || t > 64 {
			order = binary.BigEndian
		}
	}
	var payload []byte
	found := false
	for len(b) >= 4 {
		l := int(order.Uint16(b))
		t := order.Uint16(b[2:]) & 0x7FFF // without the nested flag
		if l < 4 {
			break // damaged: a TLV cannot be shorter than its header
		}
		v := b[4:min(l, len(b))] // the payload TLV may be cut by the snap length
		switch t {
		case 9:
			payload, found = v, true
		case 10:
			p.LogPrefix = d.prefix(v)
		}
		l = (l + 3) &^ 3
		if l >= len(b) {
			break
		}
		b = b[l:]
	}
	if !found || len(payload) == 0 {
		// Logged without a copy of the packet (nflog-size 0), or cut
		// before it.
		undecoded(p, EncapNFLOG, CauseCut)
		return
	}
	d.ip(payload, p)
}

// prefix returns the NFLOG prefix v (NUL-terminated) as a string, the same
// string for the same prefix.
func (d *Decoder) prefix(v []byte) string {
	for i, c := range v {
		if c == 0 {
			v = v[:i]
			break
		}
	}
	if s, ok := d.prefixes[string(v)]; ok {
		return s
	}
	s := string(v)
	if len(d.prefixes) < maxPrefixes {
		if d.prefixes == nil {
			d.prefixes = map[string]string{}
		}
		d.prefixes[s] = s
	}
	return s
}

// ppp decodes a PPP frame: an optional HDLC address and control field
// (0xFF 0x03), a protocol field of one byte (when compressed, odd) or two,
// then the protocol's packet.
func (d *Decoder) ppp(b []byte, p *Packet) {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 || b[0]&1 == 0 && len(b) < 2 {
		p.Truncated = true
		undecoded(p, EncapPPP, CauseCut)
		return
	}
	proto := uint16(b[0])
	if b[0]&1 == 0 {
		proto = binary.BigEndian.Uint16(b)
		b = b[2:]
	} else {
		b = b[1:]
	}
	switch proto {
	case 0x0021, 0x0057: // IPv4, IPv6
		d.ip(b, p)
	case 0x0281, 0x0283: // MPLS unicast, multicast
		d.mpls(b, p)
	case 0x002D, 0x002F, 0x00FB, 0x00FD:
		// Van Jacobson compressed TCP/IP, compressed datagrams (CCP, MPPE
		// encrypts through it): nothing to read without the state.
		undecoded(p, EncapPPP, CauseProtected)
	}
	// Anything else is link or network control (LCP, IPCP,
	// authentication) or not IP: no packet, nothing damaged.
}

// hdlc decodes a LINKTYPE_PPP_HDLC frame: PPP in HDLC-like framing, or
// Cisco HDLC (address 0x0F or 0x8F, control 0, an Ethernet type).
func (d *Decoder) hdlc(b []byte, p *Packet) {
	if len(b) >= 4 && (b[0] == 0x0F || b[0] == 0x8F) && b[1] == 0 {
		d.ether(binary.BigEndian.Uint16(b[2:4]), b[4:], p)
		return
	}
	d.ppp(b, p)
}

// radiotap skips a radiotap header to the 802.11 frame after it, taking
// from its flags whether the frame ends with an FCS, whether its header is
// padded, and whether the FCS was bad.
func (d *Decoder) radiotap(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated = true
		undecoded(p, Encap80211, CauseCut)
		return
	}
	n := int(binary.LittleEndian.Uint16(b[2:4]))
	if b[0] != 0 || n < 8 {
		undecoded(p, Encap80211, CauseMalformed)
		return
	}
	if n > len(b) {
		p.Truncated = true
		undecoded(p, Encap80211, CauseCut)
		return
	}
	// The fields follow the present bitmaps (more words while bit 31 is
	// set), each aligned to its size from the header's start: TSFT (bit 0,
	// 8 bytes) and Flags (bit 1, 1 byte) come first.
	present := binary.LittleEndian.Uint32(b[4:8])
	off := 8
	for w := present; w&(1<<31) != 0; off += 4 {
		if off+4 > n {
			undecoded(p, Encap80211, CauseMalformed)
			return
		}
		w = binary.LittleEndian.Uint32(b[off:])
	}
	var flags byte
	if present&1 != 0 {
		off = (off+7)&^7 + 8
	}
	if present&2 != 0 {
		if off >= n {
			undecoded(p, Encap80211, CauseMalformed)
			return
		}
		flags = b[off]
	}
	f := b[n:]
	if flags&0x40 != 0 {
		undecoded(p, Encap80211, CauseBadFCS)
		return
	}
	if flags&0x10 != 0 && p.CapLen >= p.OrigLen && len(f) >= 4 {
		f = f[:len(f)-4] // the FCS, when the snap length left it there
	}
	d.dot11(f, flags&0x20 != 0, p)
}

// dot11 decodes an 802.11 frame without FCS; padded says the header is
// padded to 4 bytes (radiotap's flag). Only data frames carry packets:
// management and control frames, and data frames without a body (null
// function), are not damage and yield no packet.
func (d *Decoder) dot11(b []byte, padded bool, p *Packet) {
	if len(b) < 2 {
		p.Truncated = true
		undecoded(p, Encap80211, CauseCut)
		return
	}
	fc0, fc1 := b[0], b[1]
	if fc0&0x03 != 0 {
		undecoded(p, Encap80211, CauseMalformed) // protocol version 0 is the only one
		return
	}
	if fc0&0x0C != 0x08 || fc0&0x40 != 0 {
		return // not a data frame, or one without a body
	}
	hl := 24
	if fc1&0x03 == 0x03 { // to and from the distribution system: four addresses
		hl = 30
	}
	amsdu := false
	if fc0&0x80 != 0 { // QoS data
		if len(b) < hl+2 {
			p.Truncated = true
			undecoded(p, Encap80211, CauseCut)
			return
		}
		amsdu = b[hl]&0x80 != 0
		hl += 2
		if fc1&0x80 != 0 { // +HTC
			hl += 4
		}
	}
	if padded {
		hl = (hl + 3) &^ 3
	}
	if len(b) < hl {
		p.Truncated = true
		undecoded(p, Encap80211, CauseCut)
		return
	}
	if fc1&0x40 != 0 {
		undecoded(p, Encap80211, CauseProtected)
		return
	}
	if binary.LittleEndian.Uint16(b[22:24])&0x0F != 0 {
		undecoded(p, Encap80211, CauseFragment)
		return
	}
	body := b[hl:]
	if fc1&0x04 != 0 && !d.enc.fragOuter {
		// The first fragment of a fragmented frame: its packet goes on in
		// the next frame.
		d.enc.fragOuter, d.enc.truncOuter = true, p.Truncated
	}
	if amsdu {
		d.amsdu(body, p)
	} else {
		d.llc(body, p)
	}
	d.fixFragment(p)
}

// llc decodes an 802.2 LLC/SNAP header carrying an Ethernet type (RFC 1042
// or 802.1H encapsulation) and the packet after it. Other LLC frames are
// not IP.
func (d *Decoder) llc(b []byte, p *Packet) {
	if len(b) < 8 {
		if len(b) > 0 {
			p.Truncated = true
			undecoded(p, Encap80211, CauseCut)
		}
		return
	}
	if b[0] != 0xAA || b[1] != 0xAA || b[2] != 0x03 || b[3] != 0 || b[4] != 0 || b[5] != 0 && b[5] != 0xF8 {
		return
	}
	d.ether(binary.BigEndian.Uint16(b[6:8]), b[8:], p)
}

// amsdu decodes the first subframe of an A-MSDU (an aggregate of frames
// sent as one) and keeps the others for More.
func (d *Decoder) amsdu(b []byte, p *Packet) {
	d.rest = b
	d.restBase = *p
	d.restEnc = d.enc
	d.subframe(p)
}

// subframe decodes the next A-MSDU subframe of d.rest: destination and
// source address, length, the LLC/SNAP-headed packet, and padding to 4
// bytes before the next.
func (d *Decoder) subframe(p *Packet) {
	b := d.rest
	d.rest = nil
	if len(b) < 14 {
		p.Truncated = true
		undecoded(p, Encap80211, CauseCut)
		return
	}
	end := 14 + int(binary.BigEndian.Uint16(b[12:14]))
	if end > len(b) {
		end = len(b) // cut by the snap length: the IP header will say so
	} else if next := (end + 3) &^ 3; next+14 <= len(b) {
		d.rest = b[next:] // fewer bytes left are an FCS, not a subframe
	}
	d.llc(b[14:end], p)
}

// More fills p with the next packet of the frame last decoded, when it
// carried more than one (the subframes of an 802.11 A-MSDU), and reports
// whether it did. Readers call it before reading the next frame; p gets
// the same frame fields (Input, Frame, Time...) as the first packet.
func (d *Decoder) More(p *Packet) bool {
	if len(d.rest) == 0 {
		return false
	}
	*p = d.restBase
	d.enc = d.restEnc
	d.subframe(p)
	d.fixFragment(p)
	return true
}
