package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fwdiag/fwdiag/diagnose"
)

var synTexts = map[diagnose.Kind]textFunc{
	diagnose.SynUnanswered:       textSynUnanswered,
	diagnose.SynReset:            textSynReset,
	diagnose.SynICMPRejected:     textSynICMP,
	diagnose.HandshakeIncomplete: textHandshake,
	diagnose.RSTInjected:         textRSTInjected,
	diagnose.SWInternalBlocked:   textSWInternal,
	diagnose.SynScan:             textScan,
}

func textSynUnanswered(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.SynUnansweredFacts](f)
	label := serviceLabel(f.Service, f.Port, TCP)
	maxSpan := f.MaxSample()
	summary := fmt.Sprintf("%s to %s %s: %s with no answer at all (silently dropped)",
		c.who(f), c.A(f.Server), label, Plural(f.Count, "connection attempt", "connection attempts"))
	detail := fmt.Sprintf("%s sent %s (%s including retransmissions, over up to %s) to %s port %d and received no SYN-ACK, no RST and no ICMP error. "+
		"A silent drop is what a firewall rule with action drop/deny does; a closed port on a reachable host would have answered with a RST.",
		c.who(f), Plural(f.Count, "connection attempt", "connection attempts"), Plural(x.SYNs, "SYN", "SYNs"), dur(maxSpan), c.A(f.Server), f.Port)
	if f.Inputs > 1 {
		detail += " The attempts were unanswered at more than one capture point."
	}
	rec := fmt.Sprintf("Allow TCP %d from %s to %s on every firewall between them (network firewalls and the server's host firewall).", f.Port, c.who(f), c.A(f.Server))
	if len(x.DroppedAt) > 0 {
		at := localDrops(x.DroppedAt)
		summary = fmt.Sprintf("%s to %s %s: %s dropped on the capturing machine by %s",
			c.who(f), c.A(f.Server), label, Plural(f.Count, "connection attempt", "connection attempts"), at)
		detail += fmt.Sprintf(" The capture itself says where: pktmon logged the SYNs reaching %s and being dropped there%s.", at, wfpNote(x.DroppedAt))
		rec = fmt.Sprintf("Allow TCP %d between %s and %s in the firewall of the machine that was captured%s, and on every firewall between them.", f.Port, c.who(f), c.A(f.Server), wfpRule(x.DroppedAt))
	}
	rec += seedRule(f.Service)
	return Text{summary, detail, rec, synFilter(c, f, "")}
}

func textSynReset(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.SynResetFacts](f)
	label := serviceLabel(f.Service, f.Port, TCP)
	summary := fmt.Sprintf("%s to %s %s: %s refused with a TCP reset", c.who(f), c.A(f.Server), label, Plural(f.Count, "connection attempt", "connection attempts"))
	ipf := ipField(f.Who().Addr)
	answer := and(fmt.Sprintf("%s.src==%s", ipf, c.A(f.Server)), c.clientIs(f, "dst"), fmt.Sprintf("tcp.srcport==%d && tcp.flags.reset==1", f.Port))
	if ps := portSet("tcp.dstport", f.ClientPorts); ps != "" {
		answer += " && " + ps
	}
	var detail, rec string
	switch {
	case x.Forged > 0:
		detail = fmt.Sprintf("Each SYN was answered by a RST that claims to come from %s, but it arrived with TTL %d while %s's own packets arrive with TTL %d: "+
			"the reset was made by a device at a different hop count, a firewall rule with action reject (tcp reset) in the path, not by the server.",
			c.A(f.Server), f.TTLs[0], c.A(f.Server), f.TTLs[1])
		rec = fmt.Sprintf("Find the firewall rule that rejects TCP %d from %s to %s and allow it.", f.Port, c.who(f), c.A(f.Server))
	case x.Genuine > 0:
		detail = fmt.Sprintf("Each SYN was answered by a RST with the same TTL (%d) as %s's other packets: most likely the server itself has nothing listening on port %d "+
			"(or a firewall on the server host rejects it).", f.TTLs[0], c.A(f.Server), f.Port)
		rec = fmt.Sprintf("Check that the service is running and listening on %s port %d; if it is, check the server's host firewall.", c.A(f.Server), f.Port)
	default:
		detail = fmt.Sprintf("Each SYN was answered by a RST from %s's address. The capture holds no other packet from %s to compare its TTL with, "+
			"so it cannot tell a closed port from a firewall reject.", c.A(f.Server), c.A(f.Server))
		rec = fmt.Sprintf("Check that the service listens on %s port %d, then that no firewall rejects TCP %d from %s.", c.A(f.Server), f.Port, f.Port, c.who(f))
	}
	rec += seedRule(f.Service)
	return Text{summary, detail, rec, synFilter(c, f, answer)}
}

func textSynICMP(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.ICMPFacts](f)
	label := serviceLabel(f.Service, f.Port, TCP)
	codes, froms := c.icmpNotes(x)
	code := strings.Join(codes, ", ")
	summary := fmt.Sprintf("%s to %s %s: %s rejected by ICMP %s", c.who(f), c.A(f.Server), label, Plural(f.Count, "connection attempt", "connection attempts"), code)
	who := "a router or firewall at " + strings.Join(froms, ", ")
	if len(froms) == 1 && froms[0] == c.A(f.Server) {
		who = "the server itself"
	}
	detail := fmt.Sprintf("Each SYN drew an ICMP destination-unreachable (%s) sent by %s, quoting the SYN.", code, who)
	var rec string
	if x.Filter > 0 {
		detail += " That code is what a firewall rule with action reject (icmp admin-prohibited / host-prohibited) sends."
		rec = fmt.Sprintf("Find the reject rule on %s for TCP %d from %s to %s and allow it.", strings.Join(froms, ", "), f.Port, c.who(f), c.A(f.Server))
	} else {
		rec = fmt.Sprintf("Check routing and the service on %s port %d.", c.A(f.Server), f.Port)
	}
	rec += seedRule(f.Service)
	icmpF := icmpField(f.Who().Addr)
	answer := and(icmpF, c.clientIs(f, "dst"), fmt.Sprintf("tcp.dstport==%d", f.Port))
	return Text{summary, detail, rec, synFilter(c, f, answer)}
}

