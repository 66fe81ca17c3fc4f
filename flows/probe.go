package flows

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/internal/bloom"
)

// A port scanner sends one SYN per port it probes and gets a reset or
// nothing back: 100,000 attempts an hour from one vulnerability scanner.
// As connections they cost the flow engine a Conn each (1.1 KB to clear,
// fill and sweep) and the live table a slot among the real traffic's, which
// the sweeps walk; once diagnosis has recognised the scanner (ProbeHook)
// its new attempts are kept as probe records instead: the attempt's SYN
// and, when it comes, the server's reset, in a slice in creation order and
// a small table of their own. A record is exactly the Conn those two
// packets would have made (materialize rebuilds it from them), and it is
// counted, swept and evicted as that Conn would have been, in the same
// sweeps and the same order: the report is the same as with Conns, only
// cheaper. Any other packet of the attempt (a SYN-ACK, a second SYN, an
// ICMP error, data) turns the record into the Conn (promote), which then
// goes on as any connection: an answered probe is seen as before.

// ProbeHook is an EvictHook that knows scanners: when the analyzer's
// OnEvict hook implements it, a new SYN-only attempt from a client that
// Scanner names is kept as a probe record, not a Conn, and handed to Probe
// when it is evicted (unless another packet made it a connection first).
type ProbeHook interface {
	EvictHook
	// Scanner reports whether client is a known scanner. It is asked at
	// the first SYN of each new connection; once it says yes for a
	// client, the analyzer may not ask again.
	Scanner(client netip.Addr) bool
	// Probe is handed a scanner's attempt leaving the analyzer at capture
	// time now, in place of the EvictConn of its connection: a SYN (no
	// retransmission) answered by one reset or by nothing. p is valid
	// only during the call.
	Probe(p *Probe, now time.Time)
}

// Probe is a scanner's attempt as it leaves the analyzer: what EvictConn
// would have been handed of its connection. Its Service is settled.
type Probe struct {
	FlowHead
	// Reset says the server answered the SYN with a reset (Last is its
	// time); otherwise nothing answered.
	Reset bool
	// Frames are the evidence frames: the SYN's, and the reset's.
	Frames []uint64
	frames [2]uint64
}

// probe is a live probe record: an attempt's SYN and the server's reset,
// the fields of them a connection's update reads, in 128 bytes (two whole
// cache lines; 288 as a FlowHead and two packets' fields). The first line
// holds what the sweeps and a lookup read: the times, the reset's frame,
// the flags and the key. The head (ends, vantage, First and Last) is
// worked out again from the key when a record leaves (head): a scan's
// records are written once, read by every sweep and rarely taken apart.
type probe struct {
	synNs    int64  // the SYN's capture time (UnixNano): the head's First and Last
	rstFrame uint64 // the reset's frame (0: no reset yet)
	input    int32
	bits     probeBits
	key      flowKey
	synFrame uint64
	rstNs    int64 // the reset's capture time (UnixNano)
	syn, rst probeTCP
	hash     uint64  // the key's
	_        [8]byte // to 128 bytes: a record never straddles three lines
}

type probeBits uint8

const (
	// probeDead: promoted or replaced (its table slot may still name it).
	probeDead probeBits = 1 << iota
	// probeEvicted: leaving in the current sweep.
	probeEvicted
	// probeShared, probeCatalog and probeNPA are the Conn's classification
	// of its server port.
	probeShared
	probeCatalog
	probeNPA
	// probeClientB: the client is the key's higher end.
	probeClientB
	// probeLocal: the packets' times are in time.Local (live capture),
	// not UTC (files).
	probeLocal
)

func (r *probe) is(b probeBits) bool { return r.bits&b != 0 }

// probeTCP is what Conn.update reads of a packet without payload, beside
// its time and frame.
type probeTCP struct {
	seq, ack uint32
	ipid     uint16
	window   uint16
	ttl      uint8
	flags    uint8
	ipv      uint8
}

func (q *probeTCP) set(p *dissect.Packet) {
	q.seq, q.ack, q.ipid, q.window, q.ttl, q.flags, q.ipv = p.Seq, p.Ack, p.IPID, p.Window, p.TTL, p.TCPFlags, p.IPVersion
}

