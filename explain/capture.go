package explain

import (
	"fmt"
	"strings"

	"github.com/fwdiag/fwdiag/diagnose"
)

var captureTexts = map[diagnose.Kind]textFunc{
	diagnose.SWVersionInferred:      textVersion,
	diagnose.CaptureTruncated:       textCapture,
	diagnose.CaptureInterrupted:     textCapture,
	diagnose.CaptureOneSided:        textCapture,
	diagnose.CaptureDrops:           textCapture,
	diagnose.CaptureDuplicates:      textCapture,
	diagnose.CaptureLinkUnsupported: textLinkUnsupported,
	diagnose.CaptureUndecoded:       textUndecoded,
}

// linkTypeNames names the link types people bring that fwdiag does not
// analyse (tcpdump's LINKTYPE_ values).
var linkTypeNames = map[int]string{
	6: "Token Ring", 9: "PPP", 10: "FDDI", 50: "PPP in HDLC", 104: "Cisco HDLC", 105: "IEEE 802.11",
	107: "Frame Relay", 119: "802.11 with Prism header", 127: "802.11 with radiotap header",
	143: "DOCSIS", 163: "802.11 with AVS header", 187: "Bluetooth HCI", 195: "IEEE 802.15.4",
	201: "Bluetooth HCI with direction", 215: "IEEE 802.15.4 without FCS", 239: "Linux NFLOG",
	249: "USB (Linux, mmapped)", 251: "Bluetooth LE", 283: "Bluetooth LE (Ellisys)",
}

func textLinkUnsupported(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.CaptureFacts](f)
	types := x.LinkTypes
	if len(types) == 0 {
		types = []diagnose.LinkCount{{LinkType: x.LinkType, Skipped: x.Skipped}}
	}
	var parts []string
	for _, lt := range types {
		name := linkTypeNames[lt.LinkType]
		if name == "" {
			name = "unknown"
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", lt.LinkType, name))
	}
	what := "link type " + parts[0]
	if len(parts) > 1 {
		what = "link types " + strings.Join(parts, ", ")
		if len(types) == 8 {
			what += " and maybe others"
		}
	}
	t := Text{Summary: fmt.Sprintf("%s: %s of %s not analysed", c.input(x.Input), Plural(x.Skipped, "frame", "frames"), what),
		Detail: fmt.Sprintf("fwdiag reads Ethernet (with 802.1Q tags), Linux cooked captures (tcpdump -i any), raw IP, BSD loopback, NFLOG, PPP and 802.11 (with radiotap) frames. Frames of %s were skipped, not damaged: the traffic they carry is not in this report.", what),
		Fix:    "Capture on the host's IP interface (tcpdump -i eth0, or -i any on Linux; pktmon or netsh trace converted with etl2pcapng on Windows) to have this traffic analysed.",
		Filter: "frame.encap_type != 1"}
	if f.Severity == diagnose.Warning {
		t.Detail += " They are every frame of the input, so nothing in it was analysed: a report without findings here says nothing about the network."
	}
	return t
}

func versionName(n int) string {
	switch n {
	case 739:
		return "7.3.x"
	case 759:
		return "7.5.x"
	}
	return fmt.Sprintf("%d.%d.%d", n/100, n/10%10, n%10)
}

// versionRange renders [lo, hi] (-1 bounds open).
func versionRange(lo, hi int) string {
	switch {
	case lo < 0 && hi < 0:
		return "any version"
	case lo < 0:
		return "up to " + versionName(hi)
	case hi < 0:
		return versionName(lo) + " or later"
	case lo == hi:
		return versionName(lo)
	}
	return versionName(lo) + " to " + versionName(hi)
}

