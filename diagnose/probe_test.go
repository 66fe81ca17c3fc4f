package diagnose_test

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
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

func scanScriptForDebug() *flowtest.Script { return scanScript(true) }

// scanScript is scanScriptForDebug's scan; without reuse, no attempt
// reuses the ports of an earlier one.
func scanScript(reuse bool) *flowtest.Script {
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
			if reuse {
				s.TCP(c, d, fS, isn+99, 0, 0)
			}
		case 11: // two resets
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
			s.TCP(d, c, fR|fA, 0, isn+1, 0)
		case 12: // open, then the same ports again
			s.TCP(d, c, fS|fA, 5000, isn+1, 0)
			s.TCP(c, d, fR, isn+1, 0, 0)
			if reuse {
				s.TCP(c, d, fS, isn+5, 0, 0)
				s.TCP(d, c, fR|fA, 0, isn+6, 0)
			}
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

// scanned clears what a syn_scan finding keeps of its members' own
// groups when diagnosis folds a scanner's connections into it (their
// client ports, gap samples and TTLs): no report shows them for a scan
// (explain.textScan, the JSON), and the scan's evicted attempts never set
// them.
func scanned(r *diagnose.Result) []diagnose.Finding {
	for i := range r.Findings {
		if f := &r.Findings[i]; f.Kind == diagnose.SynScan {
			f.ClientPorts, f.NClientPorts, f.Samples, f.TTLs = nil, 0, nil, [2]uint8{}
		}
	}
	return r.Findings
}

// TestFinishHandsLiveScanToItsAggregate: at the end of a capture, Finish
// hands a known scanner's live probe records to its syn_scan aggregate:
// the findings stay the same to the last fact and evidence frame, and so
// do the statistics and the bounds (the attempts did not leave for want
// of room). The flow table lists none of the scan's failed attempts,
// before Finish (connections) or after (handed over), nor one too young to
// count (tcpTable's scanAttempt), and every attempt is still either
// listed or counted as omitted. With ports reused, the connections' path
// counts the two attempts of one client port to one server port twice, as
// Finish and eviction do (it counted them once before the scan's members
// were counted connection by connection).
func TestFinishHandsLiveScanToItsAggregate(t *testing.T) {
	scanner, busy := addr("203.0.113.66"), addr("192.0.2.99")
	young := netip.AddrPortFrom(scanner, 29999)
	for _, reuse := range []bool{false, true} {
		s := scanScript(reuse)
		// A client that fans out at the end (probe records on the hint),
		// a third of its attempts reset: too few to be a scanner.
		for j := 0; j < 36; j++ {
			c := netip.AddrPortFrom(busy, uint16(20000+j))
			d := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + j)}), 8080)
			s.TCP(c, d, fS, 1, 0, 0)
			if j%3 == 0 {
				s.TCP(d, c, fR|fA, 0, 2, 0)
			} else {
				s.TCP(d, c, fS|fA, 9, 2, 0)
				s.TCP(c, d, fA, 2, 10, 0)
			}
			s.Wait(10 * time.Millisecond)
		}
		s.Wait(2 * time.Second)
		s.TCP(young, netip.MustParseAddrPort("198.51.100.9:7777"), fS, 77, 0, 0)
		ev := diagnose.NewEvictions()
		a := s.Feed(flows.Config{MaxConns: 256, OnEvict: ev})
		before := diagnose.Run(a.View(), ev, nil)
		live, _ := a.Live()
		a.Finish()
		after := diagnose.Run(a.View(), ev, nil)
		left, _ := a.Live()
		handed := live - left
		if handed < 20 {
			t.Fatalf("reuse %v: Finish handed %d attempts over (%d live before); want many", reuse, handed, live)
		}
		scan := findKind(t, after, diagnose.SynScan)
		if b := findKind(t, before, diagnose.SynScan); reuse {
			if scan.Count != b.Count {
				t.Errorf("with ports reused: syn_scan counts %d attempts after Finish, %d before; want the same (each attempt once)", scan.Count, b.Count)
			}
		} else if scanned(before); !reflect.DeepEqual(before.Findings, scanned(after)) {
			t.Errorf("Finish changed the findings:\nbefore %v\nafter  %v", kinds(before), kinds(after))
			for i := range min(len(before.Findings), len(after.Findings)) {
				if !reflect.DeepEqual(before.Findings[i], after.Findings[i]) {
					t.Errorf("finding %d: before %+v %+v\nafter %+v %+v", i, before.Findings[i], before.Findings[i].Facts, after.Findings[i], after.Findings[i].Facts)
				}
			}
		}
		if before.Stats != after.Stats || !reflect.DeepEqual(before.Bounds, after.Bounds) {
			t.Errorf("reuse %v: stats %+v bounds %+v after Finish; want %+v %+v", reuse, after.Stats, after.Bounds, before.Stats, before.Bounds)
		}
		if got, want := len(after.TCPFlows)+after.TCPFlowsOmitted, len(before.TCPFlows)+before.TCPFlowsOmitted; got != want {
			t.Errorf("reuse %v: listed + omitted: %d after Finish, %d before", reuse, got, want)
		}
		// The scan's failed attempts (S0, REJ) are never listed, before
		// Finish (live connections) or after (handed over); the fanning
		// client, no scanner, keeps its rows.
		rows := func(r *diagnose.Result) (failed, others int) {
			for _, f := range r.TCPFlows {
				if f.Client.Addr() == scanner && (f.ConnState == "S0" || f.ConnState == "REJ") {
					failed++
				} else if f.Client.Addr() == busy {
					others++
				}
			}
			return
		}
		bs, bo := rows(before)
		as, ao := rows(after)
		if bs != 0 || as != 0 || ao != bo || bo < 24 {
			t.Errorf("reuse %v: the scan's failed attempts listed: %d before Finish, %d after, want none; the fanning client's rows %d, then %d, want the same, 24 or more", reuse, bs, as, bo, ao)
		}
	}
}

