package diagnose

import (
	"net/netip"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// A scanner sends one failed attempt per port it probes: 100,000 in an
// hour from one vulnerability scanner. Kept as findings one target at a
// time they cost a group and several maps each, and the services table a
// row each. So attempts are watched per client as they leave the analyzer
// (scanWatch): once a client has failed on more than scanTargets targets it
// is a scanner, and each later attempt only adds to its one syn_scan
// aggregate, at a constant cost and without allocating.

// maxCandidates bounds the clients watched for fan-out. When it is reached
// the watch starts afresh: a scanner fails on new targets every moment, so
// it crosses the threshold again within the next window, while a flood of
// single attempts from millions of sources never does.
const maxCandidates = 32 << 10

// maxScanHosts bounds the hosts a scan finding counts one by one.
const maxScanHosts = 1000

// fanout is a client's distinct failed targets so far (hashes).
type fanout struct {
	n       uint8
	targets [scanTargets]uint64
}

// scanWatch classifies scanners from the attempts that leave the analyzer.
type scanWatch struct {
	candidates map[netip.Addr]*fanout
	scanners   map[netip.Addr]bool
	// resets counts the times the candidates were forgotten (a flood).
	resets int
}

func newScanWatch() scanWatch {
	return scanWatch{candidates: map[netip.Addr]*fanout{}, scanners: map[netip.Addr]bool{}}
}

// note records a failed attempt of client on target and reports whether
// the client is a scanner (now or already).
func (w *scanWatch) note(client netip.Addr, target netip.AddrPort) bool {
	if w.scanners[client] {
		return true
	}
	f := w.candidates[client]
	if f == nil {
		if len(w.candidates) >= maxCandidates {
			clear(w.candidates)
			w.resets++
		}
		f = &fanout{}
		w.candidates[client] = f
	}
	h := targetHash(target)
	for _, t := range f.targets[:f.n] {
		if t == h {
			return false
		}
	}
	if int(f.n) == scanTargets {
		w.scanners[client] = true
		delete(w.candidates, client)
		return true
	}
	f.targets[f.n] = h
	f.n++
	return false
}

func targetHash(t netip.AddrPort) uint64 {
	b := t.Addr().As16()
	h := uint64(14695981039346656037)
	for _, x := range b {
		h = (h ^ uint64(x)) * 1099511628211
	}
	return (h ^ uint64(t.Port())) * 1099511628211
}

// attemptKind is the finding a failed attempt would have made on its own.
func attemptKind(c *flows.Conn) Kind {
	switch {
	case c.SynAck:
		return HandshakeIncomplete
	case c.ICMP != nil:
		return SynICMPRejected
	case c.Dir[1].RST > 0:
		return SynReset
	}
	return SynUnanswered
}

// scanProbe adds a scanner's connection to its syn_scan aggregate.
func (fs *findingSet) scanProbe(c *flows.Conn) {
	client := c.Client.Addr()
	k := groupKey{kind: SynScan, client: client, transport: TCP}
	g := fs.groups[k]
	if g == nil {
		g = &group{key: k, severity: Info, first: c.First, last: c.Last,
			frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, inputs: map[int]bool{},
			facts: &ScanFacts{Kinds: map[Kind]int{}, Hosts: map[netip.Addr]int{}, Services: map[catalog.ServiceName]int{}}}
		fs.groups[k] = g
		fs.order = append(fs.order, g)
	}
	x := g.facts.(*ScanFacts)
	if c.Established {
		// An answered probe: the port is open; the scan goes on.
		x.Answered++
	} else {
		g.count++
		x.Kinds[attemptKind(c)]++
	}
	x.noteHost(c.Server.Addr())
	if c.Service != nil {
		x.Services[c.Service.Name]++
	}
	if c.First.Before(g.first) {
		g.first = c.First
	}
	if c.Last.After(g.last) {
		g.last = c.Last
	}
	g.inputs[c.Input] = true
	g.frames[c.Input] = appendFrames(g.frames[c.Input], c.Frames[:min(len(c.Frames), 2)])
}

// noteHost counts a host the scan touched, one by one up to maxScanHosts.
func (x *ScanFacts) noteHost(h netip.Addr) {
	if _, ok := x.Hosts[h]; ok || len(x.Hosts) < maxScanHosts {
		x.Hosts[h]++
		return
	}
	x.MoreHosts++
}
