package explain

import (
	"fmt"
	"strings"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

var udpTexts = map[diagnose.Kind]textFunc{
	diagnose.UDPUnanswered:      textUDPUnanswered,
	diagnose.UDPLateResponse:    textUDPLate,
	diagnose.UDPICMPUnreachable: textUDPICMP,
	diagnose.K2ShadowFailover:   textFailover,
	diagnose.K2ClientRebind:     textRebind,
}

func textUDPICMP(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.ICMPFacts](f)
	label := serviceLabel(f.Service, f.Port, UDP)
	codes, froms := c.icmpNotes(x)
	who := "a router or firewall at " + strings.Join(froms, ", ")
	if len(froms) == 1 && froms[0] == c.A(f.Server) {
		who = "the server itself"
	}
	summary := fmt.Sprintf("%s to %s %s: datagrams answered by ICMP %s", c.who(f), c.A(f.Server), label, strings.Join(codes, ", "))
	detail := fmt.Sprintf("Datagrams from %s to %s port %d drew ICMP errors (%s) from %s.", c.who(f), c.A(f.Server), f.Port, strings.Join(codes, ", "), who)
	rec := fmt.Sprintf("Check that the service runs on %s UDP %d and that no firewall rejects UDP %d from %s.", c.A(f.Server), f.Port, f.Port, c.who(f))
	rec += seedRule(f.Service)
	icmpF := icmpField(f.Who().Addr)
	filter := fmt.Sprintf("(%s) || (%s && udp.port==%d)", flowFilter(c, f, UDP), icmpF, f.Port)
	detail += k2Symptoms(c, f, &x.K2Symptoms)
	return Text{summary, detail, rec, filter}
}

func textUDPUnanswered(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.UDPUnansweredFacts](f)
	label := serviceLabel(f.Service, f.Port, UDP)
	summary := fmt.Sprintf("%s to %s %s: %s, none answered", c.who(f), c.A(f.Server), label, Plural(x.Requests, "request", "requests"))
	detail := fmt.Sprintf("%s sent %s from %s to %s port %d and got no datagram back and no ICMP error. "+
		"Either a firewall drops the requests on their way in, or it drops the answers on their way back (a stateful firewall whose UDP entry expired before a late answer), or the server does not run.",
		c.who(f), Plural(x.Requests, "request", "requests"), Plural(f.NClientPorts, "source port", "source ports"), c.A(f.Server), f.Port)
	if x.SomeAnswered > 0 {
		summary = fmt.Sprintf("%s to %s %s: %d of %s went unanswered", c.who(f), c.A(f.Server), label,
			x.Unanswered, Plural(x.Requests, "request", "requests"))
		detail = fmt.Sprintf("%s sent %s from %s to %s port %d; %d got no answer before the client asked again, while others were answered. "+
			"Answers that stop arriving on a flow that otherwise works are what a stateful firewall or NAT does to answers that come after its UDP timeout: it has forgotten the flow and drops them.",
			c.who(f), Plural(x.Requests, "request", "requests"), Plural(f.NClientPorts, "source port", "source ports"), c.A(f.Server), f.Port, x.Unanswered)
	}
	rec := fmt.Sprintf("Allow UDP %d from %s to %s, and answers back to the client's dynamic port, on every firewall between them.", f.Port, c.who(f), c.A(f.Server))
	if f.Service != nil && f.Service.Product == catalog.K2 {
		rec += " K2 seed, Firewall Configuration Rule 1: \"All firewalls between KeyServer and its clients ... must be configured to allow traffic on UDP port 19283 into the KeyServer host address ... the UDP response path to the requester must not be timed out for 15 minutes.\""
	}
	if x.SomeAnswered > 0 {
		rec = fmt.Sprintf("Raise the UDP idle timeout on the firewalls and NATs between %s and %s (and the client's own firewall) above the longest answer delay%s.", c.who(f), c.A(f.Server), measuredNow(x.Bracket))
		if m := Measured(c, x.Bracket); m != "" {
			detail += " Measured: " + m
		}
		if f.Service != nil && f.Service.Product == catalog.K2 {
			rec += " K2 seed, rule 1: \"For best efficiency, the UDP response path to the requester must not be timed out for 15 minutes.\" On Windows clients add keyacc32.exe as a firewall exception."
		}
	}
	detail += k2Symptoms(c, f, &x.K2Symptoms)
	return Text{summary, detail, rec, flowFilter(c, f, UDP)}
}

