package diagnose

import (
	"math/bits"
	"net/netip"
	"slices"

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

// fanout is a candidate client's distinct failed targets so far (hashes).
type fanout struct {
	client  netip.Addr
	n       uint8
	targets [scanTargets]uint64
}

// scanWatch classifies scanners from the attempts that leave the analyzer.
type scanWatch struct {
	// cands index the fanouts of the candidates: a flood of single
	// attempts from new sources adds one each. An open-addressing table
	// of its own, not a map: a SYN flood's every attempt looked its new
	// source up and inserted it, and hashing netip.Addr keys through the
	// map was a tenth of the flood's time. A slot is the current watch's
	// when its gen is gen, so starting afresh is one increment.
	cands   []candSlot
	gen     uint16
	ncands  int
	fanouts []fanout
	// (fanouts: a fanout apiece, 192 bytes, 10M times for a flood of 10M
	// SYNs, was all a flood's allocation; the slab is reused when the
	// watch starts afresh.)
	scanners map[netip.Addr]bool
	// few lists the scanners while there are at most 8 (Scanner: the
	// analyzer asks at every new attempt of every client).
	few []netip.Addr
	// resets counts the times the candidates were forgotten (a flood).
	resets int
}

// candSlot is a candidate client's slot in 8 bytes (the table, 512 KB,
// stays in the cache a flood's random lookups go through): the client's
// fanout and a tag of its hash; the fanout has the client.
type candSlot struct {
	gen uint16
	tag uint16
	i   int32
}

// candSlots is the candidate table's size, twice maxCandidates: probes
// stay short.
const candSlots = 2 * maxCandidates

func newScanWatch() scanWatch {
	return scanWatch{scanners: map[netip.Addr]bool{}, gen: 1}
}

// candidate returns client's fanout, adding one (and starting the watch
// afresh when it is full).
func (w *scanWatch) candidate(client netip.Addr) *fanout {
	if w.cands == nil {
		w.cands = make([]candSlot, candSlots)
	}
	j := addrHash(client)
	tag := uint16(j >> 48)
	for {
		s := &w.cands[j&(candSlots-1)]
		if s.gen != w.gen {
			break
		}
		if s.tag == tag && w.fanouts[s.i].client == client {
			return &w.fanouts[s.i]
		}
		j++
	}
	if w.ncands >= maxCandidates {
		w.forget()
		return w.candidate(client)
	}
	s := &w.cands[j&(candSlots-1)]
	*s = candSlot{gen: w.gen, tag: tag, i: int32(len(w.fanouts))}
	w.ncands++
	w.fanouts = append(w.fanouts, fanout{client: client})
	return &w.fanouts[s.i]
}

// forget starts the watch afresh: no candidate is left.
func (w *scanWatch) forget() {
	w.gen++
	if w.gen == 0 { // every 65,536 restarts: the slots' gens could match again
		clear(w.cands)
		w.gen = 1
	}
	w.ncands = 0
	w.fanouts = w.fanouts[:0]
	w.resets++
}

// note records a failed attempt of client on target and reports whether
// the client is a scanner (now or already).
func (w *scanWatch) note(client netip.Addr, target netip.AddrPort) bool {
	if w.known(client) {
		return true
	}
	f := w.candidate(client)
	h := endpointHash(target)
	for _, t := range f.targets[:f.n] {
		if t == h {
			return false
		}
	}
	if int(f.n) == scanTargets {
		w.scanners[client] = true
		if len(w.scanners) <= len(w.few)+1 && len(w.few) < 8 {
			w.few = append(w.few, client)
		}
		// Its slot stays (a scanner is known before it is looked up).
		return true
	}
	f.targets[f.n] = h
	f.n++
	return false
}

// known says whether client is a scanner.
func (w *scanWatch) known(client netip.Addr) bool {
	if len(w.scanners) == len(w.few) {
		return slices.Contains(w.few, client)
	}
	return w.scanners[client]
}

// endpointHash mixes an endpoint's address and port (wyhash's step on
// the address's two words; a byte-wise FNV loop was a tenth of a SYN
// flood's time): a scan candidate's targets, a finding's seen members.
// The zone is left out (two zones of one address only collide).
func endpointHash(t netip.AddrPort) uint64 {
	hi, lo := addrWords(t.Addr())
	return mix64(mix64(hi^0x9e3779b97f4a7c15, lo^0xbf58476d1ce4e5b9)^uint64(t.Port()), 0x94d049bb133111eb)
}

// addrWords returns a's 16 bytes (As16) as two words, the high one 1 for
// an IPv4 address, apart from the same address mapped into IPv6: the
// values endpointHash always had, from flows.AddrWords (As16's array read
// back in two halves stalls on store forwarding: a third of a scan
// attempt's host count).
func addrWords(a netip.Addr) (hi, lo uint64) {
	w0, w1, is4 := flows.AddrWords(a)
	if is4 == 1 {
		return 1, 0xffff<<32 | w1
	}
	return w0, w1
}

func mix64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
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
	kind := Kind("")
	// An open port answers with a SYN-ACK, which a SYN scan (nmap -sS)
	// resets: an answered probe, as aggregate counts the scanner's own
	// resets, not a handshake that failed (that was every open port of a
	// scan evicted during the capture, and none of one that was not).
	if !answeredProbe(c) {
		kind = attemptKind(c)
	}
	fs.scanAttempt(&c.FlowHead, kind, c.Frames[:min(len(c.Frames), 2)])
}

