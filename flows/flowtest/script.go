// Package flowtest scripts packet summaries on a virtual clock, keeping
// each connection's sequence numbers honest, so that tests of flows and
// diagnose drive the real state machines with exactly the traffic a case
// needs. It is for tests only.
package flowtest

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
)

// Script builds packet summaries on a virtual clock. Pkts holds them in
// order; TTL sets the TTL a host's next packets carry (63 by default).
type Script struct {
	Now   time.Time
	Frame uint64
	Pkts  []dissect.Packet
	TTL   map[netip.Addr]uint8
	Input int
	ipid  map[netip.Addr]uint16
}

// New starts a script at a fixed time.
func New() *Script {
	return &Script{Now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), ipid: map[netip.Addr]uint16{}, TTL: map[netip.Addr]uint8{}}
}

// Wait advances the clock.
func (s *Script) Wait(d time.Duration) { s.Now = s.Now.Add(d) }

// EP parses "addr:port".
func EP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func (s *Script) base(src, dst netip.AddrPort, proto uint8) dissect.Packet {
	s.Frame++
	s.ipid[src.Addr()]++
	ttl, ok := s.TTL[src.Addr()]
	if !ok {
		ttl = 63
	}
	v := uint8(4)
	if src.Addr().Is6() {
		v = 6
	}
	return dissect.Packet{Input: s.Input, Frame: s.Frame, Time: s.Now, IPVersion: v, Src: src.Addr(), Dst: dst.Addr(),
		TTL: ttl, IPID: s.ipid[src.Addr()], Proto: proto, SrcPort: src.Port(), DstPort: dst.Port(), WScale: -1}
}

// TCP emits one TCP segment.
func (s *Script) TCP(src, dst netip.AddrPort, flags uint8, seq, ack uint32, payload int) *dissect.Packet {
	p := s.base(src, dst, dissect.ProtoTCP)
	p.TCPFlags, p.Seq, p.Ack, p.PayloadLen, p.Window = flags, seq, ack, payload, 65000
	s.Pkts = append(s.Pkts, p)
	return &s.Pkts[len(s.Pkts)-1]
}

// UDP emits one datagram.
func (s *Script) UDP(src, dst netip.AddrPort, payload int) *dissect.Packet {
	p := s.base(src, dst, dissect.ProtoUDP)
	p.PayloadLen = payload
	s.Pkts = append(s.Pkts, p)
	return &s.Pkts[len(s.Pkts)-1]
}

// ICMPUnreach emits an ICMP destination unreachable from `from` quoting a
// packet from q to qd.
func (s *Script) ICMPUnreach(from netip.Addr, to netip.Addr, code uint8, proto uint8, q, qd netip.AddrPort, seq uint32) {
	p := s.base(netip.AddrPortFrom(from, 0), netip.AddrPortFrom(to, 0), dissect.ProtoICMP)
	p.SrcPort, p.DstPort = 0, 0
	p.ICMPType, p.ICMPCode = 3, code
	p.HasQuoted = true
	p.Quoted = dissect.Quoted{IPVersion: 4, Src: q.Addr(), Dst: qd.Addr(), Proto: proto, SrcPort: q.Port(), DstPort: qd.Port(), Seq: seq}
	s.Pkts = append(s.Pkts, p)
}

// Conn is a scripted TCP connection with honest sequence numbers: C the
// client, Srv the server, CS and SS their next sequence numbers.
type Conn struct {
	s      *Script
	C, Srv netip.AddrPort
	CS, SS uint32
}

// TCP flags for Script.TCP.
const (
	S  = dissect.FlagSYN
	A  = dissect.FlagACK
	F  = dissect.FlagFIN
	R  = dissect.FlagRST
	PA = dissect.FlagPSH | dissect.FlagACK
)

// Open makes a connection with its three-way handshake.
func (s *Script) Open(client, server string) *Conn {
	k := &Conn{s: s, C: EP(client), Srv: EP(server), CS: 1000, SS: 5000}
	s.TCP(k.C, k.Srv, S, k.CS, 0, 0)
	k.CS++
	s.Wait(time.Millisecond)
	s.TCP(k.Srv, k.C, S|A, k.SS, k.CS, 0)
	k.SS++
	s.Wait(time.Millisecond)
	s.TCP(k.C, k.Srv, A, k.CS, k.SS, 0)
	return k
}