// packet fills p (zeroed) with q, captured at ns in frame, as the packet
// of input in.
func (q *probeTCP) packet(p *dissect.Packet, in int, ns int64, local bool, frame uint64) {
	*p = dissect.Packet{}
	p.Input, p.Time, p.Frame, p.Seq, p.Ack, p.IPID, p.Window, p.TTL, p.TCPFlags, p.IPVersion, p.Proto =
		in, nsTime(ns, local), frame, q.seq, q.ack, q.ipid, q.window, q.ttl, q.flags, q.ipv, dissect.ProtoTCP
}

// probeNsLimit bounds the capture times a record keeps as nanoseconds
// (1843-2096): any two of them, and a sweep's time in the same range, are
// apart by less than an int64 of nanoseconds.
const probeNsLimit = 4e9

// probeTime returns t as a record keeps it, and whether it can: UTC or
// Local (what the readers and live capture make) and within probeNsLimit
// seconds of 1970, so that nsTime gives t back exactly.
func probeTime(t time.Time) (ns int64, local, ok bool) {
	if s := t.Unix(); s <= -probeNsLimit || s >= probeNsLimit {
		return 0, false, false
	}
	switch t.Location() {
	case time.UTC:
		return t.UnixNano(), false, true
	case time.Local:
		return t.UnixNano(), true, true
	}
	return 0, false, false
}

// nsTime is the time.Time probeTime took apart: the same value, location
// and all (time.Unix normalises as the readers' time.Unix did).
func nsTime(ns int64, local bool) time.Time {
	t := time.Unix(0, ns)
	if !local {
		t = t.UTC()
	}
	return t
}

// ends returns the record's client and server, from its key.
func (r *probe) ends() (client, server Endpoint) {
	a, b := r.key.ends()
	if r.is(probeClientB) {
		return b, a
	}
	return a, b
}

// head returns the FlowHead of the record's connection (Service unset).
func (r *probe) head() FlowHead {
	client, server := r.ends()
	t := nsTime(r.synNs, r.is(probeLocal))
	return FlowHead{Vantage: r.key.vantage(), Input: int(r.input), Client: client, Server: server,
		First: t, Last: t, FirstFrame: r.synFrame}
}

// compareHead is FlowHead.compare of h with r's head, from r's own fields
// (the ends only on a tie).
func (r *probe) compareHead(h *FlowHead) int {
	switch sec := h.First.Unix(); {
	case sec <= -probeNsLimit: // h is before any record's time
		return 1
	case sec >= probeNsLimit:
		return -1
	}
	if c := cmp.Compare(r.synNs, h.First.UnixNano()); c != 0 {
		return c
	}
	if c := cmp.Compare(int(r.input), h.Input); c != 0 {
		return c
	}
	if c := cmp.Compare(r.synFrame, h.FirstFrame); c != 0 {
		return c
	}
	client, _ := r.ends()
	return client.Compare(h.Client)
}

// compare is FlowHead.compare of two records' heads.
func (r *probe) compare(o *probe) int {
	if c := cmp.Compare(r.synNs, o.synNs); c != 0 {
		return c
	}
	if c := cmp.Compare(r.input, o.input); c != 0 {
		return c
	}
	if c := cmp.Compare(r.synFrame, o.synFrame); c != 0 {
		return c
	}
	rc, _ := r.ends()
	oc, _ := o.ends()
	return rc.Compare(oc)
}

// printing says whether connections to a server of this kind record packet
// prints now (addTCP): a probe is kept only while they do not.
func (a *Analyzer) printing(catalogPort, sharedPort bool) bool {
	return (a.cfg.ComparePoints || len(a.vantageOf) > 1) && (catalogPort || sharedPort)
}

// scanBit says whether addr may be a scanner that has probe records: a
// bit per low 16 address bits (8 KB, in cache).
func (a *Analyzer) scanBit(addr netip.Addr) bool {
	i := addrLow16(addr)
	return a.scanBits[i>>6]&(1<<(i&63)) != 0
}

// recordsFor says whether client's new attempt on target is to be a probe
// record: the hook names the client a scanner, or it has just tried many
// targets (fanWatch). A record stands exactly for its connection, so a
// wrong guess costs only time; but a scan's attempts before diagnosis
// knows it (it learns from evicted attempts) were 16,000 connections
// allocated, filled and swept.
func (a *Analyzer) recordsFor(client netip.Addr, target Endpoint) bool {
	if a.fan == nil {
		a.fan = new(fanWatch)
	}
	if a.fan.note(client, target) {
		a.setScanBit(client)
		return true
	}
	return a.scanner(client)
}

