package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"

	"github.com/fwdiag/fwdiag/dissect"
)

// maxListedTCPFlows bounds the TCP flow table of a report: past it only the
// flows of catalog services are listed and the rest counted.
const maxListedTCPFlows = 5000

// Result builds findings and tables from the state so far. It does not
// change the analyzer, so it serves both the final report and the live
// snapshots of the TUI. inputs are the sources' descriptions (may be nil).
func (a *Analyzer) Result(inputs []*dissect.InputInfo) *Result {
	conns := a.conns()
	udps := a.udpFlows()
	for _, c := range conns {
		a.noteMail(c) // the KeyServer may have been recognised after its mail
	}
	// From here on the hosts' roles are settled: services can be memoized.
	a.resultRun++
	a.inResult = true
	defer func() { a.inResult = false }()
	// The hosts' TTLs (for telling forged resets from genuine ones) on the
	// second core while this one memoizes every flow's service and pairs
	// the NPA sockets, which need neither the TTLs nor the one-sided
	// capture points; the tables and the SYN findings wait for them.
	ttlsDone := make(chan struct{})
	go func() {
		defer close(ttlsDone)
		a.ttls = hostTTLs(conns, udps)
		a.oneSided = oneSidedVantages(conns)
		for k, v := range a.ev.ttl {
			if _, ok := a.ttls[k]; !ok {
				a.ttls[k] = v
			}
		}
	}()
	// Every flow's service, once, before two goroutines read them: the
	// tables on one core, the findings on the other (a report is built
	// after the last packet, so its time is the user's wait).
	for _, c := range conns {
		a.flowService(&c.flowHead, TCP)
	}
	for _, f := range udps {
		a.flowService(&f.flowHead, UDP)
	}
	r := &Result{Timeouts: a.cfg.Timeouts, Packets: a.packets, First: a.first, Last: a.last, Counts: map[string]int{Info: 0, Warning: 0, Critical: 0}}
	fs := a.ev.fs.clone()
	texts := fs.texts

	// NPA first: a blocked notification socket is reported as such, and
	// its SYNs are not reported again as a plain blocked SYN.
	sessions := a.npaFindings(conns, udps, fs, texts)
	<-ttlsDone
	var tables sync.WaitGroup
	tables.Add(1)
	go func() {
		defer tables.Done()
		a.tables(r, conns, udps)
	}()
	a.synFindings(conns, fs)
	a.inputPaths = a.inputPaths[:0]
	for _, in := range inputs {
		a.inputPaths = append(a.inputPaths, in.Path)
	}
	a.compareFindings(conns, udps, fs)
	a.udpFindings(udps, fs, texts)

	a.aggregate(fs, texts)
	for _, g := range fs.order {
		r.Findings = append(r.Findings, texts[g](g))
	}
	r.Findings = append(r.Findings, a.versionFindings(conns, udps)...)
	r.Findings = append(r.Findings, a.captureFindings(conns, inputs)...)
	sort.SliceStable(r.Findings, func(i, j int) bool {
		x, y := r.Findings[i], r.Findings[j]
		if SeverityRank(x.Severity) != SeverityRank(y.Severity) {
			return SeverityRank(x.Severity) > SeverityRank(y.Severity)
		}
		return x.FirstSeen.Before(y.FirstSeen)
	})
	for i := range r.Findings {
		r.Findings[i].ID = fmt.Sprintf("F%d", i+1)
		r.Counts[r.Findings[i].Severity]++
	}
	tables.Wait()
	r.NPASessions = sessions
	return r
}

// tables fills the report's flow, service and host tables and its
// statistics. It only reads the analyzer and the flows (the services are
// memoized before it starts), so Result runs it beside the findings.
func (a *Analyzer) tables(r *Result, conns []*Conn, udps []*UDPFlow) {
	r.TCPFlows, r.TCPFlowsOmitted = a.tcpTable(conns)
	r.TCPFlowsOmitted += a.ev.stats.TCPConnections
	r.UDPFlows = a.udpTable(udps)
	r.Services = a.serviceTable(a.ev.svc.clone(), conns, udps)
	r.Hosts = a.hostTable(conns, udps)
	r.Stats = a.ev.stats
	r.Stats.TCPConnections += len(conns)
	r.Stats.UDPFlows += len(udps)
	r.Stats.ICMPErrors, r.Stats.Fragments = a.icmpErrors, a.fragments
	for _, c := range conns {
		for d := 0; d < 2; d++ {
			r.Stats.TCPRetransmissions += c.dir[d].retrans
			r.Stats.TCPResets += c.dir[d].rst
		}
		if c.dir[0].syn > 1 && !c.firstSyn.IsZero() {
			r.Stats.SYNRetransmissions += c.dir[0].syn - 1
		}
		r.Stats.Duplicates += c.dups
	}
}

