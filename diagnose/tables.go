package diagnose

import (
	"hash/maphash"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// tables fills the report's flow, service and host tables and its
// statistics. It only reads the analyzer and the flows (the services are
// memoized before it starts), so Result runs it beside the findings.
func (a *run) tables(r *Result, conns []*flows.Conn, udps []*flows.UDPFlow) {
	ev := &a.v.Evicted
	r.TCPFlows, r.TCPFlowsOmitted = a.tcpTable(conns)
	r.TCPFlowsOmitted += ev.TCPConnections
	r.UDPFlowsOmitted = a.ev.udpRows
	r.UDPFlows = udpTable(udps)
	r.Services = a.serviceTable(a.ev.svc.clone(), conns, udps)
	r.Hosts = a.hostTable(conns, udps)
	r.Bounds = a.bounds()
	r.Stats = Stats{TCPConnections: ev.TCPConnections, UDPFlows: ev.UDPFlows, TCPRetransmissions: ev.TCPRetransmissions,
		SYNRetransmissions: ev.SYNRetransmissions, TCPResets: ev.TCPResets, Duplicates: ev.Duplicates}
	r.Stats.TCPConnections += len(conns)
	r.Stats.UDPFlows += len(udps)
	r.Stats.ICMPErrors, r.Stats.Fragments = a.v.ICMPErrors, a.v.Fragments
	for _, c := range conns {
		for d := 0; d < 2; d++ {
			r.Stats.TCPRetransmissions += c.Dir[d].Retrans
			r.Stats.TCPResets += c.Dir[d].RST
		}
		if c.Dir[0].SYN > 1 && !c.FirstSyn.IsZero() {
			r.Stats.SYNRetransmissions += c.Dir[0].SYN - 1
		}
		r.Stats.Duplicates += c.Dups
	}
}

func (a *run) tcpTable(conns []*flows.Conn) ([]TCPFlow, int) {
	out := make([]TCPFlow, 0, min(len(conns), maxListedTCPFlows))
	omitted := 0
	for _, c := range conns {
		if a.scanAttempt(c) {
			omitted++
			continue
		}
		svc := c.Service
		if len(conns)+a.v.Evicted.TCPConnections > maxListedTCPFlows && (svc == nil || len(out) >= maxListedTCPFlows) {
			omitted++
			continue
		}
		row := TCPFlow{
			Input: c.Input, Client: c.Client, Server: c.Server,
			ConnState: c.ConnState(), History: c.History(), First: c.First, Last: c.Last,
			SYNs:       c.Dir[0].SYN,
			ClientPkts: c.Dir[0].Pkts, ServerPkts: c.Dir[1].Pkts,
			ClientBytes: c.Dir[0].Payload, ServerBytes: c.Dir[1].Payload,
			Retrans: c.Dir[0].Retrans + c.Dir[1].Retrans, KeepAlives: c.Dir[0].KeepAlives + c.Dir[1].KeepAlives,
			MaxIdle: c.MaxGap, ClientTTL: int(c.Dir[0].TTL), ServerTTL: int(c.Dir[1].TTL), FirstFrame: c.FirstFrame,
		}
		if svc != nil {
			row.Service = svc.Name
		} else if c.Greeted != "" {
			row.Service = catalog.ServiceName(c.Greeted)
		}
		if c.SynAck && !c.FirstSyn.IsZero() {
			row.Handshake = c.SynAckTime.Sub(c.FirstSyn)
		}
		out = append(out, row)
	}
	return out, omitted
}

// scanAttempt says c is a known scanner's attempt that failed (no answer,
// or refused): its syn_scan counts it, and the flow table does not list it,
// whatever the capture's size. An answered probe (an open port) is listed:
// it tells the hosts' roles. Without this a small capture listed every
// attempt (4,244 rows, 2.7 MB of JSON, for one nmap run of the lab) while
// the same scan in a capture past maxListedTCPFlows listed none.
func (a *run) scanAttempt(c *flows.Conn) bool {
	return a.scanners[c.Client.Addr()] && !c.FirstSyn.IsZero() && !c.Established && !c.SynAck
}

func udpTable(udps []*flows.UDPFlow) []UDPFlowRow {
	var out []UDPFlowRow
	for _, f := range udps {
		svc := f.Service
		if svc == nil && f.ICMPCount+f.RefusedCount == 0 {
			continue
		}
		row := UDPFlowRow{Input: f.Input, Vantage: f.Vantage, Client: f.Client, Server: f.Server,
			Requests: f.Requests, Responses: f.Responses, MaxSilence: f.MaxSilence,
			LateResponses: f.LateCount, ICMPErrors: f.ICMPCount + f.RefusedCount, Delays: f.Delays}
		if svc != nil {
			row.Service = svc.Name
		}
		out = append(out, row)
	}
	return out
}

// svcKey identifies a row of the services table.
type svcKey struct {
	server    netip.Addr
	port      uint16
	transport catalog.Transport
}

// tally counts one client's connections to a service by outcome.
type tally struct {
	conns, answered, refusedHost, filtered int
}

func (t *tally) add(o *tally) {
	t.conns += o.conns
	t.answered += o.answered
	t.refusedHost += o.refusedHost
	t.filtered += o.filtered
}

// svcAgg is one row of the services table being built: the outcomes per
// client, so that a client found to be a scanner can be left out of a row
// its probes went into before it was known for one.
type svcAgg struct {
	svc     *catalog.Service
	clients map[netip.Addr]*tally
	// more sums the connections of clients beyond maxClientList;
	// moreClients counts those clients: each once while moreSeen (their
	// hashes) has room, then each connection as one. Counted once, a
	// client's count does not depend on whether a flood's sources came
	// before it and filled the list.
	more        tally
	moreClients int
	moreSeen    map[uint64]struct{}
}

// maxMoreClients bounds the clients past a row's list counted one by one.
const maxMoreClients = 1 << 16

// svcTable accumulates the services table from connections and flows.
type svcTable struct {
	aggs  map[svcKey]*svcAgg
	order []svcKey
	// seen: a connection seen at two capture points counts once (its
	// past: BoundServiceConvs).
	seen convSeen
}

// convSeen maps the conversations counted, by a hash of their ends
// (convHash), to the capture point that saw them first, so that one seen
// at several points is counted once: the services table's connections
// and flows, a scan's attempts (findingSet.scanSeen). Past maxSeenConvs
// conversations each sighting counts, and past counts them.
type convSeen struct {
	m    map[uint64]uint16
	past int
}

// maxSeenConvs bounds the conversations a convSeen (about 20 bytes
// each) or an attemptCounts (about 60 bytes each at two points)
// remembers.
const maxSeenConvs = 1 << 18

// again says whether the conversation was counted already at another
// capture point, and remembers it. A conversation seen again at the same
// capture point is a new connection from a reused port, counted again.
func (s *convSeen) again(client, server netip.AddrPort, vantage uint16) bool {
	k := convHash(client, server)
	if v, ok := s.m[k]; ok {
		return v != vantage
	}
	if s.m == nil {
		s.m = map[uint64]uint16{}
	}
	if len(s.m) < maxSeenConvs {
		s.m[k] = vantage
	} else {
		s.past++
	}
	return false
}

// attemptCounts counts a scan's attempts seen at several capture points
// once: per conversation (convHash), how many attempts each point saw,
// the most any point saw, and how many of them were counted. Each point
// sees some of one sequence of attempts on a conversation (a firewall
// between them drops some, or a point starts late), so the attempts are
// as many as the point that saw the most of them saw, whatever order the
// points' copies come in and whether an attempt left the live table or
// was still in it at the end: the same attempt seen on both sides counts
// once, a second one on the same ports (a scan repeated from a fixed
// source port, nmap -g) twice, also when only one point saw the first.
// An attempt is seen (see) at each point, and counted (take) from
// whichever copy has an outcome: a copy too young to be judged at the end
// still tells that the point saw one more.
type attemptCounts struct {
	conv map[uint64]convCount
	at   map[uint64]uint16 // pointKey(conversation, point) -> that point's attempts
	// base, when set, is the counts of the set this one was cloned from:
	// read, never written (a report's clone adds its live attempts to its
	// own maps, without copying the evictions' counts).
	base *attemptCounts
	past int // conversations past maxSeenConvs, each attempt counted
}

// convCount is a conversation's attempts: the most one point saw, how
// many were counted, and the outcome (outcomeRank) of the last counted.
type convCount struct {
	most, counted uint16
	outcome       uint8
	first         int64 // the first packet time (UnixNano) of the last counted
}

// sameAttemptWithin is how far apart in time two points' copies of one
// attempt may be for a copy with a better outcome to give it to an
// attempt counted from the other point: beyond it the copy may be of a
// later attempt on the same ports (a scan's next pass) that the counts do
// not show yet. (Clocks further apart keep the first outcome.)
const sameAttemptWithin = int64(time.Second)

// add sees an attempt on conversation k at capture point v and takes it
// with its outcome (take).
func (a *attemptCounts) add(k uint64, v uint16, outcome uint8, first int64) (counted bool, was uint8) {
	if !a.see(k, v) {
		return true, 0 // past the bound: counted as it comes
	}
	return a.take(k, outcome, first)
}

// see notes an attempt on conversation k seen at capture point v, and
// reports whether the conversation is remembered (false past the bound).
func (a *attemptCounts) see(k uint64, v uint16) bool {
	c, ok := a.convOf(k)
	if !ok && len(a.conv)+a.baseLen() >= maxSeenConvs {
		a.past++
		return false
	}
	if a.conv == nil {
		a.conv, a.at = map[uint64]convCount{}, map[uint64]uint16{}
	}
	n := a.seenAt(k, v)
	if n < math.MaxUint16 {
		n++
	}
	a.at[pointKey(k, v)] = n
	c.most = max(c.most, n)
	a.conv[k] = c
	return true
}

// take counts an attempt on conversation k, whose copy has the given
// outcome, if fewer were counted than one point saw, and reports whether
// it did (past the bound it always counts). When it does not, the copy
// is of an attempt counted from another point; if its outcome says more
// (an answer one point missed) and it is near the last counted attempt in
// time (sameAttemptWithin), the attempt takes it: was is the outcome it
// had, to move its count from (0: none to move).
func (a *attemptCounts) take(k uint64, outcome uint8, first int64) (counted bool, was uint8) {
	c, ok := a.convOf(k)
	if !ok {
		return true, 0 // not remembered (past the bound)
	}
	if a.conv == nil {
		a.conv, a.at = map[uint64]convCount{}, map[uint64]uint16{}
	}
	if c.counted < c.most {
		c.counted++
		c.outcome, c.first = outcome, first
		a.conv[k] = c
		return true, 0
	}
	if d := first - c.first; outcome <= c.outcome || d > sameAttemptWithin || d < -sameAttemptWithin {
		return false, 0
	}
	was, c.outcome = c.outcome, outcome
	a.conv[k] = c
	return false, was
}

// convOf returns conversation k's counts, from a's own or else its base's.
func (a *attemptCounts) convOf(k uint64) (convCount, bool) {
	if c, ok := a.conv[k]; ok {
		return c, true
	}
	if a.base != nil {
		c, ok := a.base.conv[k]
		return c, ok
	}
	return convCount{}, false
}

// seenAt says how many attempts on conversation k capture point v saw.
func (a *attemptCounts) seenAt(k uint64, v uint16) uint16 {
	pk := pointKey(k, v)
	if n, ok := a.at[pk]; ok {
		return n
	}
	if a.base != nil {
		return a.base.at[pk]
	}
	return 0
}

func (a *attemptCounts) baseLen() int {
	if a.base == nil {
		return 0
	}
	return len(a.base.conv)
}

// pointKey is the key of conversation k at capture point v.
func pointKey(k uint64, v uint16) uint64 {
	return mix64(k^uint64(v)*0x9e3779b97f4a7c15, 0x2545f4914f6cdd1d)
}

// convSeed seeds the conversation hashes of the services table.
var convSeed = maphash.MakeSeed()

// convHash hashes a conversation's ends without allocating (their
// MarshalBinary did, twice for every connection and flow counted).
func convHash(client, server netip.AddrPort) uint64 {
	var b [38]byte
	put := func(o int, e netip.AddrPort) {
		a := e.Addr().As16()
		copy(b[o:], a[:])
		b[o+16], b[o+17] = byte(e.Port()>>8), byte(e.Port())
		if e.Addr().Is4() {
			b[o+18] = 4
		}
	}
	put(0, client)
	put(19, server)
	return maphash.Bytes(convSeed, b[:])
}

func newSvcTable() *svcTable { return &svcTable{aggs: map[svcKey]*svcAgg{}} }

// get returns the tally of client in row k, counting one connection.
func (t *svcTable) get(k svcKey, svc *catalog.Service, client netip.Addr) *tally {
	g := t.aggs[k]
	if g == nil {
		g = &svcAgg{svc: svc, clients: map[netip.Addr]*tally{}}
		t.aggs[k] = g
		t.order = append(t.order, k)
	}
	c := g.clients[client]
	if c == nil && len(g.clients) < maxClientList {
		c = &tally{}
		g.clients[client] = c
	}
	if c == nil {
		h := addrHash(client)
		if _, ok := g.moreSeen[h]; !ok {
			g.moreClients++
			if len(g.moreSeen) < maxMoreClients {
				if g.moreSeen == nil {
					g.moreSeen = map[uint64]struct{}{}
				}
				g.moreSeen[h] = struct{}{}
			}
		}
		c = &g.more
	}
	c.conns++
	return c
}

// addrHash hashes an address (not its zone) for the diagnosis's own
// tables and filters: the scan watch's candidates, a merged finding's
// clients, the services table's clients past its list (wyhash's step on
// the address's two words, as endpointHash).
func addrHash(a netip.Addr) uint64 {
	hi, lo := addrWords(a)
	return mix64(hi^0x9e3779b97f4a7c15, lo^0xbf58476d1ce4e5b9)
}

// clone copies the table so a snapshot can add to it.
func (t *svcTable) clone() *svcTable {
	c := &svcTable{aggs: make(map[svcKey]*svcAgg, len(t.aggs)), order: append([]svcKey(nil), t.order...), seen: convSeen{maps.Clone(t.seen.m), t.seen.past}}
	for k, g := range t.aggs {
		n := *g
		n.clients = make(map[netip.Addr]*tally, len(g.clients))
		for a, t := range g.clients {
			tc := *t
			n.clients[a] = &tc
		}
		n.moreSeen = maps.Clone(g.moreSeen)
		c.aggs[k] = &n
	}
	return c
}

func (a *run) svcAddConn(t *svcTable, c *flows.Conn) {
	svc := c.Service
	if svc == nil || t.seen.again(c.Client, c.Server, c.Vantage) {
		return
	}
	g := t.get(svcKey{c.Server.Addr(), c.Server.Port(), TCP}, svc, c.Client.Addr())
	switch {
	case c.SynAck || c.Midstream && c.Dir[1].Pkts > 0:
		g.answered++
	case !c.FirstSyn.IsZero() && c.Dir[1].RST > 0:
		if gt, ok := a.ttls.Genuine(c.Vantage, c.Server.Addr()); ok && gt != c.Dir[1].Resets[0].TTL {
			g.filtered++
		} else {
			g.refusedHost++
		}
	case c.ICMP != nil && icmpIsPortUnreachable(c.ICMP.V6, c.ICMP.Type, c.ICMP.Code) && c.ICMP.From.Addr() == c.Server.Addr():
		g.refusedHost++
	case !c.FirstSyn.IsZero():
		g.filtered++
	}
}

// svcAddUDP counts a UDP service flow in the services table.
func (a *run) svcAddUDP(t *svcTable, f *flows.UDPFlow) {
	svc := f.Service
	if svc == nil || t.seen.again(f.Client, f.Server, f.Vantage) {
		return
	}
	g := t.get(svcKey{f.Server.Addr(), f.Server.Port(), UDP}, svc, f.Client.Addr())
	switch {
	case f.Responses > 0 && f.Requests > 0:
		g.answered++
	case f.ICMP != nil && icmpIsPortUnreachable(f.ICMP.V6, f.ICMP.Type, f.ICMP.Code) && f.ICMP.From.Addr() == f.Server.Addr():
		g.refusedHost++
	case f.Requests > 0:
		g.filtered++
	default:
		g.answered++ // server-originated only (notifications): the server is there
	}
}

func (a *run) serviceTable(base *svcTable, conns []*flows.Conn, udps []*flows.UDPFlow) []ServiceRow {
	t := base
	for _, c := range conns {
		a.svcAddConn(t, c)
	}
	for _, f := range udps {
		a.svcAddUDP(t, f)
	}
	a.svcPast = t.seen.past
	aggs, order := t.aggs, t.order
	out := make([]ServiceRow, 0, len(order))
	for _, k := range order {
		g := aggs[k]
		// A scanner's probes say nothing about the service (issue: a port
		// sweep made 26 of 28 rows of an hour's capture).
		sum, clients := g.more, g.moreClients
		for c, t := range g.clients {
			if !a.scanners[c] {
				sum.add(t)
				clients++
			}
		}
		if sum.conns == 0 {
			continue
		}
		status := Listening
		switch {
		case sum.answered > 0 && (sum.filtered > 0 || sum.refusedHost > 0):
			status = Partial
		case sum.answered > 0:
		case sum.refusedHost > 0 && sum.filtered == 0:
			status = NotListening
		default:
			status = Filtered
		}
		out = append(out, ServiceRow{Server: k.server, Port: k.port, Transport: k.transport, Service: g.svc.Name,
			Clients: clients, Connections: sum.conns, Status: status})
		a.svcMore += g.moreClients
	}
	// By address, numerically.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server.Less(out[j].Server)
		}
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Transport < out[j].Transport
	})
	return out
}

