package diagnose

import (
	"maps"
	"net/netip"
	"sort"

	"github.com/fwdiag/fwdiag/flows"

	"github.com/fwdiag/fwdiag/catalog"
)

// Thresholds past which per-client findings are folded together, so a
// report stays readable (and bounded) whatever the capture holds: a
// support engineer needs "a scanner tried 4000 ports" and "900 clients get
// late answers from this KeyServer", not 4000 or 900 findings.
const (
	// scanTargets is how many distinct server ports one client may fail to
	// reach before its attempts are a scan.
	scanTargets = 20
	// manyClients is how many clients may share a finding about one
	// service before they are reported together: one, since the same
	// paragraph repeated per client says less than one with its clients.
	manyClients = 1
	// maxSamples bounds the numeric samples a merged group keeps.
	maxSamples = 1000
)

// synKinds are the connection-attempt findings a scan is made of.
var synKinds = map[Kind]bool{SynUnanswered: true, SynReset: true, SynICMPRejected: true, HandshakeIncomplete: true}

// findScanners returns the clients whose failed connection attempts fan
// out over more than scanTargets server ports (in the live connections and
// in the attempts eviction left as findings): port scanners, or clients
// misconfigured like one. Their attempts describe them, not the services:
// they go into their syn_scan finding only, never into the services table,
// the hosts' roles, version inference or NPA pairing.
func findScanners(conns []*flows.Conn, evicted *findingSet) map[netip.Addr]bool {
	targets := map[netip.Addr]map[netip.AddrPort]bool{}
	note := func(client netip.Addr, target netip.AddrPort) {
		t := targets[client]
		if t == nil {
			t = map[netip.AddrPort]bool{}
			targets[client] = t
		}
		if len(t) <= scanTargets {
			t[target] = true
		}
	}
	for _, g := range evicted.order {
		if !synKinds[g.key.kind] {
			continue
		}
		target := netip.AddrPortFrom(g.key.server, g.key.port)
		if g.key.client.IsValid() {
			note(g.key.client, target)
		}
		for c := range g.clients {
			note(c, target)
		}
	}
	for _, c := range conns {
		// An attempt that never became a connection: unanswered, refused,
		// rejected, or a handshake that never completed.
		if !c.FirstSyn.IsZero() && !c.Established {
			note(c.Client.Addr(), c.Server)
		}
	}
	out := map[netip.Addr]bool{}
	for c, t := range targets {
		if len(t) > scanTargets {
			out[c] = true
		}
	}
	return out
}

// aggregate folds each scanner's connection-attempt findings into one
// syn_scan finding, and counts its answered probes among conns, the live
// connections. (The findings many clients share about one service are
// merged as they are added: findingSet.add.)
func aggregate(fs *findingSet, scanners map[netip.Addr]bool, conns []*flows.Conn) {
	if len(scanners) == 0 {
		return
	}
	merged := map[*group]*group{} // member -> the group it went into
	scans := map[netip.Addr]*group{}
	for _, g := range fs.order {
		if g.key.kind == SynScan {
			scans[g.key.client] = g // made by the eviction hook
		}
	}
	tally := fs.scanTally(scanners, conns)
	for _, g := range fs.order {
		own := scanOwnReset(g, scanners)
		if !own && (!synKinds[g.key.kind] || !scanners[g.key.client]) {
			continue
		}
		s := scans[g.key.client]
		if s == nil {
			s = newGroup(groupKey{kind: SynScan, client: g.key.client, transport: TCP}, Info, nil, g)
			s.facts = &ScanFacts{Kinds: map[Kind]int{}, Hosts: map[netip.Addr]int{}, Services: map[catalog.ServiceName]int{}}
			scans[g.key.client] = s
		}
		if own {
			// Answered probes, not failed attempts: the finding goes into
			// the scan's (its connections are counted below).
			merged[g] = s
			continue
		}
		s.absorb(g)
		merged[g] = s
		if fs.scanSeen != nil && g.attemptsOn {
			// Counted connection by connection: what it could not tell
			// apart is the connections past those it keeps (scanTally
			// counts them at every point), not its members past those it
			// remembers by endpoint.
			s.pastSeen += g.attemptsPast - g.pastSeen
		}
		n := fs.scanCounted(g, tally)
		if s.count -= g.count - n; n == 0 {
			continue // every member counted from another point, with its host
		}
		sf := s.facts.(*ScanFacts)
		sf.Kinds[g.key.kind] += n
		sf.noteHost(g.key.server)
		if g.service != nil {
			sf.Services[g.service.Name]++
		}
	}
	// A live connection of a scanner that a server answered is an
	// answered probe, as scanProbe counts an evicted one: an open port,
	// whether the scanner reset the SYN-ACK (nmap -sS, whatever TTL its
	// kernel's reset had) or completed the handshake. Counted once at
	// several capture points.
	for _, c := range conns {
		s := scans[c.Client.Addr()]
		if s == nil || !answeredProbe(c) || tally != nil && !tally.answered[c] {
			continue // (several points: tally.answered has those not counted from another)
		}
		s.facts.(*ScanFacts).Answered++
	}
	if tally != nil {
		// Attempts the evictions counted whose outcome another point's
		// copy told better: taken from the kind they were counted under.
		for client, kinds := range tally.moved {
			if s := scans[client]; s != nil {
				for _, k := range kinds {
					s.count--
					s.facts.(*ScanFacts).Kinds[k]--
				}
			}
		}
	}
	for _, s := range scans {
		// The findings read Hosts next, and carry the counts, not the
		// table that gathered them.
		sf := s.facts.(*ScanFacts)
		maps.DeleteFunc(sf.Kinds, func(_ Kind, n int) bool { return n <= 0 }) // all moved to another
		sf.flushHosts()
		sf.hosts = nil
	}
	if len(merged) == 0 {
		return
	}
	// Rebuild the order: a merged group takes its first member's place.
	var order []*group
	placed := map[*group]bool{}
	for _, g := range fs.order {
		t := g
		if m := merged[g]; m != nil {
			t = m
		}
		if !placed[t] {
			placed[t] = true
			order = append(order, t)
		}
		if merged[g] != nil {
			delete(fs.groups, g.key)
		}
	}
	fs.order = order
}