func (a *Analyzer) tcpTable(conns []*Conn) ([]TCPFlow, int) {
	out := make([]TCPFlow, 0, min(len(conns), maxListedTCPFlows))
	omitted := 0
	for _, c := range conns {
		svc := a.flowService(&c.flowHead, TCP)
		if len(conns)+a.ev.stats.TCPConnections > maxListedTCPFlows && (svc == nil || len(out) >= maxListedTCPFlows) {
			omitted++
			continue
		}
		row := TCPFlow{
			Input: c.Input, Client: c.Client.Addr().String(), ClientPort: int(c.Client.Port()),
			Server: c.Server.Addr().String(), ServerPort: int(c.Server.Port()),
			ConnState: c.ConnState(), History: c.History(), First: c.First, Last: c.Last,
			DurationS: c.Last.Sub(c.First).Seconds(), SYNs: c.dir[0].syn,
			ClientPkts: c.dir[0].pkts, ServerPkts: c.dir[1].pkts,
			ClientBytes: c.dir[0].payload, ServerBytes: c.dir[1].payload,
			Retrans: c.dir[0].retrans + c.dir[1].retrans, KeepAlives: c.dir[0].keepalives + c.dir[1].keepalives,
			MaxIdleS: c.maxGap.Seconds(), ClientTTL: int(c.dir[0].ttl), ServerTTL: int(c.dir[1].ttl), FirstFrame: c.FirstFrame,
		}
		if svc != nil {
			row.Service = svc.Name
		} else if c.greeted != "" {
			row.Service = c.greeted
		}
		if c.synAck && !c.firstSyn.IsZero() {
			row.HandshakeS = c.synAckTime.Sub(c.firstSyn).Seconds()
		}
		out = append(out, row)
	}
	return out, omitted
}