func textHandshake(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.HandshakeFacts](f)
	label := serviceLabel(f.Service, f.Port, TCP)
	summary := fmt.Sprintf("%s to %s %s: %s answered by SYN-ACK but never completed", c.who(f), c.A(f.Server), label, Plural(f.Count, "connection", "connections"))
	detail := fmt.Sprintf("The server answered with %s, but the client's final ACK of the three-way handshake never appeared. "+
		"The SYN-ACK did not reach the client, or the client's ACK did not come back: a return path blocked by a firewall, an asymmetric route through a stateful device that saw only one direction, or NAT state lost.",
		Plural(x.SynAcks, "SYN-ACK", "SYN-ACKs"))
	if x.Acked > 0 {
		detail = fmt.Sprintf("The client acknowledged the server's SYN-ACK, yet the server went on retransmitting it (%s in all): the client's ACK, and everything it sent after, never reached the server, while the server's packets reach the client. "+
			"A firewall on the client-to-server direction drops them (it never saw the SYN, or a rule lets only SYNs through), or the two directions take different paths through stateful devices.",
			Plural(x.SynAcks, "SYN-ACK", "SYN-ACKs"))
	}
	rec := fmt.Sprintf("Check that replies from %s port %d to %s pass every stateful firewall, and that both directions take the same path.", c.A(f.Server), f.Port, c.who(f))
	if x.Acked > 0 {
		rec = fmt.Sprintf("Check what happens to packets from %s to %s port %d after the SYN: a stateful firewall that saw only the other direction drops them. Make both directions take the same path, or let that firewall see the whole connection.", c.who(f), c.A(f.Server), f.Port)
	}
	// The whole connections: SYN, SYN-ACKs, and what the client sent after
	// (FINs retransmitted to a server that never got them).
	return Text{summary, detail, rec, flowFilter(c, f, TCP)}
}

func textRSTInjected(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.RSTInjectedFacts](f)
	label := serviceLabel(f.Service, f.Port, TCP)
	claims, from, to := c.A(f.Server), c.A(f.Server), c.who(f)
	if x.ClaimsClient > 0 && x.ClaimsServer == 0 {
		claims, from, to = c.who(f), c.who(f), c.A(f.Server)
	}
	summary := fmt.Sprintf("%s to %s %s: %s killed by a reset forged by a middlebox", c.who(f), c.A(f.Server), label, Plural(f.Count, "connection", "connections"))
	detail := fmt.Sprintf("A RST claiming to come from %s arrived with TTL %d, while every genuine packet of %s in the same connection arrived with TTL %d: "+
		"a device at a different hop count (a firewall, IPS or proxy) sent it in %s's name.", claims, f.TTLs[0], claims, f.TTLs[1], claims)
	rec := fmt.Sprintf("Find the device that resets established TCP %d sessions between %s and %s (IPS signature, session limit, idle timeout with reset) and exempt this traffic.", f.Port, c.who(f), c.A(f.Server))
	ipf := ipField(f.Who().Addr)
	filter := fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.flags.reset==1 && %s.ttl==%d", ipf, from, ipf, to, map[string]string{"ip": "ip", "ipv6": "ipv6"}[ipf], f.TTLs[0])
	if ipf == "ipv6" {
		filter = fmt.Sprintf("ipv6.src==%s && ipv6.dst==%s && tcp.flags.reset==1 && ipv6.hlim==%d", from, to, f.TTLs[0])
	}
	return Text{summary, detail, rec, filter}
}

func textSWInternal(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.StatesFacts](f)
	var states []string
	for st, n := range x.States {
		states = append(states, fmt.Sprintf("%s x%d", st, n))
	}
	sort.Strings(states)
	label := serviceLabel(f.Service, f.Port, TCP)
	summary := fmt.Sprintf("Supportworks server %s: its own internal connections to %s are blocked", c.A(f.Server), label)
	detail := fmt.Sprintf("Connections from the server to itself (%s) on %s failed (%s: S0 = no answer, REJ = reset). The Supportworks services and their detached processes talk to each other over TCP on the same computer; a host firewall on the server that interferes with this creates all manner of problems.",
		c.who(f), label, strings.Join(states, ", "))
	rec := "Remove or open the firewall on the Supportworks server for its own services. Supportworks seed, Can I Run Any Kind of Firewall on the Supportworks Server Itself?: \"If you have any firewall software that interferes with this communication, it will create all manner of problems ... we recommend that you do not try to secure the local computer's network.\""
	ipf := ipField(f.Who().Addr)
	return Text{summary, detail, rec, fmt.Sprintf("(%s.src==%s && %s.dst==%s && tcp.dstport==%d && tcp.flags.syn==1) || (%s.src==%s && %s.dst==%s && tcp.srcport==%d && tcp.flags.reset==1)",
		ipf, c.who(f), ipf, c.A(f.Server), f.Port, ipf, c.A(f.Server), ipf, c.who(f), f.Port)}
}