// TestScanFailedAttemptsNotListed: in a small capture, with nothing
// evicted and the scanner known only to diagnosis, the flow table lists
// the scanner's answered probe and its real connection but none of its
// failed attempts (its syn_scan counts them), and it lists an ordinary
// client's refused attempt; listed + omitted is every connection.
func TestScanFailedAttemptsNotListed(t *testing.T) {
	s := flowtest.New()
	scanner := addr("192.0.2.12")
	for i := 0; i < 30; i++ {
		c := netip.AddrPortFrom(scanner, 40000)
		d := netip.AddrPortFrom(addr("198.51.100.10"), uint16(100+i))
		s.TCP(c, d, fS, 1, 0, 0)
		if i%2 == 0 {
			s.TCP(d, c, fR|fA, 0, 2, 0) // closed
		} // odd: filtered, no answer
		s.Wait(time.Millisecond)
	}
	// An open port: SYN-ACK, and the scanner's kernel resets it.
	probe, open := netip.AddrPortFrom(scanner, 40000), ep("198.51.100.10:5001")
	s.TCP(probe, open, fS, 1, 0, 0)
	s.TCP(open, probe, fS|fA, 9, 2, 0)
	s.TCP(probe, open, fR, 2, 0, 0)
	// A real connection of the scanner's host, and an ordinary client
	// refused once.
	m := s.Open("192.0.2.12:41000", srv)
	m.Send(true, 50)
	m.Send(false, 400)
	other, closed := ep("192.0.2.10:40001"), ep("198.51.100.10:5005")
	s.TCP(other, closed, fS, 1, 0, 0)
	s.TCP(closed, other, fR|fA, 0, 2, 0)
	s.Wait(5 * time.Second)
	m.Send(true, 50) // the capture goes on: the unanswered SYNs count
	r := runCfg(s, flows.Config{}, nil)
	if scan := findKind(t, r, diagnose.SynScan); scan.Count != 30 {
		t.Errorf("syn_scan counts %d failed attempts; want 30", scan.Count)
	}
	var scanRows, otherRows int
	for _, f := range r.TCPFlows {
		switch f.Client.Addr() {
		case scanner:
			scanRows++
			if f.ConnState == "S0" || f.ConnState == "REJ" {
				t.Errorf("a failed scan attempt listed: %+v", f)
			}
		case other.Addr():
			otherRows++
		}
	}
	if scanRows != 2 || otherRows != 1 {
		t.Errorf("listed %d rows of the scanner's host (want the answered probe and the connection: 2) and %d of the ordinary client (want 1)", scanRows, otherRows)
	}
	if got := len(r.TCPFlows) + r.TCPFlowsOmitted; got != 33 || r.TCPFlowsOmitted != 30 {
		t.Errorf("listed %d + omitted %d = %d; want 3 + 30 = 33", len(r.TCPFlows), r.TCPFlowsOmitted, got)
	}
}