// fanWatch guesses which clients scan: per client (a slot per hash, the
// latest client in it), how many new attempts it made, each to another
// target than the one before; probeFanout of them make it look like one.
// 64 KB, no allocation: a flood of single attempts from new sources only
// overwrites slots.
type fanWatch struct {
	slots [4096]fanSlot
}

type fanSlot struct {
	client, target uint64 // hashes
	n              uint32
}

// probeFanout is how many attempts to changing targets make a client's
// next ones probe records (diagnosis calls a client a scanner after
// scanTargets = 20 distinct failed targets).
const probeFanout = 32

func (w *fanWatch) note(client netip.Addr, target Endpoint) bool {
	c0, c1, _ := AddrWords(client)
	ch := mix(c0^tableSeed[0], c1^tableSeed[1]) | 1
	_, t1, _ := AddrWords(target.Addr())
	th := t1<<16 | uint64(target.Port()) // only told from the one before
	s := &w.slots[ch&uint64(len(w.slots)-1)]
	if s.client != ch {
		*s = fanSlot{client: ch}
	}
	if s.target != th {
		s.target = th
		s.n++
	}
	return s.n >= probeFanout
}

// scanner says whether the hook names client a scanner, without asking it
// again for one it already named (as long as they are few).
func (a *Analyzer) scanner(client netip.Addr) bool {
	// (scanBits, not nprobes: a sweep evicting every record asked the
	// hook's map again for each of them, a tenth of an eviction.)
	if a.scanBits != nil && a.scanBit(client) && slices.Contains(a.scanners, client) {
		return true
	}
	if !a.probeHook.Scanner(client) {
		return false
	}
	if len(a.scanners) < 16 && !slices.Contains(a.scanners, client) {
		a.scanners = append(a.scanners, client)
	}
	a.setScanBit(client)
	return true
}

// scanKey is scanBit for either end of the flow k, from the key's words:
// their low 16 bits are the addresses' (AddrWords), so the addresses need
// not be taken apart again for every TCP packet while a scan goes on
// (that was a tenth of a scanner's added time).
func (a *Analyzer) scanKey(k *flowKey) bool {
	i, j := uint16(k.a1), uint16(k.b1)
	return a.scanBits[i>>6]&(1<<(i&63)) != 0 || a.scanBits[j>>6]&(1<<(j&63)) != 0
}

func (a *Analyzer) setScanBit(addr netip.Addr) {
	if a.scanBits == nil {
		a.scanBits = new([1024]uint64)
	}
	i := addrLow16(addr)
	a.scanBits[i>>6] |= 1 << (i & 63)
}

func addrLow16(addr netip.Addr) uint16 {
	if addr.Is4() {
		b := addr.As4()
		return uint16(b[2])<<8 | uint16(b[3])
	}
	b := addr.As16()
	return uint16(b[14])<<8 | uint16(b[15])
}

// probeOf returns the live probe record of k (nil: none).
func (a *Analyzer) probeOf(k *flowKey) *probe { return a.probeOfH(k, k.hash()) }

// probeOfH is probeOf for a key whose hash h the caller has.
func (a *Analyzer) probeOfH(k *flowKey, h uint64) *probe {
	if a.nprobes == 0 {
		return nil
	}
	if !a.probeIdx.filter.MayHave(h) {
		return nil
	}
	for i := len(a.probes) - 1; i >= a.probeIndexed; i-- {
		if r := &a.probes[i]; r.hash == h && !r.is(probeDead) && r.key.equal(k) {
			return r
		}
	}
	i := a.probeIndex(k, h)
	if i == 0 {
		return nil
	}
	return &a.probes[i-1]
}