func textUDPLate(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.UDPLateFacts](f)
	label := serviceLabel(f.Service, f.Port, UDP)
	maxS := f.MaxSample()
	var sil []string
	for _, s := range f.Samples[:min(6, len(f.Samples))] {
		sil = append(sil, dur(s))
	}
	t := c.Timeouts
	summary := fmt.Sprintf("%s to %s %s: %s after a silence longer than the %s UDP timeout (up to %s)",
		c.A(f.Server), c.who(f), label, Plural(x.Late, "datagram", "datagrams"), dur(t.UDP), dur(maxS))
	detail := fmt.Sprintf("%s sent %s to %s after the flow had been silent for %s. The UDP timeout in force is %s (%s): a stateful firewall or NAT with that timeout has already forgotten the flow and drops such a datagram. "+
		"Profiles that would drop the longest one: %s.",
		c.A(f.Server), Plural(x.Late, "datagram", "datagrams"), c.who(f), strings.Join(sil, ", "), dur(t.UDP), t.UDPSource,
		joinOr(catalog.ProfilesDroppingUDP(maxS), "none"))
	// The shortest silence after which a datagram was refused bounds the
	// device's timeout from above.
	minS := maxS
	for _, d := range f.Samples {
		minS = min(minS, d)
	}
	if x.Refused > 0 && len(x.DroppedAt) > 0 {
		// The capture was made on the client, which dropped the answer
		// itself: its own firewall forgot the flow.
		at := localDrops(x.DroppedAt)
		summary = fmt.Sprintf("%s to %s %s: %s after a silence of up to %s dropped on the client itself by %s",
			c.A(f.Server), c.who(f), label, Plural(x.Refused, "datagram", "datagrams"), dur(maxS), at)
		detail = fmt.Sprintf("%s sent %s to %s after the flow had been silent for %s. They reached the client: pktmon logged them arriving and being dropped at %s%s. "+
			"That is proof, whatever UDP timeout is assumed (%s in force): the client's own firewall keeps UDP state for less than %s. Profiles that would drop a datagram after that silence: %s.",
			c.A(f.Server), Plural(x.Late, "datagram", "datagrams"), c.who(f), strings.Join(sil, ", "), at, wfpNote(x.DroppedAt), dur(t.UDP), dur(minS),
			joinOr(catalog.ProfilesDroppingUDP(maxS), "none"))
	} else if x.Refused > 0 {
		// Proof beats the assumed threshold: the device said so itself.
		codes, froms := c.icmpNotes(&x.ICMPFacts)
		who := "a device at " + strings.Join(froms, ", ")
		if len(froms) == 1 && froms[0] == c.who(f) {
			who = fmt.Sprintf("%s, the client's address as this capture point sees it (a NAT in front of the client, or the client host itself)", froms[0])
		}
		summary = fmt.Sprintf("%s to %s %s: %s after a silence of up to %s refused with ICMP %s by %s: the flow was forgotten",
			c.A(f.Server), c.who(f), label, Plural(x.Refused, "datagram", "datagrams"), dur(maxS), strings.Join(codes, ", "), strings.Join(froms, ", "))
		detail = fmt.Sprintf("%s sent %s to %s after the flow had been silent for %s, and each drew an ICMP error (%s) from %s: the stateful device there no longer had the flow (its NAT mapping or firewall entry had expired), so it refused the datagram instead of passing it on. "+
			"That is proof, whatever UDP timeout is assumed (%s in force): the device keeps UDP state for less than %s. Profiles that would drop a datagram after that silence: %s.",
			c.A(f.Server), Plural(x.Late, "datagram", "datagrams"), c.who(f), strings.Join(sil, ", "), strings.Join(codes, ", "), who, dur(t.UDP), dur(minS),
			joinOr(catalog.ProfilesDroppingUDP(maxS), "none"))
	}
	if n := x.Tickles; n > 0 && f.Service != nil && f.Service.Product == catalog.K2 {
		detail += fmt.Sprintf(" %s no request: KeyServer tickles, which it sends to a logged-in client about 7 minutes after the last contact and repeats about every minute until acknowledged; a client that hears nothing for 10 minutes starts over (new source port). Dropped tickles are why the client seems to lose its session.", Plural(n, "of them answered", "of them answered"))
	}
	if d := x.Delivered; d > 0 {
		detail += fmt.Sprintf(" %s acknowledged at once by the client: those got through, so the firewall on this path keeps UDP state longer than %s.", Plural(d, "datagram was", "datagrams were"), dur(t.UDP))
	}
	rec := fmt.Sprintf("Raise the UDP idle timeout for %s port %d on the firewalls and NATs between %s and %s above %s%s.", c.A(f.Server), f.Port, c.who(f), c.A(f.Server), dur(maxS), measuredNow(x.Bracket))
	if f.Service != nil && f.Service.Product == catalog.K2 {
		detail += " KeyServer may answer a client's request as much as 15 minutes later (K2 seed, Ports)."
		rec = fmt.Sprintf("Set the UDP timeout for traffic to %s UDP %d above 15 minutes%s on every firewall between the KeyAccess clients and the KeyServer, including the Windows Firewall on the clients (add keyacc32.exe as an exception). K2 seed, rule 1: \"For best efficiency, the UDP response path to the requester must not be timed out for 15 minutes.\" Admin traffic (KeyConfigure) needs at least 1 minute (rule 3).", c.A(f.Server), f.Port, measuredNow(x.Bracket))
	}
	if m := Measured(c, x.Bracket); m != "" {
		detail += " Measured: " + m
	}
	filter := flowFilter(c, f, UDP)
	if len(x.Codes) > 0 {
		icmpF := icmpField(f.Who().Addr)
		filter = fmt.Sprintf("(%s) || (%s && udp.srcport==%d)", filter, icmpF, f.Port)
	}
	detail += k2Symptoms(c, f, &x.K2Symptoms)
	return Text{summary, detail, rec, filter}
}