// TestScanAtTwoPointsCountsEachAttemptOnce: a scan captured at two
// capture points (every packet seen at both, as on both sides of a
// firewall that passes it) makes the same syn_scan as at one: its
// attempts evicted during the capture (small live tables) are counted
// once, not once per point, and their kinds and hosts are the same; and
// the failed attempts are the same whether the live table evicted them
// or not (an open port, a SYN-ACK the scanner reset, is an answered
// probe on both paths, not a failed handshake on one), and so are the
// answered probes (counted among the live connections too).
func TestScanAtTwoPointsCountsEachAttemptOnce(t *testing.T) {
	one := scanScript(false)
	two := one.AtTwoPoints()
	// The second point's clock 2 s ahead (the scan takes about 3 s): what
	// the first point evicts before the second's first packet, and what is
	// still live at the second when the first has evicted it, at the end.
	skewed := one.AtTwoPointsSkewed(2 * time.Second)
	scan := func(s *flowtest.Script, maxConns int) (diagnose.Finding, *diagnose.ScanFacts) {
		ev := diagnose.NewEvictions()
		a := s.Feed(flows.Config{MaxConns: maxConns, OnEvict: ev, ComparePoints: s != one})
		a.Finish()
		f := findKind(t, diagnose.Run(a.View(), ev, nil), diagnose.SynScan)
		return f, f.Facts.(*diagnose.ScanFacts)
	}
	hosts := func(x *diagnose.ScanFacts) []netip.Addr {
		return slices.SortedFunc(maps.Keys(x.Hosts), netip.Addr.Compare)
	}
	f0, x0 := scan(one, 100_000) // nothing evicted
	if f0.Count < 2000 {
		t.Fatalf("one point, nothing evicted: syn_scan counts %d attempts; want the scan's 2000s", f0.Count)
	}
	// Skewed, the capture ends 2 s after the first point's last attempts:
	// the last ones it left unanswered are old enough to count there.
	fs, xs := scan(skewed, 100_000)
	lateAtEnd := xs.Kinds[diagnose.SynUnanswered] - x0.Kinds[diagnose.SynUnanswered]
	if lateAtEnd < 0 || lateAtEnd > 30 || fs.Count != f0.Count+lateAtEnd || xs.Answered != x0.Answered || !slices.Equal(hosts(xs), hosts(x0)) {
		t.Errorf("two points 2 s apart, nothing evicted: %d failed attempts %v, %d answered; one point: %d %v, %d",
			fs.Count, xs.Kinds, xs.Answered, f0.Count, x0.Kinds, x0.Answered)
	}
	for _, maxConns := range []int{64, 256, 1024} {
		for i, s := range []*flowtest.Script{one, two, skewed} {
			f, x := scan(s, maxConns)
			want, wantX := f0, x0
			if s == skewed {
				want, wantX = fs, xs
			}
			if f.Count != want.Count || !maps.Equal(x.Kinds, wantX.Kinds) || !slices.Equal(hosts(x), hosts(wantX)) || x.Answered != wantX.Answered {
				t.Errorf("cap %d, %s: %d failed attempts %v on %d hosts, %d answered; nothing evicted: %d %v on %d, %d",
					maxConns, []string{"one point", "two points", "two points 2 s apart"}[i], f.Count, x.Kinds, len(x.Hosts), x.Answered, want.Count, wantX.Kinds, len(wantX.Hosts), wantX.Answered)
			}
		}
	}
}