func textVersion(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.VersionFacts](f)
	var why, ports, allPorts []string
	for _, p := range x.Ports {
		allPorts = append(allPorts, fmt.Sprintf("%s.port==%d", p.Transport, p.Port))
		why = append(why, fmt.Sprintf("%s %s %d in use (%s)", p.Service, strings.ToUpper(string(p.Transport)), p.Port, versionRange(p.Lo, p.Hi)))
		if p.Transport == TCP {
			// A connection's SYN: the evidence is each connection's first
			// packet, and the SYNs are what says the port is in use.
			ports = append(ports, fmt.Sprintf("(tcp.dstport==%d && tcp.flags.syn==1 && tcp.flags.ack==0)", p.Port))
		} else {
			ports = append(ports, fmt.Sprintf("%s.port==%d", p.Transport, p.Port))
		}
	}
	var t Text
	if x.Lo >= 0 && x.Hi >= 0 && x.Lo > x.Hi {
		t.Summary = fmt.Sprintf("Supportworks server %s: the ports in use contradict each other (%s)", c.A(f.Server), strings.Join(why, "; "))
		t.Detail = "No single version uses all these ports: a default port was probably moved, or two servers share the address. Declare moved ports with --service NAME=PORT."
	} else {
		t.Summary = fmt.Sprintf("Supportworks server %s: version %s, from the ports in use", c.A(f.Server), versionRange(x.Lo, x.Hi))
		t.Detail = "The seed's port table bounds the version: " + strings.Join(why, "; ") + ". Ports can be moved (seed: any default port is changeable), so this holds for a default configuration."
	}
	t.Fix = "Ignore firewall rules for ports that do not apply to this version (seed: \"you can ignore any services/ports that do not apply to your particular Supportworks version\")."
	t.Filter = fmt.Sprintf("%s.addr==%s && (%s)", ipField(f.Server), c.A(f.Server), strings.Join(ports, " || "))
	if x.Midstream {
		// Some ports are known from connections caught mid-stream: their
		// first packet is no SYN, so select the ports' traffic.
		t.Filter = fmt.Sprintf("%s.addr==%s && (%s)", ipField(f.Server), c.A(f.Server), strings.Join(allPorts, " || "))
	}
	return t
}

func textCapture(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.CaptureFacts](f)
	path := c.input(x.Input)
	switch f.Kind {
	case diagnose.CaptureInterrupted:
		return Text{Summary: fmt.Sprintf("%s: the capture was interrupted", path),
			Detail: "The captured interface went down during the capture: " + strings.Join(x.Messages, "; ") + ". Packets of that time are missing, so an unanswered request then may have been answered.",
			Fix:    "Capture on an interface that stays up for the whole reproduction, or repeat the reproduction."}
	case diagnose.CaptureTruncated:
		t := Text{Summary: fmt.Sprintf("%s: %s damaged or cut short", path, Plural(x.Damaged+x.Truncated, "frame or record", "frames or records")),
			Detail: fmt.Sprintf("%d frames were cut by the snap length; %d problems reading the file: %s", x.Truncated, x.Problems, strings.Join(x.Messages, "; ")),
			Fix:    "Conclusions about the affected frames are weaker. The file is damaged or was cut while it was written or copied: copy it again whole, and stop the capture cleanly (Ctrl-C or SIGTERM to tcpdump, not kill -9) before copying it.",
			Filter: "frame.cap_len < frame.len"}
		if x.Problems == 0 {
			t.Detail = fmt.Sprintf("%d frames were cut by the snap length: payload hints are unavailable for them, headers were read.", x.Truncated)
			t.Fix = "Conclusions about the affected frames are weaker; capture with a full snap length (tcpdump -s 0) next time."
		}
		return t
	case diagnose.CaptureDrops:
		t := Text{Summary: fmt.Sprintf("%s: the capture dropped %d packets", path, x.Drops),
			Detail: "The capturing kernel reported dropped packets: a missing answer may be a packet the capture lost, not one the firewall dropped.",
			Fix:    "Capture with a narrower filter or a larger buffer (tcpdump -B), or on a less busy host."}
		if strings.HasPrefix(path, "live:") {
			// fwdiag's own capture: its ring is --buffer.
			t.Fix = "Capture with a larger ring (fwdiag live --buffer, in MB; the capturing line gives its size) or a narrower --bpf filter, or on a less busy host."
		}
		return t
	case diagnose.CaptureDuplicates:
		if x.Folded > 0 {
			return Text{Summary: fmt.Sprintf("%s logged at several pktmon components folded into one", Plural(x.Folded, "packet copy", "packet copies")),
				Detail: fmt.Sprintf("Windows pktmon logs a packet at every component it passes (network adapter, filters, Windows Filtering Platform, TCP/IP) with the same packet id: %d further appearances were recognised by their packet id and counted once, at the first component that logged them, so connections and retransmissions are not multiplied. All components of the input are one capture point (the machine).", x.Folded),
				Fix:    "Nothing to fix: pktmon works this way. A drop verdict on any appearance is kept as evidence."}
		}
		return Text{Summary: fmt.Sprintf("%s captured twice", Plural(f.Count, "TCP segment was", "TCP segments were")),
			Detail: "The same IPv4 datagram (same IP ID, sequence number and length) appears twice within 50 ms: the capture saw it at two points (pktmon components, a SPAN of both ports). These copies were ignored, not counted as retransmissions.",
			Fix:    "Nothing to fix on the network; capture at one point if the duplicates confuse other tools."}
	case diagnose.CaptureOneSided:
		return Text{Summary: fmt.Sprintf("%s: only one direction of traffic was captured", path),
			Detail: fmt.Sprintf("None of the %d TCP connections at this capture point shows packets in both directions. Unanswered SYNs here may be answered on a path the capture does not see (asymmetric routing, a one-way SPAN), so they are not reported as blocked.", x.Connections),
			Fix:    "Capture on a point that sees both directions, or add a capture from the other side."}
	}
	return Text{Summary: string(f.Kind)}
}

