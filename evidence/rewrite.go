package evidence

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/report"
)

// The rewriting is done in place on the captured bytes rather than by
// decoding and serialising layers: it then works the same for every link
// type the readers take (gopacket serialises no Linux cooked v2 header),
// leaves every byte it does not mean to change as captured, and can fix a
// checksum incrementally (RFC 1624) where the packet is cut short or
// fragmented and a checksum cannot be computed again from the bytes.

var (
	errNotIP   = errors.New("not an IP packet: cannot be redacted")
	errShortIP = errors.New("IP header cut short: cannot be redacted")
)

// rewriter redacts packets with one redactor; it remembers pseudonyms, each
// of which costs a hash per address bit.
type rewriter struct {
	red     *report.Redactor
	payload bool
	addrs   map[netip.Addr]netip.Addr
}

func newRewriter(red *report.Redactor, payload bool) *rewriter {
	return &rewriter{red: red, payload: payload, addrs: map[netip.Addr]netip.Addr{}}
}

func (w *rewriter) addr(b []byte) {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return
	}
	p, ok := w.addrs[a]
	if !ok {
		p = w.red.Addr(a)
		if len(b) == 16 {
			// An IPv4-mapped IPv6 address gets a pseudonym of 4 bytes:
			// written back mapped, all 16 bytes replaced.
			p = netip.AddrFrom16(p.As16())
		}
		w.addrs[a] = p
	}
	copy(b, p.AsSlice())
}

func (w *rewriter) mac(b []byte) { copy(b, w.red.MAC(b)) }

// rewrite returns a redacted copy of a frame: addresses replaced, checksums
// made right, cut after the transport header unless payloads are kept.
func (w *rewriter) rewrite(linkType int, frame []byte) ([]byte, error) {
	b := append([]byte(nil), frame...)
	off, err := w.link(linkType, b)
	if err != nil {
		return nil, err
	}
	keep, err := w.ip(b[off:], false)
	if err != nil {
		return nil, err
	}
	if !w.payload {
		b = b[:off+keep]
	}
	return b, nil
}

// link redacts the link-layer header and returns where the IP packet starts.
func (w *rewriter) link(linkType int, b []byte) (int, error) {
	switch linkType {
	case dissect.LinkEthernet:
		if len(b) < 14 {
			return 0, errShortIP
		}
		w.mac(b[0:6])
		w.mac(b[6:12])
		off, et := 14, binary.BigEndian.Uint16(b[12:14])
		for range 4 {
			if et != 0x8100 && et != 0x88A8 && et != 0x9100 {
				break
			}
			if len(b) < off+4 {
				return 0, errShortIP
			}
			et = binary.BigEndian.Uint16(b[off+2 : off+4])
			off += 4
		}
		if et != 0x0800 && et != 0x86DD {
			return 0, errNotIP
		}
		return off, nil
	case dissect.LinkLinuxSLL:
		if len(b) < 16 {
			return 0, errShortIP
		}
		w.mac(b[6 : 6+min(int(binary.BigEndian.Uint16(b[4:6])), 8)])
		if et := binary.BigEndian.Uint16(b[14:16]); et != 0x0800 && et != 0x86DD {
			return 0, errNotIP
		}
		return 16, nil
	case dissect.LinkLinuxSLL2:
		if len(b) < 20 {
			return 0, errShortIP
		}
		w.mac(b[12 : 12+min(int(b[11]), 8)])
		if et := binary.BigEndian.Uint16(b[0:2]); et != 0x0800 && et != 0x86DD {
			return 0, errNotIP
		}
		return 20, nil
	case dissect.LinkNull, dissect.LinkLoop:
		if len(b) < 4 {
			return 0, errShortIP
		}
		return 4, nil
	case dissect.LinkRaw, dissect.LinkRawOld12, dissect.LinkRawOld14, dissect.LinkIPv4, dissect.LinkIPv6:
		return 0, nil
	}
	return 0, errors.New("link type " + dissect.LinkTypeName(linkType) + " cannot be redacted")
}

// ip redacts the IP packet b (an ICMP error's quote when quoted) and returns
// the length of its headers, up to and with the transport header (for an
// ICMP error, with the quoted headers).
func (w *rewriter) ip(b []byte, quoted bool) (int, error) {
	if len(b) < 1 {
		return 0, errShortIP
	}
	switch b[0] >> 4 {
	case 4:
		return w.ipv4(b, quoted)
	case 6:
		return w.ipv6(b, quoted)
	}
	return 0, errNotIP
}

