package diagnose

import (
	"net/netip"
	"sort"

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
	r.UDPFlows = udpTable(udps)
	r.Services = a.serviceTable(a.ev.svc.clone(), conns, udps)
	r.Hosts = a.hostTable(conns, udps)
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

func udpTable(udps []*flows.UDPFlow) []UDPFlowRow {
	var out []UDPFlowRow
	for _, f := range udps {
		svc := f.Service
		if svc == nil && f.ICMPCount == 0 {
			continue
		}
		row := UDPFlowRow{Input: f.Input, Client: f.Client, Server: f.Server,
			Requests: f.Requests, Responses: f.Responses, MaxSilence: f.MaxSilence,
			LateResponses: f.LateCount, ICMPErrors: f.ICMPCount, Delays: f.Delays}
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

// svcAgg is one row of the services table being built.
type svcAgg struct {
	svc                             *catalog.Service
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

func (t *svcTable) get(k svcKey, svc *catalog.Service, client netip.Addr) *svcAgg {
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

func (a *run) svcAddConn(t *svcTable, c *flows.Conn) {
	svc := c.Service
	if svc == nil {
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

func (a *run) serviceTable(base *svcTable, conns []*flows.Conn, udps []*flows.UDPFlow) []ServiceRow {
	t := base
	for _, c := range conns {
		a.svcAddConn(t, c)
	}
	for _, f := range udps {
		svc := f.Service
		if svc == nil {
			continue
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
	aggs, order := t.aggs, t.order
	out := make([]ServiceRow, 0, len(order))
	for _, k := range order {
		g := aggs[k]
		status := Listening
		switch {
		case g.answered > 0 && (g.filtered > 0 || g.refusedHost > 0):
			status = Partial
		case g.answered > 0:
		case g.refusedHost > 0 && g.filtered == 0:
			status = NotListening
		default:
			status = Filtered
		}
		out = append(out, ServiceRow{Server: k.server, Port: k.port, Transport: k.transport, Service: g.svc.Name,
			Clients: len(g.clients) + g.moreClients, Connections: g.conns, Status: status})
	}
	// By the server's address as text, as reports have always listed them.
	sort.SliceStable(out, func(i, j int) bool {
		if si, sj := out[i].Server.String(), out[j].Server.String(); si != sj {
			return si < sj
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
		if svc == nil || !(c.SynAck || c.Midstream) {
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
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	out := make([]HostRow, 0, len(roles))
	for _, addr := range addrs {
		row := HostRow{Addr: addr, Name: a.v.Names[addr]}
		for r := range roles[addr] {
			row.Roles = append(row.Roles, r)
		}
		sort.Strings(row.Roles)
		out = append(out, row)
	}
	return out
}
