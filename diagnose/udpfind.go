package diagnose

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// udpWait is how long a request must go unanswered, with the capture still
// running, before it counts as unanswered. KeyAccess retries after a few
// seconds, so a longer wait would only hide retries; a K2 answer that comes
// minutes later is reported as late, not unanswered.
const udpWait = 5 * time.Second

// k2Key is a K2 client as one capture point sees it.
type k2Key struct {
	vantage uint16
	client  netip.Addr
}

// k2Flow is what the rebind and failover rules keep of a client's latest
// failed K2 flow: enough to judge the client's next flow, whether the
// failed one is still live or was evicted long ago.
type k2Flow struct {
	server     netip.AddrPort
	service    *catalog.Service
	first      time.Time
	lastReq    time.Time
	clientPort uint16
	frames     [2]uint64
	nframes    int
}

func snapshotK2(f *flows.UDPFlow) *k2Flow {
	k := &k2Flow{server: f.Server, service: f.Service, first: f.First, lastReq: f.LastReq, clientPort: f.Client.Port()}
	k.nframes = copy(k.frames[:], firstFrames(f, 2))
	return k
}

func (k *k2Flow) framesN(n int) []uint64 { return k.frames[:min(n, k.nframes)] }

// udpFindings diagnoses UDP service flows: ICMP errors, unanswered
// requests, answers later than the UDP timeout, client rebinds and failover
// to a KeyShadow (continuing from what evicted flows left).
func (a *run) udpFindings(udps []*flows.UDPFlow, fs *findingSet) {
	byClient := map[k2Key][]*flows.UDPFlow{}
	for _, f := range udps {
		svc := f.Service
		if a.udpFlowFindings(f, a.v.Last, fs) && svc.Product == catalog.K2 {
			byClient[k2Key{f.Vantage, f.Client.Addr()}] = append(byClient[k2Key{f.Vantage, f.Client.Addr()}], f)
		}
	}
	// Rebinds and failover: per client, its K2 flows in time order.
	keys := make([]k2Key, 0, len(byClient))
	for k := range byClient {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y k2Key) int {
		if c := cmp.Compare(x.vantage, y.vantage); c != 0 {
			return c
		}
		return x.client.Compare(y.client)
	})
	for _, k := range keys {
		fl := byClient[k]
		sort.Slice(fl, func(i, j int) bool { return fl[i].First.Before(fl[j].First) })
		last := a.ev.k2[k] // what evicted flows left; not changed here
		for _, f := range fl {
			last = a.k2Step(k, last, f, a.v.Last, fs)
		}
	}
}

// udpFlowFindings diagnoses one UDP flow on its own, judged at capture
// time end (the end of the capture, or its eviction). It reports whether
// the flow is a service flow the K2 rules look across.
func (a *run) udpFlowFindings(f *flows.UDPFlow, end time.Time, fs *findingSet) bool {
	svc := f.Service
	client, server, port := f.Client.Addr(), f.Server.Addr(), f.Server.Port()
	udpICMPFinding(f, svc, fs)
	if svc == nil || svc.Name == catalog.SWNotifyUDP {
		return false
	}
	a.te.udpFlow(f)
	// Unanswered requests: a flow never answered is critical; a flow
	// whose answers stopped or came only for some requests (on a client
	// side capture, this is how late answers dropped by a firewall show)
	// is a warning.
	if n := f.FinishUnanswered(end, udpWait); f.Requests > 0 && n > 0 && f.ICMP == nil {
		sev := Warning
		if f.Responses == 0 {
			sev = Critical
		}
		g := fs.add(UDPUnanswered, sev, svc, UDP, client, server, port, f.First, f.Last, f.Input, f.Frames)
		x := factsOf[UDPUnansweredFacts](g)
		if g.member(f.Client, f.Vantage) {
			x.Requests += f.Requests
			x.Unanswered += n
			if f.Responses > 0 {
				x.SomeAnswered++
			}
		}
	}
	if f.LateCount > 0 {
		sev := Warning
		if f.LateDelivered >= f.LateCount {
			// Every late datagram was acknowledged at once: this path
			// kept state longer than the threshold assumed.
			sev = Info
		}
		g := fs.add(UDPLateResponse, sev, svc, UDP, client, server, port, f.First, f.Last, f.Input, lateFrames(f))
		x := factsOf[UDPLateFacts](g)
		if g.member(f.Client, f.Vantage) {
			x.Late += f.LateCount
			x.Delivered += f.LateDelivered
			x.Tickles += f.LateTickles
			for _, l := range f.Late {
				g.addSample(l.Silence)
			}
		}
	}
	a.refusedFinding(f, svc, fs)
	return true
}

