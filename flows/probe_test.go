package flows_test

import (
	"net/netip"
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
