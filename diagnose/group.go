package diagnose

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/internal/bloom"
)

// groupKey is what findings are grouped by: a thousand blocked SYNs from one
// client to one service make one finding with a count.
type groupKey struct {
	kind      Kind
	client    netip.Addr
	server    netip.Addr
	port      uint16
	transport catalog.Transport
	service   catalog.ServiceName
}

// group accumulates the members of one finding.
type group struct {
	key       groupKey
	severity  Severity
	service   *catalog.Service
	count     int
	first     time.Time
	last      time.Time
	frames    map[int][]uint64 // input -> evidence frames
	clientPts map[uint16]bool  // client ports of the members (for the filter)
	// facts are the kind's numbers, added up over the members.
	facts Facts
	// samples keep numeric facts (durations) to summarise.
	samples []time.Duration
	ttls    [2]uint8 // e.g. forged TTL, genuine TTL
	inputs  map[int]bool
	// clients is set on a group merged from many clients' groups (fan-in):
	// the clients and how many members each had; key.client is then zero.
	clients map[netip.Addr]int
	// rep is a member client, for the address family of a merged group.
	rep netip.Addr
	// moreClients counts members beyond the clients named in clients.
	moreClients int
	// seen holds the client endpoints of the members counted (see member)
	// and the capture point that saw each first, at most maxSeen.
	seen map[netip.AddrPort]uint16
	// pastSeen counts the members counted past maxSeen, each at every
	// capture point that saw it (BoundMembers).
	pastSeen int
	// attempts, in a client's group of failed attempts (attemptsOn),
	// are its members connection by connection with the point that saw
	// each, up to maxSeen (attemptsPast counts those past it): if the client turns out
	// to be a scanner, aggregate counts each attempt once however many
	// points saw it (attemptCounts), and a second attempt on the same
	// ports as another, which the members' count, by client endpoint and
	// first point, cannot.
	attempts     []attemptRef
	attemptsOn   bool
	attemptsPast int
	// evicted is how many of attempts the evictions added: a report's
	// clone adds the live connections' after them.
	evicted int
	// addedFirst is the first packet time (UnixNano) of the member add
	// counted last, which member records with its connection.
	addedFirst int64
	// seenF and clientsF, once seen and clients are large, hold every key
	// of theirs: a member from a new client (a flood's every attempt) is
	// told so without a lookup in either map.
	seenF, clientsF *bloom.Filter
}

// attemptRef is a member connection's client endpoint and capture point.
type attemptRef struct {
	client  netip.AddrPort
	vantage uint16
	first   int64 // its first packet (UnixNano)
}

// bloomFrom is the size from which a map gets its filter: below it a
// lookup is cheap enough.
const bloomFrom = 256

// seenAt returns the capture point that saw the endpoint first, if it is
// in seen.
func (g *group) seenAt(e netip.AddrPort) (uint16, bool) {
	if g.seenF != nil && !g.seenF.MayHave(endpointHash(e)) {
		return 0, false
	}
	v, ok := g.seen[e]
	return v, ok
}

// addSeen puts the endpoint, seen first at vantage, in seen (made if need
// be), and in its filter.
func (g *group) addSeen(e netip.AddrPort, vantage uint16) {
	if g.seen == nil {
		g.seen = map[netip.AddrPort]uint16{}
	}
	g.seen[e] = vantage
	filterKey(&g.seenF, g.seen, e, endpointHash)
}

// hasClient says whether c is in clients.
func (g *group) hasClient(c netip.Addr) bool {
	if g.clientsF != nil && !g.clientsF.MayHave(addrHash(c)) {
		return false
	}
	_, ok := g.clients[c]
	return ok
}

// addClient adds n members to c's count in clients, and c to its filter.
func (g *group) addClient(c netip.Addr, n int) {
	old := len(g.clients)
	g.clients[c] += n
	if len(g.clients) != old {
		filterKey(&g.clientsF, g.clients, c, addrHash)
	}
}