// k2Step judges a client's next K2 flow f against its latest failed one
// (last, nil when none) and returns the latest failed flow after f.
func (a *run) k2Step(k k2Key, last *k2Flow, f *flows.UDPFlow, end time.Time, fs *findingSet) *k2Flow {
	svc := f.Service
	// A flow failed for its client when requests went unanswered, or (seen
	// from the server side) when its last answer came after the UDP
	// timeout and the client never spoke on it again.
	unans := f.FinishUnanswered(end, udpWait) > 0 || f.Responses == 0 || f.EndedLate
	if last != nil && f.First.After(last.first) {
		switch {
		case svc.Name == catalog.K2Shadow && last.service.Name == catalog.K2KeyServer:
			g := fs.add(K2ShadowFailover, Warning, svc, UDP, k.client, last.server.Addr(), last.server.Port(), last.first, f.Last, f.Input,
				append(append([]uint64(nil), last.framesN(2)...), firstFrames(f, 2)...))
			x := factsOf[FailoverFacts](g)
			if g.member(f.Client, f.Vantage) {
				addCounts(&x.Shadows, map[netip.Addr]int{f.Server.Addr(): 1})
				if f.Responses > 0 {
					x.ShadowAnswered++
				}
			}
		case f.Server == last.server && f.Client.Port() != last.clientPort:
			g := fs.add(K2ClientRebind, Warning, svc, UDP, k.client, f.Server.Addr(), f.Server.Port(), last.first, f.First, f.Input,
				append(append([]uint64(nil), last.framesN(1)...), firstFrames(f, 1)...))
			g.clientPts[last.clientPort] = true
			if g.member(f.Client, f.Vantage) {
				g.addSample(f.First.Sub(last.lastReq))
			}
		}
	}
	if unans && f.Requests > 0 {
		return snapshotK2(f)
	}
	return last
}

// udpICMPFinding reports the ICMP errors a UDP flow drew (UDP notification
// flows are reported by the NPA findings instead).
func udpICMPFinding(f *flows.UDPFlow, svc *catalog.Service, fs *findingSet) {
	if f.ICMP == nil || (svc != nil && svc.Name == catalog.SWNotifyUDP) {
		return
	}
	server := f.Server.Addr()
	g := fs.add(UDPICMPUnreachable, sevForService(svc), svc, UDP, f.Client.Addr(), server, f.Server.Port(), f.First, f.Last, f.Input, f.Frames)
	x := factsOf[ICMPFacts](g)
	if g.member(f.Client, f.Vantage) {
		x.note(ICMPCode{f.ICMP.V6, f.ICMP.Type, f.ICMP.Code}, f.ICMP.From.Addr(), f.ICMPCount)
	}
}

func lateFrames(f *flows.UDPFlow) []uint64 {
	out := make([]uint64, 0, len(f.Late)+2)
	out = append(out, firstFrames(f, 2)...)
	for _, l := range f.Late {
		out = append(out, l.Frame)
	}
	return out
}

func firstFrames(f *flows.UDPFlow, n int) []uint64 {
	if len(f.Frames) < n {
		n = len(f.Frames)
	}
	return f.Frames[:n]
}

// refusedFinding reports the server datagrams of a flow that an ICMP error
// quoted on their way to the client. Such an error after a silence proves
// that a stateful device between them (a NAT whose mapping expired, a
// firewall that forgot the flow) refused the answer, whatever UDP timeout
// is assumed; the silence before it brackets that device's timeout.
func (a *run) refusedFinding(f *flows.UDPFlow, svc *catalog.Service, fs *findingSet) {
	if f.RefusedCount == 0 {
		return
	}
	frames := firstFrames(f, 2)
	for _, r := range f.Refused {
		if r.Frame != 0 {
			frames = append(frames, r.Frame)
		}
		if r.Local != nil {
			frames = append(frames, r.Local.Frame)
		} else {
			frames = append(frames, r.ICMP.Frame)
		}
	}
	g := fs.add(UDPLateResponse, Warning, svc, UDP, f.Client.Addr(), f.Server.Addr(), f.Server.Port(), f.First, f.Last, f.Input, frames)
	x := factsOf[UDPLateFacts](g)
	if !g.member(f.Client, f.Vantage) {
		return
	}
	x.Refused += f.RefusedCount
	for _, r := range f.Refused {
		if r.Local != nil {
			addCounts(&x.DroppedAt, map[string]int{a.component(f.Input, r.Local.Component): 1})
		} else {
			x.note(ICMPCode{r.ICMP.V6, r.ICMP.Type, r.ICMP.Code}, r.ICMP.From.Addr(), 1)
		}
		// A datagram the threshold already called late is counted once.
		if r.Frame == 0 || r.Silence <= a.udpTimeout {
			x.Late++
			g.addSample(r.Silence)
		}
	}
}

