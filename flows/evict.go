package flows

import (
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
)

// DefaultMaxConns is how many TCP connections the analyzer keeps live
// before it evicts finished ones: about 1.1 KB each, ~18 MB at the cap, as
// much again at most on the free list of evicted ones (recycle). A sweep
// frees a quarter of the cap or more; when it cannot, the cap doubles.
const DefaultMaxConns = 16_384

// EvictAge is how old a connection attempt must be to leave the live
// table. Diagnosis calls an attempt unanswered after the same wait (Linux
// and Windows retransmit a SYN after about 1 s, RFC 6298's initial RTO), so
// that eviction never changes a conclusion.
const EvictAge = time.Second

// DefaultMaxUDPFlows is how many UDP flows the analyzer keeps live before
// it evicts (sweepUDP): about 580 bytes each.
const DefaultMaxUDPFlows = 16_384

// udpIdleEvict is how long a UDP flow outside the catalog must have been
// silent before it is evicted: as long as the longest common firewall UDP
// timeout keeps such a flow.
const udpIdleEvict = time.Minute

// k2MaxLate is how late the K2 seed says a KeyServer answer may come: a
// service flow silent longer has nothing more to show.
const k2MaxLate = 15 * time.Minute

// udpOverdue is how long a request must have waited to count as
// unanswered (diagnose's udpWait): evicting its flow then loses nothing
// the report would have said, but a later answer.
const udpOverdue = 5 * time.Second

// idleEvict is how long a connection outside the catalog must have been
// silent before, under pressure, it is folded into the counts.
const idleEvict = 5 * time.Minute

// Evicted is what connections and flows removed from the live tables left
// behind in flows' own terms: counts, the TTLs of the servers they saw, the
// middleboxes that sent ICMP errors about them. (Their findings and their
// part of the services table are the EvictHook's.) Why evict at all: a
// flood of SYNs from millions of sources would otherwise keep millions of
// connections; the findings of the real traffic do not need them.
type Evicted struct {
	TCPConnections int
	// ScanAttempts counts, among TCPConnections, a known scanner's
	// attempts that were still live when the capture ended (Finish):
	// they did not leave for want of room.
	ScanAttempts       int
	UDPFlows           int
	TCPRetransmissions int
	SYNRetransmissions int
	TCPResets          int
	Duplicates         int
	// UDPICMPRows counts evicted UDP flows with ICMP errors, which the
	// UDP table no longer lists.
	UDPICMPRows int
	// ServiceUDPFlows counts evicted flows to service ports (K2): the UDP
	// table no longer lists them; their findings were kept.
	ServiceUDPFlows int
	// Middleboxes sent ICMP errors about evicted flows from an address
	// that is neither end.
	Middleboxes map[netip.Addr]bool
	ttl         map[hostKey]ttlStat
}

func newEvicted() Evicted {
	return Evicted{ttl: map[hostKey]ttlStat{}, Middleboxes: map[netip.Addr]bool{}}
}

// evictableAt says whether a connection may leave the live table at
// capture time now, and when it may not, the capture time (Unix ns) before
// which it cannot without a packet of the connection (0: it may any time:
// a shared port's service changes with the hosts' roles). hard allows
// Supportworks 5001 attempts too, which NPA pairing would rather keep
// (they explain a missing notification socket).
func (a *Analyzer) evictableAt(c *Conn, now time.Time, hard bool) (bool, int64) {
	if !hard && c.NPAPort {
		return false, math.MaxInt64 // for the soft sweep only
	}
	attempt := !c.FirstSyn.IsZero() && !c.SynAck
	switch {
	case attempt && (c.ICMP != nil || c.Dir[1].RST > 0):
		return true, 0
	case attempt && now.Sub(c.LastSyn) >= EvictAge:
		return true, 0
	case attempt:
		// The cases below come true no sooner: Last is LastSyn or later.
		return false, c.LastSyn.Add(EvictAge).UnixNano()
	case c.CatalogPort:
		// Established product connections stay for the tables (services,
		// roles, version, the flow listing).
		return false, math.MaxInt64
	case c.SharedPort && a.serviceOf(c.Client.Addr(), c.Server, TCP, c.First) != nil:
		return false, 0
	case c.Closed && now.Sub(c.Last) >= time.Second:
		return true, 0
	case now.Sub(c.Last) >= idleEvict:
		return true, 0
	case c.SharedPort:
		return false, 0
	case c.Closed:
		return false, c.Last.Add(time.Second).UnixNano()
	}
	return false, c.Last.Add(idleEvict).UnixNano()
}

// noSweepNotes makes sweeps look at every connection (tests: the notes
// must change nothing).
var noSweepNotes bool