// newProbe keeps a scanner's SYN p (no payload) as a probe record, where
// addTCP would have made a connection, and reports whether it did: a
// record holds only times it can give back exactly (probeTime), an input
// index that fits it, and two different ends.
func (a *Analyzer) newProbe(k *flowKey, h uint64, p *dissect.Packet, src, dst Endpoint, shared, catalogPort, npa bool) bool {
	ns, local, ok := probeTime(p.Time)
	if !ok || p.Input < 0 || p.Input > math.MaxInt32 || src == dst {
		return false
	}
	if dst.Port() == 25 && a.k2Servers[src.Addr()] {
		a.noteRole(a.k2Mail, dst.Addr()) // noteMail
	}
	if len(a.probes) == cap(a.probes) {
		// As many as the live table may hold at once, or twice as many as
		// now: append's quarter steps left five times that in garbage.
		grown := make([]probe, len(a.probes), max(2*cap(a.probes), a.maxConns))
		copy(grown, a.probes)
		a.probes = grown
		a.probeIdx.reserve(a.maxConns)
	}
	// Written in place, field by field: a record built on the stack and
	// appended was copied with wide loads of narrow stores (stalls).
	a.probes = a.probes[:len(a.probes)+1]
	r := &a.probes[len(a.probes)-1]
	r.synNs, r.rstFrame, r.input, r.synFrame, r.rstNs = ns, 0, int32(p.Input), p.Frame, 0
	bits := probeBits(0)
	if shared {
		bits |= probeShared
	}
	if catalogPort {
		bits |= probeCatalog
	}
	if npa {
		bits |= probeNPA
	}
	if local {
		bits |= probeLocal
	}
	r.key = *k
	if !k.isLow(src) {
		bits |= probeClientB
	}
	r.bits = bits
	r.hash = h
	r.syn.set(p)
	r.rst = probeTCP{}
	if n := len(a.probes); n > 1 && !a.probesUnsorted && a.probes[n-2].compare(r) > 0 {
		a.probesUnsorted = true // inputs merged out of order: sweeps sort
	}
	a.probeIdx.filter.Add(h)
	if len(a.probes)-a.probeIndexed >= probeTail {
		a.indexProbes()
	}
	a.nprobes++
	if a.tcp.len()+a.nprobes > a.maxConns {
		a.sweep(p.Time) // the new record is not evictable: its SYN is now
	}
	return true
}

// probeAbsorb adds p to r when it is the server's first reset, without
// payload, and reports whether it did: any other packet needs the Conn.
func (a *Analyzer) probeAbsorb(r *probe, p *dissect.Packet, src Endpoint) bool {
	if r.rstFrame != 0 || p.Frame == 0 || p.TCPFlags&dissect.FlagRST == 0 || p.PayloadLen != 0 ||
		a.printing(r.is(probeCatalog), r.is(probeShared)) {
		return false
	}
	// The packet has the record's key and the two ends differ: it is the
	// server's unless it is the client's.
	if r.is(probeClientB) != r.key.isLow(src) {
		return false
	}
	ns, local, ok := probeTime(p.Time)
	if !ok || local != r.is(probeLocal) {
		return false
	}
	r.rstFrame, r.rstNs = p.Frame, ns
	r.rst.set(p)
	return true
}

// materialize makes c (zero, buffers aside) the connection r stands for,
// as addTCP would have from r's packets.
func (a *Analyzer) materialize(r *probe, c *Conn) {
	c.FlowHead = r.head()
	c.SharedPort, c.CatalogPort, c.NPAPort = r.is(probeShared), r.is(probeCatalog), r.is(probeNPA)
	p := &a.replay
	local := r.is(probeLocal)
	r.syn.packet(p, int(r.input), r.synNs, local, r.synFrame)
	c.update(p, 0)
	if r.rstFrame != 0 {
		r.rst.packet(p, int(r.input), r.rstNs, local, r.rstFrame)
		c.update(p, 1)
		// noteProductHosts would look at a connection answered by a
		// reset only: it notes nothing.
	}
}

// kill forgets a live record that became a connection.
func (a *Analyzer) kill(r *probe) {
	r.bits |= probeDead
	a.nprobes--
	a.probeDead++
}

// promote turns r, the record of k, into a live connection, at the place
// in the table the connection would have had all along (the live count
// does not change: no sweep).
func (a *Analyzer) promote(r *probe, k *flowKey) *Conn {
	c := a.newConn()
	a.materialize(r, c)
	a.kill(r)
	a.tcp.set(k, c)
	a.order = append(a.order, c)
	return c
}

// tcpConn returns k's live connection, promoting its probe record if it
// has one (nil: neither).
func (a *Analyzer) tcpConn(k *flowKey) *Conn {
	if s := a.tcp.find(k); s.val != nil {
		if s.at != 0 {
			s.at = 0 // the caller changes it
		}
		return s.val
	}
	if r := a.probeOf(k); r != nil {
		return a.promote(r, k)
	}
	return nil
}

// probeEvictable is evictable for a record: an attempt, reset or a second
// old. nowNs is now as UnixNano when now is within probeNsLimit (ok).
func probeEvictable(r *probe, now time.Time, nowNs int64, ok, hard bool) bool {
	if !hard && r.is(probeNPA) {
		return false
	}
	if r.rstFrame != 0 {
		return true
	}
	if ok {
		return nowNs-r.synNs >= int64(EvictAge)
	}
	return now.Sub(nsTime(r.synNs, false)) >= EvictAge
}

