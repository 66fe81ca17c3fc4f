package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

var npaTexts = map[diagnose.Kind]textFunc{
	diagnose.NPANotificationMissing: textNPAMissing,
	diagnose.NPANotificationLost:    textNPALost,
	diagnose.NPAIdleExceedsTimeout:  textNPAIdle,
	diagnose.NPAOrphanNotification:  textNPAOrphan,
	diagnose.NPAUDPMode:             textNPAUDPMode,
	diagnose.NPAUDPUnreachable:      textNPAUDPUnreachable,
}

func textNPAMissing(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.NPAMissingFacts](f)
	summary := fmt.Sprintf("%s: Supportworks session to %s has no notification connection", c.who(f), c.A(f.Server))
	var detail string
	switch {
	case x.Blocked > 0:
		var states []string
		for st, n := range x.States {
			states = append(states, fmt.Sprintf("%s x%d", st, n))
		}
		sort.Strings(states)
		summary += ": its second connection to 5001 was blocked"
		detail = fmt.Sprintf("The main session (stage 1) to %s port 5001 works, but the client's second connection to 5001 (stage 2, the notification socket) never completed (%s, %s; S0 = no answer at all, REJ = reset). "+
			"Without it the server cannot push NPA notifications: the client's views do not refresh until the user does it by hand. A firewall that limits connections per client, or a rule that admits only the first session, does this.",
			c.A(f.Server), strings.Join(states, ", "), Plural(x.SYNs, "SYN", "SYNs"))
	case x.Midstream > 0:
		detail = "The capture began after the session was established, and no notification connection carried any packet during it. An idle notification socket opened before the capture would look the same, so this is only a hint."
	default:
		detail = fmt.Sprintf("After the login on the main session to %s port 5001 no second connection to 5001 was attempted and no UDP notification arrived. "+
			"Either the client never opened its notification channel, or the server uses legacy UDP notifications (Supportworks up to 7.4.1) and a firewall or NAT in front of the client drops them before this capture point: a capture on the server side shows which.", c.A(f.Server))
	}
	rec := "Allow every Supportworks client two concurrent TCP connections to the server's port 5001 (main session and notification socket) on every firewall, and do not limit connections per source below two per client. " + swNPAQuote
	return Text{summary, detail, rec, flowFilter(c, f, TCP)}
}

func textNPALost(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.NPALostFacts](f)
	idle := f.MaxSample()
	t := c.Timeouts
	summary := fmt.Sprintf("%s: notifications from %s lost on the NPA socket", c.who(f), c.A(f.Server))
	var detail string
	if x.ClientUnacked > 0 && x.Unacked+x.Reset == 0 {
		detail = fmt.Sprintf("What the client sent on its notification socket (at the latest its FIN when it logged out) was retransmitted and never acknowledged, while the main session's packets got through: the server no longer knew the connection. "+
			"A middlebox tore it down after it sat idle for up to %s; the notifications pushed in between never arrived. A capture on the server side shows the teardown.", dur(idle))
	} else if x.Unacked > 0 {
		detail = fmt.Sprintf("The server pushed notification data down the held socket after it had been idle for %s; the client never acknowledged it and the server retransmitted it. "+
			"A stateful firewall that timed out the idle connection drops such a push (the connection is no longer in its state table, and a mid-stream packet is not allowed to start a new one).", dur(idle))
	} else {
		detail = fmt.Sprintf("The notification socket was reset after %s while the main session lived on: a middlebox (firewall idle timeout with reset, IPS) tore it down.", dur(idle))
	}
	if t.TCPIdle > 0 && idle > t.TCPIdle {
		detail += fmt.Sprintf(" That idle time exceeds the TCP idle timeout in force, %s (%s).", dur(t.TCPIdle), t.TCPSource)
	}
	detail += " Profiles whose TCP idle timeout is shorter than that idle time: " + joinOr(catalog.ProfilesDroppingTCP(idle), "none") + "."
	if m := Measured(c, x.Bracket); m != "" {
		detail += " Measured: " + m
	}
	rec := fmt.Sprintf("Raise the established-TCP idle timeout for port 5001 on the firewall between %s and %s above %s (the client waits on the socket indefinitely, and only TCP keepalives, 2 h apart by default, keep it busy%s), or enable TCP keepalives shorter than the firewall timeout on the server (Windows KeepAliveTime; the default of 2 h is longer than most firewall timeouts). %s",
		c.who(f), c.A(f.Server), dur(max(idle, catalog.NPATCPIdle)), prefixed("; ", measuredWords(x.Bracket)), swNPAQuote)
	return Text{summary, detail, rec, flowFilter(c, f, TCP)}
}

func textNPAIdle(c *Context, f *diagnose.Finding) Text {
	idle := f.MaxSample()
	t := c.Timeouts
	summary := fmt.Sprintf("%s: NPA socket to %s sat idle %s, longer than the %s TCP idle timeout", c.who(f), c.A(f.Server), dur(idle), dur(t.TCPIdle))
	detail := fmt.Sprintf("The notification socket carried nothing, not even a keep-alive, for %s. The TCP idle timeout in force is %s (%s): a firewall with that timeout forgets the connection, and the next notification the server pushes is dropped. "+
		"Profiles that would expire it: %s. TCP keepalives default to 2 h on Windows and Linux, too late to help.",
		dur(idle), dur(t.TCPIdle), t.TCPSource, joinOr(catalog.ProfilesDroppingTCP(idle), "none"))
	rec := fmt.Sprintf("Set the firewall's established-TCP idle timeout for port 5001 above %s (longer than the idle seen and than the 2 h default TCP keepalive), or have the server send TCP keepalives more often than the firewall's timeout.", dur(max(idle, catalog.NPATCPIdle)))
	return Text{summary, detail, rec, flowFilter(c, f, TCP)}
}

