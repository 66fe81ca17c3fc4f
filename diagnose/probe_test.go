package diagnose_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

// evictOnly hides the ProbeHook side of Evictions: the analyzer then keeps
// every attempt as a connection, as it did before probe records.
type evictOnly struct{ flows.EvictHook }

// probeCount counts the probes handed to Evictions.
type probeCount struct {
	*diagnose.Evictions
	n int
}

func (p *probeCount) Probe(q *flows.Probe, now time.Time) {
	p.n++
	p.Evictions.Probe(q, now)
}

// TestScannerProbesReportAsConnections: a scanner's attempts kept as
// probe records (once it is known, or once it looks like one; so are a
// busy client's) (reset, unanswered, answered and reset,
// answered with data, rejected by ICMP, retransmitted, ports reused, on product ports
// and others, beside a real client) give the same diagnosis, down to
// every count and evidence frame, as the same attempts kept as
// connections; and the records were used.
func TestScannerProbesReportAsConnections(t *testing.T) {
	s := scanScriptForDebug()
	scanner := addr("203.0.113.66")
	counted := 0
	run := func(probes bool) (*diagnose.Result, *flows.View, int) {
		ev := diagnose.NewEvictions()
		pc := &probeCount{Evictions: ev}
		var hook flows.EvictHook = pc
		defer func() { counted = pc.n }()
		if !probes {
			hook = evictOnly{ev}
		}
		a := s.Feed(flows.Config{MaxConns: 256, OnEvict: hook})
		v := a.View()
		n, _ := a.Live()
		return diagnose.Run(v, ev, nil), v, n
	}
	want, wv, wn := run(false)
	got, gv, gn := run(true)
	t.Logf("%d probes", counted)
	if findKind(t, got, diagnose.SynScan).Client != scanner || counted < 1000 {
		t.Fatalf("syn_scan %v, %d probes handed over; want the scanner's, most attempts as probes", kinds(got), counted)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got.Findings), len(want.Findings)) {
			if !reflect.DeepEqual(got.Findings[i], want.Findings[i]) {
				t.Errorf("finding %d: got %+v %+v\nwant %+v %+v", i, got.Findings[i], got.Findings[i].Facts, want.Findings[i], want.Findings[i].Facts)
			}
		}
		t.Fatalf("the report with probe records differs from the one with connections")
	}
	if !reflect.DeepEqual(gv.Evicted, wv.Evicted) || gn != wn || gv.MaxConns != wv.MaxConns || len(gv.Conns) != len(wv.Conns) {
		t.Errorf("evicted %+v live %d cap %d conns %d; want %+v %d %d %d", gv.Evicted, gn, gv.MaxConns, len(gv.Conns), wv.Evicted, wn, wv.MaxConns, len(wv.Conns))
	}
}

// BenchmarkScannerProbes measures a known scanner's probe (its SYN, and
// a reset for 6 in 10) beside 8,000 live product connections, with the
// default live cap, per probe; "conns" keeps the probes as connections
// (the analyzer without probe records).
func BenchmarkScannerProbes(b *testing.B) {
	for _, probes := range []bool{true, false} {
		name := "records"
		if !probes {
			name = "conns"
		}
		b.Run(name, func(b *testing.B) {
			s := flowtest.New()
			for i := 0; i < 8000; i++ {
				s.Open(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), 50000).String(), srv)
			}
			open := len(s.Pkts)
			scanner := addr("203.0.113.66")
			const n = 200_000
			for i := 0; i < n; i++ {
				c := netip.AddrPortFrom(scanner, uint16(30000+i%30000))
				d := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%250)}), uint16(1+i/250%1000))
				s.TCP(c, d, fS, uint32(i)*7919+1, 0, 0)
				s.Wait(time.Millisecond)
				if i%10 < 6 {
					s.TCP(d, c, fR|fA, 0, uint32(i)*7919+2, 0)
				}
				s.Wait(35 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for j := 0; j < b.N; j++ {
				b.StopTimer()
				ev := diagnose.NewEvictions()
				var hook flows.EvictHook = ev
				if !probes {
					hook = evictOnly{ev}
				}
				a := flows.New(flows.Config{Timeouts: flowtest.Defaults(), OnEvict: hook})
				for i := range s.Pkts[:open] {
					a.Add(&s.Pkts[i])
				}
				b.StartTimer()
				for i := open; i < len(s.Pkts); i++ {
					a.Add(&s.Pkts[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/probe")
		})
	}
}

func scanScriptForDebug() *flowtest.Script {
	s := flowtest.New()
	scanner, router := addr("203.0.113.66"), addr("192.0.2.254")
	ports := []uint16{21, 22, 25, 80, 443, 5001, 5002, 5005, 5015, 19283, 3389}
	for p := uint16(1000); len(ports) < 60; p++ {
		ports = append(ports, p)
	}
	m := s.Open(cli, srv)
	for i := 0; i < 3000; i++ {
		c := netip.AddrPortFrom(scanner, uint16(30000+i%30000))
		d := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%50)}), ports[i/50%len(ports)])
		isn := uint32(i)*7919 + 1
		s.TCP(c, d, fS, isn, 0, 0)
		s.Wait(time.Millisecond)
		switch i % 16 {
		case 0, 1, 2, 3, 4, 5:
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
		case 6: // open: the scanner resets the handshake
			s.TCP(d, c, fS|fA, 5000, isn+1, 0)
			s.TCP(c, d, fR, isn+1, 0, 0)
		case 7: // open, and the scanner talks
			s.TCP(d, c, fS|fA, 5000, isn+1, 0)
			s.TCP(c, d, fA, isn+1, 5001, 0)
			s.TCP(d, c, fPA, 5001, isn+1, 12)
			s.TCP(c, d, fR, isn+1, 0, 0)
		case 8:
			s.ICMPUnreach(router, scanner, 13, 6, c, d, isn)
		case 9: // retransmitted, then reset
			s.TCP(c, d, fS, isn, 0, 0)
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
		case 10: // the port reused at once with a new sequence number
			s.TCP(c, d, fS, isn+99, 0, 0)
		case 11: // two resets
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
		case 12: // open, then the same ports again
			s.TCP(d, c, fS|fA, 5000, isn+1, 0)
			s.TCP(c, d, fR, isn+1, 0, 0)
			s.TCP(c, d, fS, isn+5, 0, 0)
			s.TCP(d, c, fR|fA, 0, isn+6, 0)
		}
		if i%100 == 0 {
			m.Send(false, 40)
			m.Send(true, 80)
		}
		if i%5 == 0 {
			// A busy client, no scanner: connections to 40 web servers,
			// answered, a few refused (on 8 of them).
			w := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i/5%40)}), 443)
			wc := netip.AddrPortFrom(addr("192.0.2.77"), uint16(10000+i/5))
			if i%50 == 0 && i/5%40 < 8 {
				s.TCP(wc, w, fS, 1, 0, 0)
				s.TCP(w, wc, fR|fA, 0, 2, 0)
			} else {
				k := s.Open(wc.String(), w.String())
				k.Send(false, 300)
				k.Send(true, 1200)
				k.Close()
			}
		}
		s.Wait(9 * time.Millisecond)
	}
	s.Wait(3 * time.Second)
	return s
}