// orphanWhy says why a notification socket counts as an orphan.
func orphanWhy(r diagnose.NPAReason) string {
	if r == diagnose.WhyOrphanMainEnded {
		return "its main session from the same client ended while the notification socket lived on"
	}
	return "a 5001 connection on which the client only acknowledges server pushes, with no main session from the same client in the capture"
}

// NPAWhy says in words why an NPA session has its status.
func NPAWhy(s *diagnose.NPASession) string {
	switch s.Why {
	case diagnose.WhyPaired:
		w := fmt.Sprintf("second connection from the same client %s after the main session; the client sent %s on it, the server pushed %s",
			dur(s.Delay), Plural(s.ClientMsgs, "message", "messages"), Plural(s.Pushes, "segment", "segments"))
		if s.Midstream {
			w += "; the capture began during the session, so the pairing rests on the traffic shape, not on the login order"
		}
		if s.SharedAddr {
			w += "; several clients share this address (NAT), so the pairing rests on timing"
		}
		return w
	case diagnose.WhyUDPNoMain:
		return "UDP datagrams from the server's port 5001 to a client port; the main session is not in the capture"
	case diagnose.WhyUDPMode:
		return "no second TCP connection; the server sends UDP datagrams from its port 5001 to the client (legacy UDP notifications)"
	case diagnose.WhyUDPOthersOnly:
		return "no second TCP connection; the server sends UDP notifications to other clients in this capture, but none reached this one"
	case diagnose.WhyAttemptBlocked:
		return fmt.Sprintf("the client tried to open the notification socket (%s) but the attempt was %s", Plural(s.Attempts, "attempt", "attempts"), s.AttemptState)
	case diagnose.WhyMidstreamNoSocket:
		return "the capture began during the session: an idle notification socket opened before it would show no packet"
	case diagnose.WhyNeverOpened:
		return "no second connection to 5001 and no UDP notifications followed the login"
	case diagnose.WhyOrphanNoMain, diagnose.WhyOrphanMainEnded:
		return orphanWhy(s.Why)
	}
	return ""
}

// localDrops names the components of the capturing machine that dropped
// packets, most first.
func localDrops(at map[string]int) string {
	names := diagnose.Components(at)
	for i, n := range names {
		names[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(names, ", ")
}

// isWFP says whether a pktmon component is the Windows Filtering Platform,
// where the Windows Defender Firewall's rules act.
func isWFP(name string) bool {
	l := strings.ToLower(name)
	return strings.Contains(l, "wfp") || strings.Contains(l, "filtering platform")
}

// wfpNote says that a WFP component is the Windows Firewall, when it is.
func wfpNote(at map[string]int) string {
	for n := range at {
		if isWFP(n) {
			return ": the Windows Filtering Platform, where the Windows Defender Firewall (or another firewall on the host) decides"
		}
	}
	return ""
}

// wfpRule names the Windows firewall rule to look at, when WFP dropped.
func wfpRule(at map[string]int) string {
	for n := range at {
		if isWFP(n) {
			return " (Windows Defender Firewall: an inbound/outbound rule for the program, or the block rule that matched; netsh wfp show netevents names it)"
		}
	}
	return ""
}

func textUndecoded(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.CaptureFacts](f)
	var parts []string
	for i, u := range x.Undecoded {
		if i == 4 {
			parts = append(parts, fmt.Sprintf("%d more", len(x.Undecoded)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s, %s: %d", u.Encap, u.Cause, u.Frames))
	}
	t := Text{Summary: fmt.Sprintf("%s: the packets inside %s could not be decoded", c.input(x.Input), Plural(x.Skipped, "frame", "frames")),
		Detail: fmt.Sprintf("fwdiag follows tunnels and link layers (VXLAN, Geneve, GRE, GTP-U, MPLS, IP in IP, Teredo, 802.11, ...) to the TCP and UDP inside. In these frames it stopped (%s): the traffic they carry is not in this report.", strings.Join(parts, "; ")),
		Fix:    "Capture where the traffic is plain IP (on the host, or on the inside of the tunnel endpoint), or with a larger snap length (tcpdump -s 0) if the frames were cut."}
	if f.Severity == diagnose.Warning {
		t.Detail += " They are half the input or more: a report without findings here says little about the network."
	}
	return t
}