// sweep evicts what it can once the live table is over its cap. Eviction is
// decided by each connection's own state and the capture time, and applied
// in connection order, so the same capture always evicts the same way.
// It allocates nothing in the steady state of a scan or a flood: the
// table is rebuilt into its spare array, the evicted connections are
// gathered and sorted in buffers the analyzer keeps, and go to the free
// list once the hook has seen them.
func (a *Analyzer) sweep(now time.Time) {
	n, np := 0, 0
	nowNs := now.UnixNano()
	for _, hard := range []bool{false, true} {
		a.tcp.removeIfAt(func(c *Conn, evictAt *int64) bool {
			if !hard && *evictAt != 0 && nowNs < *evictAt && !noSweepNotes {
				return false // no packet since it was found not to be before then
			}
			ok, at := a.evictableAt(c, now, hard)
			if !ok {
				if !hard {
					*evictAt = at
				}
				return false
			}
			c.evicted = true
			n++
			return true
		})
		// Probe records count and leave as their connections would.
		np += a.markProbes(now, hard, false)
		if a.tcp.len()+a.nprobes <= a.maxConns*3/4 {
			break
		}
	}
	// The evicted leave the order, in it: the order of their creation,
	// which is that of their first packets but for ties and inputs merged
	// out of order, so the sort is mostly a check.
	out := a.sweepOut[:0]
	if n > 0 {
		a.order = slices.DeleteFunc(a.order, func(c *Conn) bool {
			if c.evicted {
				out = append(out, c)
			}
			return c.evicted
		})
	}
	var probes []*probe
	if np > 0 {
		probes = a.evictedProbes()
	}
	var ttls *TTLView
	if len(out)+len(probes) > 0 && a.cfg.OnEvict != nil {
		// The TTLs the hook compares resets with, as the live connections
		// and the evicted ones show them now, built only if the hook asks
		// (the table does not change before the hook returns).
		ttls = &TTLView{lazy: func() map[hostKey]ttlStat {
			live := make([]*Conn, 0, a.tcp.len())
			a.tcp.each(func(c *Conn) { live = append(live, c) })
			return hostTTLs(live, nil, a.probes, a.ev.ttl).m
		}}
	}
	if !slices.IsSortedFunc(out, func(x, y *Conn) int { return x.FlowHead.compare(&y.FlowHead) }) {
		sortFlowsBuf(out, func(c *Conn) *FlowHead { return &c.FlowHead }, &a.sweepSort)
	}
	// Connections and records go to the hook in one order, as if all
	// were connections.
	for i, j := 0, 0; i < len(out) || j < len(probes); {
		if j == len(probes) || i < len(out) && probes[j].compareHead(&out[i].FlowHead) > 0 {
			c := out[i]
			a.evict(c, now, ttls)
			a.recycle(c)
			out[i] = nil
			i++
			continue
		}
		a.evictProbe(probes[j], now, ttls)
		probes[j] = nil
		j++
	}
	a.sweepOut = out[:0]
	if np > 0 || a.probeDead > 0 {
		a.compactProbes()
	}
	if a.tcp.len()+a.nprobes > a.maxConns*3/4 {
		// Not enough may go: let the table grow rather than sweep at
		// every packet.
		a.maxConns *= 2
	}
	a.tcp.fit()
}

// recycle puts an evicted connection on the free list: a scan or a flood
// then costs no allocation per attempt once the table is full. Nothing
// holds an evicted connection: it left the table and the order, the hook
// copies what it keeps, and Views are valid only until the next packet.
// Its evidence and print buffers are kept for the next connection.
func (a *Analyzer) recycle(c *Conn) {
	if len(a.freeConns) >= a.maxConns {
		return // the free list and the table together stay within twice the cap
	}
	frames, prints := c.Frames[:0], c.Prints[:0]
	*c = Conn{}
	c.Frames, c.Prints = frames, prints
	a.freeConns = append(a.freeConns, c)
}

// recycleUDP puts an evicted UDP flow on its free list, as recycle does.
func (a *Analyzer) recycleUDP(f *UDPFlow) {
	if len(a.freeUDP) >= a.maxUDP {
		return
	}
	frames, prints := f.Frames[:0], f.Prints[:0]
	*f = UDPFlow{}
	f.Frames, f.Prints = frames, prints
	a.freeUDP = append(a.freeUDP, f)
}

// newUDP returns a zero UDP flow, from the free list when it has one.
func (a *Analyzer) newUDP() *UDPFlow { return reuse(&a.freeUDP) }

// newConn returns a zero connection (with empty buffers), from the free
// list when it has one.
func (a *Analyzer) newConn() *Conn { return reuse(&a.freeConns) }

// reuse pops the last of a free list (clearing its slot, so the list does
// not keep it alive once handed out), or returns a new zero value.
func reuse[T any](free *[]*T) *T {
	n := len(*free)
	if n == 0 {
		return new(T)
	}
	x := (*free)[n-1]
	(*free)[n-1] = nil
	*free = (*free)[:n-1]
	return x
}