// TestScanPartlySeenAtTwoPointsCountsEachAttemptOnce: two captures of a
// scan that saw it differently count each attempt once, as the capture
// that saw all of it does with a live table of the same size, whichever
// clock is ahead:
//   - a scan repeated from one source port (nmap -g) whose first pass
//     only the first point saw: the second pass's attempts, on the same
//     ports, are new attempts, not the first pass seen again;
//   - resets that only the second point saw (the first saw the SYNs go
//     unanswered): one attempt each, of one kind or the other, and no kind
//     listed with no attempt.
func TestScanPartlySeenAtTwoPointsCountsEachAttemptOnce(t *testing.T) {
	scanner := addr("203.0.113.66")
	refused := func(s *flowtest.Script, n int, host string, port0 uint16) {
		for i := 0; i < n; i++ {
			c := netip.AddrPortFrom(scanner, port0+uint16(i))
			d := netip.AddrPortFrom(addr(host), uint16(1+i))
			s.TCP(c, d, fS, uint32(i)*7919+1, 0, 0)
			s.Wait(time.Millisecond)
			s.TCP(d, c, fR|fA, 0, uint32(i)*7919+2, 0)
			s.Wait(time.Millisecond)
		}
	}
	// A repeated scan: 30 refused attempts make it a scanner, then 40
	// unanswered from port 40000 that only the first point saw, 300
	// refused ones, and the same 40 ports again from port 40000, seen at
	// both points: unanswered (each sent twice), reset, or answered (the
	// SYN-ACK seen at both, the scanner's reset of it only at the first:
	// the second sees a handshake that never completed).
	firstOnly := map[uint64]bool{}
	repeatedScan := func(second string) *flowtest.Script {
		s := flowtest.New()
		refused(s, 30, "198.51.100.1", 30000)
		from := netip.AddrPortFrom(scanner, 40000)
		port := func(i int) netip.AddrPort { return netip.AddrPortFrom(addr("198.51.100.7"), uint16(1000+i)) }
		for i := 0; i < 40; i++ {
			firstOnly[s.TCP(from, port(i), fS, uint32(i)*7919+1, 0, 0).Frame] = true
			s.Wait(10 * time.Millisecond)
		}
		s.Wait(1500 * time.Millisecond)
		refused(s, 300, "198.51.100.2", 20000)
		s.Wait(1500 * time.Millisecond)
		for r := 0; r < 2; r++ {
			for i := 0; i < 40; i++ {
				isn := uint32(i)*7919 + 100001
				switch {
				case second == "unanswered":
					s.TCP(from, port(i), fS, isn, 0, 0)
				case second == "reset" && r == 0:
					s.TCP(from, port(i), fS, isn, 0, 0)
					s.TCP(port(i), from, fR|fA, 0, isn+1, 0)
				case second == "answered" && r == 0:
					s.TCP(from, port(i), fS, isn, 0, 0)
					s.TCP(port(i), from, fS|fA, 5000, isn+1, 0)
					firstOnly[s.TCP(from, port(i), fR, isn+1, 0, 0).Frame] = true
				}
				s.Wait(time.Millisecond)
			}
			s.Wait(300 * time.Millisecond)
		}
		s.Wait(2 * time.Second)
		s.UDP(ep("192.0.2.1:5353"), ep("192.0.2.2:5353"), 10) // the capture goes on: every attempt is due
		return s
	}
	// Answers only the second point saw (the first, on the scanner's
	// side, sees the SYNs go unanswered): a third refused, a third open
	// ports whose SYN-ACK the scanner resets, a third open ports whose
	// handshake it completes and holds open (live at the end).
	answers, answered := flowtest.New(), map[uint64]bool{}
	refused(answers, 30, "198.51.100.1", 30000)
	for i := 0; i < 200; i++ {
		c := netip.AddrPortFrom(scanner, uint16(40000+i))
		d := netip.AddrPortFrom(addr("198.51.100.3"), uint16(1+i))
		answers.TCP(c, d, fS, uint32(i)*7919+1, 0, 0)
		answers.Wait(time.Millisecond)
		switch isn := uint32(i)*7919 + 1; i % 3 {
		case 0:
			answered[answers.TCP(d, c, fR|fA, 0, isn+1, 0).Frame] = true
		case 1:
			answered[answers.TCP(d, c, fS|fA, 5000, isn+1, 0).Frame] = true
			answered[answers.TCP(c, d, fR, isn+1, 0, 0).Frame] = true
		case 2: // the scanner completes the handshake and holds it open
			answered[answers.TCP(d, c, fS|fA, 5000, isn+1, 0).Frame] = true
			answered[answers.TCP(c, d, fA, isn+1, 5001, 0).Frame] = true
		}
		answers.Wait(10 * time.Millisecond)
	}
	answers.Wait(2 * time.Second)
	answers.UDP(ep("192.0.2.1:5353"), ep("192.0.2.2:5353"), 10)
	// Resets only the second point saw.
	resets := flowtest.New()
	secondOnly := map[uint64]bool{}
	for i := 0; i < 200; i++ {
		c := netip.AddrPortFrom(scanner, uint16(30000+i))
		d := netip.AddrPortFrom(addr("198.51.100.1"), uint16(1+i))
		resets.TCP(c, d, fS, uint32(i)*7919+1, 0, 0)
		resets.Wait(time.Millisecond)
		secondOnly[resets.TCP(d, c, fR|fA, 0, uint32(i)*7919+2, 0).Frame] = true
		resets.Wait(20 * time.Millisecond)
	}
	resets.Wait(2 * time.Second)
	resets.UDP(ep("192.0.2.1:5353"), ep("192.0.2.2:5353"), 10)

	scan := func(s *flowtest.Script, maxConns int, points bool) (diagnose.Finding, *diagnose.ScanFacts) {
		ev := diagnose.NewEvictions()
		a := s.Feed(flows.Config{MaxConns: maxConns, OnEvict: ev, ComparePoints: points})
		a.Finish()
		f := findKind(t, diagnose.Run(a.View(), ev, nil), diagnose.SynScan)
		return f, f.Facts.(*diagnose.ScanFacts)
	}
	for _, c := range []struct {
		name string
		s    *flowtest.Script
		at   func(p *dissect.Packet) (bool, bool)
		// sameKinds: each attempt is of one kind at both points.
		sameKinds bool
	}{
		{"repeated from one port", repeatedScan("unanswered"), func(p *dissect.Packet) (bool, bool) { return true, !firstOnly[p.Frame] }, true},
		{"repeated from one port, reset", repeatedScan("reset"), func(p *dissect.Packet) (bool, bool) { return true, !firstOnly[p.Frame] }, true},
		{"repeated from one port, answered", repeatedScan("answered"), func(p *dissect.Packet) (bool, bool) { return true, !firstOnly[p.Frame] }, false},
		{"resets seen at the second point", resets, func(p *dissect.Packet) (bool, bool) { return !secondOnly[p.Frame], true }, false},
		{"answers seen at the second point", answers, func(p *dissect.Packet) (bool, bool) { return !answered[p.Frame], true }, true},
	} {
		for _, maxConns := range []int{100_000, 16} {
			// The capture that saw all of it (the first point's, with the
			// resets), with a table of the same size.
			one, x1 := scan(c.s, maxConns, false)
			if one.Count+x1.Answered < 200 {
				t.Fatalf("%s, one point, table of %d: %d attempts; want the scan's 200s", c.name, maxConns, one.Count+x1.Answered)
			}
			for _, d := range []time.Duration{0, -500 * time.Millisecond, 500 * time.Millisecond} {
				f, x := scan(c.s.AtTwoPointsSeen(d, c.at), maxConns, true)
				sum := 0
				for k, n := range x.Kinds {
					if n <= 0 {
						t.Errorf("%s, second clock %v, table of %d: kind %s listed with %d attempts", c.name, d, maxConns, k, n)
					}
					sum += n
				}
				if f.Count+x.Answered != one.Count+x1.Answered || sum != f.Count || c.sameKinds && (f.Count != one.Count || !maps.Equal(x.Kinds, x1.Kinds) || x.Answered != x1.Answered) {
					t.Errorf("%s, second clock %v, table of %d: %d failed %v and %d answered; one point: %d %v and %d",
						c.name, d, maxConns, f.Count, x.Kinds, x.Answered, one.Count, x1.Kinds, x1.Answered)
				}
			}
		}
	}
}