// filterKey puts k, just added to m, in m's filter *f, which it makes
// (with every key of m) once m has bloomFrom keys.
func filterKey[K comparable, V any](f **bloom.Filter, m map[K]V, k K, hash func(K) uint64) {
	switch {
	case *f != nil:
		(*f).Add(hash(k))
	case len(m) >= bloomFrom:
		*f = new(bloom.Filter)
		for k := range m {
			(*f).Add(hash(k))
		}
	}
}

// findingSet collects groups in first-seen order. Findings that many
// clients share about one service are merged as they come (fan-in), so the
// set stays bounded by services, not by clients, whatever a flood brings.
type findingSet struct {
	groups map[groupKey]*group
	order  []*group
	// perService counts the client groups of each (kind, server, port);
	// merged holds the group they went into once past manyClients.
	perService map[serviceKey]int
	merged     map[serviceKey]*group
	// solo are clients whose groups are never merged with other clients'
	// (scanners: aggregate folds their attempts into their syn_scan, which
	// it cannot take back out of a group merged from several clients).
	solo map[netip.Addr]bool
	// scans are the syn_scan groups scanAttempt last added to.
	scans scanCaches
	// scanSeen, once the capture has a second capture point (from the
	// start when several captures are given): an attempt another point
	// saw too is counted once (its past: BoundScanAttempts).
	scanSeen *attemptCounts
	// lastMerged is the merged group add found last, of lastService
	// (merged groups are never taken out of merged).
	lastService serviceKey
	lastMerged  *group
}

// serviceKey is a groupKey without its client, with the service: clients
// of one server port may reach different services on it (80 on a shared
// address is the version check for one, PRS for another).
type serviceKey struct {
	kind      Kind
	transport catalog.Transport
	server    netip.Addr
	port      uint16
	service   catalog.ServiceName
}

func svcName(s *catalog.Service) catalog.ServiceName {
	if s == nil {
		return ""
	}
	return s.Name
}

func newFindingSet() *findingSet {
	return &findingSet{groups: map[groupKey]*group{}, perService: map[serviceKey]int{}, merged: map[serviceKey]*group{}}
}

// maxClientList bounds the clients a merged group names one by one.
const maxClientList = 1000

// maxSeen bounds the client endpoints a group remembers for counting each
// member once; past it, members are counted as they come.
const maxSeen = 4096

// member records the client endpoint of a group's member (a connection or
// a flow) seen at capture point vantage and, when the same endpoint was
// counted already, takes back the count add gave it: the same connection
// seen at two capture points (both sides of a firewall, or two interfaces
// of a tcpdump -i any) is one connection, and so are one connection added
// twice (resets forged in both directions, a flow both late and refused)
// and a SYN retransmitted after its attempt left the live table. It
// reports whether the member's facts are to be added: not when another
// capture point saw the endpoint first (the same packets again), so that
// the facts add up over what the points saw once; at the same point they
// are more of the same member's (a second direction's resets, the flow's
// refusals beside its late answers). (Past maxSeen endpoints, members are
// counted as they come.)
func (g *group) member(client netip.AddrPort, vantage uint16) (facts bool) {
	if g.attemptsOn {
		if len(g.attempts) < maxSeen {
			g.attempts = append(g.attempts, attemptRef{client, vantage, g.addedFirst})
		} else {
			g.attemptsPast++
		}
	}
	switch v, ok := g.seenAt(client); {
	case ok:
		facts = v == vantage
		g.count--
		// Taken back where add counted it: a client named in clients,
		// or one past them (its count had made an entry of -1, and the
		// client counted twice among the others).
		switch a := client.Addr(); {
		case g.clients == nil:
		case g.hasClient(a):
			g.clients[a]--
		case g.moreClients > 0:
			g.moreClients--
		}
	case len(g.seen) < maxSeen:
		g.addSeen(client, vantage)
		facts = true
	default:
		g.pastSeen++
		facts = true
	}
	// Past 40 ports, only their number (41: more than 40) is told.
	if len(g.clientPts) <= 40 {
		g.clientPts[client.Port()] = true
	}
	return facts
}

