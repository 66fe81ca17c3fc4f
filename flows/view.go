package flows

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
)

// View is the analyzer's state handed to diagnosis: every live connection
// and flow in a stable order, with its service settled, the hosts' TTLs,
// names and capture points, and what eviction left. Diagnosis reads it and
// never writes it. It shares the flows with the analyzer, so it is valid
// until the analyzer's next Add; read it (from any number of goroutines)
// before feeding more packets.
type View struct {
	Catalog  *catalog.Catalog
	Timeouts catalog.Timeouts
	Packets  uint64 // frames analysed
	// First and Last are the capture times of the earliest and latest frame.
	First, Last time.Time
	Truncated   uint64 // frames cut by the snap length
	Fragments   uint64
	ICMPErrors  uint64 // ICMP/ICMPv6 error messages, mapped to a flow or not
	Conns       []*Conn
	UDPs        []*UDPFlow
	TTLs        *TTLView
	// Names are the DNS names the capture's answers gave each address, in
	// the order first seen.
	Names map[netip.Addr][]string
	// DNSServers are hosts seen answering DNS.
	DNSServers map[netip.Addr]bool
	// CapturePoints are indexed by FlowHead.Vantage; CaptureLast holds each
	// one's last packet time (Unix ns).
	CapturePoints []CapturePoint
	CaptureLast   []int64
	Evicted       Evicted
	// Folded counts the pktmon appearances of a packet after its first,
	// each counted once (pktmon.go).
	Folded uint64
	// MaxConns and MaxUDPFlows are the live tables' caps as they stand
	// (a cap grows when too little can be evicted); DNSDropped counts DNS
	// answers not kept past the names' bounds.
	MaxConns, MaxUDPFlows int
	DNSDropped            int

	an *Analyzer
}

// View settles each flow's service (the hosts' roles that decide ports
// 80/443 and 25 are known only now) and returns the state for diagnosis.
// It must be called on the goroutine that feeds the analyzer.
func (a *Analyzer) View() *View {
	conns := a.conns()
	udps := a.udpFlows()
	for _, c := range conns {
		a.noteMail(c) // the KeyServer may have been recognised after its mail
	}
	// The hosts' TTLs on the second core while this one settles every
	// flow's service.
	ttls := make(chan *TTLView, 1)
	go func() { ttls <- hostTTLs(conns, udps, nil, a.ev.ttl) }()
	for _, c := range conns {
		c.Service = a.serviceOf(c.Client.Addr(), c.Server, TCP, c.First)
	}
	for _, f := range udps {
		f.Service = a.serviceOf(f.Client.Addr(), f.Server, UDP, f.First)
	}
	return &View{
		Catalog: a.cfg.Catalog, Timeouts: a.cfg.Timeouts,
		Packets: a.packets, First: a.first, Last: a.last,
		Truncated: a.truncated, Fragments: a.fragments, ICMPErrors: a.icmpErrors,
		Conns: conns, UDPs: udps, TTLs: <-ttls,
		Names: a.dns.byAddr, DNSServers: a.dnsServers,
		CapturePoints: a.vantageOf, CaptureLast: a.vantageLast,
		Evicted: a.ev, Folded: a.copies.folded, an: a,
		MaxConns: a.maxConns, MaxUDPFlows: a.maxUDP, DNSDropped: a.dns.dropped,
	}
}

// ServiceOf names the catalog service of a server endpoint as the view
// sees the hosts' roles (nil: none), for a flow the capture did not show.
func (v *View) ServiceOf(server Endpoint, transport catalog.Transport) *catalog.Service {
	return v.an.serviceOf(netip.Addr{}, server, transport, v.Last)
}

// Live returns how many TCP connections and UDP flows the live tables hold
// (what eviction bounds).
// Probe records count as the connections they stand for.
func (a *Analyzer) Live() (tcp, udp int) { return a.tcp.len() + a.nprobes, a.udp.len() }
