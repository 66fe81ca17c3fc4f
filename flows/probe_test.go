package flows_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

// scanHook is a ProbeHook that knows one scanner and counts what it is
// handed.
type scanHook struct {
	scanner              netip.Addr
	conns, probes, reset int
}

func (h *scanHook) EvictConn(c *flows.Conn, now time.Time, ttls *flows.TTLView)        { h.conns++ }
func (h *scanHook) EvictUDP(f *flows.UDPFlow, now time.Time, udpTimeout time.Duration) {}
func (h *scanHook) Scanner(client netip.Addr) bool                                     { return client == h.scanner }
func (h *scanHook) Probe(p *flows.Probe, now time.Time) {
	h.probes++
	if p.Reset {
		h.reset++
	}
}

// scanPackets scripts n probes of scanner to 50 hosts, every other one
// reset by its host.
func scanPackets(s *flowtest.Script, scanner netip.Addr, from, n int) {
	for i := from; i < from+n; i++ {
		c := netip.AddrPortFrom(scanner, uint16(30000+i%30000))
		d := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%50)}), uint16(1+i/50%1000))
		s.TCP(c, d, flowtest.S, uint32(i)*7919, 0, 0)
		s.Wait(time.Millisecond)
		if i%2 == 0 {
			s.TCP(d, c, flowtest.R|flowtest.A, 0, uint32(i)*7919+1, 0)
		}
		s.Wait(9 * time.Millisecond)
	}
}