// bounds are the set's bounds that were reached, with several capture
// points: the findings' members past what they remember (maxSeen), the
// scans' attempts past theirs (maxSeenConvs); each of those is counted at
// every point that saw it.
func (fs *findingSet) bounds() []Bound {
	var out []Bound
	n := 0
	for _, g := range fs.order {
		n += g.pastSeen
	}
	if n > 0 {
		out = append(out, Bound{Table: BoundMembers, Limit: maxSeen, Summarised: n})
	}
	if fs.scanSeen != nil && fs.scanSeen.past > 0 {
		out = append(out, Bound{Table: BoundScanAttempts, Limit: maxSeenConvs, Summarised: fs.scanSeen.past})
	}
	return out
}

// addSample keeps a numeric fact about a member, up to maxSamples.
func (g *group) addSample(d time.Duration) {
	if len(g.samples) < maxSamples {
		g.samples = append(g.samples, d)
	}
}

// mergeService folds the client groups of sk into one group.
func (fs *findingSet) mergeService(sk serviceKey) *group {
	var m *group
	keep := fs.order[:0]
	for _, g := range fs.order {
		if g.key.kind != sk.kind || g.key.transport != sk.transport || g.key.server != sk.server || g.key.port != sk.port || !g.key.client.IsValid() || svcName(g.service) != sk.service {
			keep = append(keep, g)
			continue
		}
		if m == nil {
			m = newGroup(groupKey{kind: sk.kind, server: sk.server, port: sk.port, transport: sk.transport, service: sk.service}, g.severity, g.service, g)
			m.clients = map[netip.Addr]int{}
			m.rep = g.key.client
			keep = append(keep, m)
		}
		m.absorb(g)
		m.noteClient(g.key.client, g.count)
		for p, v := range g.seen {
			if len(m.seen) < maxSeen {
				m.addSeen(p, v)
			}
		}
		delete(fs.groups, g.key)
	}
	fs.order = keep
	fs.groups[m.key] = m
	fs.merged[sk] = m
	return m
}

// noteClient counts a member client of a merged group.
func (g *group) noteClient(c netip.Addr, n int) {
	if len(g.clients) < maxClientList || g.hasClient(c) {
		g.addClient(c, n)
		return
	}
	g.moreClients++
}

// add returns the group for the key, creating it, and records one member.
func (fs *findingSet) add(kind Kind, severity Severity, svc *catalog.Service, transport catalog.Transport, client, server netip.Addr, port uint16,
	first, last time.Time, input int, frames []uint64) *group {
	k := groupKey{kind, client, server, port, transport, svcName(svc)}
	sk := serviceKey{kind, transport, server, port, svcName(svc)}
	pooled := client.IsValid() && !fs.solo[client]
	var g *group
	if pooled {
		// Once a service's groups are merged, a client that is not solo
		// has no group of its own there (mergeService took them all, and
		// none is made after): the merged group is found first, from the
		// last one found or by the service, without hashing the whole
		// key (a flood's every attempt: a tenth of its time).
		if fs.lastMerged != nil && fs.lastService == sk {
			g = fs.lastMerged
		} else if m := fs.merged[sk]; m != nil {
			g, fs.lastService, fs.lastMerged = m, sk, m
		}
		if g != nil {
			g.noteClient(client, 1)
		}
	}
	if g == nil {
		g = fs.groups[k]
	}
	if g == nil && pooled {
		if fs.perService[sk]++; fs.perService[sk] > manyClients {
			g = fs.mergeService(sk)
			g.noteClient(client, 1)
		}
	}
	if g == nil {
		g = &group{key: k, severity: severity, service: svc, first: first, last: last,
			frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, inputs: map[int]bool{},
			attemptsOn: synKinds[kind] && client.IsValid()}
		fs.groups[k] = g
		fs.order = append(fs.order, g)
	}
	if severity.Rank() > g.severity.Rank() {
		g.severity = severity
	}
	if g.service == nil {
		g.service = svc
	}
	g.count++
	g.addedFirst = first.UnixNano()
	if first.Before(g.first) {
		g.first = first
	}
	if last.After(g.last) {
		g.last = last
	}
	if !g.inputs[input] {
		g.inputs[input] = true
	}
	// (Once an input's evidence is full, nothing is stored back: a
	// flood's every attempt did.)
	if have := g.frames[input]; len(have) < maxGroupFrames {
		g.frames[input] = appendFrames(have, frames)
	}
	return g
}