func textNPAOrphan(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.NPAOrphanFacts](f)
	summary := fmt.Sprintf("%s: notification connection to %s with no main session", c.who(f), c.A(f.Server))
	detail := "A connection to port 5001 on which the server pushes and the client only acknowledges, but " + orphanWhy(x.Why) + "."
	rec := "If the main session was cut by a firewall, the client has lost its session while the server keeps pushing: check for resets or idle timeouts on port 5001."
	return Text{summary, detail, rec, flowFilter(c, f, TCP)}
}

func textNPAUDPMode(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.NPAUDPFacts](f)
	summary := fmt.Sprintf("%s: Supportworks server %s uses legacy UDP notifications (version up to 7.4.1)", c.who(f), c.A(f.Server))
	detail := fmt.Sprintf("The server sent %s from its UDP port 5001 to the client's dynamic port instead of using a second TCP connection. "+
		"These datagrams arrive unsolicited: a firewall or NAT in front of the client drops them unless it has an explicit rule, and they get no retransmission if lost.",
		Plural(x.Datagrams, "notification datagram", "notification datagrams"))
	rec := "Switch notifications to TCP in the Server Configuration utility's Communications tab (7.4.0 and later default to TCP; 7.5.0 removed UDP). Until then the client side must accept UDP from the server's port 5001. " + swUDPQuote
	ipf := ipField(f.Who().Addr)
	filter := and(fmt.Sprintf("%s.src==%s", ipf, c.A(f.Server)), c.clientIs(f, "dst"), "udp.srcport==5001")
	return Text{summary, detail, rec, filter}
}

func textNPAUDPUnreachable(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.NPAUDPFacts](f)
	codes, froms := c.icmpNotes(&x.ICMPFacts)
	if x.NoneArrived > 0 {
		summary := fmt.Sprintf("%s: UDP notifications from %s never arrive", c.who(f), c.A(f.Server))
		has, it, client := "has", "it", "The client never hears"
		if f.Who().N != 0 {
			has, it, client = "have", "them", "The clients never hear"
		}
		detail := fmt.Sprintf("%s %s a main session with %s but no notification socket, while the server sends legacy UDP notifications (from its port 5001) to other clients in this capture. "+
			"No datagram reached %s: a NAT device or firewall in front of %s drops them (behind NAT the server sends to the NAT address and a port with no outbound mapping). %s of changes.", c.who(f), has, c.A(f.Server), c.who(f), it, client)
		rec := "Use TCP notifications (Supportworks 7.4.0 or later; the only mode from 7.5.0), or give the client a firewall exception for UDP from the server's port 5001. " + swUDPQuote
		ipf := ipField(f.Who().Addr)
		return Text{summary, detail, rec, fmt.Sprintf("(%s) || (%s)", and(c.clientIs(f, "addr"), fmt.Sprintf("%s.addr==%s && tcp.port==5001", ipf, c.A(f.Server))),
			and(fmt.Sprintf("%s.src==%s", ipf, c.A(f.Server)), c.clientIs(f, "dst"), "udp.srcport==5001"))}
	}
	summary := fmt.Sprintf("%s: UDP notifications from %s do not arrive (ICMP %s)", c.who(f), c.A(f.Server), strings.Join(codes, ", "))
	detail := fmt.Sprintf("The server's UDP notifications to %s drew ICMP errors (%s) from %s: nothing at that address and port takes them. "+
		"Behind NAT the server sends to the NAT device's address and a port that has no outbound mapping there, so the NAT device refuses them; the client never hears of changes.",
		c.who(f), strings.Join(codes, ", "), strings.Join(froms, ", "))
	rec := "Use TCP notifications (Supportworks 7.4.0 or later; the only mode from 7.5.0): they run over a client-initiated second connection to 5001 that NAT handles. " + swUDPQuote
	ipf := ipField(f.Who().Addr)
	icmpF := icmpField(f.Who().Addr)
	filter := fmt.Sprintf("(%s) || (%s && %s.dst==%s && udp.srcport==5001)", and(fmt.Sprintf("%s.src==%s", ipf, c.A(f.Server)), c.clientIs(f, "dst"), "udp.srcport==5001"), icmpF, ipf, c.A(f.Server))
	return Text{summary, detail, rec, filter}
}

const swNPAQuote = "Supportworks seed, Server-to-Client Notifications: \"The client connects a second time to the server via TCP on port 5001. The server 'holds' this connection open ... The client waits on this socket indefinitely\""
const swUDPQuote = "Supportworks seed, Appendix: \"the server always sends these UDP messages from its own port 5001, to be delivered on the client's dynamic port number\"; \"from Version 7.4.0 onwards, Supportworks was configured by default to use TCP notifications and, from Version 7.5.0 onwards, the option to use UDP was removed altogether.\""
