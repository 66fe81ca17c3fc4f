package dissect

import (
	"encoding/binary"
	"net/netip"
)

// dnsScratch is the decoder's reusable working space for one DNS message:
// the names met so far, back to back in buf, and the records found.
type dnsScratch struct {
	buf    []byte
	cnames []dnsCNAME
	addrs  []dnsAddr
}

// span is a name in dnsScratch.buf.
type span struct{ start, end int }

type dnsCNAME struct{ owner, target span }

type dnsAddr struct {
	owner span
	addr  netip.Addr
}

const (
	dnsTypeA     = 1
	dnsTypeCNAME = 5
	dnsTypeAAAA  = 28
	dnsMaxName   = 255 // RFC 1035 limit on a name's wire length
	dnsMaxJumps  = 64  // compression pointers followed before calling it a loop
	dnsMaxChain  = 16  // CNAME links followed from the question
	// dnsMaxRecords bounds the answers read from one message: real answers
	// hold a handful, and matching every address against every CNAME is
	// quadratic, so a crafted 64 KB message must not cost seconds.
	dnsMaxRecords = 128
)

// dnsAnswers fills p.DNS with the A and AAAA answers of the DNS response
// msg. An address whose owner the question's name reaches through CNAMEs is
// reported under the question's name, because that is the name the client
// asked for and the one a service catalog knows. A damaged or cut message
// yields the answers read before the damage.
func (d *Decoder) dnsAnswers(msg []byte, p *Packet) {
	if len(msg) < 12 || msg[2]&0x80 == 0 { // not a response
		return
	}
	s := &d.dns
	s.buf, s.cnames, s.addrs = s.buf[:0], s.cnames[:0], s.addrs[:0]
	qd := int(binary.BigEndian.Uint16(msg[4:6]))
	an := int(binary.BigEndian.Uint16(msg[6:8]))
	off := 12
	q, haveQ := span{}, false
	for i := 0; i < qd; i++ {
		n, next, ok := s.name(msg, off)
		if !ok || next+4 > len(msg) {
			return
		}
		if i == 0 {
			q, haveQ = n, true
		}
		off = next + 4
	}
	for range min(an, dnsMaxRecords) {
		owner, next, ok := s.name(msg, off)
		if !ok || next+10 > len(msg) {
			break
		}
		typ := binary.BigEndian.Uint16(msg[next:])
		class := binary.BigEndian.Uint16(msg[next+2:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rd := next + 10
		if rd+rdlen > len(msg) {
			break
		}
		off = rd + rdlen
		if class != 1 { // IN only
			continue
		}
		switch {
		case typ == dnsTypeA && rdlen == 4:
			s.addrs = append(s.addrs, dnsAddr{owner, netip.AddrFrom4([4]byte(msg[rd : rd+4]))})
		case typ == dnsTypeAAAA && rdlen == 16:
			s.addrs = append(s.addrs, dnsAddr{owner, netip.AddrFrom16([16]byte(msg[rd : rd+16]))})
		case typ == dnsTypeCNAME:
			if t, _, ok := s.name(msg, rd); ok {
				s.cnames = append(s.cnames, dnsCNAME{owner, t})
			}
		}
	}
	if len(s.addrs) == 0 {
		return
	}
	p.DNS = make([]DNSAnswer, 0, len(s.addrs))
	qname := ""
	for _, a := range s.addrs {
		if haveQ && s.reaches(q, a.owner) {
			if qname == "" {
				qname = string(s.buf[q.start:q.end])
			}
			p.DNS = append(p.DNS, DNSAnswer{Name: qname, Addr: a.addr})
			continue
		}
		p.DNS = append(p.DNS, DNSAnswer{Name: string(s.buf[a.owner.start:a.owner.end]), Addr: a.addr})
	}
}

// reaches reports whether following CNAMEs from name from arrives at to.
func (s *dnsScratch) reaches(from, to span) bool {
	cur := from
	for range dnsMaxChain {
		if s.eq(cur, to) {
			return true
		}
		found := false
		for _, c := range s.cnames {
			if s.eq(c.owner, cur) {
				cur, found = c.target, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return false
}

func (s *dnsScratch) eq(a, b span) bool {
	return string(s.buf[a.start:a.end]) == string(s.buf[b.start:b.end])
}

// name appends the (possibly compressed) name at msg[off:] to buf, lower
// case and without the trailing dot. It returns the name's span, the offset
// just after the name where it was first met, and ok false when the name is
// damaged.
func (s *dnsScratch) name(msg []byte, off int) (n span, next int, ok bool) {
	n.start = len(s.buf)
	next = -1
	wire := 0
	for jumps := 0; ; {
		if off >= len(msg) {
			return n, 0, false
		}
		l := int(msg[off])
		switch l & 0xC0 {
		case 0x00:
			if l == 0 {
				if next < 0 {
					next = off + 1
				}
				n.end = len(s.buf)
				return n, next, true
			}
			wire += l + 1
			if off+1+l > len(msg) || wire > dnsMaxName {
				return n, 0, false
			}
			if len(s.buf) > n.start {
				s.buf = append(s.buf, '.')
			}
			for _, c := range msg[off+1 : off+1+l] {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				s.buf = append(s.buf, c)
			}
			off += 1 + l
		case 0xC0:
			if off+2 > len(msg) {
				return n, 0, false
			}
			if jumps++; jumps > dnsMaxJumps {
				return n, 0, false
			}
			if next < 0 {
				next = off + 2
			}
			off = int(binary.BigEndian.Uint16(msg[off:]) & 0x3FFF)
		default: // 0x40 and 0x80 label types are obsolete or unused
			return n, 0, false
		}
	}
}
