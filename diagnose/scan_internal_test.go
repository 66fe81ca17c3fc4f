package diagnose

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/flows"
)

// TestScanCacheCountsAsEachAttempt: the scan caches hold back a run of
// attempts on one host and their kinds (scanCache), and the facts come
// out as if every attempt had gone into them at once: two scanners, two
// inputs each, interleaved, runs of attempts per host, hosts revisited,
// more hosts than maxScanHosts; read mid-way through a clone and at the
// end.
func TestScanCacheCountsAsEachAttempt(t *testing.T) {
	type want struct {
		kinds map[Kind]int
		hosts map[netip.Addr]int
		more  int
	}
	ref := map[netip.Addr]*want{}
	fs := newFindingSet()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	kindsOf := []Kind{SynReset, SynUnanswered, SynReset, HandshakeIncomplete, SynICMPRejected, ""}
	scanners := []netip.Addr{netip.MustParseAddr("10.99.0.10"), netip.MustParseAddr("10.99.0.11")}
	n := 0
	attempt := func(scanner, host netip.Addr, input int, kind Kind) {
		n++
		h := flows.FlowHead{Input: input, Client: netip.AddrPortFrom(scanner, 40000), Server: netip.AddrPortFrom(host, 445),
			First: t0.Add(time.Duration(n) * time.Millisecond), Last: t0.Add(time.Duration(n) * time.Millisecond)}
		fs.scanAttempt(&h, kind, []uint64{uint64(n)})
		w := ref[scanner]
		if w == nil {
			w = &want{kinds: map[Kind]int{}, hosts: map[netip.Addr]int{}}
			ref[scanner] = w
		}
		if kind != "" {
			w.kinds[kind]++
		}
		switch _, ok := w.hosts[host]; {
		case ok || len(w.hosts) < maxScanHosts:
			w.hosts[host]++
		default:
			w.more++
		}
	}
	check := func(when string, fs *findingSet) {
		t.Helper()
		for _, s := range scanners {
			g := fs.groups[groupKey{kind: SynScan, client: s, transport: TCP}]
			if g == nil {
				t.Fatalf("%s: no syn_scan group for %s", when, s)
			}
			x, w := g.facts.(*ScanFacts), ref[s]
			if !maps.Equal(x.Kinds, w.kinds) || !maps.Equal(x.Hosts, w.hosts) || x.MoreHosts != w.more {
				t.Errorf("%s, %s: kinds %v, %d hosts, %d more; want %v, %d hosts, %d more",
					when, s, x.Kinds, len(x.Hosts), x.MoreHosts, w.kinds, len(w.hosts), w.more)
			}
		}
	}
	host := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100 + byte(i/250), byte(1 + i%250)}) }
	for i := 0; i < 1200; i++ {
		for j := 0; j <= i%5; j++ {
			for k, s := range scanners {
				attempt(s, host(i), (i/7+k)%2, kindsOf[(i+j+k)%len(kindsOf)])
			}
		}
		if i%3 == 0 {
			attempt(scanners[0], host(i/2), 1, SynReset) // back to an earlier host
		}
		if i == 600 {
			check("mid-way, through a clone", fs.clone())
		}
	}
	fs.flushScans()
	check("at the end", fs)
}

// TestAddrWordsAreAs16: the words of an address are its 16 bytes, with
// IPv4 marked apart from its 4-in-6 form (endpointHash and hostHash keep
// the two apart; endpointHash's values are those it had from As16).
func TestAddrWordsAreAs16(t *testing.T) {
	for _, s := range []string{"10.99.0.10", "0.0.0.0", "255.255.255.255", "::ffff:10.99.0.10", "2001:db8::1", "::"} {
		a := netip.MustParseAddr(s)
		b := a.As16()
		wantHi, wantLo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
		if a.Is4() {
			wantHi ^= 1
		}
		if hi, lo := addrWords(a); hi != wantHi || lo != wantLo {
			t.Errorf("addrWords(%s) = %#x %#x, want %#x %#x", s, hi, lo, wantHi, wantLo)
		}
	}
	v4, v6 := netip.MustParseAddr("10.99.0.10"), netip.MustParseAddr("::ffff:10.99.0.10")
	if hostHash(v4) == hostHash(v6) || endpointHash(netip.AddrPortFrom(v4, 80)) == endpointHash(netip.AddrPortFrom(v6, 80)) {
		t.Error("an IPv4 address and its 4-in-6 form hash alike")
	}
}