// finding turns a group into a typed Finding. The facts and samples are
// handed over, not copied: the group belongs to Run's private clone of
// the finding set (findingSet.clone made the copies) and is not used
// after.
func (g *group) finding() Finding {
	f := Finding{
		Kind: g.key.kind, Severity: g.severity, Service: g.service, Transport: g.key.transport,
		Client: g.key.client, Server: g.key.server, Port: g.key.port,
		First: g.first, Last: g.last, Count: g.count, Inputs: len(g.inputs),
		Samples: g.samples, TTLs: g.ttls, Rep: g.rep, MoreClients: g.moreClients,
		NClientPorts: len(g.clientPts),
	}
	if g.facts != nil {
		f.Facts = g.facts
	}
	if len(g.clientPts) > 0 && len(g.clientPts) <= 40 {
		for p := range g.clientPts {
			f.ClientPorts = append(f.ClientPorts, p)
		}
		slices.Sort(f.ClientPorts)
	}
	if g.clients != nil {
		f.Clients = make([]ClientCount, 0, len(g.clients))
		for a, n := range g.clients {
			f.Clients = append(f.Clients, ClientCount{a, n})
		}
		sort.Slice(f.Clients, func(i, j int) bool {
			if f.Clients[i].N != f.Clients[j].N {
				return f.Clients[i].N > f.Clients[j].N
			}
			return f.Clients[i].Addr.Less(f.Clients[j].Addr)
		})
	}
	inputs := make([]int, 0, len(g.frames))
	for in := range g.frames {
		inputs = append(inputs, in)
	}
	sort.Ints(inputs)
	for _, in := range inputs {
		fr := slices.Clone(g.frames[in])
		slices.Sort(fr)
		fr = slices.Compact(fr)
		if len(fr) > 0 {
			f.Evidence = append(f.Evidence, Evidence{Input: in, Frames: fr})
		}
	}
	f.Confidence = confidence(&f)
	return f
}

// maxGroupFrames bounds the evidence frames a group keeps per input.
const maxGroupFrames = 64

// appendFrames adds frames to have, keeping at most maxGroupFrames (the
// evidence a finding lists per input).
func appendFrames(have, frames []uint64) []uint64 {
	for _, f := range frames {
		if len(have) >= maxGroupFrames {
			break
		}
		have = append(have, f)
	}
	return have
}

// clone deep-copies a finding set, so a report can add to it while the
// evicted findings it started from stay as they are.
func (fs *findingSet) clone() *findingSet {
	fs.flushScans()
	n := newFindingSet()
	remap := make(map[*group]*group, len(fs.order))
	for _, g := range fs.order {
		c := *g
		c.frames = make(map[int][]uint64, len(g.frames))
		for in, fr := range g.frames {
			c.frames[in] = slices.Clone(fr)
		}
		c.clientPts = maps0(g.clientPts)
		if g.facts != nil {
			c.facts = g.facts.clone()
		}
		c.inputs = maps0(g.inputs)
		c.samples = slices.Clone(g.samples)
		c.attempts = slices.Clone(g.attempts)
		c.evicted = len(g.attempts)
		if g.clients != nil {
			c.clients = maps0(g.clients)
		}
		if g.seen != nil {
			c.seen = maps0(g.seen)
		}
		if g.seenF != nil {
			f := *g.seenF
			c.seenF = &f
		}
		if g.clientsF != nil {
			f := *g.clientsF
			c.clientsF = &f
		}
		remap[g] = &c
		n.order = append(n.order, &c)
		n.groups[c.key] = &c
	}
	for k, v := range fs.perService {
		n.perService[k] = v
	}
	if fs.scanSeen != nil {
		// The clone reads the attempts the evictions counted (aggregate
		// adds the live ones) and counts its own apart.
		n.scanSeen = &attemptCounts{base: fs.scanSeen, past: fs.scanSeen.past}
	}
	for k, g := range fs.merged {
		n.merged[k] = remap[g]
	}
	return n
}

// maps0 copies a map, always into a non-nil one (maps.Clone keeps nil
// nil), so that the copy can be written to.
func maps0[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