// answeredProbe says whether a scanner's connection c is an answered
// probe, an open port: the scanner completed the handshake, or reset the
// SYN-ACK (nmap -sS, whatever TTL its kernel's reset had).
func answeredProbe(c *flows.Conn) bool { return c.Established || c.SynAck && c.Dir[0].RST > 0 }

// scanAttempt adds one attempt of the scanner h.Client to its syn_scan
// aggregate: a failed one of kind, or (kind "") one answered. It
// allocates nothing once the aggregate has seen the attempt's host,
// service and input (the evidence frames stop at appendFrames' bound).
func (fs *findingSet) scanAttempt(h *flows.FlowHead, kind Kind, frames []uint64) {
	client := h.Client.Addr()
	var sc *scanCache
	for i := range fs.scans.c {
		if c := &fs.scans.c[i]; c.g != nil && c.g.key.client == client && c.input == h.Input {
			sc = c
			break
		}
	}
	if sc == nil {
		k := groupKey{kind: SynScan, client: client, transport: TCP}
		g := fs.groups[k]
		if g == nil {
			g = &group{key: k, severity: Info, first: h.First, last: h.Last,
				frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, inputs: map[int]bool{},
				facts: &ScanFacts{Kinds: map[Kind]int{}, Hosts: map[netip.Addr]int{}, Services: map[catalog.ServiceName]int{}}}
			fs.groups[k] = g
			fs.order = append(fs.order, g)
		}
		g.inputs[h.Input] = true
		sc = &fs.scans.c[fs.scans.next%len(fs.scans.c)]
		fs.scans.next++
		sc.flush()
		*sc = scanCache{g: g, input: h.Input, framesFull: len(g.frames[h.Input]) >= maxGroupFrames}
	}
	g := sc.g
	x := g.facts.(*ScanFacts)
	counted, was := true, uint8(0)
	if fs.scanSeen != nil {
		// Several capture points: each attempt once (attemptCounts), with
		// the outcome the point that saw most of it saw.
		counted, was = fs.scanSeen.add(convHash(h.Client, h.Server), h.Vantage, outcomeRank(kind), h.First.UnixNano())
	}
	if !counted && was != 0 {
		x.moveOutcome(g, outcomeKind(was), kind)
	}
	if counted {
		if kind == "" {
			// An answered probe: the port is open; the scan goes on.
			x.Answered++
		} else {
			g.count++
			if i := scanKindIndex(kind); i >= 0 {
				sc.kinds[i]++
			} else {
				x.Kinds[kind]++
			}
		}
		x.noteHost(h.Server.Addr())
		if h.Service != nil {
			x.Services[h.Service.Name]++
		}
	}
	if h.First.Before(g.first) {
		g.first = h.First
	}
	if h.Last.After(g.last) {
		g.last = h.Last
	}
	if !sc.framesFull {
		fr := appendFrames(g.frames[h.Input], frames)
		g.frames[h.Input] = fr
		sc.framesFull = len(fr) >= maxGroupFrames
	}
}

// outcomeRank orders what a point saw of a scan's attempt, from an
// unanswered SYN (1) to an answered probe (5, kind ""): another point's
// copy that says more (it saw the answer or the reset a firewall kept
// from this one) gives the attempt its outcome.
func outcomeRank(k Kind) uint8 {
	switch k {
	case SynUnanswered:
		return 1
	case SynICMPRejected:
		return 2
	case SynReset:
		return 3
	case HandshakeIncomplete:
		return 4
	case "":
		return 5
	}
	return 1
}

// outcomeKind is the kind of outcome rank r (outcomeRank).
func outcomeKind(r uint8) Kind {
	return [...]Kind{SynUnanswered, SynUnanswered, SynICMPRejected, SynReset, HandshakeIncomplete, ""}[min(r, 5)]
}

// moveOutcome moves one attempt of the scan g from outcome from to to (a
// failed attempt's kind, or "" answered). The kinds are counted in Kinds
// straight away (a scan cache may hold the attempt's first kind still:
// its flush makes the sum right, and aggregate drops kinds left at 0).
func (x *ScanFacts) moveOutcome(g *group, from, to Kind) {
	if from == "" {
		x.Answered--
	} else {
		g.count--
		x.Kinds[from]--
	}
	if to == "" {
		x.Answered++
	} else {
		g.count++
		x.Kinds[to]++
	}
}