// TestScanWatchFloodAndScanner: the watch names a client a scanner at its
// scanTargets+1-th distinct failed target and not before (repeats do not
// count); a flood of single attempts from more sources than
// maxCandidates starts it afresh (resets; through the generations'
// wrap) without ever holding more
// than maxCandidates fanouts, and a scanner inside the flood is still
// named, and only it; the same address in another zone is another client.
func TestScanWatchFloodAndScanner(t *testing.T) {
	w := newScanWatch()
	scanner := netip.MustParseAddr("192.0.2.12")
	server := netip.MustParseAddr("10.0.0.5")
	for i := 0; i < scanTargets; i++ {
		if w.note(scanner, netip.AddrPortFrom(server, uint16(1000+i))) {
			t.Fatalf("a scanner after %d targets; want %d", i+1, scanTargets+1)
		}
		if w.note(scanner, netip.AddrPortFrom(server, uint16(1000+i))) {
			t.Fatalf("a repeated target counted (%d)", i+1)
		}
	}
	if !w.note(scanner, netip.AddrPortFrom(server, 2000)) || !w.known(scanner) {
		t.Fatalf("not a scanner after %d targets", scanTargets+1)
	}

	w = newScanWatch()
	w.gen = 1<<16 - 2 // the generations wrap during the flood
	var b [4]byte
	port := uint16(1)
	for i := 0; i < 3*maxCandidates+100; i++ {
		binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i))
		if w.note(netip.AddrFrom4(b), netip.AddrPortFrom(server, 80)) {
			t.Fatalf("flood source %d named a scanner", i)
		}
		if i%97 == 0 { // the scanner's attempts, one per 97 flood packets
			port++
			w.note(scanner, netip.AddrPortFrom(server, port))
		}
		if len(w.fanouts) > maxCandidates {
			t.Fatalf("%d fanouts after %d sources; want at most %d", len(w.fanouts), i+1, maxCandidates)
		}
	}
	if w.resets < 3 {
		t.Errorf("resets %d after %d sources; want 3 or more", w.resets, 3*maxCandidates+100)
	}
	if !w.known(scanner) || len(w.scanners) != 1 {
		t.Errorf("scanners %v; want only %s", w.scanners, scanner)
	}

	// A client watched in generation 1 is forgotten when the generations
	// wrap back to 1.
	w = newScanWatch()
	for i := 0; i < 3; i++ {
		w.note(scanner, netip.AddrPortFrom(server, uint16(i+1)))
	}
	w.gen = 1<<16 - 1
	w.forget()
	if f := w.candidate(scanner); w.gen != 1 || f.n != 0 {
		t.Errorf("after the wrap: generation %d, %d targets of %s remembered; want 1 and 0", w.gen, f.n, scanner)
	}

	w = newScanWatch()
	ll := netip.MustParseAddr("fe80::1")
	for i := 0; i < scanTargets; i++ {
		w.note(ll.WithZone("eth0"), netip.AddrPortFrom(server, uint16(i+1)))
	}
	if w.note(ll.WithZone("eth1"), netip.AddrPortFrom(server, 5000)) || w.known(ll.WithZone("eth1")) {
		t.Errorf("%s named a scanner for the attempts of %s", ll.WithZone("eth1"), ll.WithZone("eth0"))
	}
}

// TestGroupFiltersCountAsTheMaps: a merged group's members counted
// through the key filters of its seen endpoints and clients (bloom.Filter,
// from bloomFrom keys on) come out as the plain maps counted them: many
// clients past maxClientList and maxSeen, the same connection seen at two
// capture points or twice at one (taken back where it was counted: in its
// client's count, or among the clients past the list), a clone halfway
// that goes on apart.
func TestGroupFiltersCountAsTheMaps(t *testing.T) {
	type ref struct {
		count, more, past int
		clients           map[netip.Addr]int
		seen              map[netip.AddrPort]uint16
	}
	r := ref{clients: map[netip.Addr]int{}, seen: map[netip.AddrPort]uint16{}}
	g := &group{clientPts: map[uint16]bool{}, clients: map[netip.Addr]int{}}
	add := func(g *group, r *ref, e netip.AddrPort, vantage uint16) {
		// What findingSet.add and member did with maps alone.
		r.count++
		if _, ok := r.clients[e.Addr()]; ok || len(r.clients) < maxClientList {
			r.clients[e.Addr()]++
		} else {
			r.more++
		}
		switch _, ok := r.seen[e]; {
		case ok:
			r.count--
			if _, ok := r.clients[e.Addr()]; ok {
				r.clients[e.Addr()]--
			} else {
				r.more--
			}
		case len(r.seen) < maxSeen:
			r.seen[e] = vantage
		default:
			r.past++
		}
		g.count++
		g.noteClient(e.Addr(), 1)
		g.member(e, vantage)
	}
	check := func(when string, g *group, r *ref) {
		t.Helper()
		if g.count != r.count || g.moreClients != r.more || !maps.Equal(g.clients, r.clients) || !maps.Equal(g.seen, r.seen) || g.pastSeen != r.past {
			t.Errorf("%s: count %d, more %d, %d clients, %d seen, %d past them; want %d, %d, %d, %d, %d",
				when, g.count, g.moreClients, len(g.clients), len(g.seen), g.pastSeen, r.count, r.more, len(r.clients), len(r.seen), r.past)
		}
		if len(g.clients) > maxClientList {
			t.Errorf("%s: %d clients named; want at most %d", when, len(g.clients), maxClientList)
		}
		for a, n := range g.clients {
			if n <= 0 {
				t.Errorf("%s: client %s named with %d members", when, a, n)
				break
			}
		}
	}
	ep := func(i int) netip.AddrPort {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i%3000))
		return netip.AddrPortFrom(netip.AddrFrom4(b), uint16(40000+i%7))
	}
	var c *group
	var cr ref
	for i := 0; i < 12000; i++ {
		e := ep(i * 7919 % 9000)
		add(g, &r, e, 0)
		if i%5 == 0 {
			add(g, &r, e, 1) // the same connection at a second capture point
		}
		if i == 6000 {
			fs := &findingSet{order: []*group{g}, groups: map[groupKey]*group{}, perService: map[serviceKey]int{}, merged: map[serviceKey]*group{}}
			c = fs.clone().order[0]
			cr = ref{count: r.count, more: r.more, past: r.past, clients: maps.Clone(r.clients), seen: maps.Clone(r.seen)}
		}
		if c != nil && i%3 == 0 {
			add(c, &cr, ep(i+5000), uint16(i%2))
		}
	}
	if g.seenF == nil || g.clientsF == nil {
		t.Fatalf("no filters after %d clients", len(g.clients))
	}
	check("the group", g, &r)
	check("its clone", c, &cr)
}

