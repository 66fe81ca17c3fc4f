package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// udpWait is how long a request must go unanswered, with the capture still
// running, before it counts as unanswered. KeyAccess retries after a few
// seconds, so a longer wait would only hide retries; a K2 answer that comes
// minutes later is reported as late, not unanswered.
const udpWait = 5 * time.Second

// k2Late is how late the K2 seed says a KeyServer answer may come.
const k2Late = 15 * time.Minute

// udpFindings diagnoses UDP service flows: ICMP errors, unanswered
// requests, answers later than the UDP timeout, client rebinds and failover
// to a KeyShadow.
func (a *Analyzer) udpFindings(udps []*UDPFlow, fs *findingSet, texts map[*group]func(*group) Finding) {
	type clientKey struct {
		vantage uint16
		client  netip.Addr
	}
	byClient := map[clientKey][]*UDPFlow{}
	for _, f := range udps {
		svc := a.flowService(&f.flowHead, UDP)
		client, server, port := f.Client.Addr(), f.Server.Addr(), f.Server.Port()
		isNotify := svc != nil && svc.Name == "sw-notify-udp"
		a.udpICMPFinding(f, svc, fs)
		if svc == nil || isNotify {
			continue
		}
		if svc.Product == K2 {
			byClient[clientKey{f.Vantage, client}] = append(byClient[clientKey{f.Vantage, client}], f)
		}
		// Unanswered requests: a flow never answered is critical; a flow
		// whose answers stopped or came only for some requests (on a client
		// side capture, this is how late answers dropped by a firewall show)
		// is a warning.
		if n := f.finishUnanswered(a.last, udpWait); f.requests > 0 && n > 0 && f.icmp == nil {
			sev := Warning
			if f.responses == 0 {
				sev = Critical
			}
			g := fs.add("udp_unanswered", sev, svc, UDP, client, server, port, f.First, f.Last, f.Input, f.frames)
			g.member(f.Client.Port())
			g.notes["@requests"] += f.requests
			g.notes["@unanswered"] += n
			if f.responses > 0 {
				g.notes["@some-answered"]++
			}
			texts[g] = a.textUDPUnanswered
		}
		if f.lateCount > 0 {
			sev := Warning
			if f.lateDelivered >= f.lateCount {
				// Every late datagram was acknowledged at once: this path
				// kept state longer than the threshold assumed.
				sev = Info
			}
			g := fs.add("udp_late_response", sev, svc, UDP, client, server, port, f.First, f.Last, f.Input, lateFrames(f))
			g.member(f.Client.Port())
			g.notes["@late"] += f.lateCount
			g.notes["@delivered"] += f.lateDelivered
			g.notes["@tickles"] += f.lateTickles
			for _, l := range f.late {
				g.addSample(l.silence)
			}
			texts[g] = a.textUDPLate
		}
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
		flows := byClient[k]
		sort.Slice(flows, func(i, j int) bool { return flows[i].First.Before(flows[j].First) })
		var lastUnanswered *UDPFlow
		for _, f := range flows {
			svc := a.flowService(&f.flowHead, UDP)
			// A flow failed for its client when requests went unanswered, or
			// (seen from the server side) when its last answer came after
			// the UDP timeout and the client never spoke on it again.
			unans := f.finishUnanswered(a.last, udpWait) > 0 || f.responses == 0 || f.endedLate
			if lastUnanswered != nil && f.First.After(lastUnanswered.First) {
				switch {
				case svc.Name == "k2-shadow" && a.serviceOf(lastUnanswered.Server, UDP).Name == "k2-keyserver":
					g := fs.add("k2_shadow_failover", Warning, svc, UDP, k.client, lastUnanswered.Server.Addr(), lastUnanswered.Server.Port(), lastUnanswered.First, f.Last, f.Input,
						append(firstFrames(lastUnanswered, 2), firstFrames(f, 2)...))
					g.notes["shadow "+f.Server.Addr().String()]++
					if f.responses > 0 {
						g.notes["@shadow-answered"]++
					}
					g.member(f.Client.Port())
					texts[g] = a.textFailover
				case f.Server == lastUnanswered.Server && f.Client.Port() != lastUnanswered.Client.Port():
					g := fs.add("k2_client_rebind", Warning, svc, UDP, k.client, f.Server.Addr(), f.Server.Port(), lastUnanswered.First, f.First, f.Input,
						append(firstFrames(lastUnanswered, 1), firstFrames(f, 1)...))
					g.clientPts[lastUnanswered.Client.Port()] = true
					g.member(f.Client.Port())
					g.addSample(f.First.Sub(lastUnanswered.lastReq))
					texts[g] = a.textRebind
				}
			}
			if unans && f.requests > 0 {
				lastUnanswered = f
			}
		}
	}
}

