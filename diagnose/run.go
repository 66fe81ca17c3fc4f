// Package diagnose turns the flow state into typed findings and tables.
//
// Run reads a flows.View (and what Evictions kept of evicted flows) and
// returns a Result of typed values: every finding is a Kind, a Severity, a
// Confidence, its endpoints, counts, evidence frames and a facts struct of
// its kind, with no prose (the explain package words them). A file per
// concern: syn (blocked connection attempts), npa and udpfind (the
// products' own rules), compare (captures from several points), version
// and capture, aggregate (scans and many-client folding), tables.
package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
)

// TCP and UDP name the transports.
const (
	TCP = catalog.TCP
	UDP = catalog.UDP
)

// maxListedTCPFlows bounds the TCP flow table of a report: past it only the
// flows of catalog services are listed and the rest counted.
const maxListedTCPFlows = 5000

// run is one diagnosis: the view it reads and its own working state.
type run struct {
	// Immutable inputs.
	v    *flows.View
	ev   *Evictions
	ttls *flows.TTLView
	// oneSided are the capture points that saw one direction only: their
	// unanswered SYNs are not reported.
	oneSided map[uint16]int
	// explained holds the connections whose failure a more specific
	// finding already accounts for (a blocked NPA socket).
	explained map[*flows.Conn]bool
	// scanners are the clients whose attempts fan out like a port scan.
	scanners map[netip.Addr]bool
	// inputs describe the sources (nil in an eviction hook).
	inputs []*dissect.InputInfo
	// udpTimeout is the UDP timeout in force.
	udpTimeout time.Duration
	// te gathers the evidence of the devices' timeouts (nil: none kept).
	te *timeouts
	// svcMore counts the services table's connections from clients beyond
	// its per-row list (set by serviceTable, for bounds).
	svcMore int
	// svcPast counts the services table's connections past its
	// conversations' bound (svcTable.seen.past).
	svcPast int
}

// component names the pcapng interface a capturing machine logged a packet
// at (a pktmon component: its name, and its description when it has one).
func (a *run) component(input, iface int) string {
	if input < len(a.inputs) && iface < len(a.inputs[input].Interfaces) {
		in := a.inputs[input].Interfaces[iface]
		switch {
		case in.Name != "" && in.Description != "" && in.Description != in.Name:
			return in.Name + " (" + in.Description + ")"
		case in.Name != "":
			return in.Name
		case in.Description != "":
			return in.Description
		}
	}
	return fmt.Sprintf("interface %d", iface)
}

// Run diagnoses the view. ev holds what evicted flows left (nil: none);
// inputs describe the sources (may be nil). It reads v and ev and writes
// neither (but the analyzer's own memos, through v.ServiceOf: so it must
// not run beside the analyzer, and only its own goroutine may call
// ServiceOf), so the analyzer may go on once it returns; the Result owns
// all it holds.
func Run(v *flows.View, ev *Evictions, inputs []*dissect.InputInfo) *Result {
	if ev == nil {
		ev = NewEvictions()
	}
	a := &run{v: v, ev: ev, ttls: v.TTLs, explained: map[*flows.Conn]bool{}, inputs: inputs, udpTimeout: v.Timeouts.UDP, te: ev.te.clone()}
	conns, udps := v.Conns, v.UDPs
	a.oneSided = oneSidedVantages(conns)
	a.scanners = findScanners(conns, ev.fs)
	for s := range ev.scan.scanners {
		a.scanners[s] = true
	}
	r := &Result{Timeouts: v.Timeouts, Packets: v.Packets, First: v.First, Last: v.Last}
	for _, p := range v.CapturePoints {
		r.CapturePoints = append(r.CapturePoints, CapturePoint(p))
	}
	fs := ev.fs.clone()
	fs.solo = a.scanners

	// NPA first: a blocked notification socket is reported as such, and
	// its SYNs are not reported again as a plain blocked SYN.
	sessions := a.npaFindings(conns, udps, fs)
	// The tables on the second core: they only read the flows.
	var tables sync.WaitGroup
	tables.Add(1)
	go func() {
		defer tables.Done()
		a.tables(r, conns, udps)
	}()
	a.synFindings(conns, fs)
	a.compareFindings(conns, udps, fs)
	a.udpFindings(udps, fs)
	foldSymptoms(fs)
	fs.flushScans()
	aggregate(fs, a.scanners, conns)
	r.Brackets = a.te.list()
	bracketFacts(fs, a.te)
	r.Findings = make([]Finding, 0, len(fs.order))
	for _, g := range fs.order {
		r.Findings = append(r.Findings, g.finding())
	}
	r.Findings = append(r.Findings, a.versionFindings(conns, udps)...)
	r.Findings = append(r.Findings, a.captureFindings(conns, inputs)...)
	sort.SliceStable(r.Findings, func(i, j int) bool {
		x, y := &r.Findings[i], &r.Findings[j]
		if x.Severity.Rank() != y.Severity.Rank() {
			return x.Severity.Rank() > y.Severity.Rank()
		}
		return x.First.Before(y.First)
	})
	tables.Wait()
	if len(v.CapturePoints) > 1 {
		r.Bounds = append(r.Bounds, fs.bounds()...)
		if a.svcPast > 0 {
			r.Bounds = append(r.Bounds, Bound{Table: BoundServiceConvs, Limit: maxSeenConvs, Summarised: a.svcPast})
		}
	}
	r.NPASessions = sessions
	r.Hosts = namedHosts(r.Hosts, r.Findings)
	return r
}