// TestServicesTableCountsPastItsBound: the services table remembers
// maxSeenConvs conversations to count one seen at two capture points
// once; past them it counts each sighting, and says how many (past,
// kept by a clone), which the report's BoundMembers adds up.
func TestServicesTableCountsPastItsBound(t *testing.T) {
	tb := newSvcTable()
	server := netip.MustParseAddrPort("198.51.100.20:19283")
	var b [4]byte
	for i := 0; i < maxSeenConvs+10; i++ {
		binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i))
		c := netip.AddrPortFrom(netip.AddrFrom4(b), 50000)
		if tb.seen.again(c, server, 0) || i < 5 && !tb.seen.again(c, server, 1) {
			t.Fatalf("conversation %d: counted once at two points, or twice at one; want once", i)
		}
	}
	if c := tb.clone(); tb.seen.past != 10 || c.seen.past != 10 {
		t.Errorf("past the bound: %d, clone %d; want 10", tb.seen.past, c.seen.past)
	}
}

// TestScanAttemptsPastTheirBoundAreReported: at two capture points a
// scan remembers maxSeenConvs conversations to count each attempt once;
// those past it are reported as the scan_attempts bound, not as a
// finding's members;
// and a report's clone of the set reads what the evictions counted
// without writing to it.
func TestScanAttemptsPastTheirBoundAreReported(t *testing.T) {
	fs := newFindingSet()
	fs.scanSeen = new(attemptCounts)
	scanner := netip.MustParseAddr("203.0.113.66")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	head := func(i int, vantage uint16) *flows.FlowHead {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32(i/1000))
		return &flows.FlowHead{Vantage: vantage, Client: netip.AddrPortFrom(scanner, uint16(1024+i%1000)),
			Server: netip.AddrPortFrom(netip.AddrFrom4(b), 80), First: at, Last: at}
	}
	for i := 0; i < maxSeenConvs+10; i++ {
		fs.scanAttempt(head(i, 0), SynUnanswered, nil)
	}
	fs.scanAttempt(head(0, 1), SynUnanswered, nil) // seen at the first point: not counted again
	fs.flushScans()
	g := fs.groups[groupKey{kind: SynScan, client: scanner, transport: TCP}]
	if want := []Bound{{Table: BoundScanAttempts, Limit: maxSeenConvs, Summarised: 10}}; g == nil || g.count != maxSeenConvs+10 || !slices.Equal(fs.bounds(), want) {
		t.Fatalf("bounds %v, syn_scan group %v; want %v and %d attempts", fs.bounds(), g, want, maxSeenConvs+10)
	}
	c := fs.clone()
	h := head(1, 1)
	if k := convHash(h.Client, h.Server); counted(c.scanSeen.add(k, 1, 1, 0)) || !counted(c.scanSeen.add(k, 0, 1, 0)) {
		t.Errorf("the clone does not read the attempts the set counted (the first point's attempt seen at the second is new, or its second attempt is not)")
	}
	if c.scanSeen.add(convHash(h.Client, netip.MustParseAddrPort("192.0.2.1:1")), 1, 1, 0); c.scanSeen.past != 11 {
		t.Errorf("the clone counted %d attempts past the bound; want 11 (its own and the set's)", c.scanSeen.past)
	}
	small := newFindingSet()
	small.scanSeen = new(attemptCounts)
	small.scanAttempt(head(0, 0), SynUnanswered, nil)
	c = small.clone()
	c.scanSeen.add(convHash(h.Client, netip.MustParseAddrPort("192.0.2.1:1")), 1, 1, 0)
	if len(small.scanSeen.conv) != 1 || len(c.scanSeen.conv) != 1 || len(small.scanSeen.at) != 1 {
		t.Errorf("a clone's attempt went into the set's counts (%d conversations, want 1) or not its own (%d, want 1)", len(small.scanSeen.conv), len(c.scanSeen.conv))
	}
}

// counted is attemptCounts.add's first result.
func counted(c bool, _ uint8) bool { return c }
