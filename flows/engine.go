// Package flows turns decoded packets into flow state.
//
// An Analyzer keeps per-connection state machines for TCP (Zeek-style
// conn_state and history, handshake timing, retransmissions, keep-alives,
// resets with the TTL of each side), per-client UDP flows to service ports
// (answer delays, silences against the UDP timeout in force), and maps ICMP
// errors back to the flow whose packet they quote. View hands that state to
// diagnosis read-only; connections evicted under memory pressure are handed
// to an EvictHook first. The package makes no findings and writes no words,
// does no I/O, reads no wall clock: time is the capture's own.
package flows

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/internal/bloom"
)

// TCP and UDP are the transports flows are kept for.
const (
	TCP = catalog.TCP
	UDP = catalog.UDP
)

// Config is what an analysis runs with.
type Config struct {
	Catalog  *catalog.Catalog
	Timeouts catalog.Timeouts
	// MaxConns caps the live TCP connections; past it finished ones are
	// evicted into counts and findings (0 = DefaultMaxConns).
	MaxConns int
	// MaxUDPFlows caps the live UDP flows likewise (0 = DefaultMaxUDPFlows).
	MaxUDPFlows int
	// ComparePoints records packet fingerprints of product flows from the
	// first packet on, to compare capture points (compare.go). Set it when
	// several captures are given: merged by time, a capture whose clock is
	// behind may start long after the first one's flows. Without it,
	// recording starts when a second capture point appears (tcpdump -i any).
	ComparePoints bool
	// OnEvict, when set, is handed each connection and flow the analyzer
	// evicts, before it forgets them (diagnosis keeps their findings).
	OnEvict EvictHook
}

// EvictHook receives what the analyzer evicts. It is called on the
// analyzer's goroutine; the flow is valid only during the call.
type EvictHook interface {
	// EvictConn is handed a connection leaving the live table at capture
	// time now; ttls is the hosts' TTL view at that moment.
	EvictConn(c *Conn, now time.Time, ttls *TTLView)
	// EvictUDP is handed a UDP flow leaving the table at capture time now,
	// with its Service settled (nil outside the catalog) and the UDP
	// timeout in force.
	EvictUDP(f *UDPFlow, now time.Time, udpTimeout time.Duration)
}

// VantageHook is an EvictHook that is told when the capture turns out to
// have more than one capture point (a second input, or interface of
// one): from then on a connection may leave the analyzer once per point
// it was seen at, and the hook may want to count it once.
type VantageHook interface {
	// Vantages is called with the number of capture points each time a
	// new one appears, before any of its connections leaves; with
	// Config.ComparePoints also once at the start with 2: several captures
	// are coming, and a second one whose clock is behind may show its
	// first packet after the first one has evicted the same connections.
	Vantages(n int)
}