// scanCaches are the syn_scan groups scanAttempt last added to, each for
// one input, with whether its evidence frames there are complete: looking
// a group up by its key cost as much as the rest of an attempt. (Several:
// the attempts of several scanners leave the analyzer interleaved.)
type scanCaches struct {
	c    [8]scanCache
	next int
}

type scanCache struct {
	g          *group
	input      int
	framesFull bool
	// kinds are the attempts by scanKinds not yet in the facts' Kinds
	// (flush): a map operation on a string key per attempt was a tenth
	// of its cost.
	kinds [len(scanKinds)]int
}

// scanKinds are the kinds a scan's failed attempts come in, counted in
// a scanCache before they reach ScanFacts.Kinds.
var scanKinds = [...]Kind{SynUnanswered, SynReset, HandshakeIncomplete, SynICMPRejected}

func scanKindIndex(k Kind) int {
	for i, s := range scanKinds {
		if s == k {
			return i
		}
	}
	return -1
}

// flush moves the cache's counts into its group's facts.
func (sc *scanCache) flush() {
	if sc.g == nil {
		return
	}
	x := sc.g.facts.(*ScanFacts)
	x.flushHosts()
	for i, n := range sc.kinds {
		if n > 0 {
			x.Kinds[scanKinds[i]] += n
			sc.kinds[i] = 0
		}
	}
}

// flushScans moves the counts the scan caches hold into the facts; every
// reader of a syn_scan group's facts comes after it (clone, and the
// findings at the end of Run).
func (fs *findingSet) flushScans() {
	for i := range fs.scans.c {
		fs.scans.c[i].flush()
	}
}

// noteHost counts an attempt on host h: the host is listed in Hosts while
// fewer than maxScanHosts are, and its attempts counted there; past that,
// attempts on hosts not listed are counted in MoreHosts. The count goes
// through the facts' host table (a scanner probes its hosts in any order,
// and a map operation keyed by a netip.Addr per attempt was a seventh of
// its cost) and reaches Hosts at the next flushHosts: the scan caches'
// flush, the facts' clone and merge, and the end of aggregate.
func (x *ScanFacts) noteHost(h netip.Addr) {
	t := x.hosts
	if t == nil {
		t = newHostTable(x.Hosts)
		x.hosts = t
	}
	i, ok := t.find(h)
	if !ok {
		if len(t.addrs) >= maxScanHosts {
			x.MoreHosts++
			return
		}
		i = t.add(h)
	}
	if t.pend[i] == 0 {
		t.dirty = append(t.dirty, i)
	}
	t.pend[i]++
}

// flushHosts moves the attempts the host table holds into Hosts.
func (x *ScanFacts) flushHosts() {
	t := x.hosts
	if t == nil {
		return
	}
	for _, i := range t.dirty {
		x.Hosts[t.addrs[i]] += t.pend[i]
		t.pend[i] = 0
	}
	t.dirty = t.dirty[:0]
}

// hostTable indexes a scan's listed hosts (open addressing, linear
// probing, at most half full) with their attempts not yet in Hosts.
type hostTable struct {
	slots []int32 // index + 1 into addrs; 0 empty
	addrs []netip.Addr
	pend  []int
	dirty []int32 // indexes with pend > 0
}

// hostSlots holds maxScanHosts at a load under one half.
const hostSlots = 2048

func newHostTable(listed map[netip.Addr]int) *hostTable {
	t := &hostTable{slots: make([]int32, hostSlots)}
	for h := range listed {
		t.add(h)
	}
	return t
}

func hostHash(h netip.Addr) uint64 {
	hi, lo := addrWords(h)
	return mix64(hi^0x9e3779b97f4a7c15, lo^0xbf58476d1ce4e5b9)
}

// find returns h's index (false: not listed).
func (t *hostTable) find(h netip.Addr) (int32, bool) {
	for i := hostHash(h) & (hostSlots - 1); ; i = (i + 1) & (hostSlots - 1) {
		j := t.slots[i]
		if j == 0 {
			return 0, false
		}
		if t.addrs[j-1] == h {
			return j - 1, true
		}
	}
}

// add lists h (not listed, fewer than maxScanHosts listed) and returns
// its index.
func (t *hostTable) add(h netip.Addr) int32 {
	i := hostHash(h) & (hostSlots - 1)
	for t.slots[i] != 0 {
		i = (i + 1) & (hostSlots - 1)
	}
	t.addrs = append(t.addrs, h)
	t.pend = append(t.pend, 0)
	t.slots[i] = int32(len(t.addrs))
	return int32(len(t.addrs) - 1)
}
