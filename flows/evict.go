package flows

import (
	"net/netip"
	"slices"
	"time"
)

// DefaultMaxConns is how many TCP connections the analyzer keeps live
// before it evicts finished ones. About 700 bytes each: ~70 MB at the cap.
const DefaultMaxConns = 100_000

// evictAge is how old a connection attempt must be to leave the live
// table: the same wait after which the report calls it unanswered, so that
// eviction never changes a conclusion.
const evictAge = synWait

// DefaultMaxUDPFlows is how many UDP flows the analyzer keeps live before
// it evicts those outside the catalog.
const DefaultMaxUDPFlows = 100_000

// udpIdleEvict is how long a UDP flow outside the catalog must have been
// silent before it is evicted: as long as the longest common firewall UDP
// timeout keeps such a flow.
const udpIdleEvict = time.Minute

// idleEvict is how long a connection outside the catalog must have been
// silent before, under pressure, it is folded into the counts.
const idleEvict = 5 * time.Minute

// evicted is what connections removed from the live table left behind:
// their findings, their part of the services table, the TTLs of the servers
// they saw, and counts. Why: a flood of SYNs from millions of sources would
// otherwise keep millions of connections; the findings of the real traffic
// do not need them.
type evicted struct {
	fs          *findingSet
	svc         *svcTable
	ttl         map[hostKey]ttlStat
	middleboxes map[netip.Addr]bool
	stats       Stats
	// udpICMPRows counts evicted UDP flows with ICMP errors, which the
	// UDP table no longer lists.
	udpICMPRows int
}

func newEvicted() evicted {
	return evicted{fs: newFindingSet(), svc: newSvcTable(), ttl: map[hostKey]ttlStat{}, middleboxes: map[netip.Addr]bool{}}
}

// evictable says whether a connection may leave the live table at capture
// time now. hard allows Supportworks 5001 attempts too, which NPA pairing
// would rather keep (they explain a missing notification socket).
func (a *Analyzer) evictable(c *Conn, now time.Time, hard bool) bool {
	if !hard && c.npaPort {
		return false
	}
	attempt := !c.firstSyn.IsZero() && !c.synAck
	switch {
	case attempt && (c.icmp != nil || c.dir[1].rst > 0):
		return true
	case attempt && now.Sub(c.lastSyn) >= evictAge:
		return true
	case c.catalogPort, c.sharedPort && a.flowService(&c.flowHead, TCP) != nil:
		// Established product connections stay for the tables (services,
		// roles, version, the flow listing).
		return false
	case c.closed && now.Sub(c.Last) >= time.Second:
		return true
	case now.Sub(c.Last) >= idleEvict:
		return true
	}
	return false
}

// sweep evicts what it can once the live table is over its cap. Eviction is
// decided by each connection's own state and the capture time, and applied
// in connection order, so the same capture always evicts the same way.
func (a *Analyzer) sweep(now time.Time) {
	var out []*Conn
	for _, hard := range []bool{false, true} {
		a.tcp.removeIf(func(c *Conn) bool {
			if !a.evictable(c, now, hard) {
				return false
			}
			out = append(out, c)
			c.evicted = true
			return true
		})
		if a.tcp.len() <= a.maxConns*3/4 {
			break
		}
	}
	if len(out) > 0 {
		a.order = slices.DeleteFunc(a.order, func(c *Conn) bool { return c.evicted })
		// The TTLs the findings compare resets with, as the live
		// connections and the evicted ones show them now.
		live := make([]*Conn, 0, a.tcp.len())
		a.tcp.each(func(c *Conn) { live = append(live, c) })
		a.ttls = hostTTLs(live, nil)
		for k, v := range a.ev.ttl {
			if _, ok := a.ttls[k]; !ok {
				a.ttls[k] = v
			}
		}
	}
	sortFlows(out, func(c *Conn) *flowHead { return &c.flowHead })
	for _, c := range out {
		a.evict(c, now)
	}
	if a.tcp.len() > a.maxConns*3/4 {
		// Not enough may go: let the table grow rather than sweep at
		// every packet.
		a.maxConns *= 2
	}
}

