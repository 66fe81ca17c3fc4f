package flows

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// synWait is how long the capture must go on after a SYN before its lack
// of an answer means anything: Linux and Windows retransmit a SYN after
// about 1 s (RFC 6298 initial RTO), so a second's silence is already a
// retransmission's worth.
const synWait = time.Second

// icmpCodeName names ICMP/ICMPv6 destination-unreachable codes in the words
// firewall administrators use.
func icmpCodeName(v6 bool, typ, code uint8) string {
	if v6 {
		switch typ {
		case 1:
			switch code {
			case 0:
				return "no-route"
			case 1:
				return "admin-prohibited"
			case 2:
				return "beyond-scope"
			case 3:
				return "addr-unreachable"
			case 4:
				return "port-unreachable"
			case 5:
				return "policy-fail"
			case 6:
				return "reject-route"
			}
			return fmt.Sprintf("unreachable code %d", code)
		case 2:
			return "packet-too-big"
		case 3:
			return "time-exceeded"
		case 4:
			return "parameter-problem"
		}
		return fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
	}
	switch typ {
	case 3:
		switch code {
		case 0:
			return "net-unreachable"
		case 1:
			return "host-unreachable"
		case 2:
			return "prot-unreachable"
		case 3:
			return "port-unreachable"
		case 4:
			return "frag-needed"
		case 9:
			return "net-prohibited"
		case 10:
			return "host-prohibited"
		case 13:
			return "admin-prohibited"
		}
		return fmt.Sprintf("unreachable code %d", code)
	case 11:
		return "time-exceeded"
	case 12:
		return "parameter-problem"
	}
	return fmt.Sprintf("ICMP type %d code %d", typ, code)
}

// icmpIsFilter reports whether an ICMP code says a filter refused the packet
// (as opposed to a closed port or a routing failure).
func icmpIsFilter(v6 bool, typ, code uint8) bool {
	if v6 {
		return typ == 1 && (code == 1 || code == 5 || code == 6)
	}
	return typ == 3 && (code == 9 || code == 10 || code == 13)
}

// icmpIsPortUnreachable reports a closed port on the host itself.
func icmpIsPortUnreachable(v6 bool, typ, code uint8) bool {
	if v6 {
		return typ == 1 && code == 4
	}
	return typ == 3 && code == 3
}

// sevForService rates a failure by what it breaks: a product service is
// critical; an outbound helper (PRS, version check, status mail) or a port
// outside the catalog is a warning.
func sevForService(svc *Service) string {
	if svc != nil && !svc.Outbound {
		return Critical
	}
	return Warning
}

// synFindings diagnoses connection attempts: unanswered, reset, rejected by
// ICMP, handshake never completed, and resets forged by a middlebox.
func (a *Analyzer) synFindings(conns []*Conn, fs *findingSet) {
	for _, c := range conns {
		if !c.explained {
			a.connFindings(c, fs, a.last)
		}
	}
}

