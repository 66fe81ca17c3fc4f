package flows

import (
	"net/netip"
	"sync"
)

// hostKey identifies a host as seen from one vantage point.
type hostKey struct {
	vantage uint16
	addr    netip.Addr
}

// ttlStat remembers the TTL of a host's genuine packets at one vantage.
type ttlStat struct {
	ttl    uint8
	varies bool
}

// TTLView tells the TTL each host's genuine packets (not resets) arrive
// with at each capture point: a reset or ICMP error that claims to come
// from a host but arrives with another TTL was made by a device at another
// hop count. It is built from the flows when asked for (View, eviction) and
// not changed afterwards, so it may be read from several goroutines.
type TTLView struct {
	m map[hostKey]ttlStat
	// lazy, when set, builds m at the first question (an eviction sweep's
	// view: most sweeps evict only attempts nobody asks a TTL about).
	lazy func() map[hostKey]ttlStat
	once sync.Once
}

func (v *TTLView) load() {
	if v.lazy != nil {
		v.once.Do(func() { v.m, v.lazy = v.lazy(), nil })
	}
}

// Genuine returns the TTL a host's ordinary packets arrive with at a
// capture point, and whether it is known and stable.
func (v *TTLView) Genuine(vantage uint16, addr netip.Addr) (uint8, bool) {
	if v == nil {
		return 0, false
	}
	v.load()
	s, ok := v.m[hostKey{vantage, addr}]
	if !ok || s.varies {
		return 0, false
	}
	return s.ttl, true
}

// hostTTLs gathers, per capture point and host, the TTL its genuine packets
// (not resets) arrive with, from the connections and flows, and adds what
// evicted connections left for hosts they do not show. Why at report time:
// a map update per packet cost a quarter of the flow engine's time, and
// every connection already remembers its sides' TTLs.
//
// probes are live probe records (in a sweep; a view has them as conns):
// their SYN is their clients' genuine packet.
func hostTTLs(conns []*Conn, udps []*UDPFlow, probes []probe, evicted map[hostKey]ttlStat) *TTLView {
	m := map[hostKey]ttlStat{}
	note := func(v uint16, addr netip.Addr, ttl uint8, varies bool) {
		k := hostKey{v, addr}
		s, ok := m[k]
		switch {
		case !ok:
			m[k] = ttlStat{ttl: ttl, varies: varies}
		case s.ttl != ttl || varies:
			s.varies = true
			m[k] = s
		}
	}
	for _, c := range conns {
		if d := &c.Dir[0]; d.TTLSet {
			note(c.Vantage, c.Client.Addr(), d.TTL, d.TTLVaries)
		}
		if d := &c.Dir[1]; d.TTLSet {
			note(c.Vantage, c.Server.Addr(), d.TTL, d.TTLVaries)
		}
	}
	for _, f := range udps {
		if f.TTL[0] != 0 {
			note(f.Vantage, f.Client.Addr(), f.TTL[0], false)
		}
		if f.TTL[1] != 0 {
			note(f.Vantage, f.Server.Addr(), f.TTL[1], false)
		}
	}
	for i := range probes {
		if r := &probes[i]; r.bits&(probeDead|probeEvicted) == 0 {
			client, _ := r.ends()
			note(r.key.vantage(), client.Addr(), r.syn.ttl, false)
		}
	}
	for k, v := range evicted {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return &TTLView{m: m}
}