// roleSet collects roles per address.
type roleSet map[netip.Addr]map[string]bool

func (r roleSet) add(a netip.Addr, role string) {
	if r[a] == nil {
		r[a] = map[string]bool{}
	}
	r[a][role] = true
}

func (a *run) hostTable(conns []*flows.Conn, udps []*flows.UDPFlow) []HostRow {
	roles := roleSet{}
	k2tcp := map[netip.Addr]bool{}
	k2udp := map[netip.Addr]bool{}
	for _, c := range conns {
		svc := c.Service
		if c.ICMP != nil && c.ICMP.From.Addr() != c.Server.Addr() && c.ICMP.From.Addr() != c.Client.Addr() {
			roles.add(c.ICMP.From.Addr(), "middlebox")
		}
		if svc == nil || !(c.SynAck || c.Midstream) || a.scanners[c.Client.Addr()] {
			continue
		}
		switch {
		case svc.Product == catalog.Supportworks:
			roles.add(c.Server.Addr(), "sw-server")
			roles.add(c.Client.Addr(), "sw-client")
		case svc.Name == catalog.K2KeyServer:
			roles.add(c.Server.Addr(), "k2-keyserver")
			k2tcp[c.Client.Addr()] = true
		case svc.Name == catalog.K2Reporter:
			roles.add(c.Server.Addr(), "k2-reporter")
		case svc.Outbound:
			roles.add(c.Server.Addr(), string(svc.Name))
		}
	}
	for _, f := range udps {
		svc := f.Service
		if f.ICMP != nil && f.ICMP.From.Addr() != f.Server.Addr() && f.ICMP.From.Addr() != f.Client.Addr() {
			roles.add(f.ICMP.From.Addr(), "middlebox")
		}
		for _, r := range f.Refused {
			if from := r.ICMP.From.Addr(); from != f.Server.Addr() && from != f.Client.Addr() {
				roles.add(from, "middlebox")
			}
		}
		if svc == nil {
			continue
		}
		switch svc.Name {
		case catalog.K2KeyServer:
			if f.Responses > 0 {
				roles.add(f.Server.Addr(), "k2-keyserver")
			}
			k2udp[f.Client.Addr()] = true
		case catalog.K2Shadow:
			if f.Responses > 0 {
				roles.add(f.Server.Addr(), "k2-shadow")
			}
			roles.add(f.Client.Addr(), "k2-client")
		case catalog.SWNotifyUDP:
			roles.add(f.Server.Addr(), "sw-server")
			roles.add(f.Client.Addr(), "sw-client")
		}
	}
	for h := range k2udp {
		if k2tcp[h] {
			roles.add(h, "k2-admin")
		} else {
			roles.add(h, "k2-client")
		}
	}
	for h := range k2tcp {
		if !k2udp[h] {
			// TCP 19283 alone: report queries (KeyReporter, ksODBC).
			if roles[h]["k2-reporter"] {
				continue
			}
			roles.add(h, "k2-report-client")
		}
	}
	for sc := range a.scanners {
		roles.add(sc, "scanner")
	}
	for s, role := range a.ev.serverRoles {
		roles.add(s, role)
	}
	for m := range a.v.Evicted.Middleboxes {
		roles.add(m, "middlebox")
	}
	for s := range a.v.DNSServers {
		roles.add(s, "dns-server")
	}
	addrs := make([]netip.Addr, 0, len(roles))
	for addr := range roles {
		addrs = append(addrs, addr)
	}
	// slices, not sort.Slice: its reflective swaps of 24-byte addresses
	// were half of the hosts table (2,000 hosts, the busy hour).
	slices.SortFunc(addrs, netip.Addr.Compare)
	out := make([]HostRow, 0, len(roles))
	for _, addr := range addrs {
		row := HostRow{Addr: addr, Names: a.v.Names[addr]}
		for r := range roles[addr] {
			row.Roles = append(row.Roles, r)
		}
		sort.Strings(row.Roles)
		out = append(out, row)
	}
	return out
}