func (w *rewriter) ipv4(b []byte, quoted bool) (int, error) {
	if len(b) < 20 {
		return 0, errShortIP
	}
	ihl := int(b[0]&0x0F) * 4
	if ihl < 20 || len(b) < ihl {
		return 0, errShortIP
	}
	old := [8]byte(b[12:20])
	w.addr(b[12:16])
	w.addr(b[16:20])
	b[10], b[11] = 0, 0
	binary.BigEndian.PutUint16(b[10:12], ^fold(sum(b[:ihl], 0)))
	end := len(b)
	if tl := int(binary.BigEndian.Uint16(b[2:4])); tl >= ihl && tl < end {
		end = tl // Ethernet padding after the packet
	}
	frag := binary.BigEndian.Uint16(b[6:8])
	if frag&0x1FFF != 0 {
		return ihl, nil // a later fragment: no transport header
	}
	whole := frag&0x2000 == 0 && !quoted && int(binary.BigEndian.Uint16(b[2:4])) <= len(b)
	pseudo := func(s uint32) uint32 {
		return sum(b[12:20], s) + uint32(b[9]) + uint32(end-ihl)
	}
	return w.transport(b[9], b[ihl:end], ihl, whole, old[:], b[12:20], pseudo, quoted)
}

func (w *rewriter) ipv6(b []byte, quoted bool) (int, error) {
	if len(b) < 40 {
		return 0, errShortIP
	}
	old := [32]byte(b[8:40])
	w.addr(b[8:24])
	w.addr(b[24:40])
	end := len(b)
	if pl := 40 + int(binary.BigEndian.Uint16(b[4:6])); pl < end {
		end = pl
	}
	whole := !quoted && 40+int(binary.BigEndian.Uint16(b[4:6])) <= len(b)
	nh, off := b[6], 40
	for {
		switch nh {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < off+2 {
				return min(off, len(b)), nil
			}
			nh, off = b[off], off+(int(b[off+1])+1)*8
			continue
		case 51: // authentication header
			if len(b) < off+2 {
				return min(off, len(b)), nil
			}
			nh, off = b[off], off+(int(b[off+1])+2)*4
			continue
		case 44: // fragment
			if len(b) < off+8 {
				return min(off, len(b)), nil
			}
			fo := binary.BigEndian.Uint16(b[off+2 : off+4])
			nh, off = b[off], off+8
			if fo&0xFFF8 != 0 {
				return off, nil
			}
			if fo&1 != 0 {
				whole = false
			}
			continue
		}
		break
	}
	if off > end {
		return min(off, len(b)), nil
	}
	pseudo := func(s uint32) uint32 {
		return sum(b[8:40], s) + uint32(nh) + uint32(end-off)
	}
	return w.transport(nh, b[off:end], off, whole, old[:], b[8:40], pseudo, quoted)
}

// transport fixes the checksum of the transport header t (at offset off
// in its IP packet) after its IP addresses changed from old to new: from
// scratch when the segment is whole, else incrementally. It redacts an
// ICMP error's quote, and returns the headers' length.
func (w *rewriter) transport(proto byte, t []byte, off int, whole bool, old, new []byte, pseudo func(uint32) uint32, quoted bool) (int, error) {
	ck, hdr := -1, 0
	switch proto {
	case 6: // TCP
		ck, hdr = 16, 20
		if len(t) >= 13 {
			hdr = max(20, int(t[12]>>4)*4)
		}
	case 17: // UDP
		ck, hdr = 6, 8
	case 1, 58: // ICMP, ICMPv6
		ck, hdr = 2, 8
	default:
		return off, nil
	}
	if len(t) < ck+2 {
		return off + min(hdr, len(t)), nil
	}
	if (proto == 1 || proto == 58) && !quoted && len(t) > 8 && isICMPError(proto, t[0]) {
		before := append([]byte(nil), t[8:]...)
		qlen, err := w.ip(t[8:], true)
		if err != nil {
			return 0, err
		}
		hdr = 8 + qlen
		if !whole {
			binary.BigEndian.PutUint16(t[ck:], update(binary.BigEndian.Uint16(t[ck:]), before, t[8:]))
		}
	}
	udpNone := proto == 17 && binary.BigEndian.Uint16(t[ck:]) == 0 && len(old) == 8
	switch {
	case udpNone: // IPv4 UDP without a checksum
	case whole:
		t[ck], t[ck+1] = 0, 0
		s := sum(t, 0)
		if proto != 1 {
			s = pseudo(s)
		}
		c := ^fold(s)
		if c == 0 && proto == 17 {
			c = 0xFFFF
		}
		binary.BigEndian.PutUint16(t[ck:], c)
	case proto != 1:
		c := update(binary.BigEndian.Uint16(t[ck:]), old, new)
		if c == 0 && proto == 17 {
			c = 0xFFFF
		}
		binary.BigEndian.PutUint16(t[ck:], c)
	}
	return off + min(hdr, len(t)), nil
}

func isICMPError(proto, typ byte) bool {
	if proto == 1 {
		return typ == 3 || typ == 11 || typ == 12
	}
	return typ >= 1 && typ <= 4
}

// sum adds b as 16-bit big-endian words to s (an odd last byte padded).
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold is the ones' complement sum of s in 16 bits.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xFFFF + s>>16
	}
	return uint16(s)
}

// update is checksum c after the covered bytes old became new (RFC 1624,
// eqn. 3: HC' = ~(~HC + ~m + m')); old and new start at an even offset of
// the covered data and have the same length.
func update(c uint16, old, new []byte) uint16 {
	return ^fold(uint32(^c) + uint32(^fold(sum(old, 0))) + uint32(fold(sum(new, 0))))
}