// scanCounted says how many attempts g, a scanner's failed attempts at
// one server port, adds to its syn_scan: at one capture point each member
// connection (a second attempt on the same ports too, as the evictions
// count it), at several those scanTally worked out. (A group made
// without its connections, attemptsOn unset, adds its count.)
func (fs *findingSet) scanCounted(g *group, tally *scanTallies) int {
	switch {
	case !g.attemptsOn:
		return g.count
	case fs.scanSeen == nil:
		return len(g.attempts) + g.attemptsPast
	}
	return tally.adds[g]
}

// scanTally works out, with several capture points, how many attempts
// each of the scanners' failed-attempt groups adds to its syn_scan, and
// which of their live answered connections are probes not counted from
// another point (attemptCounts): each attempt once however many points
// saw it and whatever each saw of it (unanswered where the other saw the
// reset, evicted at one and live at the other, made before the scanner
// was known at one and after at the other), a second attempt on the same
// ports twice. The copies the evictions left in the groups are seen and
// counted first, as the evictions' own were; then every live connection
// of a scanner is seen at its point (one too young to be judged still
// tells that its point saw one more attempt); then the live copies are
// counted, each attempt from one of them. (One point: nil, nil.)
func (fs *findingSet) scanTally(scanners map[netip.Addr]bool, conns []*flows.Conn) (t *scanTallies) {
	if fs.scanSeen == nil {
		return nil
	}
	t = &scanTallies{adds: map[*group]int{}, answered: map[*flows.Conn]bool{}, moved: map[netip.Addr][]Kind{}, mine: map[uint64]scanCopy{}}
	var groups []*group
	for _, g := range fs.order {
		if synKinds[g.key.kind] && scanners[g.key.client] && g.attemptsOn {
			groups = append(groups, g)
			// Those past what the group keeps count at every point that
			// saw them, reported so (aggregate: BoundMembers).
			t.adds[g] = g.attemptsPast
		}
	}
	conv := func(g *group, r attemptRef) uint64 {
		return convHash(r.client, netip.AddrPortFrom(g.key.server, g.key.port))
	}
	for _, g := range groups {
		for _, r := range g.attempts[:g.evicted] {
			k := conv(g, r)
			counted, was := fs.scanSeen.add(k, r.vantage, outcomeRank(g.key.kind), r.first)
			t.count(k, scanCopy{g: g}, counted, was)
		}
	}
	for _, c := range conns {
		if scanners[c.Client.Addr()] {
			fs.scanSeen.see(convHash(c.Client, c.Server), c.Vantage)
		}
	}
	// The live copies with an outcome, each conversation's from the point
	// that saw the most of its attempts first: under the one sequence
	// that point saw them all, so its copies are the attempts, each with
	// the outcome it saw, and the others' only make up for its copies that
	// have none yet (or tell an outcome it missed).
	type liveCopy struct {
		conv    uint64
		v       uint16
		seen    uint16 // the attempts its point saw on the conversation
		outcome uint8
		first   int64
		scanCopy
	}
	var copies []liveCopy
	for _, g := range groups {
		for _, r := range g.attempts[g.evicted:] {
			copies = append(copies, liveCopy{conv: conv(g, r), v: r.vantage, outcome: outcomeRank(g.key.kind), first: r.first, scanCopy: scanCopy{g: g}})
		}
	}
	for _, c := range conns {
		if scanners[c.Client.Addr()] && answeredProbe(c) {
			copies = append(copies, liveCopy{conv: convHash(c.Client, c.Server), v: c.Vantage, outcome: outcomeRank(""), first: c.First.UnixNano(), scanCopy: scanCopy{c: c}})
		}
	}
	for i := range copies {
		copies[i].seen = fs.scanSeen.seenAt(copies[i].conv, copies[i].v)
	}
	sort.SliceStable(copies, func(i, j int) bool {
		x, y := &copies[i], &copies[j]
		switch {
		case x.conv != y.conv:
			return x.conv < y.conv
		case x.seen != y.seen:
			return x.seen > y.seen
		case x.outcome != y.outcome:
			return x.outcome > y.outcome
		}
		return x.v < y.v
	})
	for _, x := range copies {
		counted, was := fs.scanSeen.take(x.conv, x.outcome, x.first)
		t.count(x.conv, x.scanCopy, counted, was)
	}
	return t
}

