package diagnose

import (
	"net/netip"
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

// udpFindings diagnoses UDP service flows: ICMP errors, unanswered
// requests, answers later than the UDP timeout, client rebinds and failover
// to a KeyShadow.
func (a *run) udpFindings(udps []*flows.UDPFlow, fs *findingSet) {
	type clientKey struct {
		vantage uint16
		client  netip.Addr
	}
	byClient := map[clientKey][]*flows.UDPFlow{}
	for _, f := range udps {
		svc := f.Service
		client, server, port := f.Client.Addr(), f.Server.Addr(), f.Server.Port()
		isNotify := svc != nil && svc.Name == catalog.SWNotifyUDP
		udpICMPFinding(f, svc, fs)
		if svc == nil || isNotify {
			continue
		}
		if svc.Product == catalog.K2 {
			byClient[clientKey{f.Vantage, client}] = append(byClient[clientKey{f.Vantage, client}], f)
		}
		// Unanswered requests: a flow never answered is critical; a flow
		// whose answers stopped or came only for some requests (on a client
		// side capture, this is how late answers dropped by a firewall show)
		// is a warning.
		if n := f.FinishUnanswered(a.v.Last, udpWait); f.Requests > 0 && n > 0 && f.ICMP == nil {
			sev := Warning
			if f.Responses == 0 {
				sev = Critical
			}
			g := fs.add(UDPUnanswered, sev, svc, UDP, client, server, port, f.First, f.Last, f.Input, f.Frames)
			g.member(f.Client.Port())
			x := factsOf[UDPUnansweredFacts](g)
			x.Requests += f.Requests
			x.Unanswered += n
			if f.Responses > 0 {
				x.SomeAnswered++
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
			g.member(f.Client.Port())
			x := factsOf[UDPLateFacts](g)
			x.Late += f.LateCount
			x.Delivered += f.LateDelivered
			x.Tickles += f.LateTickles
			for _, l := range f.Late {
				g.addSample(l.Silence)
			}
		}
		a.refusedFinding(f, svc, fs)
	}
	// Rebinds and failover: per client, its K2 flows in time order.
	keys := make([]clientKey, 0, len(byClient))
	for k := range byClient {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].vantage != keys[j].vantage {
			return keys[i].vantage < keys[j].vantage
		}
		return keys[i].client.Less(keys[j].client)
	})
	for _, k := range keys {
		fl := byClient[k]
		sort.Slice(fl, func(i, j int) bool { return fl[i].First.Before(fl[j].First) })
		var lastUnanswered *flows.UDPFlow
		for _, f := range fl {
			svc := f.Service
			// A flow failed for its client when requests went unanswered, or
			// (seen from the server side) when its last answer came after
			// the UDP timeout and the client never spoke on it again.
			unans := f.FinishUnanswered(a.v.Last, udpWait) > 0 || f.Responses == 0 || f.EndedLate
			if lastUnanswered != nil && f.First.After(lastUnanswered.First) {
				switch {
				case svc.Name == catalog.K2Shadow && lastUnanswered.Service.Name == catalog.K2KeyServer:
					g := fs.add(K2ShadowFailover, Warning, svc, UDP, k.client, lastUnanswered.Server.Addr(), lastUnanswered.Server.Port(), lastUnanswered.First, f.Last, f.Input,
						append(firstFrames(lastUnanswered, 2), firstFrames(f, 2)...))
					x := factsOf[FailoverFacts](g)
					addCounts(&x.Shadows, map[netip.Addr]int{f.Server.Addr(): 1})
					if f.Responses > 0 {
						x.ShadowAnswered++
					}
					g.member(f.Client.Port())
				case f.Server == lastUnanswered.Server && f.Client.Port() != lastUnanswered.Client.Port():
					g := fs.add(K2ClientRebind, Warning, svc, UDP, k.client, f.Server.Addr(), f.Server.Port(), lastUnanswered.First, f.First, f.Input,
						append(firstFrames(lastUnanswered, 1), firstFrames(f, 1)...))
					g.clientPts[lastUnanswered.Client.Port()] = true
					g.member(f.Client.Port())
					g.addSample(f.First.Sub(lastUnanswered.LastReq))
				}
			}
			if unans && f.Requests > 0 {
				lastUnanswered = f
			}
		}
	}
}

// udpICMPFinding reports the ICMP errors a UDP flow drew (UDP notification
// flows are reported by the NPA findings instead).
func udpICMPFinding(f *flows.UDPFlow, svc *catalog.Service, fs *findingSet) {
	if f.ICMP == nil || (svc != nil && svc.Name == catalog.SWNotifyUDP) {
		return
	}
	server := f.Server.Addr()
	g := fs.add(UDPICMPUnreachable, sevForService(svc), svc, UDP, f.Client.Addr(), server, f.Server.Port(), f.First, f.Last, f.Input, f.Frames)
	g.member(f.Client.Port())
	factsOf[ICMPFacts](g).note(ICMPCode{f.ICMP.V6, f.ICMP.Type, f.ICMP.Code}, f.ICMP.From.Addr(), f.ICMPCount)
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
	g.member(f.Client.Port())
	x := factsOf[UDPLateFacts](g)
	x.Refused += f.RefusedCount
	for _, r := range f.Refused {
		if r.Local != nil {
			addCounts(&x.DroppedAt, map[string]int{a.component(f.Input, r.Local.Component): 1})
		} else {
			x.note(ICMPCode{r.ICMP.V6, r.ICMP.Type, r.ICMP.Code}, r.ICMP.From.Addr(), 1)
		}
		// A datagram the threshold already called late is counted once.
		if r.Frame == 0 || r.Silence <= a.v.Timeouts.UDP {
			x.Late++
			g.addSample(r.Silence)
		}
	}
}