// evict folds one connection into the evicted state, after handing it to
// the hook.
func (a *Analyzer) evict(c *Conn, now time.Time, ttls *TTLView) {
	if a.cfg.OnEvict != nil {
		c.Service = a.serviceOf(c.Client.Addr(), c.Server, TCP, c.First)
		a.cfg.OnEvict.EvictConn(c, now, ttls)
	}
	if d := &c.Dir[1]; d.TTLSet {
		k := hostKey{c.Vantage, c.Server.Addr()}
		if s, ok := a.ev.ttl[k]; !ok {
			a.ev.ttl[k] = ttlStat{ttl: d.TTL, varies: d.TTLVaries}
		} else if s.ttl != d.TTL {
			s.varies = true
			a.ev.ttl[k] = s
		}
	}
	if c.ICMP != nil && c.ICMP.From.Addr() != c.Server.Addr() && c.ICMP.From.Addr() != c.Client.Addr() {
		a.ev.Middleboxes[c.ICMP.From.Addr()] = true
	}
	st := &a.ev
	st.TCPConnections++
	for d := 0; d < 2; d++ {
		st.TCPRetransmissions += c.Dir[d].Retrans
		st.TCPResets += c.Dir[d].RST
	}
	if c.Dir[0].SYN > 1 && !c.FirstSyn.IsZero() {
		st.SYNRetransmissions += c.Dir[0].SYN - 1
	}
	st.Duplicates += c.Dups
}

// sweepUDP evicts UDP flows outside the catalog once the live UDP table is
// over its cap: first those idle a minute, then, if that is not enough, all
// of them. Catalog flows (K2, UDP notifications) stay: their findings look
// across a client's flows.
func (a *Analyzer) sweepUDP(now time.Time) {
	out := a.udpOut[:0]
	// Each pass evicts more, until the table is back under three quarters
	// of its cap: flows outside the catalog idle a minute; all of those and
	// service flows idle longer than a K2 answer may be late (nothing more
	// can come); lone unanswered datagrams overdue (a flood's sources: a
	// flood of 1M sources at 19283 otherwise pushed out the real clients'
	// flows, whose late answers were then lost: 851 late responses in the
	// capture without the flood, 135 with it at a cap of 100,000);
	// service flows idle a minute (a client that goes on after
	// that on the same port starts a new flow); those whose requests are
	// answered or overdue (udpWait: they count as unanswered already); then
	// any service flow but UDP notifications (a flood of one-datagram flows
	// to 19283 faster than the table's cap a minute). What
	// a service flow leaves goes to the hook (its findings, its row of the
	// services table, its step in its client's K2 story).
	for pass := 0; pass < 6; pass++ {
		a.udp.removeIf(func(f *UDPFlow) bool {
			if f.Requests+f.Responses+f.ICMPCount+f.RefusedCount == 0 {
				return false // the one being created
			}
			idle := now.Sub(f.Last)
			if !a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) {
				if pass > 0 || idle >= udpIdleEvict {
					out = append(out, f)
					return true
				}
				return false
			}
			if pass == 0 {
				return false
			}
			f.Service = a.serviceOf(f.Client.Addr(), f.Server, UDP, f.First)
			if f.Service != nil && f.Service.Name == catalog.SWNotifyUDP {
				return false // NPA pairing needs them; few per server
			}
			switch {
			case idle > k2MaxLate,
				pass >= 2 && f.Requests == 1 && f.Responses+f.ICMPCount+f.RefusedCount == 0 && idle >= udpOverdue,
				pass >= 3 && idle >= udpIdleEvict,
				pass >= 4 && (f.pendingReq.IsZero() || idle >= udpOverdue),
				pass == 5:
				out = append(out, f)
				a.ev.ServiceUDPFlows++
				return true
			}
			return false
		})
		if a.udp.len() <= a.maxUDP*3/4 {
			break
		}
	}
	sortFlowsBuf(out, func(f *UDPFlow) *FlowHead { return &f.FlowHead }, &a.udpSort)
	for i, f := range out {
		if a.cfg.OnEvict != nil {
			if !a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) {
				f.Service = nil
			}
			a.cfg.OnEvict.EvictUDP(f, now, a.cfg.Timeouts.UDP)
		}
		a.ev.UDPFlows++
		if f.ICMP != nil {
			a.ev.UDPICMPRows++
			if f.ICMP.From.Addr() != f.Server.Addr() && f.ICMP.From.Addr() != f.Client.Addr() {
				a.ev.Middleboxes[f.ICMP.From.Addr()] = true
			}
		}
		a.recycleUDP(f)
		out[i] = nil
	}
	a.udpOut = out[:0]
	if a.udp.len() > a.maxUDP*3/4 {
		a.maxUDP *= 2
	}
}