// bounds lists the bounded tables that filled up.
func (a *run) bounds() []Bound {
	var out []Bound
	ev := &a.v.Evicted
	add := func(t BoundTable, limit, n int) {
		if n > 0 {
			out = append(out, Bound{Table: t, Limit: limit, Summarised: n})
		}
	}
	add(BoundTCP, a.v.MaxConns, ev.TCPConnections-ev.ScanAttempts)
	add(BoundUDP, a.v.MaxUDPFlows, ev.UDPFlows)
	add(BoundScan, maxCandidates, a.ev.scan.resets)
	add(BoundK2, maxK2, a.ev.k2Dropped)
	add(BoundDNS, flows.MaxDNSLookups, a.v.DNSDropped)
	add(BoundClients, maxClientList, a.svcMore)
	return out
}

// namedHosts adds to the hosts table every host a finding names that its
// traffic gave no role: the server a finding blames is the first host a
// reader looks for. Its role is what the finding says it is.
func namedHosts(hosts []HostRow, findings []Finding) []HostRow {
	have := make(map[netip.Addr]int, len(hosts))
	for i, h := range hosts {
		have[h.Addr] = i
	}
	add := func(a netip.Addr, role string) {
		if !a.IsValid() {
			return
		}
		i, ok := have[a]
		if !ok {
			have[a] = len(hosts)
			hosts = append(hosts, HostRow{Addr: a, Roles: []string{role}})
			return
		}
		if len(hosts[i].Roles) == 0 {
			hosts[i].Roles = []string{role}
		}
	}
	for i := range findings {
		f := &findings[i]
		if f.Kind == SynScan {
			continue // the scanner has its role; its targets are no servers
		}
		role := "server"
		if f.Service != nil {
			role = string(f.Service.Name)
		}
		add(f.Server, role)
		add(f.Client, "client")
		for _, c := range f.Clients {
			add(c.Addr, "client")
		}
	}
	slices.SortStableFunc(hosts, func(x, y HostRow) int { return x.Addr.Compare(y.Addr) })
	return hosts
}