// scanTallies are what scanTally worked out: the attempts each failed
// group adds, the live answered connections that are probes, and per
// scanner the outcomes of attempts the evictions counted that a live or
// evicted copy at another point turned into a better one (to take from
// its facts).
type scanTallies struct {
	adds     map[*group]int
	answered map[*flows.Conn]bool
	moved    map[netip.Addr][]Kind
	// mine is, per conversation, the copy this tally last counted.
	mine map[uint64]scanCopy
}

// scanCopy is a copy of an attempt: a member of a failed group, or an
// answered live connection.
type scanCopy struct {
	g *group
	c *flows.Conn
}

func (x scanCopy) client() netip.Addr {
	if x.g != nil {
		return x.g.key.client
	}
	return x.c.Client.Addr()
}

// count records the copy x of an attempt on conversation k as take found
// it: counted, or taking the attempt's outcome from was.
func (t *scanTallies) count(k uint64, x scanCopy, counted bool, was uint8) {
	if !counted && was == 0 {
		return
	}
	if !counted {
		// The attempt, counted before with outcome was, is this copy's.
		if old, ok := t.mine[k]; ok {
			if old.g != nil {
				t.adds[old.g]--
			} else {
				delete(t.answered, old.c)
			}
		} else {
			client := x.client()
			t.moved[client] = append(t.moved[client], outcomeKind(was))
		}
	}
	t.mine[k] = x
	if x.g != nil {
		t.adds[x.g]++
	} else {
		t.answered[x.c] = true
	}
}

// scanOwnReset says whether g is an rst_injected finding of a scanner's
// own connections whose "forged" resets all claim to come from the
// scanner: a SYN scan (nmap -sS) crafts its SYNs on a raw socket, with a
// TTL of its own choosing, and the scanner's kernel, which knows nothing
// of them, resets each SYN-ACK of an open port at its default TTL. On a
// real nmap scan that was a critical "reset forged by a middlebox" per
// open port (pcaps/captures/nmap-scan). Resets that claim to come from
// the scanned host stay findings: a device may well reset a scan.
func scanOwnReset(g *group, scanners map[netip.Addr]bool) bool {
	if g.key.kind != RSTInjected || !scanners[g.key.client] {
		return false
	}
	x, ok := g.facts.(*RSTInjectedFacts)
	return ok && x.ClaimsClient > 0 && x.ClaimsServer == 0
}

// newGroup starts an empty group with a member's times.
func newGroup(k groupKey, severity Severity, svc *catalog.Service, first *group) *group {
	return &group{key: k, severity: severity, service: svc, first: first.first, last: first.last,
		frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, inputs: map[int]bool{}}
}

// absorb adds a member group's counts, times and evidence.
func (g *group) absorb(m *group) {
	g.count += m.count
	g.pastSeen += m.pastSeen
	if m.first.Before(g.first) {
		g.first = m.first
	}
	if m.last.After(g.last) {
		g.last = m.last
	}
	if m.severity.Rank() > g.severity.Rank() && g.key.kind != SynScan {
		g.severity = m.severity
	}
	if g.service == nil && g.key.kind != SynScan {
		g.service = m.service
	}
	for in, fr := range m.frames {
		g.frames[in] = appendFrames(g.frames[in], fr)
		g.inputs[in] = true
	}
	if len(g.clientPts) <= 40 {
		for p := range m.clientPts {
			g.clientPts[p] = true
		}
	}
	if g.key.kind != SynScan && m.facts != nil {
		if g.facts == nil {
			g.facts = m.facts.clone()
		} else {
			g.facts.merge(m.facts)
		}
	}
	if room := maxSamples - len(g.samples); room > 0 {
		g.samples = append(g.samples, m.samples[:min(room, len(m.samples))]...)
	}
	if g.ttls == [2]uint8{} {
		g.ttls = m.ttls
	}
}