func textRebind(c *Context, f *diagnose.Finding) Text {
	summary := fmt.Sprintf("%s: KeyAccess re-established with %s from new source ports after unanswered requests", c.who(f), c.A(f.Server))
	detail := fmt.Sprintf("%s stopped getting answers from %s UDP %d on one source port and started again from another (%s in all). "+
		"KeyAccess does this when its answers are blocked, typically by a firewall whose UDP timeout is shorter than the KeyServer's answer delay.",
		c.who(f), c.A(f.Server), f.Port, Plural(f.NClientPorts, "source port", "source ports"))
	rec := "Raise the UDP timeout for KeyServer traffic above 15 minutes (K2 seed, rule 1) so KeyAccess does not have to re-establish."
	return Text{summary, detail, rec, flowFilter(c, f, UDP)}
}

func textFailover(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.FailoverFacts](f)
	var shadows []string
	for _, a := range sortedAddrs(x.Shadows) {
		shadows = append(shadows, c.A(a))
	}
	summary := fmt.Sprintf("%s: failed over to KeyShadow %s after KeyServer %s went unanswered", c.who(f), strings.Join(shadows, ", "), c.A(f.Server))
	detail := fmt.Sprintf("%s's requests to KeyServer %s UDP %d went unanswered; it then turned to KeyShadow %s on UDP 19315.", c.who(f), c.A(f.Server), f.Port, strings.Join(shadows, ", "))
	if x.ShadowAnswered > 0 {
		detail += " The shadow answered."
	} else {
		detail += " The shadow did not answer either."
	}
	rec := fmt.Sprintf("Allow UDP 19283 from the clients to %s (K2 seed, rule 1) and UDP 19315 to the shadows (rule 2); find out why the KeyServer is unreachable.", c.A(f.Server))
	filter := fmt.Sprintf("(%s) || (%s)", and(c.clientIs(f, "src"), "udp.dstport in {19283, 19315}"), and(c.clientIs(f, "dst"), "udp.srcport in {19283, 19315}"))
	return Text{summary, detail, rec, filter}
}

// k2Symptoms words the rebinds and failovers folded into a finding as
// evidence of its cause ("" none).
func k2Symptoms(c *Context, f *diagnose.Finding, s *diagnose.K2Symptoms) string {
	if s.Rebinds+s.Failovers == 0 {
		return ""
	}
	var parts []string
	if s.Rebinds > 0 {
		parts = append(parts, fmt.Sprintf("re-established from new source ports %s", Plural(s.Rebinds, "time", "times")))
	}
	if s.Failovers > 0 {
		var shadows []string
		for _, a := range sortedAddrs(s.Shadows) {
			shadows = append(shadows, c.A(a))
		}
		answered := "which did not answer either"
		if s.ShadowAnswered > 0 {
			answered = "which answered"
		}
		parts = append(parts, fmt.Sprintf("failed over to KeyShadow %s on UDP 19315 (%s)", strings.Join(shadows, ", "), answered))
	}
	return fmt.Sprintf(" Symptoms of the same cause: KeyAccess on %s %s. They go away with it.", c.who(f), strings.Join(parts, " and "))
}
