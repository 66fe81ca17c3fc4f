package flows

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// script builds packet summaries on a virtual clock, keeping per-connection
// sequence numbers honest, so tests drive the real state machines.
type script struct {
	t      *testing.T
	now    time.Time
	frame  uint64
	pkts   []dissect.Packet
	ipid   map[netip.Addr]uint16
	ttl    map[netip.Addr]uint8
	input  int
	ifaceN int
}

func newScript(t *testing.T) *script {
	return &script{t: t, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), ipid: map[netip.Addr]uint16{}, ttl: map[netip.Addr]uint8{}}
}

func (s *script) wait(d time.Duration) { s.now = s.now.Add(d) }

func ep(s string) Endpoint { return netip.MustParseAddrPort(s) }

func (s *script) base(src, dst Endpoint, proto uint8) dissect.Packet {
	s.frame++
	s.ipid[src.Addr()]++
	ttl, ok := s.ttl[src.Addr()]
	if !ok {
		ttl = 63
	}
	v := uint8(4)
	if src.Addr().Is6() {
		v = 6
	}
	return dissect.Packet{Input: s.input, Frame: s.frame, Time: s.now, IPVersion: v, Src: src.Addr(), Dst: dst.Addr(),
		TTL: ttl, IPID: s.ipid[src.Addr()], Proto: proto, SrcPort: src.Port(), DstPort: dst.Port(), WScale: -1}
}

// tcp emits one TCP segment.
func (s *script) tcp(src, dst Endpoint, flags uint8, seq, ack uint32, payload int) *dissect.Packet {
	p := s.base(src, dst, dissect.ProtoTCP)
	p.TCPFlags, p.Seq, p.Ack, p.PayloadLen, p.Window = flags, seq, ack, payload, 65000
	s.pkts = append(s.pkts, p)
	return &s.pkts[len(s.pkts)-1]
}

func (s *script) udp(src, dst Endpoint, payload int) *dissect.Packet {
	p := s.base(src, dst, dissect.ProtoUDP)
	p.PayloadLen = payload
	s.pkts = append(s.pkts, p)
	return &s.pkts[len(s.pkts)-1]
}

// icmpUnreach emits an ICMP destination unreachable from `from` quoting a
// packet from q to qd.
func (s *script) icmpUnreach(from netip.Addr, to netip.Addr, code uint8, proto uint8, q, qd Endpoint, seq uint32) {
	p := s.base(netip.AddrPortFrom(from, 0), netip.AddrPortFrom(to, 0), dissect.ProtoICMP)
	p.SrcPort, p.DstPort = 0, 0
	p.ICMPType, p.ICMPCode = 3, code
	p.HasQuoted = true
	p.Quoted = dissect.Quoted{IPVersion: 4, Src: q.Addr(), Dst: qd.Addr(), Proto: proto, SrcPort: q.Port(), DstPort: qd.Port(), Seq: seq}
	s.pkts = append(s.pkts, p)
}

// conn is a scripted TCP connection with honest sequence numbers.
type conn struct {
	s      *script
	c, srv Endpoint
	cs, ss uint32 // next sequence numbers
}

const (
	fS  = dissect.FlagSYN
	fA  = dissect.FlagACK
	fF  = dissect.FlagFIN
	fR  = dissect.FlagRST
	fPA = dissect.FlagPSH | dissect.FlagACK
)

func (s *script) open(client, server string) *conn {
	k := &conn{s: s, c: ep(client), srv: ep(server), cs: 1000, ss: 5000}
	s.tcp(k.c, k.srv, fS, k.cs, 0, 0)
	k.cs++
	s.wait(time.Millisecond)
	s.tcp(k.srv, k.c, fS|fA, k.ss, k.cs, 0)
	k.ss++
	s.wait(time.Millisecond)
	s.tcp(k.c, k.srv, fA, k.cs, k.ss, 0)
	return k
}

// send sends n bytes from the client (fromClient) or the server and the
// other side acknowledges.
func (k *conn) send(fromClient bool, n int) {
	s := k.s
	s.wait(time.Millisecond)
	if fromClient {
		s.tcp(k.c, k.srv, fPA, k.cs, k.ss, n)
		k.cs += uint32(n)
		s.wait(time.Millisecond)
		s.tcp(k.srv, k.c, fA, k.ss, k.cs, 0)
		return
	}
	s.tcp(k.srv, k.c, fPA, k.ss, k.cs, n)
	k.ss += uint32(n)
	s.wait(time.Millisecond)
	s.tcp(k.c, k.srv, fA, k.cs, k.ss, 0)
}

// push sends server data that is never acknowledged, with retransmissions.
func (k *conn) pushLost(n, retries int) {
	s := k.s
	rto := 200 * time.Millisecond
	for i := 0; i <= retries; i++ {
		s.tcp(k.srv, k.c, fPA, k.ss, k.cs, n)
		s.wait(rto)
		rto *= 2
	}
	k.ss += uint32(n)
}

func (k *conn) close() {
	s := k.s
	s.wait(time.Millisecond)
	s.tcp(k.c, k.srv, fF|fA, k.cs, k.ss, 0)
	k.cs++
	s.tcp(k.srv, k.c, fF|fA, k.ss, k.cs, 0)
	k.ss++
	s.tcp(k.c, k.srv, fA, k.cs, k.ss, 0)
}

// keepalive sends a client keep-alive probe and its answer.
func (k *conn) keepalive() {
	k.s.tcp(k.c, k.srv, fA, k.cs-1, k.ss, 0)
	k.s.tcp(k.srv, k.c, fA, k.ss, k.cs, 0)
}

// run analyzes the script with the given timeouts and returns the result.
func (s *script) run(to Timeouts) *Result {
	s.t.Helper()
	if to.UDP == 0 {
		p, _ := LookupProfile(DefaultProfileName)
		to = TimeoutsFor(p, 0, 0)
	}
	return s.feed(Config{Timeouts: to}).Result(nil)
}

// feed returns an analyzer with cfg (default timeouts when unset) that has
// seen every scripted packet.
func (s *script) feed(cfg Config) *Analyzer {
	if cfg.Timeouts.UDP == 0 {
		cfg.Timeouts = defaults()
	}
	a := New(cfg)
	for i := range s.pkts {
		a.Add(&s.pkts[i])
	}
	return a
}

func kinds(r *Result) map[string]int {
	m := map[string]int{}
	for _, f := range r.Findings {
		m[f.Kind]++
	}
	return m
}

func findKind(t *testing.T, r *Result, kind string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Kind == kind {
			return f
		}
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.Kind)
	}
	t.Fatalf("no %s finding; got %s", kind, strings.Join(got, ", "))
	return Finding{}
}

// aboveInfo lists findings worse than info.
func aboveInfo(r *Result) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity != Info {
			out = append(out, f.Kind+": "+f.Summary)
		}
	}
	return out
}