// markProbes marks the live records a sweep pass evicts and returns how
// many; with scansOnly, only those of clients the hook names scanners
// (Finish).
func (a *Analyzer) markProbes(now time.Time, hard, scansOnly bool) int {
	nowNs, _, ok := probeTime(now.UTC())
	n := 0
	for i := range a.probes {
		r := &a.probes[i]
		if r.bits&(probeDead|probeEvicted) != 0 || !probeEvictable(r, now, nowNs, ok, hard) {
			continue
		}
		if scansOnly {
			if client, _ := r.ends(); !a.scanner(client.Addr()) {
				continue
			}
		}
		r.bits |= probeEvicted
		a.nprobes--
		n++
	}
	return n
}

// evictedProbes gathers the records marked for eviction, ordered as their
// connections would be (FlowHead.compare), into the sweep's buffer.
func (a *Analyzer) evictedProbes() []*probe {
	out := a.probeOut[:0]
	for i := range a.probes {
		if r := &a.probes[i]; r.is(probeEvicted) {
			out = append(out, r)
		}
	}
	if a.probesUnsorted {
		slices.SortFunc(out, func(x, y *probe) int { return x.compare(y) })
	}
	a.probeOut = out
	return out
}

// evictProbe hands an evicted record to the hook and folds it into the
// evicted state, as evict does its connection.
func (a *Analyzer) evictProbe(r *probe, now time.Time, ttls *TTLView) {
	head := r.head()
	if !a.scanner(head.Client.Addr()) {
		// Not (yet) a scanner to diagnosis (the record was made on the
		// fan-out hint): the hook gets the connection, which may also
		// make the client one (a scan's first attempts).
		c := a.newConn()
		a.materialize(r, c)
		a.evict(c, now, ttls)
		a.recycle(c)
		return
	}
	{
		q := &a.probeMsg
		q.FlowHead = head
		q.Service = a.serviceOf(head.Client.Addr(), head.Server, TCP, head.First)
		q.frames[0] = r.synFrame
		q.Frames = q.frames[:1]
		q.Reset = r.rstFrame != 0
		if q.Reset {
			q.Last = nsTime(r.rstNs, r.is(probeLocal))
			q.frames[1] = r.rstFrame
			q.Frames = q.frames[:2]
		}
		a.probeHook.Probe(q, now)
		q.Service = nil
	}
	a.ev.TCPConnections++
	if r.rstFrame != 0 {
		a.ev.TCPResets++
	}
}

// Finish is called once the capture is over, before the last View: a known
// scanner's attempts still kept as probe records, that a sweep now would
// evict (answered by a reset, or a second old), go to the hook's syn_scan
// aggregate as the scan's earlier attempts did, instead of being rebuilt
// as connections for the View. Those a scan happened to leave live at the
// end (766 on an hour with one scanner: those to the Supportworks binary
// port, which sweeps keep while they can, and those since the last sweep)
// were each diagnosed as a connection and folded back into the aggregate:
// the larger part of the scan's cost after the last packet. (That the
// flow table does not list a scanner's failed attempts is diagnosis's
// rule, scanAttempt, whichever way they reach it.) Unanswered attempts
// less than a second old stay (diagnosis does not count them yet). The
// View after it is valid as ever; packets after it would be analysed as
// before, but it is meant for the end.
func (a *Analyzer) Finish() {
	if a.nprobes == 0 || a.probeHook == nil {
		return
	}
	now := a.last
	n := a.markProbes(now, true, true)
	if n == 0 {
		return
	}
	for _, r := range a.evictedProbes() {
		a.evictProbe(r, now, nil)
	}
	a.ev.ScanAttempts += n
	a.compactProbes()
}

// compactProbes drops the dead and evicted records and rebuilds their
// table (after a sweep).
func (a *Analyzer) compactProbes() {
	n := 0
	for i := range a.probes {
		if r := &a.probes[i]; r.bits&(probeDead|probeEvicted) == 0 {
			a.probes[n] = *r
			n++
		}
	}
	// (What is left past n points to nothing but global locations and
	// handles: Service is never set on a record.)
	a.probes = a.probes[:n]
	a.probeDead = 0
	if a.probesUnsorted && slices.IsSortedFunc(a.probes, func(x, y probe) int { return x.compare(&y) }) {
		a.probesUnsorted = false
	}
	a.probeIdx.reset()
	a.probeIndexed = 0
	for i := range a.probes {
		a.probeIdx.filter.Add(a.probes[i].hash)
	}
	a.indexProbes()
}