// Evictions keeps what flows evicted from the analyzer's tables leave for
// diagnosis: their findings and their rows of the services table. It is
// the analyzer's flows.EvictHook, called on the analyzer's goroutine; Run
// reads it on the same goroutine.
type Evictions struct {
	fs   *findingSet
	svc  *svcTable
	scan scanWatch
	// k2 is each K2 client's latest failed flow among the evicted ones, so
	// that rebinds and failover are seen across eviction (at most maxK2
	// clients; k2Dropped counts those forgotten past it).
	k2        map[k2Key]*k2Flow
	k2Dropped int
	// serverRoles are the roles evicted UDP flows showed their servers.
	serverRoles map[netip.Addr]string
	// udpRows counts evicted service flows the UDP table no longer lists.
	udpRows int
	// te is what evicted UDP flows proved about the devices' timeouts.
	te timeouts
}

// maxK2 bounds the K2 clients whose latest failed flow is remembered
// after eviction.
const maxK2 = 100_000

// NewEvictions returns an empty Evictions.
func NewEvictions() *Evictions {
	return &Evictions{fs: newFindingSet(), svc: newSvcTable(), scan: newScanWatch(),
		k2: map[k2Key]*k2Flow{}, serverRoles: map[netip.Addr]string{}}
}

// EvictConn diagnoses a connection leaving the analyzer at capture time now.
// A scanner's connections only add to its syn_scan aggregate (scan.go).
func (e *Evictions) EvictConn(c *flows.Conn, now time.Time, ttls *flows.TTLView) {
	client := c.Client.Addr()
	failed := !c.FirstSyn.IsZero() && !c.Established
	if failed && e.scan.note(client, c.Server) || e.scan.known(client) {
		e.fs.scanProbe(c)
		return
	}
	a := &run{ttls: ttls}
	a.connFindings(c, e.fs, now)
	a.svcAddConn(e.svc, c)
}

// Vantages learns that the capture has n capture points
// (flows.VantageHook): from the second on, a scan's attempts are counted
// once however many points saw them (findingSet.scanSeen).
func (e *Evictions) Vantages(n int) {
	if n > 1 && e.fs.scanSeen == nil {
		e.fs.scanSeen = new(attemptCounts)
	}
}

// Scanner reports whether client is a known scanner (flows.ProbeHook): the
// analyzer then keeps its new attempts as probes.
func (e *Evictions) Scanner(client netip.Addr) bool { return e.scan.known(client) }

// Probe adds a scanner's attempt the analyzer kept as a probe to its
// syn_scan aggregate, as EvictConn does the scanner's connections.
func (e *Evictions) Probe(p *flows.Probe, now time.Time) {
	kind := SynUnanswered
	if p.Reset {
		kind = SynReset
	}
	e.fs.scanAttempt(&p.FlowHead, kind, p.Frames)
}

// EvictUDP diagnoses a UDP flow leaving the analyzer at capture time now:
// a service flow as the report would have (its own findings, its row of
// the services table, its step in its client's K2 story), any other flow
// for its ICMP errors.
func (e *Evictions) EvictUDP(f *flows.UDPFlow, now time.Time, udpTimeout time.Duration) {
	if f.Service == nil {
		udpICMPFinding(f, nil, e.fs)
		return
	}
	a := &run{ev: e, udpTimeout: udpTimeout, te: &e.te}
	e.udpRows++
	if !a.udpFlowFindings(f, now, e.fs) {
		return
	}
	a.svcAddUDP(e.svc, f)
	if f.Responses > 0 {
		switch f.Service.Name {
		case catalog.K2KeyServer, catalog.K2Shadow:
			e.serverRoles[f.Server.Addr()] = string(f.Service.Name)
		}
	}
	if f.Service.Product != catalog.K2 {
		return
	}
	k := k2Key{f.Vantage, f.Client.Addr()}
	last, ok := e.k2[k]
	if !ok && len(e.k2) >= maxK2 {
		// With no earlier flow to judge against, k2Step would only make
		// the snapshot there is no room for: a flood's every source
		// allocated one (130 MB for 1M sources).
		e.k2Dropped++
		return
	}
	if next := a.k2Step(k, last, f, now, e.fs); next != nil && (ok || len(e.k2) < maxK2) {
		e.k2[k] = next
	}
}