// udpICMPFinding reports the ICMP errors a UDP flow drew (UDP notification
// flows are reported by the NPA findings instead).
func (a *Analyzer) udpICMPFinding(f *UDPFlow, svc *Service, fs *findingSet) {
	if f.icmp == nil || (svc != nil && svc.Name == "sw-notify-udp") {
		return
	}
	server := f.Server.Addr()
	g := fs.add("udp_icmp_unreachable", sevForService(svc), svc, UDP, f.Client.Addr(), server, f.Server.Port(), f.First, f.Last, f.Input, f.frames)
	g.member(f.Client.Port())
	g.notes[icmpCodeName(f.icmp.v6, f.icmp.typ, f.icmp.code)] += f.icmpCount
	g.notes["from "+f.icmp.from.Addr().String()]++
	fs.texts[g] = a.textUDPICMP
}

func lateFrames(f *UDPFlow) []uint64 {
	out := make([]uint64, 0, len(f.late)+2)
	out = append(out, firstFrames(f, 2)...)
	for _, l := range f.late {
		out = append(out, l.frame)
	}
	return out
}

func firstFrames(f *UDPFlow, n int) []uint64 {
	if len(f.frames) < n {
		n = len(f.frames)
	}
	return f.frames[:n]
}

func udpFilter(g *group) string { return flowFilter(g, UDP) }

func (a *Analyzer) textUDPICMP(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, UDP)
	codes, froms := g.icmpNotes()
	who := "a router or firewall at " + strings.Join(froms, ", ")
	if len(froms) == 1 && froms[0] == g.key.server.String() {
		who = "the server itself"
	}
	summary := fmt.Sprintf("%s to %s %s: datagrams answered by ICMP %s", g.client(), g.key.server, label, strings.Join(codes, ", "))
	detail := fmt.Sprintf("Datagrams from %s to %s port %d drew ICMP errors (%s) from %s.", g.client(), g.key.server, g.key.port, strings.Join(codes, ", "), who)
	rec := fmt.Sprintf("Check that the service runs on %s UDP %d and that no firewall rejects UDP %d from %s.", g.key.server, g.key.port, g.key.port, g.client())
	rec += seedRule(g.service)
	icmpF := "icmp"
	if !g.client().Is4() {
		icmpF = "icmpv6"
	}
	filter := fmt.Sprintf("(%s) || (%s && udp.port==%d)", udpFilter(g), icmpF, g.key.port)
	return g.finding(summary, detail, rec, "high", filter)
}

func (a *Analyzer) textUDPUnanswered(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, UDP)
	summary := fmt.Sprintf("%s to %s %s: %s, none answered", g.client(), g.key.server, label, plural(g.notes["@requests"], "request", "requests"))
	detail := fmt.Sprintf("%s sent %s from %s to %s port %d and got no datagram back and no ICMP error. "+
		"Either a firewall drops the requests on their way in, or it drops the answers on their way back (a stateful firewall whose UDP entry expired before a late answer), or the server does not run.",
		g.client(), plural(g.notes["@requests"], "request", "requests"), plural(len(g.clientPts), "source port", "source ports"), g.key.server, g.key.port)
	if g.notes["@some-answered"] > 0 {
		summary = fmt.Sprintf("%s to %s %s: %s of %s went unanswered", g.client(), g.key.server, label,
			plural(g.notes["@unanswered"], "request", "requests"), plural(g.notes["@requests"], "request", "requests"))
		detail = fmt.Sprintf("%s sent %s from %s to %s port %d; %d got no answer before the client asked again, while others were answered. "+
			"Answers that stop arriving on a flow that otherwise works are what a stateful firewall or NAT does to answers that come after its UDP timeout: it has forgotten the flow and drops them.",
			g.client(), plural(g.notes["@requests"], "request", "requests"), plural(len(g.clientPts), "source port", "source ports"), g.key.server, g.key.port, g.notes["@unanswered"])
	}
	rec := fmt.Sprintf("Allow UDP %d from %s to %s, and answers back to the client's dynamic port, on every firewall between them.", g.key.port, g.client(), g.key.server)
	if g.service != nil && g.service.Product == K2 {
		rec += " K2 seed, Firewall Configuration Rule 1: \"All firewalls between KeyServer and its clients ... must be configured to allow traffic on UDP port 19283 into the KeyServer host address ... the UDP response path to the requester must not be timed out for 15 minutes.\""
	}
	if g.notes["@some-answered"] > 0 {
		rec = fmt.Sprintf("Raise the UDP idle timeout on the firewalls and NATs between %s and %s (and the client's own firewall) above the longest answer delay.", g.client(), g.key.server)
		if g.service != nil && g.service.Product == K2 {
			rec += " K2 seed, rule 1: \"For best efficiency, the UDP response path to the requester must not be timed out for 15 minutes.\" On Windows clients add keyacc32.exe as a firewall exception."
		}
	}
	return g.finding(summary, detail, rec, "medium", udpFilter(g))
}