// Analyzer accumulates flow state from packets. It is not safe for
// concurrent use; feed it from one goroutine and call Result for snapshots.
type Analyzer struct {
	// Immutable configuration.
	cfg Config

	// Working state.
	vantages  map[vantageKey]uint16
	vantageOf []vantageKey
	tcp       flowTable[*Conn]
	udp       flowTable[*UDPFlow]
	// order holds the connections a report lists (the live ones, and
	// those replaced by a new one on the same ports; not the evicted) in
	// the order they were created, which is nearly the order of their
	// first packets: sorting it for a report costs a seventh of sorting
	// the table's hash order (4.5 -> 0.6 ms for 27k connections).
	order []*Conn
	dns   dnsNames
	// lastVK/lastV cache the vantage of the previous packet: a capture
	// point rarely changes from one packet to the next.
	lastVK vantageKey
	lastV  uint16
	// swHosts are servers seen answering on a Supportworks port other than
	// 80/443; k2Reporters are hosts seen querying a KeyServer over TCP.
	// They decide what ports 80/443 are (serviceOf). Bounded by hosts.
	swHosts, k2Reporters map[netip.Addr]bool
	// k2Servers answered as KeyServer or KeyShadow; k2Mail are the mail
	// servers they connect to (port 25 is K2 status mail only from them).
	k2Servers, k2Mail map[netip.Addr]bool
	// roleEpoch counts the changes to swHosts, k2Reporters and k2Mail
	// (noteRole): serviceOf's memo holds while it and the DNS answers'
	// epoch stay.
	roleEpoch uint64
	svcMemo   svcMemo
	// vantageLast is each capture point's last packet time (Unix ns).
	vantageLast []int64
	// maxConns is the live connection cap; ev what evicted ones left.
	maxConns int
	maxUDP   int
	ev       Evicted
	// roles seen from protocol use that flows alone cannot tell (DNS server).
	dnsServers map[netip.Addr]bool

	// copies folds pktmon's appearances of one packet (pktmon.go).
	copies *copyCache
	// freeConns are evicted connections to reuse (recycle); sweepOut and
	// sweepSort are sweep's buffers.
	freeConns []*Conn
	sweepOut  []*Conn
	sweepSort []flowEntry[*Conn]
	// freeUDP, udpOut and udpSort are the same for UDP flows.
	freeUDP []*UDPFlow
	udpOut  []*UDPFlow
	udpSort []flowEntry[*UDPFlow]

	// probes are the live probe records of scanners' attempts in creation
	// order (probe.go), probeIdx their index (+1) by flow key, but for
	// the newest from probeIndexed on (probeTail); nprobes counts the
	// live ones (not dead, not evicted), probeDead the dead.
	// probeHook is OnEvict when it knows scanners; probeOut, probeMsg and
	// replay are buffers.
	probes   []probe
	probeIdx probeTable
	// probeIndexed: the records before it are in probeIdx.
	probeIndexed int
	nprobes      int
	probeDead    int
	// probesUnsorted: a record was created before one it orders after
	// (FlowHead.compare), so a sweep sorts those it evicts.
	probesUnsorted bool
	probeHook      ProbeHook
	probeOut       []*probe
	probeMsg       Probe
	replay         dissect.Packet
	viewConns      []*Conn // the records' connections in the last view
	// scanBits has the bit of each scanner with probe records (scanBit);
	// scanners lists them.
	scanBits *[1024]uint64
	scanners []netip.Addr
	fan      *fanWatch

	// Counters.
	packets      uint64
	truncated    uint64
	fragments    uint64
	icmpOrphans  uint64
	icmpErrors   uint64
	first, last  time.Time
	firstByInput map[int]time.Time
}