func (a *Analyzer) udpTable(udps []*UDPFlow) []UDPFlowRow {
	var out []UDPFlowRow
	for _, f := range udps {
		svc := a.flowService(&f.flowHead, UDP)
		if svc == nil && f.icmpCount == 0 {
			continue
		}
		row := UDPFlowRow{Input: f.Input, Client: f.Client.Addr().String(), ClientPort: int(f.Client.Port()),
			Server: f.Server.Addr().String(), ServerPort: int(f.Server.Port()),
			Requests: f.requests, Responses: f.responses, MaxSilenceS: f.maxSilence.Seconds(),
			LateResponses: f.lateCount, ICMPErrors: f.icmpCount, Delays: f.delays}
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
	transport string
}

// svcAgg is one row of the services table being built.
type svcAgg struct {
	svc                             *Service
	clients                         map[netip.Addr]bool
	moreClients                     int // beyond maxClientList
	conns                           int
	answered, refusedHost, filtered int
}

// svcTable accumulates the services table from connections and flows.
type svcTable struct {
	aggs  map[svcKey]*svcAgg
	order []svcKey
}

func newSvcTable() *svcTable { return &svcTable{aggs: map[svcKey]*svcAgg{}} }

func (t *svcTable) get(k svcKey, svc *Service, client netip.Addr) *svcAgg {
	g := t.aggs[k]
	if g == nil {
		g = &svcAgg{svc: svc, clients: map[netip.Addr]bool{}}
		t.aggs[k] = g
		t.order = append(t.order, k)
	}
	if g.clients[client] || len(g.clients) < maxClientList {
		g.clients[client] = true
	} else {
		g.moreClients++
	}
	g.conns++
	return g
}

// clone copies the table so a snapshot can add to it.
func (t *svcTable) clone() *svcTable {
	c := &svcTable{aggs: make(map[svcKey]*svcAgg, len(t.aggs)), order: append([]svcKey(nil), t.order...)}
	for k, g := range t.aggs {
		n := *g
		n.clients = make(map[netip.Addr]bool, len(g.clients))
		for a := range g.clients {
			n.clients[a] = true
		}
		c.aggs[k] = &n
	}
	return c
}

func (a *Analyzer) svcAddConn(t *svcTable, c *Conn) {
	svc := a.flowService(&c.flowHead, TCP)
	if svc == nil {
		return
	}
	g := t.get(svcKey{c.Server.Addr(), c.Server.Port(), TCP}, svc, c.Client.Addr())
	switch st := c.ConnState(); {
	case c.synAck || c.midstream && c.dir[1].pkts > 0:
		g.answered++
	case st == "REJ":
		if gt, ok := a.genuineTTL(c.Vantage, c.Server.Addr()); ok && gt != c.dir[1].rstTTL {
			g.filtered++
		} else {
			g.refusedHost++
		}
	case c.icmp != nil && icmpIsPortUnreachable(c.icmp.v6, c.icmp.typ, c.icmp.code) && c.icmp.from.Addr() == c.Server.Addr():
		g.refusedHost++
	case !c.firstSyn.IsZero():
		g.filtered++
	}
}

func (a *Analyzer) serviceTable(base *svcTable, conns []*Conn, udps []*UDPFlow) []ServiceRow {
	t := base
	for _, c := range conns {
		a.svcAddConn(t, c)
	}
	for _, f := range udps {
		svc := a.flowService(&f.flowHead, UDP)
		if svc == nil {
			continue
		}
		g := t.get(svcKey{f.Server.Addr(), f.Server.Port(), UDP}, svc, f.Client.Addr())
		switch {
		case f.responses > 0 && f.requests > 0:
			g.answered++
		case f.icmp != nil && icmpIsPortUnreachable(f.icmp.v6, f.icmp.typ, f.icmp.code) && f.icmp.from.Addr() == f.Server.Addr():
			g.refusedHost++
		case f.requests > 0:
			g.filtered++
		default:
			g.answered++ // server-originated only (notifications): the server is there
		}
	}
	aggs, order := t.aggs, t.order
	out := make([]ServiceRow, 0, len(order))
	for _, k := range order {
		g := aggs[k]
		status := "listening"
		switch {
		case g.answered > 0 && (g.filtered > 0 || g.refusedHost > 0):
			status = "partial"
		case g.answered > 0:
		case g.refusedHost > 0 && g.filtered == 0:
			status = "not_listening"
		default:
			status = "filtered"
		}
		out = append(out, ServiceRow{Server: k.server.String(), Port: int(k.port), Transport: k.transport, Service: g.svc.Name,
			Clients: len(g.clients) + g.moreClients, Connections: g.conns, Status: status})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Server != out[j].Server {
			return out[i].Server < out[j].Server
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

func (a *Analyzer) hostTable(conns []*Conn, udps []*UDPFlow) []HostRow {
	roles := roleSet{}
	k2tcp := map[netip.Addr]bool{}
	k2udp := map[netip.Addr]bool{}
	for _, c := range conns {
		svc := a.flowService(&c.flowHead, TCP)
		if c.icmp != nil && c.icmp.from.Addr() != c.Server.Addr() && c.icmp.from.Addr() != c.Client.Addr() {
			roles.add(c.icmp.from.Addr(), "middlebox")
		}
		if svc == nil || !(c.synAck || c.midstream) {
			continue
		}
		switch {
		case svc.Product == Supportworks:
			roles.add(c.Server.Addr(), "sw-server")
			roles.add(c.Client.Addr(), "sw-client")
		case svc.Name == "k2-keyserver":
			roles.add(c.Server.Addr(), "k2-keyserver")
			k2tcp[c.Client.Addr()] = true
		case svc.Name == "k2-reporter":
			roles.add(c.Server.Addr(), "k2-reporter")
		case svc.Outbound:
			roles.add(c.Server.Addr(), svc.Name)
		}
	}
	for _, f := range udps {
		svc := a.flowService(&f.flowHead, UDP)
		if f.icmp != nil && f.icmp.from.Addr() != f.Server.Addr() && f.icmp.from.Addr() != f.Client.Addr() {
			roles.add(f.icmp.from.Addr(), "middlebox")
		}
		if svc == nil {
			continue
		}
		switch svc.Name {
		case "k2-keyserver":
			if f.responses > 0 {
				roles.add(f.Server.Addr(), "k2-keyserver")
			}
			k2udp[f.Client.Addr()] = true
		case "k2-shadow":
			if f.responses > 0 {
				roles.add(f.Server.Addr(), "k2-shadow")
			}
			roles.add(f.Client.Addr(), "k2-client")
		case "sw-notify-udp":
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
	for m := range a.ev.middleboxes {
		roles.add(m, "middlebox")
	}
	for s := range a.dnsServers {
		roles.add(s, "dns-server")
	}
	addrs := make([]netip.Addr, 0, len(roles))
	for addr := range roles {
		addrs = append(addrs, addr)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	out := make([]HostRow, 0, len(roles))
	for _, addr := range addrs {
		row := HostRow{Addr: addr.String(), Name: a.names[addr]}
		for r := range roles[addr] {
			row.Roles = append(row.Roles, r)
		}
		sort.Strings(row.Roles)
		out = append(out, row)
	}
	return out
}
