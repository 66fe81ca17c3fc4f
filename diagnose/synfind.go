package diagnose

import (
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// synWait is how long the capture must go on after a SYN before its lack
// of an answer means anything: Linux and Windows retransmit a SYN after
// about 1 s (RFC 6298 initial RTO), so a second's silence is already a
// retransmission's worth. The analyzer evicts attempts after the same wait.
const synWait = flows.EvictAge

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
func sevForService(svc *catalog.Service) Severity {
	if svc != nil && !svc.Outbound {
		return Critical
	}
	return Warning
}

// synFindings diagnoses connection attempts: unanswered, reset, rejected by
// ICMP, handshake never completed, and resets forged by a middlebox.
func (a *run) synFindings(conns []*flows.Conn, fs *findingSet) {
	for _, c := range conns {
		if !a.explained[c] {
			a.connFindings(c, fs, a.v.Last)
		}
	}
}

// connFindings adds what one connection shows to fs. end is the capture
// time up to which the connection could still have been answered (the end
// of the capture, or the time it was evicted).
func (a *run) connFindings(c *flows.Conn, fs *findingSet, end time.Time) {
	{
		svc := c.Service
		client, server, port := c.Client.Addr(), c.Server.Addr(), c.Server.Port()
		state := c.ConnState()
		origSyn := !c.FirstSyn.IsZero()
		if internal(c) && svc != nil && svc.Product == catalog.Supportworks && origSyn && !c.SynAck {
			// The Supportworks services talk TCP to each other on the
			// server itself; the seed warns that a host firewall there
			// breaks them.
			g := fs.add(SWInternalBlocked, Critical, svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			if g.member(c.Client, c.Vantage) {
				addCounts(&factsOf[StatesFacts](g).States, map[string]int{state: 1})
			}
			return
		}
		switch {
		case origSyn && !c.SynAck && c.ICMP != nil:
			g := fs.add(SynICMPRejected, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			if g.member(c.Client, c.Vantage) {
				x := factsOf[ICMPFacts](g)
				x.note(ICMPCode{c.ICMP.V6, c.ICMP.Type, c.ICMP.Code}, c.ICMP.From.Addr(), 1)
				if icmpIsFilter(c.ICMP.V6, c.ICMP.Type, c.ICMP.Code) {
					x.Filter++
				}
			}
		case origSyn && !c.SynAck && c.Dir[1].RST > 0:
			// The SYN answered by a reset (Zeek's REJ also covers resets
			// after a SYN-ACK seen later or never, which are no refusal).
			g := fs.add(SynReset, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			facts := g.member(c.Client, c.Vantage)
			r := &c.Dir[1]
			x := factsOf[SynResetFacts](g)
			if gt, ok := a.ttls.Genuine(c.Vantage, server); ok {
				g.ttls = [2]uint8{r.Resets[0].TTL, gt}
				switch {
				case !facts:
				case gt != r.Resets[0].TTL:
					x.Forged++
				default:
					x.Genuine++
				}
			}
		case origSyn && !c.SynAck && c.Dir[1].RST == 0:
			if end.Sub(c.FirstSyn) < synWait && c.Dir[0].SYN < 2 {
				return // the capture ended before an answer was due
			}
			if _, ok := a.oneSided[c.Vantage]; ok {
				return // the answers may be on the path this capture misses
			}
			g := fs.add(SynUnanswered, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			x := factsOf[SynUnansweredFacts](g)
			if g.member(c.Client, c.Vantage) {
				x.SYNs += c.Dir[0].SYN
				if c.LocalDrops > 0 {
					addCounts(&x.DroppedAt, map[string]int{a.component(c.Input, c.LocalDrop.Component): c.LocalDrops})
				}
				g.addSample(c.LastSyn.Sub(c.FirstSyn))
			}
		case origSyn && c.SynAck && !c.Established && c.Dir[0].Payload == 0 && c.Dir[1].Payload == 0 && c.Dir[0].RST == 0:
			if end.Sub(c.SynAckTime) < synWait && c.Dir[1].SYN < 2 {
				return
			}
			g := fs.add(HandshakeIncomplete, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			x := factsOf[HandshakeFacts](g)
			if g.member(c.Client, c.Vantage) {
				x.SynAcks += c.Dir[1].SYN
			}
		case origSyn && c.SynAck && c.Established && c.Dir[1].SYN >= 3 && c.Dir[1].Payload == 0 && c.Dir[0].RST == 0:
			// Seen from the client: it acknowledged the SYN-ACK, yet the
			// server kept retransmitting it (twice or more: one lost ACK
			// recovers after one): the client's packets never reach the
			// server while the server's reach the client.
			g := fs.add(HandshakeIncomplete, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, c.Frames)
			x := factsOf[HandshakeFacts](g)
			if g.member(c.Client, c.Vantage) {
				x.SynAcks += c.Dir[1].SYN
				x.Acked++
			}
		}
		// Resets whose TTL is not that of the genuine packets of the side
		// they claim to come from, in a connection that was answered:
		// every reset counts, also one before the SYN-ACK (an on-path box
		// racing the server's answer), not only the last.
		if c.Established || c.SynAck {
			for dir := 0; dir < 2; dir++ {
				d := &c.Dir[dir]
				if d.RST == 0 || !d.TTLSet || d.TTLVaries {
					continue
				}
				var forged *flows.Reset
				var frames []uint64
				for i := range d.Resets {
					if r := &d.Resets[i]; r.Frame != 0 && r.TTL != d.TTL {
						if forged == nil {
							forged = r
						}
						frames = append(frames, r.Frame)
					}
				}
				if forged == nil {
					continue
				}
				g := fs.add(RSTInjected, sevForService(svc), svc, TCP, client, server, port, c.First, c.Last, c.Input, frames)
				g.ttls = [2]uint8{forged.TTL, d.TTL}
				x := factsOf[RSTInjectedFacts](g)
				if g.member(c.Client, c.Vantage) {
					if dir == 0 {
						x.ClaimsClient++
					} else {
						x.ClaimsServer++
					}
					g.addSample(forged.Time.Sub(c.First))
				}
			}
		}
	}
}

// internal reports whether a connection stays on one host (loopback, or the
// same address at both ends).
func internal(c *flows.Conn) bool {
	a, b := c.Client.Addr(), c.Server.Addr()
	return a == b || (a.IsLoopback() && b.IsLoopback())
}