func (a *Analyzer) textUDPLate(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, UDP)
	maxS := g.maxSample()
	var sil []string
	for _, s := range g.samples[:min(6, len(g.samples))] {
		sil = append(sil, dur(s))
	}
	t := a.cfg.Timeouts
	summary := fmt.Sprintf("%s to %s %s: %s after a silence longer than the %s UDP timeout (up to %s)",
		g.key.server, g.client(), label, plural(g.notes["@late"], "datagram", "datagrams"), dur(t.UDP), dur(maxS))
	detail := fmt.Sprintf("%s sent %s to %s after the flow had been silent for %s. The UDP timeout in force is %s (%s): a stateful firewall or NAT with that timeout has already forgotten the flow and drops such a datagram. "+
		"Profiles that would drop the longest one: %s.",
		g.key.server, plural(g.notes["@late"], "datagram", "datagrams"), g.client(), strings.Join(sil, ", "), dur(t.UDP), t.UDPSource,
		joinOr(ProfilesDroppingUDP(maxS), "none"))
	if n := g.notes["@tickles"]; n > 0 && g.service != nil && g.service.Product == K2 {
		detail += fmt.Sprintf(" %s no request: KeyServer tickles, which it sends to a logged-in client about 7 minutes after the last contact and repeats about every minute until acknowledged; a client that hears nothing for 10 minutes starts over (new source port). Dropped tickles are why the client seems to lose its session.", plural(n, "of them answered", "of them answered"))
	}
	if d := g.notes["@delivered"]; d > 0 {
		detail += fmt.Sprintf(" %s acknowledged at once by the client: those got through, so the firewall on this path keeps UDP state longer than %s.", plural(d, "datagram was", "datagrams were"), dur(t.UDP))
	}
	rec := fmt.Sprintf("Raise the UDP idle timeout for %s port %d on the firewalls and NATs between %s and %s above %s.", g.key.server, g.key.port, g.client(), g.key.server, dur(maxS))
	if g.service != nil && g.service.Product == K2 {
		detail += " KeyServer may answer a client's request as much as 15 minutes later (K2 seed, Ports)."
		rec = fmt.Sprintf("Set the UDP timeout for traffic to %s UDP %d above 15 minutes on every firewall between the KeyAccess clients and the KeyServer, including the Windows Firewall on the clients (add keyacc32.exe as an exception). K2 seed, rule 1: \"For best efficiency, the UDP response path to the requester must not be timed out for 15 minutes.\" Admin traffic (KeyConfigure) needs at least 1 minute (rule 3).", g.key.server, g.key.port)
	}
	return g.finding(summary, detail, rec, "medium", udpFilter(g))
}

func (a *Analyzer) textRebind(g *group) Finding {
	summary := fmt.Sprintf("%s: KeyAccess re-established with %s from new source ports after unanswered requests", g.client(), g.key.server)
	detail := fmt.Sprintf("%s stopped getting answers from %s UDP %d on one source port and started again from another (%s in all). "+
		"KeyAccess does this when its answers are blocked, typically by a firewall whose UDP timeout is shorter than the KeyServer's answer delay.",
		g.client(), g.key.server, g.key.port, plural(len(g.clientPts), "source port", "source ports"))
	rec := "Raise the UDP timeout for KeyServer traffic above 15 minutes (K2 seed, rule 1) so KeyAccess does not have to re-establish."
	return g.finding(summary, detail, rec, "medium", udpFilter(g))
}

func (a *Analyzer) textFailover(g *group) Finding {
	var shadows []string
	for n := range g.notes {
		if strings.HasPrefix(n, "shadow ") {
			shadows = append(shadows, strings.TrimPrefix(n, "shadow "))
		}
	}
	sort.Strings(shadows)
	summary := fmt.Sprintf("%s: failed over to KeyShadow %s after KeyServer %s went unanswered", g.client(), strings.Join(shadows, ", "), g.key.server)
	detail := fmt.Sprintf("%s's requests to KeyServer %s UDP %d went unanswered; it then turned to KeyShadow %s on UDP 19315.", g.client(), g.key.server, g.key.port, strings.Join(shadows, ", "))
	if g.notes["@shadow-answered"] > 0 {
		detail += " The shadow answered."
	} else {
		detail += " The shadow did not answer either."
	}
	rec := fmt.Sprintf("Allow UDP 19283 from the clients to %s (K2 seed, rule 1) and UDP 19315 to the shadows (rule 2); find out why the KeyServer is unreachable.", g.key.server)
	f := ipField(g.client())
	filter := fmt.Sprintf("%s.src==%s && (udp.dstport==19283 || udp.dstport==19315) || %s.dst==%s && (udp.srcport==19283 || udp.srcport==19315)", f, g.client(), f, g.client())
	return g.finding(summary, detail, rec, "high", filter)
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, ", ")
}