// Send sends n bytes from the client (fromClient) or the server and the
// other side acknowledges.
func (k *Conn) Send(fromClient bool, n int) {
	s := k.s
	s.Wait(time.Millisecond)
	if fromClient {
		s.TCP(k.C, k.Srv, PA, k.CS, k.SS, n)
		k.CS += uint32(n)
		s.Wait(time.Millisecond)
		s.TCP(k.Srv, k.C, A, k.SS, k.CS, 0)
		return
	}
	s.TCP(k.Srv, k.C, PA, k.SS, k.CS, n)
	k.SS += uint32(n)
	s.Wait(time.Millisecond)
	s.TCP(k.C, k.Srv, A, k.CS, k.SS, 0)
}

// PushLost sends server data that is never acknowledged, with retransmissions.
func (k *Conn) PushLost(n, retries int) {
	s := k.s
	rto := 200 * time.Millisecond
	for i := 0; i <= retries; i++ {
		s.TCP(k.Srv, k.C, PA, k.SS, k.CS, n)
		s.Wait(rto)
		rto *= 2
	}
	k.SS += uint32(n)
}

// Close closes the connection with FINs both ways.
func (k *Conn) Close() {
	s := k.s
	s.Wait(time.Millisecond)
	s.TCP(k.C, k.Srv, F|A, k.CS, k.SS, 0)
	k.CS++
	s.TCP(k.Srv, k.C, F|A, k.SS, k.CS, 0)
	k.SS++
	s.TCP(k.C, k.Srv, A, k.CS, k.SS, 0)
}

// KeepAlive sends a client keep-alive probe and its answer.
func (k *Conn) KeepAlive() {
	k.s.TCP(k.C, k.Srv, A, k.CS-1, k.SS, 0)
	k.s.TCP(k.Srv, k.C, A, k.SS, k.CS, 0)
}

// Feed returns an analyzer with cfg (the default timeouts when unset)
// that has seen every scripted packet.
func (s *Script) Feed(cfg flows.Config) *flows.Analyzer {
	if cfg.Timeouts.UDP == 0 {
		cfg.Timeouts = Defaults()
	}
	a := flows.New(cfg)
	for i := range s.Pkts {
		a.Add(&s.Pkts[i])
	}
	return a
}

// Defaults are the default profile's timeouts.
func Defaults() catalog.Timeouts {
	p, _ := catalog.LookupProfile(catalog.DefaultProfileName)
	return catalog.TimeoutsFor(p, 0, 0)
}

// DNSAnswer emits a DNS response from server to client binding name to
// addr.
func (s *Script) DNSAnswer(server, client netip.AddrPort, name string, addr netip.Addr) {
	p := s.base(server, client, dissect.ProtoUDP)
	p.PayloadLen = 60
	p.DNS = []dissect.DNSAnswer{{Name: name, Addr: addr}}
	s.Pkts = append(s.Pkts, p)
}

// AtTwoPoints returns a script of s's packets, each followed by its copy
// at a second capture point (input 1): the same traffic captured on both
// sides of a firewall that passes all of it.
func (s *Script) AtTwoPoints() *Script {
	two := New()
	for _, p := range s.Pkts {
		p2 := p
		p2.Input = 1
		two.Pkts = append(two.Pkts, p, p2)
	}
	return two
}

// AtTwoPointsSkewed is AtTwoPoints with the second point's clock d ahead
// (its copy of each packet is stamped d later), the two merged by time as
// the inputs of a run are: the second point's first packets come after
// the first point's, and its last ones after the first point's end.
func (s *Script) AtTwoPointsSkewed(d time.Duration) *Script {
	return s.AtTwoPointsSeen(d, func(*dissect.Packet) (bool, bool) { return true, true })
}

// AtTwoPointsSeen is AtTwoPointsSkewed of the packets each point saw (at:
// the first, the second): a firewall between them drops some, or one
// point was not capturing yet.
func (s *Script) AtTwoPointsSeen(d time.Duration, at func(p *dissect.Packet) (first, second bool)) *Script {
	var a, b []dissect.Packet
	for i := range s.Pkts {
		p := s.Pkts[i]
		first, second := at(&p)
		if first {
			a = append(a, p)
		}
		if second {
			p.Input, p.Time = 1, p.Time.Add(d)
			b = append(b, p)
		}
	}
	two := New()
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || i < len(a) && !a[i].Time.After(b[j].Time) {
			two.Pkts = append(two.Pkts, a[i])
			i++
			continue
		}
		two.Pkts = append(two.Pkts, b[j])
		j++
	}
	return two
}