// symptomKinds are what KeyAccess does when its KeyServer goes quiet.
var symptomKinds = map[Kind]bool{K2ClientRebind: true, K2ShadowFailover: true}

// causeKinds are the findings a K2 symptom may belong to, the most telling
// first: the requests were refused, went unanswered, or were answered
// late.
var causeKinds = []Kind{UDPICMPUnreachable, UDPUnanswered, UDPLateResponse}

// foldSymptoms folds each client's K2 rebinds and failovers into the
// finding of their cause for the same KeyServer, as evidence: one cause,
// one finding, one fix (a rebind alone asks for a longer UDP timeout, the
// wrong change for a blocked server). A symptom with no such finding
// stays on its own.
func foldSymptoms(fs *findingSet) {
	type causeKey struct {
		kind   Kind
		client netip.Addr
		server netip.Addr
		port   uint16
	}
	causes := map[causeKey]*group{}
	for _, g := range fs.order {
		if g.key.transport == UDP && !symptomKinds[g.key.kind] {
			causes[causeKey{g.key.kind, g.key.client, g.key.server, g.key.port}] = g
		}
	}
	causeOf := func(s *group) *group {
		for _, kind := range causeKinds {
			if g := causes[causeKey{kind, s.key.client, s.key.server, s.key.port}]; g != nil {
				return g
			}
			// A cause merged from many clients, or a merged symptom (a
			// client past the merged group's list may be one of its
			// members too: under a flood the list is full of its sources).
			if m := causes[causeKey{kind, netip.Addr{}, s.key.server, s.key.port}]; m != nil {
				if _, ok := m.clients[s.key.client]; ok || !s.key.client.IsValid() || m.moreClients > 0 {
					return m
				}
			}
		}
		return nil
	}
	keep := fs.order[:0]
	for _, g := range fs.order {
		if !symptomKinds[g.key.kind] {
			keep = append(keep, g)
			continue
		}
		c := causeOf(g)
		h, ok := c.factsHolder()
		if c == nil || !ok {
			keep = append(keep, g)
			continue
		}
		sy := h.symptoms()
		switch g.key.kind {
		case K2ClientRebind:
			sy.Rebinds += g.count
		case K2ShadowFailover:
			sy.Failovers += g.count
			if x, ok := g.facts.(*FailoverFacts); ok {
				addCounts(&sy.Shadows, x.Shadows)
				sy.ShadowAnswered += x.ShadowAnswered
			}
		}
		for in, fr := range g.frames {
			c.frames[in] = appendFrames(c.frames[in], fr)
		}
		if g.key.kind == K2ClientRebind {
			// The new source ports are the cause's flows too: its filter
			// selects them.
			for p := range g.clientPts {
				if len(c.clientPts) <= 40 {
					c.clientPts[p] = true
				}
			}
		}
		if g.first.Before(c.first) {
			c.first = g.first
		}
		if g.last.After(c.last) {
			c.last = g.last
		}
		delete(fs.groups, g.key)
	}
	fs.order = keep
}

// factsHolder returns a cause group's facts, which take K2 symptoms.
func (g *group) factsHolder() (symptomHolder, bool) {
	if g == nil {
		return nil, false
	}
	if g.facts == nil {
		switch g.key.kind {
		case UDPICMPUnreachable:
			g.facts = &ICMPFacts{}
		case UDPUnanswered:
			g.facts = &UDPUnansweredFacts{}
		case UDPLateResponse:
			g.facts = &UDPLateFacts{}
		}
	}
	h, ok := g.facts.(symptomHolder)
	return h, ok
}