// New returns an Analyzer with the given configuration. A nil Catalog means
// the default catalog.
func New(cfg Config) *Analyzer {
	if cfg.Catalog == nil {
		cfg.Catalog = catalog.NewCatalog(catalog.DefaultServices())
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxUDPFlows <= 0 {
		cfg.MaxUDPFlows = DefaultMaxUDPFlows
	}
	ph, _ := cfg.OnEvict.(ProbeHook)
	a := &Analyzer{
		cfg:          cfg,
		probeHook:    ph,
		vantages:     map[vantageKey]uint16{},
		tcp:          newFlowTable[*Conn](),
		udp:          newFlowTable[*UDPFlow](),
		dns:          newDNSNames(),
		dnsServers:   map[netip.Addr]bool{},
		firstByInput: map[int]time.Time{},
		maxConns:     cfg.MaxConns,
		swHosts:      map[netip.Addr]bool{},
		k2Reporters:  map[netip.Addr]bool{},
		k2Servers:    map[netip.Addr]bool{},
		k2Mail:       map[netip.Addr]bool{},
		maxUDP:       cfg.MaxUDPFlows,
		ev:           newEvicted(),
		copies:       &copyCache{},
	}

	if h, ok := cfg.OnEvict.(VantageHook); ok && cfg.ComparePoints {
		h.Vantages(2)
	}
	a.tcp.filter = new(bloom.Filter)
	return a
}

// Config returns the configuration the analyzer runs with.
func (a *Analyzer) Config() Config { return a.cfg }

func (a *Analyzer) vantage(p *dissect.Packet) uint16 {
	iface := p.Interface
	if p.PacketID != 0 {
		// pktmon components of one machine are one capture point (pktmon.go).
		iface = 0
	}
	k := vantageKey{Input: p.Input, Iface: iface, IfIndex: p.IfIndex, Outgoing: p.Outgoing && p.IfIndex == 0}
	if k == a.lastVK && len(a.vantageOf) > 0 {
		a.vantageLast[a.lastV] = p.Time.UnixNano()
		return a.lastV
	}
	v, ok := a.vantages[k]
	if !ok {
		v = uint16(len(a.vantageOf))
		a.vantages[k] = v
		a.vantageOf = append(a.vantageOf, k)
		a.vantageLast = append(a.vantageLast, 0)
		if h, ok := a.cfg.OnEvict.(VantageHook); ok {
			h.Vantages(len(a.vantageOf))
		}
	}
	a.vantageLast[v] = p.Time.UnixNano()
	a.lastVK, a.lastV = k, v
	return v
}

// Add applies one packet. p is not retained.
func (a *Analyzer) Add(p *dissect.Packet) { a.add(p, nil) }

// KeyPrep is the part of a packet's flow key and its hash that depends
// only on the packet (addresses, ports, protocol): Prepare works it out
// wherever the packet is read, and AddPrepared takes it, so that the
// reading goroutine does that work instead of the flow engine's, which is
// the slower of the two on a busy site with scanners.
type KeyPrep struct {
	k  flowKey // with vantage 0
	ah uint64  // k.addrHash()
	ok bool    // a TCP or UDP packet with ports
}

// Prepare works out p's KeyPrep. It reads only p: it may run on any
// goroutine, before the packet reaches the analyzer.
func Prepare(p *dissect.Packet, kp *KeyPrep) {
	if p.IPVersion == 0 || p.Proto != dissect.ProtoTCP && p.Proto != dissect.ProtoUDP || p.Fragment && p.SrcPort == 0 && p.DstPort == 0 {
		kp.ok = false
		return
	}
	setKey(&kp.k, 0, p.Proto, netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
	kp.ah = kp.k.addrHash()
	kp.ok = true
}

// AddPrepared is Add for a packet whose KeyPrep is kp (Prepare): the
// same analysis, without working out the key again.
func (a *Analyzer) AddPrepared(p *dissect.Packet, kp *KeyPrep) { a.add(p, kp) }

// key sets k to the flow key of p (protocol proto) at vantage v and
// returns its hash, from kp when it has them.
func key(k *flowKey, kp *KeyPrep, v uint16, proto uint8, src, dst Endpoint) uint64 {
	if kp != nil && kp.ok {
		*k = kp.k
		k.meta |= uint64(v) << 16
		return metaHash(kp.ah, k.meta)
	}
	setKey(k, v, proto, src, dst)
	return k.hash()
}

func (a *Analyzer) add(p *dissect.Packet, kp *KeyPrep) {
	a.packets++
	if a.first.IsZero() || p.Time.Before(a.first) {
		a.first = p.Time
	}
	if p.Time.After(a.last) {
		a.last = p.Time
	}
	if p.Truncated {
		a.truncated++
	}
	if p.IPVersion == 0 {
		return
	}
	v := a.vantage(p)
	if p.PacketID != 0 && a.copies.seen(p.Input, p.PacketID) {
		// The same packet at another pktmon component.
		a.copies.folded++
		if p.Dropped {
			a.localDrop(p, v)
		}
		return
	}
	for i := range p.DNS {
		a.dns.answer(p.Dst, &p.DNS[i], p.Time)
	}
	if len(p.DNS) > 0 {
		a.dnsServers[p.Src] = true
	}
	if p.Fragment {
		a.fragments++
		if p.SrcPort == 0 && p.DstPort == 0 {
			return
		}
	}
	switch p.Proto {
	case dissect.ProtoTCP:
		a.addTCP(p, v, kp)
	case dissect.ProtoUDP:
		a.addUDP(p, v, kp)
	case dissect.ProtoICMP, dissect.ProtoICMPv6:
		if p.IsICMPError() {
			a.addICMPError(p, v)
		}
	}
	if p.Dropped {
		a.localDrop(p, v)
	}
}

func (a *Analyzer) addTCP(p *dissect.Packet, v uint16, kp *KeyPrep) {
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	var k flowKey
	h := key(&k, kp, v, dissect.ProtoTCP, src, dst)
	synOnly := p.TCPFlags&(dissect.FlagSYN|dissect.FlagACK) == dissect.FlagSYN
	// A key is in the live table or among the probe records, never both.
	// A packet from or to a known scanner (most likely a reset of one of
	// its probes) looks among the records first: a miss in the live
	// table is a cache miss.
	var c *Conn
	var r *probe
	looked := false
	if a.nprobes > 0 && a.scanKey(&k) {
		r, looked = a.probeOfH(&k, h), true
	}
	// A SYN mostly opens a new connection, whose key the table's filter
	// says is absent without the table's probe: a cache miss (a ninth of
	// a SYN flood's time).
	switch {
	case r != nil:
	case (looked || synOnly) && a.tcp.absent(h):
		if !looked {
			r = a.probeOfH(&k, h)
		}
	default:
		s := a.tcp.findH(&k, h)
		c = s.val
		if s.at != 0 {
			s.at = 0 // the packet may make it evictable sooner
		}
		if c == nil && !looked {
			r = a.probeOfH(&k, h)
		}
	}
	replaced := false
	if r != nil {
		switch {
		case a.probeAbsorb(r, p, src):
			return
		case synOnly && p.Seq != r.syn.seq:
			// A new connection on the same ports, as below: the
			// attempt stays reported as a connection.
			old := a.newConn()
			a.materialize(r, old)
			a.kill(r)
			a.order = append(a.order, old)
		default:
			c = a.promote(r, &k)
		}
	} else if c != nil && synOnly && p.Seq != c.synSeq && (c.Closed || c.Established || !c.FirstSyn.IsZero()) {
		// A fresh SYN with a new initial sequence number on the same ports:
		// a new connection (port reuse, or the client starting over).
		// The old one stays reported (it is in a.order).
		c, replaced = nil, true
	}
	if c == nil {
		if !replaced && synOnly && p.PayloadLen == 0 && p.Frame != 0 && p.PacketID == 0 && !p.Dropped && a.probeHook != nil && a.recordsFor(p.Src, dst) {
			// A scanner's attempt: a probe record (probe.go), unless
			// packet prints are being recorded. (Not when it replaces a
			// connection: the connection's slot in the live table goes
			// to the new one.)
			shared, catalogPort, npa := a.classifyPort(dst.Port())
			if !a.printing(catalogPort, shared) && a.newProbe(&k, h, p, src, dst, shared, catalogPort, npa) {
				return
			}
		}
		c = a.newConn()
		c.FlowHead = newHead(v, p)
		switch {
		case synOnly:
			c.Client, c.Server = src, dst
		case p.TCPFlags&(dissect.FlagSYN|dissect.FlagACK) == dissect.FlagSYN|dissect.FlagACK:
			c.Client, c.Server = dst, src
		default:
			c.Midstream = true
			c.Client, c.Server = a.orient(src, dst, TCP)
		}
		if src != c.Client {
			c.zeekFlipped()
		}
		a.noteMail(c)
		c.SharedPort, c.CatalogPort, c.NPAPort = a.classifyPort(c.Server.Port())
		a.tcp.setH(&k, h, c)
		a.order = append(a.order, c)
		if a.tcp.len()+a.nprobes > a.maxConns {
			// The new connection has seen no packet yet, so it is never
			// evictable itself; but the sweep's note on it holds only
			// until its first packet, just below.
			a.sweep(p.Time)
			a.tcp.findH(&k, h).at = 0
		}
	}
	dir := 0
	if src != c.Client {
		dir = 1
	}
	if (a.cfg.ComparePoints || len(a.vantageOf) > 1) && (c.CatalogPort || c.SharedPort) {
		addPrint(&c.Prints, p, dir)
	}
	c.update(p, dir)
	if dir == 1 && c.Dir[1].Pkts == 1 {
		a.noteProductHosts(c)
	}
}

// classifyPort classifies a connection's server port for the eviction
// sweep: 80/443 (shared), another catalog port, Supportworks binary (NPA).
func (a *Analyzer) classifyPort(port uint16) (shared, catalogPort, npa bool) {
	shared = a.cfg.Catalog.Shared(port, TCP)
	catalogPort = !shared && a.cfg.Catalog.IsServicePort(port, TCP)
	if catalogPort {
		if svc, ok := a.cfg.Catalog.Lookup(port, TCP, ""); ok && svc.Name == catalog.SWBinary {
			npa = true
		}
	}
	return shared, catalogPort, npa
}

// orient decides which endpoint is the server when the capture did not see
// the connection open: the one on a catalog port (the destination when both
// are), else the lower port.
func (a *Analyzer) orient(src, dst Endpoint, transport catalog.Transport) (client, server Endpoint) {
	dstSvc := a.cfg.Catalog.IsServicePort(dst.Port(), transport)
	srcSvc := a.cfg.Catalog.IsServicePort(src.Port(), transport)
	switch {
	case dstSvc:
		return src, dst
	case srcSvc:
		return dst, src
	case src.Port() < dst.Port():
		return dst, src
	}
	return src, dst
}

func (a *Analyzer) addUDP(p *dissect.Packet, v uint16, kp *KeyPrep) {
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	if p.SrcPort == 53 || p.DstPort == 53 || p.SrcPort == 5353 || p.DstPort == 5353 {
		return // DNS is read for names, not tracked as a flow
	}
	var k flowKey
	h := key(&k, kp, v, dissect.ProtoUDP, src, dst)
	f := a.udp.findH(&k, h).val
	if f == nil {
		f = a.newUDP()
		f.FlowHead = newHead(v, p)
		dstSvc := a.cfg.Catalog.IsServicePort(dst.Port(), UDP)
		srcSvc := a.cfg.Catalog.IsServicePort(src.Port(), UDP)
		if srcSvc && !dstSvc {
			f.Client, f.Server = dst, src
		} else {
			// The first sender is the client unless only its port is a
			// service port (a server datagram seen first: UDP notifications).
			f.Client, f.Server = src, dst
		}
		a.udp.setH(&k, h, f)
		if a.udp.len() > a.maxUDP {
			a.sweepUDP(p.Time) // f has seen no packet yet: it is not idle
		}
	}
	dir := 0
	if src != f.Client {
		dir = 1
	}
	if dir == 1 && f.Responses == 0 {
		if s, ok := a.cfg.Catalog.Lookup(f.Server.Port(), UDP, ""); ok && (s.Name == catalog.K2KeyServer || s.Name == catalog.K2Shadow) {
			a.k2Servers[f.Server.Addr()] = true
		}
	}
	if (a.cfg.ComparePoints || len(a.vantageOf) > 1) && a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) {
		addPrint(&f.Prints, p, dir)
	}
	f.update(p, dir, a.cfg.Timeouts.UDP)
}

func (a *Analyzer) addICMPError(p *dissect.Packet, v uint16) {
	a.icmpErrors++
	if !p.HasQuoted {
		a.icmpOrphans++
		return
	}
	q := &p.Quoted
	src := netip.AddrPortFrom(q.Src, q.SrcPort)
	dst := netip.AddrPortFrom(q.Dst, q.DstPort)
	var k flowKey
	setKey(&k, v, q.Proto, src, dst)
	hit := func(h **ICMPHit, server Endpoint) {
		if *h == nil {
			*h = &ICMPHit{Type: p.ICMPType, Code: p.ICMPCode, V6: p.Proto == dissect.ProtoICMPv6,
				From: netip.AddrPortFrom(p.Src, 0), TTL: p.TTL, Time: p.Time, Frame: p.Frame}
			if src == server {
				(*h).Dir = 1
			}
		}
		(*h).Count++
	}
	switch q.Proto {
	case dissect.ProtoTCP:
		if c := a.tcpConn(&k); c != nil {
			hit(&c.ICMP, c.Server)
			c.addFrame(p.Frame)
			c.Last = maxTime(c.Last, p.Time)
			return
		}
	case dissect.ProtoUDP:
		f := a.udp.get(&k)
		if f == nil && q.SrcPort != 53 && q.DstPort != 53 {
			// The error quotes a datagram this vantage did not see (it saw
			// only the answer path): track the flow from the quote.
			f = a.newUDP()
			f.FlowHead = newHead(v, p)
			f.Client, f.Server = src, dst
			if a.cfg.Catalog.IsServicePort(src.Port(), UDP) && !a.cfg.Catalog.IsServicePort(dst.Port(), UDP) {
				f.Client, f.Server = dst, src
			}
			a.udp.set(&k, f)
			if a.udp.len() > a.maxUDP {
				a.sweepUDP(p.Time)
			}
		}
		if f != nil {
			if src == f.Server && a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) {
				f.refused(p)
				return
			}
			hit(&f.ICMP, f.Server)
			f.ICMPCount++
			f.addFrame(p.Frame)
			return
		}
	}
	a.icmpOrphans++
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// conns returns every TCP connection, in a stable order.
func (a *Analyzer) conns() []*Conn {
	out := append(slices.Clone(a.order), a.probeConns()...)
	sortFlows(out, func(c *Conn) *FlowHead { return &c.FlowHead })
	return out
}

// sortFlows sorts flows by FlowHead.compare. It sorts copies of the first
// packet times beside the pointers, so that most comparisons read no flow:
// following 27k pointers to scattered flows was most of a report's sort.
func sortFlows[F any](flows []F, head func(F) *FlowHead) {
	sortFlowsBuf(flows, head, nil)
}

// flowEntry is a flow with its first packet time, for sortFlowsBuf.
type flowEntry[F any] struct {
	sec  int64
	nsec int
	f    F
}

// sortFlowsBuf is sortFlows with a buffer for its entries that the caller
// keeps (nil: none), for the eviction sweeps.
func sortFlowsBuf[F any](flows []F, head func(F) *FlowHead, buf *[]flowEntry[F]) {
	var es []flowEntry[F]
	if buf != nil {
		es = (*buf)[:0]
	}
	for _, f := range flows {
		h := head(f)
		es = append(es, flowEntry[F]{h.First.Unix(), h.First.Nanosecond(), f})
	}
	slices.SortFunc(es, func(x, y flowEntry[F]) int {
		if c := cmp.Compare(x.sec, y.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(x.nsec, y.nsec); c != 0 {
			return c
		}
		return head(x.f).compare(head(y.f))
	})
	var zero F
	for i := range es {
		flows[i] = es[i].f
		es[i].f = zero
	}
	if buf != nil {
		*buf = es[:0]
	}
}

// udpFlows returns every UDP flow, in a stable order.
func (a *Analyzer) udpFlows() []*UDPFlow {
	out := make([]*UDPFlow, 0, a.udp.len())
	a.udp.each(func(f *UDPFlow) { out = append(out, f) })
	sortFlows(out, func(f *UDPFlow) *FlowHead { return &f.FlowHead })
	return out
}

// serviceOf names the catalog service of a flow's server endpoint as seen
// from its client at time at, using DNS names seen in the capture for
// shared ports (80/443).
//
// Ports 80 and 443 are everybody's: they are Supportworks HTTP(S) only on a
// host that serves another Supportworks port in the capture, KeyReporter
// only on a host that also queries a KeyServer over TCP 19283 (as the K2
// seed describes it), and the Sassafras sites only when a DNS answer named
// them: the name the client looked up for the address most recently, or
// failing that any name the address had (443 to an address that answered
// for prs.sassafras.com is k2-prs even when www.sassafras.com shares it).
// Any other web server is no product's.
func (a *Analyzer) serviceOf(client netip.Addr, server Endpoint, transport catalog.Transport, at time.Time) *catalog.Service {
	cat := a.cfg.Catalog
	if !cat.IsServicePort(server.Port(), transport) {
		return nil // no name makes it one (most of a port scan)
	}
	m := &a.svcMemo
	if m.valid && m.server == server && m.transport == transport && m.roles == a.roleEpoch && m.dns == a.dns.epoch {
		return m.svc
	}
	names := a.dns.candidates(client, server.Addr(), at)
	s := a.serviceFor(names, server, transport)
	// With one name or none, the answer depends on neither the client nor
	// the time: a flood's attempts to one server asked one by one (a tenth
	// of a SYN flood's time).
	*m = svcMemo{valid: len(names) <= 1, server: server, transport: transport, roles: a.roleEpoch, dns: a.dns.epoch, svc: s}
	return s
}

// svcMemo is serviceOf's last answer for a server with at most one DNS
// name, and the epochs of what it was worked out from.
type svcMemo struct {
	valid     bool
	server    Endpoint
	transport catalog.Transport
	roles     uint64
	dns       uint64
	svc       *catalog.Service
}

// serviceFor is serviceOf for the names the client may have looked up.
func (a *Analyzer) serviceFor(names []string, server Endpoint, transport catalog.Transport) *catalog.Service {
	cat := a.cfg.Catalog
	if cat.Shared(server.Port(), transport) {
		for _, name := range names {
			if s, ok := cat.Lookup(server.Port(), transport, name); ok && len(s.Names) > 0 {
				return s
			}
		}
		var product catalog.Product
		switch {
		case a.swHosts[server.Addr()]:
			product = catalog.Supportworks
		case a.k2Reporters[server.Addr()]:
			product = catalog.K2
		default:
			return nil
		}
		s, _ := cat.LookupProduct(server.Port(), transport, product)
		return s
	}
	name := ""
	if len(names) > 0 {
		name = names[0]
	}
	s, ok := cat.Lookup(server.Port(), transport, name)
	if !ok {
		return nil
	}
	if s.Outbound && len(s.Names) == 0 && !a.k2Mail[server.Addr()] {
		// Port 25 is K2 status mail only when a KeyServer or KeyShadow
		// sends it (K2 seed, rule 6), not every mail in the capture.
		return nil
	}
	return s
}

// noteProductHosts records, from a connection that got an answer, that
// its server runs Supportworks (a Supportworks port other than 80/443) or
// that its client may be a KeyReporter (it queries a KeyServer over TCP).
func (a *Analyzer) noteProductHosts(c *Conn) {
	if !(c.SynAck || c.Midstream && c.Dir[1].Pkts > 0) || a.cfg.Catalog.Shared(c.Server.Port(), TCP) {
		return
	}
	s, ok := a.cfg.Catalog.Lookup(c.Server.Port(), TCP, "")
	if !ok {
		return
	}
	switch {
	case s.Product == catalog.Supportworks:
		a.noteRole(a.swHosts, c.Server.Addr())
	case s.Name == catalog.K2KeyServer:
		a.noteRole(a.k2Reporters, c.Client.Addr())
		a.k2Servers[c.Server.Addr()] = true
	}
}

// noteRole adds addr to one of the host roles serviceOf reads (swHosts,
// k2Reporters, k2Mail).
func (a *Analyzer) noteRole(role map[netip.Addr]bool, addr netip.Addr) {
	if !role[addr] {
		role[addr] = true
		a.roleEpoch++
	}
}

// noteMail marks the server of a port-25 connection from a K2 server host
// as its status-mail server.
func (a *Analyzer) noteMail(c *Conn) {
	if c.Server.Port() == 25 && a.k2Servers[c.Client.Addr()] {
		a.noteRole(a.k2Mail, c.Server.Addr())
	}
}