// TestKnownScannerProbesMakeNoConn: once the hook names a client a
// scanner, its SYN-only attempts are probe records: no Conn, no
// allocation per attempt, handed to Probe when swept (as their Conns
// would have been), while an attempt that is answered becomes a
// connection and is listed as one.
func TestKnownScannerProbesMakeNoConn(t *testing.T) {
	scanner := netip.MustParseAddr("203.0.113.66")
	s := flowtest.New()
	scanPackets(s, scanner, 0, 20000)
	h := &scanHook{scanner: scanner}
	a := flows.New(flows.Config{Timeouts: flowtest.Defaults(), MaxConns: 1024, OnEvict: h})
	warm := len(s.Pkts) / 2
	for i := range s.Pkts[:warm] {
		a.Add(&s.Pkts[i])
	}
	i := warm
	allocs := testing.AllocsPerRun(len(s.Pkts)-warm-1, func() {
		a.Add(&s.Pkts[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("got %.2f allocations per packet of a known scanner's probes; want 0", allocs)
	}
	for _, c := range flows.Live(a) {
		if c.Client.Addr() == scanner {
			t.Fatalf("a known scanner's attempt made a Conn: %+v", c.FlowHead)
		}
	}
	if h.conns != 0 || h.probes == 0 || h.reset == 0 || flows.Probes(a) == 0 {
		t.Fatalf("hook got %d conns, %d probes (%d reset); %d live records; want probes only", h.conns, h.probes, h.reset, flows.Probes(a))
	}
	// Every attempt is accounted for once: handed over, or live (a view
	// lists the live ones as connections).
	listed := 0
	for _, c := range a.View().Conns {
		if c.Client.Addr() == scanner && c.Dir[0].SYN == 1 {
			listed++
		}
	}
	if h.probes+listed != 20000 || a.View().Evicted.TCPConnections != h.probes || a.View().Evicted.TCPResets != h.reset {
		t.Errorf("%d probes handed over + %d listed, evicted counts %+v; want 20000 attempts, the counts of those handed over", h.probes, listed, a.View().Evicted)
	}

	// An answered probe becomes a connection: the SYN-ACK and the
	// scanner's reset are in it.
	c, d := netip.MustParseAddrPort("203.0.113.66:40001"), netip.MustParseAddrPort("198.51.100.10:5015")
	before := len(s.Pkts)
	s.TCP(c, d, flowtest.S, 77, 0, 0)
	s.Wait(time.Millisecond)
	s.TCP(d, c, flowtest.S|flowtest.A, 900, 78, 0)
	s.TCP(c, d, flowtest.R, 78, 0, 0)
	for i := before; i < len(s.Pkts); i++ {
		a.Add(&s.Pkts[i])
	}
	var got *flows.Conn
	for _, x := range flows.Live(a) {
		if x.Client == c {
			got = x
		}
	}
	if got == nil || !got.SynAck || got.Dir[0].SYN != 1 || got.Dir[0].RST != 1 || got.FirstFrame != s.Pkts[before].Frame || len(got.Frames) != 3 {
		t.Fatalf("answered probe: got %+v; want a connection with its SYN, SYN-ACK and reset", got)
	}
}

// traceHook logs what each eviction hands over, connection or probe, as
// one line; as a probeTrace it names a client a scanner after 20 of its
// evicted attempts (as diagnosis does, roughly).
type traceHook struct {
	log      []string
	attempts map[netip.Addr]int
}

func (h *traceHook) EvictConn(c *flows.Conn, now time.Time, ttls *flows.TTLView) {
	if !c.FirstSyn.IsZero() && !c.Established {
		h.attempts[c.Client.Addr()]++
	}
	h.log = append(h.log, fmt.Sprintf("%d %v>%v %d-%d synack=%v est=%v syn=%d rst=%d/%d icmp=%v frames=%v svc=%v",
		now.UnixNano(), c.Client, c.Server, c.First.UnixNano(), c.Last.UnixNano(), c.SynAck, c.Established,
		c.Dir[0].SYN, c.Dir[0].RST, c.Dir[1].RST, c.ICMP != nil, c.Frames, c.Service))
}

func (h *traceHook) EvictUDP(f *flows.UDPFlow, now time.Time, udpTimeout time.Duration) {}

// probeTrace adds Scanner and Probe to traceHook.
type probeTrace struct{ *traceHook }

func (h probeTrace) Scanner(client netip.Addr) bool { return h.attempts[client] >= 20 }

func (h probeTrace) Probe(p *flows.Probe, now time.Time) {
	h.attempts[p.Client.Addr()]++
	rst := 0
	if p.Reset {
		rst = 1
	}
	h.log = append(h.log, fmt.Sprintf("%d %v>%v %d-%d synack=%v est=%v syn=%d rst=%d/%d icmp=%v frames=%v svc=%v",
		now.UnixNano(), p.Client, p.Server, p.First.UnixNano(), p.Last.UnixNano(), false, false, 1, 0, rst, false, p.Frames, p.Service))
}

// TestProbeRecordsAndSweepNotesEvictTheSame: with probe records and the
// sweeps' notes, the analyzer evicts the same connections at the same
// times in the same order, handing over the same state, and lists the
// same live ones, as without either: a scanner (resets, silence, open
// ports, data, ICMP, retransmissions, port reuse), a busy client and
// product connections, under a small cap.
func TestProbeRecordsAndSweepNotesEvictTheSame(t *testing.T) {
	s := flowtest.New()
	scanner, router := netip.MustParseAddr("203.0.113.66"), netip.MustParseAddr("192.0.2.254")
	ports := []uint16{21, 22, 25, 80, 443, 5001, 5002, 5005, 5015, 19283, 3389}
	for p := uint16(1000); len(ports) < 60; p++ {
		ports = append(ports, p)
	}
	var keep []*flowtest.Conn
	for i := 0; i < 3000; i++ {
		c := netip.AddrPortFrom(scanner, uint16(30000+i%30000))
		d := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%50)}), ports[i/50%len(ports)])
		isn := uint32(i)*7919 + 1
		s.TCP(c, d, flowtest.S, isn, 0, 0)
		s.Wait(time.Millisecond)
		switch i % 16 {
		case 0, 1, 2, 3, 4, 5:
			s.TCP(d, c, flowtest.R|flowtest.A, 0, isn+1, 0)
		case 6:
			s.TCP(d, c, flowtest.S|flowtest.A, 5000, isn+1, 0)
			s.TCP(c, d, flowtest.R, isn+1, 0, 0)
		case 7:
			s.TCP(d, c, flowtest.S|flowtest.A, 5000, isn+1, 0)
			s.TCP(c, d, flowtest.A, isn+1, 5001, 0)
			s.TCP(d, c, flowtest.PA, 5001, isn+1, 12)
			s.TCP(c, d, flowtest.R, isn+1, 0, 0)
		case 8:
			s.ICMPUnreach(router, scanner, 13, 6, c, d, isn)
		case 9:
			s.TCP(c, d, flowtest.S, isn, 0, 0)
			s.TCP(d, c, flowtest.R|flowtest.A, 0, isn+1, 0)
		case 10:
			s.TCP(c, d, flowtest.S, isn+99, 0, 0)
		case 11:
			s.TCP(d, c, flowtest.R|flowtest.A, 0, isn+1, 0)
			s.TCP(d, c, flowtest.R|flowtest.A, 0, isn+1, 0)
		case 12:
			s.TCP(d, c, flowtest.S|flowtest.A, 5000, isn+1, 0)
			s.TCP(c, d, flowtest.R, isn+1, 0, 0)
			s.TCP(c, d, flowtest.S, isn+5, 0, 0)
			s.TCP(d, c, flowtest.R|flowtest.A, 0, isn+6, 0)
		}
		if i%5 == 0 {
			w := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i/5%40)}), 443)
			wc := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.77"), uint16(10000+i/5))
			if i%50 == 0 {
				s.TCP(wc, w, flowtest.S, 1, 0, 0)
				s.TCP(w, wc, flowtest.R|flowtest.A, 0, 2, 0)
			} else {
				k := s.Open(wc.String(), w.String())
				k.Send(false, 300)
				k.Send(true, 1200)
				if i%3 != 0 {
					k.Close()
				}
			}
		}
		if i%200 == 0 {
			keep = append(keep, s.Open(fmt.Sprintf("10.20.0.%d:50000", i/200+1), "198.51.100.10:5001"))
		}
		if i%100 == 0 {
			for _, k := range keep {
				k.Send(true, 60)
			}
		}
		s.Wait(9 * time.Millisecond)
	}
	s.Wait(3 * time.Second)
	run := func(records, notes bool) ([]string, []string, flows.Evicted) {
		flows.SetSweepNotes(notes)
		defer flows.SetSweepNotes(true)
		h := &traceHook{attempts: map[netip.Addr]int{}}
		var hook flows.EvictHook = h
		if records {
			hook = probeTrace{h}
		}
		a := s.Feed(flows.Config{MaxConns: 256, OnEvict: hook})
		v := a.View()
		var live []string
		for _, c := range v.Conns {
			live = append(live, fmt.Sprintf("%v>%v %v %+v %+v", c.Client, c.Server, c.First.UnixNano(), c.Dir, c.Frames))
		}
		return h.log, live, v.Evicted
	}
	wantLog, wantLive, wantEv := run(false, false)
	if len(wantLog) < 1000 {
		t.Fatalf("%d evictions: the cap did not bite", len(wantLog))
	}
	for _, c := range []struct{ records, notes bool }{{false, true}, {true, false}, {true, true}} {
		gotLog, gotLive, gotEv := run(c.records, c.notes)
		for i := range min(len(gotLog), len(wantLog)) {
			if gotLog[i] != wantLog[i] {
				t.Fatalf("records %v, notes %v: eviction %d: got\n%s\nwant\n%s", c.records, c.notes, i, gotLog[i], wantLog[i])
			}
		}
		if len(gotLog) != len(wantLog) || !slices.Equal(gotLive, wantLive) || !reflect.DeepEqual(gotEv, wantEv) {
			t.Fatalf("records %v, notes %v: got %d evictions, %d live, %+v; want %d, %d, %+v", c.records, c.notes, len(gotLog), len(gotLive), gotEv, len(wantLog), len(wantLive), wantEv)
		}
	}
}