// probeTail is how many of the newest records may be left out of the
// index: a reset comes a round trip after its SYN, so its record is most
// often the newest or nearly, found in the tail at once, and the tail
// goes into the index together, where one record at a time was a cache
// miss in the index at every SYN (a tenth of a scan's cost; a loop of
// independent stores overlaps those misses).
const probeTail = 32

// indexProbes adds the records of the tail to the index.
func (a *Analyzer) indexProbes() {
	t := &a.probeIdx
	t.reserve(len(a.probes))
	for i := a.probeIndexed; i < len(a.probes); i++ {
		t.put(a.probes[i].hash, int32(i+1))
	}
	a.probeIndexed = len(a.probes)
}

// probeConns returns the connections the live records stand for (for a
// view: the analyzer keeps the records). They are taken from the free
// list and go back to it at the next view: a view is valid only until the
// analyzer's next packet.
func (a *Analyzer) probeConns() []*Conn {
	for i, c := range a.viewConns {
		a.recycle(c)
		a.viewConns[i] = nil
	}
	a.viewConns = a.viewConns[:0]
	if a.nprobes == 0 {
		return nil
	}
	for i := range a.probes {
		if r := &a.probes[i]; !r.is(probeDead) {
			c := a.newConn()
			a.materialize(r, c)
			a.viewConns = append(a.viewConns, c)
		}
	}
	return a.viewConns
}

// probeTable indexes the probe records by flow key: open addressing with
// linear probing as flowTable, but a slot holds only the key's hash and
// the record's index + 1 (16 bytes: the table stays in the second-level
// cache, where a flowTable of keys did not), the record holds the key; and
// it is emptied in constant time: a slot is in use only when it carries
// the table's generation. Every sweep that evicts records empties it and
// adds back the few that stay; clearing a table sized for the live cap
// (1.5 MB) each time was a tenth of a scan's cost.
type probeTable struct {
	slots []probeSlot // a power of two long
	gen   uint32
	n     int
	// filter holds the keys indexed since the table was last emptied: a
	// scanner's new attempt (the most common lookup, and always a miss)
	// is answered from it without touching the slots.
	filter bloom.Filter
}

type probeSlot struct {
	hash uint64
	idx  int32
	gen  uint32
}

// probeIndex returns the index + 1 of k's live record (0: none); h is
// k's hash.
func (a *Analyzer) probeIndex(k *flowKey, h uint64) int32 {
	t := &a.probeIdx
	if t.n == 0 {
		return 0
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.gen != t.gen {
			return 0
		}
		if s.hash == h {
			// A dead record's slot stays until the table is emptied:
			// the key's live record, if any, is further on.
			if r := &a.probes[s.idx-1]; !r.is(probeDead) && r.key.equal(k) {
				return s.idx
			}
		}
	}
}

// put indexes record idx (+1) under the hash h of its key, which has no
// live record (with room for it: reserve).
func (t *probeTable) put(h uint64, idx int32) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].gen == t.gen {
		i = (i + 1) & mask
	}
	t.slots[i] = probeSlot{hash: h, idx: idx, gen: t.gen}
	t.n++
}

// reserve makes room for n keys under a load of 5/8.
func (t *probeTable) reserve(n int) {
	size := max(len(t.slots), tableMinSize)
	for n*8 > size*5 {
		size *= 2
	}
	if size == len(t.slots) {
		return
	}
	old, gen := t.slots, t.gen
	t.slots = make([]probeSlot, size)
	t.gen, t.n = 1, 0
	mask := uint64(size - 1)
	for _, s := range old {
		if s.gen == gen && gen != 0 {
			i := s.hash & mask
			for t.slots[i].gen == t.gen {
				i = (i + 1) & mask
			}
			t.slots[i] = probeSlot{hash: s.hash, idx: s.idx, gen: 1}
			t.n++
		}
	}
}

// reset empties the table.
func (t *probeTable) reset() {
	t.gen++
	t.n = 0
	t.filter.Clear()
	if t.gen == 0 { // wrapped: old slots could match again
		clear(t.slots)
		t.gen = 1
	}
}