// TestScanPastItsConnectionsAtTwoPointsIsReported: a scanner that tries
// one port from 5,000 source ports, seen at two points, has more copies in
// its group than the group keeps one by one (maxSeen): those past it are
// counted at each point that saw them, and the report's finding_members
// bound says how many, so the count is never more than one attempt each
// plus what the bound admits.
func TestScanPastItsConnectionsAtTwoPointsIsReported(t *testing.T) {
	scanner := addr("203.0.113.66")
	s := flowtest.New()
	for i := 0; i < 30; i++ { // a scanner: refused on 30 ports
		c := netip.AddrPortFrom(scanner, uint16(30000+i))
		d := netip.AddrPortFrom(addr("198.51.100.1"), uint16(1+i))
		s.TCP(c, d, fS, uint32(i)*7919+1, 0, 0)
		s.Wait(time.Millisecond)
		s.TCP(d, c, fR|fA, 0, uint32(i)*7919+2, 0)
		s.Wait(time.Millisecond)
	}
	for i := 0; i < 5000; i++ {
		s.TCP(netip.AddrPortFrom(scanner, uint16(1024+i)), ep("198.51.100.7:80"), fS, uint32(i)*7919+1, 0, 0)
		s.Wait(time.Millisecond)
	}
	s.Wait(5 * time.Second)
	s.UDP(ep("192.0.2.1:5353"), ep("192.0.2.2:5353"), 10) // every attempt is due
	const truth = 5030
	one, _ := scanAt(t, s, 100_000, false)
	if one.Count != truth {
		t.Errorf("one point: %d attempts; want %d", one.Count, truth)
	}
	for _, maxConns := range []int{100_000, 6000} {
		for _, d := range []time.Duration{0, 5 * time.Second} {
			ev := diagnose.NewEvictions()
			a := s.AtTwoPointsSkewed(d).Feed(flows.Config{MaxConns: maxConns, OnEvict: ev, ComparePoints: true})
			a.Finish()
			r := diagnose.Run(a.View(), ev, nil)
			f := findKind(t, r, diagnose.SynScan)
			past := 0
			for _, b := range r.Bounds {
				if b.Table == diagnose.BoundMembers {
					past = b.Summarised
				}
			}
			if f.Count < truth || f.Count-truth > past {
				t.Errorf("table of %d, second clock %v: %d attempts, %d copies past the group's reported; want %d, and at most the copies past it more",
					maxConns, d, f.Count, past, truth)
			}
		}
	}
}

// scanAt runs s with a live table of maxConns connections (points: with
// several captures given) and returns its syn_scan and facts.
func scanAt(t *testing.T, s *flowtest.Script, maxConns int, points bool) (diagnose.Finding, *diagnose.ScanFacts) {
	t.Helper()
	ev := diagnose.NewEvictions()
	a := s.Feed(flows.Config{MaxConns: maxConns, OnEvict: ev, ComparePoints: points})
	a.Finish()
	f := findKind(t, diagnose.Run(a.View(), ev, nil), diagnose.SynScan)
	return f, f.Facts.(*diagnose.ScanFacts)
}