// connFindings adds what one connection shows to fs. end is the capture
// time up to which the connection could still have been answered (the end
// of the capture, or the time it was evicted).
func (a *Analyzer) connFindings(c *Conn, fs *findingSet, end time.Time) {
	texts := fs.texts
	{
		svc := a.flowService(&c.flowHead, TCP)
		client, server, port := c.Client.Addr(), c.Server.Addr(), c.Server.Port()
		state := c.ConnState()
		origSyn := !c.firstSyn.IsZero()
		if internal(c) && svc != nil && svc.Product == Supportworks && origSyn && !c.synAck {
			// The Supportworks services talk TCP to each other on the
			// server itself; the seed warns that a host firewall there
			// breaks them.
			g := fs.add("sw_internal_blocked", Critical, svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			g.notes["state "+state]++
			texts[g] = a.textSWInternal
			return
		}
		switch {
		case origSyn && !c.synAck && c.icmp != nil:
			g := fs.add("syn_icmp_rejected", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			name := icmpCodeName(c.icmp.v6, c.icmp.typ, c.icmp.code)
			g.notes[name]++
			g.notes["from "+c.icmp.from.Addr().String()]++
			if icmpIsFilter(c.icmp.v6, c.icmp.typ, c.icmp.code) {
				g.notes["@filter"]++
			}
			texts[g] = a.textSynICMP
		case state == "REJ":
			g := fs.add("syn_reset", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			r := &c.dir[1]
			if gt, ok := a.genuineTTL(c.Vantage, server); ok {
				g.ttls = [2]uint8{r.rstTTL, gt}
				if gt != r.rstTTL {
					g.notes["@forged"]++
				} else {
					g.notes["@genuine"]++
				}
			}
			texts[g] = a.textSynReset
		case origSyn && !c.synAck && (state == "S0" || state == "SH" || state == "RSTOS0"):
			if end.Sub(c.firstSyn) < synWait && c.dir[0].syn < 2 {
				return // the capture ended before an answer was due
			}
			if _, ok := a.oneSided[c.Vantage]; ok {
				return // the answers may be on the path this capture misses
			}
			g := fs.add("syn_unanswered", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			g.notes["@syns"] += c.dir[0].syn
			g.addSample(c.lastSyn.Sub(c.firstSyn))
			texts[g] = a.textSynUnanswered
		case origSyn && c.synAck && !c.established && c.dir[0].payload == 0 && c.dir[1].payload == 0 && c.dir[0].rst == 0:
			if end.Sub(c.synAckTime) < synWait && c.dir[1].syn < 2 {
				return
			}
			g := fs.add("handshake_incomplete", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			g.notes["@synacks"] += c.dir[1].syn
			texts[g] = a.textHandshake
		case origSyn && c.synAck && c.established && c.dir[1].syn >= 3 && c.dir[1].payload == 0 && c.dir[0].rst == 0:
			// Seen from the client: it acknowledged the SYN-ACK, yet the
			// server kept retransmitting it (twice or more: one lost ACK
			// recovers after one): the client's packets never reach the
			// server while the server's reach the client.
			g := fs.add("handshake_incomplete", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.frames)
			g.member(c.Client.Port())
			g.notes["@synacks"] += c.dir[1].syn
			g.notes["@acked"]++
			texts[g] = a.textHandshake
		}
		// A reset inside an established connection whose TTL is not that of
		// the genuine packets of the side it claims to come from.
		if c.established {
			for dir := 0; dir < 2; dir++ {
				d := &c.dir[dir]
				if d.rst == 0 || !d.ttlSet || d.ttlVaries || d.rstTTL == d.ttl {
					continue
				}
				g := fs.add("rst_injected", sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, []uint64{d.rstFrame})
				g.member(c.Client.Port())
				g.ttls = [2]uint8{d.rstTTL, d.ttl}
				if dir == 0 {
					g.notes["@claims-client"]++
				} else {
					g.notes["@claims-server"]++
				}
				g.addSample(d.rstTime.Sub(c.First))
				texts[g] = a.textRSTInjected
			}
		}
	}
}

// synFilter selects a group's SYNs (and, with answers, the replies).
func synFilter(g *group, answer string) string {
	f := ipField(g.client())
	parts := []string{
		fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.dstport==%d && tcp.flags.syn==1 && tcp.flags.ack==0", f, g.client(), f, g.key.server, g.key.port),
	}
	if ps := portSet("tcp.srcport", g.clientPts); ps != "" {
		parts[0] += " && " + ps
	}
	if answer != "" {
		return "(" + parts[0] + ") || (" + answer + ")"
	}
	return parts[0]
}

func (a *Analyzer) textSynUnanswered(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, TCP)
	maxSpan := g.maxSample()
	summary := fmt.Sprintf("%s to %s %s: %s with no answer at all (silently dropped)",
		g.client(), g.key.server, label, plural(g.count, "connection attempt", "connection attempts"))
	detail := fmt.Sprintf("%s sent %s (%s including retransmissions, over up to %s) to %s port %d and received no SYN-ACK, no RST and no ICMP error. "+
		"A silent drop is what a firewall rule with action drop/deny does; a closed port on a reachable host would have answered with a RST.",
		g.client(), plural(g.count, "connection attempt", "connection attempts"), plural(g.notes["@syns"], "SYN", "SYNs"), dur(maxSpan), g.key.server, g.key.port)
	if len(g.inputs) > 1 {
		detail += " The attempts were unanswered at more than one capture point."
	}
	rec := fmt.Sprintf("Allow TCP %d from %s to %s on every firewall between them (network firewalls and the server's host firewall).", g.key.port, g.client(), g.key.server)
	rec += seedRule(g.service)
	return g.finding(summary, detail, rec, "high", synFilter(g, ""))
}

func (a *Analyzer) textSynReset(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, TCP)
	summary := fmt.Sprintf("%s to %s %s: %s refused with a TCP reset", g.client(), g.key.server, label, plural(g.count, "connection attempt", "connection attempts"))
	f := ipField(g.client())
	answer := fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.srcport==%d && tcp.flags.reset==1", f, g.key.server, f, g.client(), g.key.port)
	if ps := portSet("tcp.dstport", g.clientPts); ps != "" {
		answer += " && " + ps
	}
	var detail, rec, conf string
	switch {
	case g.notes["@forged"] > 0:
		detail = fmt.Sprintf("Each SYN was answered by a RST that claims to come from %s, but it arrived with TTL %d while %s's own packets arrive with TTL %d: "+
			"the reset was made by a device at a different hop count, a firewall rule with action reject (tcp reset) in the path, not by the server.",
			g.key.server, g.ttls[0], g.key.server, g.ttls[1])
		rec = fmt.Sprintf("Find the firewall rule that rejects TCP %d from %s to %s and allow it.", g.key.port, g.client(), g.key.server)
		conf = "high"
	case g.notes["@genuine"] > 0:
		detail = fmt.Sprintf("Each SYN was answered by a RST with the same TTL (%d) as %s's other packets: most likely the server itself has nothing listening on port %d "+
			"(or a firewall on the server host rejects it).", g.ttls[0], g.key.server, g.key.port)
		rec = fmt.Sprintf("Check that the service is running and listening on %s port %d; if it is, check the server's host firewall.", g.key.server, g.key.port)
		conf = "medium"
	default:
		detail = fmt.Sprintf("Each SYN was answered by a RST from %s's address. The capture holds no other packet from %s to compare its TTL with, "+
			"so it cannot tell a closed port from a firewall reject.", g.key.server, g.key.server)
		rec = fmt.Sprintf("Check that the service listens on %s port %d, then that no firewall rejects TCP %d from %s.", g.key.server, g.key.port, g.key.port, g.client())
		conf = "medium"
	}
	rec += seedRule(g.service)
	return g.finding(summary, detail, rec, conf, synFilter(g, answer))
}

func (a *Analyzer) textSynICMP(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, TCP)
	codes, froms := g.icmpNotes()
	code := strings.Join(codes, ", ")
	summary := fmt.Sprintf("%s to %s %s: %s rejected by ICMP %s", g.client(), g.key.server, label, plural(g.count, "connection attempt", "connection attempts"), code)
	who := "a router or firewall at " + strings.Join(froms, ", ")
	if len(froms) == 1 && froms[0] == g.key.server.String() {
		who = "the server itself"
	}
	detail := fmt.Sprintf("Each SYN drew an ICMP destination-unreachable (%s) sent by %s, quoting the SYN.", code, who)
	var rec string
	if g.notes["@filter"] > 0 {
		detail += " That code is what a firewall rule with action reject (icmp admin-prohibited / host-prohibited) sends."
		rec = fmt.Sprintf("Find the reject rule on %s for TCP %d from %s to %s and allow it.", strings.Join(froms, ", "), g.key.port, g.client(), g.key.server)
	} else {
		rec = fmt.Sprintf("Check routing and the service on %s port %d.", g.key.server, g.key.port)
	}
	rec += seedRule(g.service)
	icmpF := "icmp"
	if !g.client().Is4() {
		icmpF = "icmpv6"
	}
	answer := fmt.Sprintf("%s && %s.dst==%s && tcp.dstport==%d", icmpF, ipField(g.client()), g.client(), g.key.port)
	return g.finding(summary, detail, rec, "high", synFilter(g, answer))
}

func (a *Analyzer) textHandshake(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, TCP)
	summary := fmt.Sprintf("%s to %s %s: %s answered by SYN-ACK but never completed", g.client(), g.key.server, label, plural(g.count, "connection", "connections"))
	detail := fmt.Sprintf("The server answered with %s, but the client's final ACK of the three-way handshake never appeared. "+
		"The SYN-ACK did not reach the client, or the client's ACK did not come back: a return path blocked by a firewall, an asymmetric route through a stateful device that saw only one direction, or NAT state lost.",
		plural(g.notes["@synacks"], "SYN-ACK", "SYN-ACKs"))
	if g.notes["@acked"] > 0 {
		detail = fmt.Sprintf("The client acknowledged the server's SYN-ACK, yet the server went on retransmitting it (%s in all): the client's ACK, and everything it sent after, never reached the server, while the server's packets reach the client. "+
			"A firewall on the client-to-server direction drops them (it never saw the SYN, or a rule lets only SYNs through), or the two directions take different paths through stateful devices.",
			plural(g.notes["@synacks"], "SYN-ACK", "SYN-ACKs"))
	}
	rec := fmt.Sprintf("Check that replies from %s port %d to %s pass every stateful firewall, and that both directions take the same path.", g.key.server, g.key.port, g.client())
	if g.notes["@acked"] > 0 {
		rec = fmt.Sprintf("Check what happens to packets from %s to %s port %d after the SYN: a stateful firewall that saw only the other direction drops them. Make both directions take the same path, or let that firewall see the whole connection.", g.client(), g.key.server, g.key.port)
	}
	f := ipField(g.client())
	answer := fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.srcport==%d && tcp.flags.syn==1 && tcp.flags.ack==1", f, g.key.server, f, g.client(), g.key.port)
	return g.finding(summary, detail, rec, "medium", synFilter(g, answer))
}

func (a *Analyzer) textRSTInjected(g *group) Finding {
	label := serviceLabel(g.service, g.key.port, TCP)
	var claims, from, to fmt.Stringer = g.key.server, g.key.server, g.client()
	if g.notes["@claims-client"] > 0 && g.notes["@claims-server"] == 0 {
		claims, from, to = g.client(), g.client(), g.key.server
	}
	summary := fmt.Sprintf("%s to %s %s: %s killed by a reset forged by a middlebox", g.client(), g.key.server, label, plural(g.count, "connection", "connections"))
	detail := fmt.Sprintf("A RST claiming to come from %s arrived with TTL %d, while every genuine packet of %s in the same connection arrived with TTL %d: "+
		"a device at a different hop count (a firewall, IPS or proxy) sent it in %s's name.", claims, g.ttls[0], claims, g.ttls[1], claims)
	rec := fmt.Sprintf("Find the device that resets established TCP %d sessions between %s and %s (IPS signature, session limit, idle timeout with reset) and exempt this traffic.", g.key.port, g.client(), g.key.server)
	f := ipField(g.client())
	filter := fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.flags.reset==1 && %s.ttl==%d", f, from, f, to, map[string]string{"ip": "ip", "ipv6": "ipv6"}[f], g.ttls[0])
	if f == "ipv6" {
		filter = fmt.Sprintf("ipv6.src==%s && ipv6.dst==%s && tcp.flags.reset==1 && ipv6.hlim==%d", from, to, g.ttls[0])
	}
	return g.finding(summary, detail, rec, "high", filter)
}

// seedRule quotes the product rule that applies to a service, if any.
func seedRule(svc *Service) string {
	if svc == nil {
		return ""
	}
	switch svc.Product {
	case Supportworks:
		return fmt.Sprintf(" Supportworks needs %s open from its clients to the server (%s: \"Each service is provided as a TCP protocol connection from the Supportworks server on specific ports - which you have to ensure your firewall keeps open\").", serviceLabel(svc, svc.Port, svc.Transport), svc.Source)
	case K2:
		switch svc.Name {
		case "k2-prs":
			return fmt.Sprintf(" While %s is blocked the Product Recognition Service cannot work: KeyServer gets no new product definitions (KeyConfigure's manual \"Find Product Definitions\" from an unblocked computer still can). %s: \"All firewalls between KeyServer and prs.sassafras.com must be configured to allow https port 443 (or optionally, http port 80) connections initiated from the KeyServer computer\".", serviceLabel(svc, svc.Port, svc.Transport), svc.Source)
		case "k2-version-check":
			return fmt.Sprintf(" While %s is blocked KeyConfigure waits for its version check at every launch: turn the version check off in KeyConfigure's Config Menu, or allow HTTP to www.sassafras.com (%s).", serviceLabel(svc, svc.Port, svc.Transport), svc.Source)
		case "k2-smtp":
			return fmt.Sprintf(" While %s is blocked KeyServer status and warning mail is not delivered (%s).", serviceLabel(svc, svc.Port, svc.Transport), svc.Source)
		}
		return fmt.Sprintf(" K2 needs %s (%s).", serviceLabel(svc, svc.Port, svc.Transport), svc.Source)
	}
	return ""
}

// internal reports whether a connection stays on one host (loopback, or the
// same address at both ends).
func internal(c *Conn) bool {
	a, b := c.Client.Addr(), c.Server.Addr()
	return a == b || (a.IsLoopback() && b.IsLoopback())
}

func (a *Analyzer) textSWInternal(g *group) Finding {
	var states []string
	for n, c := range g.notes {
		if strings.HasPrefix(n, "state ") {
			states = append(states, fmt.Sprintf("%s x%d", strings.TrimPrefix(n, "state "), c))
		}
	}
	sort.Strings(states)
	label := serviceLabel(g.service, g.key.port, TCP)
	summary := fmt.Sprintf("Supportworks server %s: its own internal connections to %s are blocked", g.key.server, label)
	detail := fmt.Sprintf("Connections from the server to itself (%s) on %s failed (%s: S0 = no answer, REJ = reset). The Supportworks services and their detached processes talk to each other over TCP on the same computer; a host firewall on the server that interferes with this creates all manner of problems.",
		g.client(), label, strings.Join(states, ", "))
	rec := "Remove or open the firewall on the Supportworks server for its own services. Supportworks seed, Can I Run Any Kind of Firewall on the Supportworks Server Itself?: \"If you have any firewall software that interferes with this communication, it will create all manner of problems ... we recommend that you do not try to secure the local computer's network.\""
	f := ipField(g.client())
	return g.finding(summary, detail, rec, "high", fmt.Sprintf("%s.src==%s && %s.dst==%s && tcp.dstport==%d && tcp.flags.syn==1", f, g.client(), f, g.key.server, g.key.port))
}