// evict folds one connection into the evicted state.
func (a *Analyzer) evict(c *Conn, now time.Time) {
	a.connFindings(c, a.ev.fs, now)
	a.svcAddConn(a.ev.svc, c)
	if d := &c.dir[1]; d.ttlSet {
		k := hostKey{c.Vantage, c.Server.Addr()}
		if s, ok := a.ev.ttl[k]; !ok {
			a.ev.ttl[k] = ttlStat{ttl: d.ttl, varies: d.ttlVaries}
		} else if s.ttl != d.ttl {
			s.varies = true
			a.ev.ttl[k] = s
		}
	}
	if c.icmp != nil && c.icmp.from.Addr() != c.Server.Addr() && c.icmp.from.Addr() != c.Client.Addr() {
		a.ev.middleboxes[c.icmp.from.Addr()] = true
	}
	st := &a.ev.stats
	st.TCPConnections++
	for d := 0; d < 2; d++ {
		st.TCPRetransmissions += c.dir[d].retrans
		st.TCPResets += c.dir[d].rst
	}
	if c.dir[0].syn > 1 && !c.firstSyn.IsZero() {
		st.SYNRetransmissions += c.dir[0].syn - 1
	}
	st.Duplicates += c.dups
}

// clone deep-copies a finding set, so a snapshot can add to it.
func (fs *findingSet) clone() *findingSet {
	n := newFindingSet()
	remap := make(map[*group]*group, len(fs.order))
	for _, g := range fs.order {
		c := *g
		c.frames = make(map[int][]uint64, len(g.frames))
		for in, fr := range g.frames {
			c.frames[in] = append([]uint64(nil), fr...)
		}
		c.clientPts = make(map[uint16]bool, len(g.clientPts))
		for p := range g.clientPts {
			c.clientPts[p] = true
		}
		c.notes = make(map[string]int, len(g.notes))
		for k, v := range g.notes {
			c.notes[k] = v
		}
		c.inputs = make(map[int]bool, len(g.inputs))
		for k := range g.inputs {
			c.inputs[k] = true
		}
		c.samples = append([]time.Duration(nil), g.samples...)
		if g.clients != nil {
			c.clients = make(map[netip.Addr]int, len(g.clients))
			for k, v := range g.clients {
				c.clients[k] = v
			}
		}
		remap[g] = &c
		n.order = append(n.order, &c)
		n.groups[c.key] = &c
		n.texts[&c] = fs.texts[g]
	}
	for k, v := range fs.perService {
		n.perService[k] = v
	}
	for k, g := range fs.merged {
		n.merged[k] = remap[g]
	}
	return n
}

// sweepUDP evicts UDP flows outside the catalog once the live UDP table is
// over its cap: first those idle a minute, then, if that is not enough, all
// of them. Catalog flows (K2, UDP notifications) stay: their findings look
// across a client's flows.
func (a *Analyzer) sweepUDP(now time.Time) {
	var out []*UDPFlow
	for _, hard := range []bool{false, true} {
		a.udp.removeIf(func(f *UDPFlow) bool {
			if a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) || f.requests+f.responses+f.icmpCount == 0 {
				return false // a service flow, or the one being created
			}
			if hard || now.Sub(f.Last) >= udpIdleEvict {
				out = append(out, f)
				return true
			}
			return false
		})
		if a.udp.len() <= a.maxUDP*3/4 {
			break
		}
	}
	sortFlows(out, func(f *UDPFlow) *flowHead { return &f.flowHead })
	for _, f := range out {
		a.udpICMPFinding(f, nil, a.ev.fs)
		a.ev.stats.UDPFlows++
		if f.icmp != nil {
			a.ev.udpICMPRows++
			if f.icmp.from.Addr() != f.Server.Addr() && f.icmp.from.Addr() != f.Client.Addr() {
				a.ev.middleboxes[f.icmp.from.Addr()] = true
			}
		}
	}
	if a.udp.len() > a.maxUDP*3/4 {
		a.maxUDP *= 2
	}
}
