package diagnose

import (
	"net/netip"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// npaWindow is how soon after the main session the client opens its
// notification socket. The seed's stage 2 follows the login at once; a
// minute allows for slow logins and clock skew between merged captures.
const npaWindow = time.Minute

// npaLiveMargin is how long the main session must outlive the notification
// socket before its end counts as a loss rather than a logout.
const npaLiveMargin = 2 * time.Second

// npaConn is a 5001 connection with its role in the NPA scheme.
type npaConn struct {
	c      *flows.Conn
	main   bool
	paired *npaConn
	// sharedAddr is set when other main sessions from the same address
	// overlap this one: several clients behind one NAT address, which makes
	// a pairing by address rest on timing alone.
	sharedAddr bool
}

// isNPAMain tells a main session from a notification socket by what the
// client sends: on the main session the client issues requests (login, then
// more); on the notification socket it sends one registration and then only
// acknowledges what the server pushes (seed, stages 2 and 3).
func isNPAMain(c *flows.Conn) bool { return c.Dir[0].DataSegs >= 2 }

// npaFindings pairs Supportworks main sessions with their notification
// channels and diagnoses the pairs.
func (a *run) npaFindings(conns []*flows.Conn, udps []*flows.UDPFlow, fs *findingSet) []NPASession {
	type gk struct {
		vantage uint16
		client  netip.Addr
		server  netip.AddrPort
	}
	groups := map[gk][]*npaConn{}
	blocked := map[gk][]*flows.Conn{}
	var order []gk
	for _, c := range conns {
		svc := c.Service
		if svc == nil || svc.Name != catalog.SWBinary || a.scanners[c.Client.Addr()] {
			continue
		}
		k := gk{c.Vantage, c.Client.Addr(), c.Server}
		if !(c.SynAck || c.Midstream) {
			blocked[k] = append(blocked[k], c)
			continue
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], &npaConn{c: c, main: isNPAMain(c)})
	}
	// UDP notification flows: server port 5001 to a client's dynamic port.
	udpByClient := map[gk][]*flows.UDPFlow{}
	udpServer := map[uint16]map[netip.AddrPort]bool{} // vantage -> servers sending UDP notifications
	for _, f := range udps {
		if svc := f.Service; svc != nil && svc.Name == catalog.SWNotifyUDP && f.Responses > 0 {
			k := gk{f.Vantage, f.Client.Addr(), netip.AddrPortFrom(f.Server.Addr(), 5001)}
			udpByClient[k] = append(udpByClient[k], f)
			if udpServer[f.Vantage] == nil {
				udpServer[f.Vantage] = map[netip.AddrPort]bool{}
			}
			udpServer[f.Vantage][k.server] = true
		}
	}

	var sessions []NPASession
	for _, k := range order {
		cs := groups[k]
		// A quiet connection that opened first and is followed by another
		// within the window is a main session with no requests yet.
		for i, n := range cs {
			if !n.main && !n.c.Midstream && i+1 < len(cs) && !cs[i+1].c.Midstream && cs[i+1].c.First.Sub(n.c.First) <= npaWindow && !hasMainBefore(cs[:i], n.c) {
				n.main = true
			}
		}
		for _, m := range cs {
			for _, o := range cs {
				if m != o && m.main && o.main && o.c.First.Before(m.c.Last) && m.c.First.Before(o.c.Last) {
					m.sharedAddr = true
				}
			}
		}
		// Pair each notification socket with the latest main session that
		// opened before it, within the window, alive at the time, unpaired.
		for _, n := range cs {
			if n.main {
				continue
			}
			var best *npaConn
			for _, m := range cs {
				if !m.main || m.paired != nil {
					continue
				}
				// With the handshakes seen, the notification socket opens
				// after its main session and soon after it. A capture that
				// began mid-session shows neither order nor opening time:
				// overlapping lifetimes are all there is.
				if m.c.Midstream || n.c.Midstream {
					if m.c.First.After(n.c.Last) || n.c.First.After(m.c.Last) {
						continue
					}
				} else if m.c.First.After(n.c.First) || n.c.First.Sub(m.c.First) > npaWindow {
					continue
				}
				if best == nil || m.c.First.After(best.c.First) {
					best = m
				}
			}
			if best != nil {
				best.paired, n.paired = n, best
			}
		}
		for _, n := range cs {
			if n.main {
				sessions = append(sessions, a.npaMainSession(n, blocked[k], udpByClient[k], udpServer[k.vantage], fs))
			} else if n.paired == nil {
				sessions = append(sessions, a.npaOrphan(n, cs, fs))
			}
		}
	}
	// Clients whose every 5001 attempt was blocked have no session at all:
	// the blocked-SYN findings already say so.
	// UDP notifications to clients whose main session the capture lacks.
	for k, fl := range udpByClient {
		if _, ok := groups[k]; ok {
			continue
		}
		for _, f := range fl {
			a.npaUDPFinding(f, nil, fs)
			sessions = append(sessions, NPASession{Client: f.Client.Addr(), Server: f.Server.Addr(),
				Notification: Conversation{f.Client, f.Server, true}, Status: NPAUDP, Confidence: Medium,
				Why: WhyUDPNoMain, Input: f.Input, Vantage: f.Vantage, Pushes: f.Responses})
		}
	}
	// By the client's address, numerically.
	sort.SliceStable(sessions, func(i, j int) bool { return sessions[i].Client.Less(sessions[j].Client) })
	return sessions
}

func hasMainBefore(cs []*npaConn, n *flows.Conn) bool {
	for _, m := range cs {
		if m.main && m.paired == nil && n.First.Sub(m.c.First) <= npaWindow {
			return true
		}
	}
	return false
}

func (a *run) npaMainSession(m *npaConn, blocked []*flows.Conn, udp []*flows.UDPFlow, udpServer map[netip.AddrPort]bool, fs *findingSet) NPASession {
	c := m.c
	s := NPASession{Client: c.Client.Addr(), Server: c.Server.Addr(), Main: Conversation{c.Client, c.Server, false}, Input: c.Input, Vantage: c.Vantage}
	svc := c.Service
	client, server := c.Client.Addr(), c.Server.Addr()
	if m.paired == nil {
		// UDP notification mode: the server sends datagrams from 5001.
		for _, f := range udp {
			if f.Last.After(c.First) {
				s.Status, s.Confidence = NPAUDP, High
				s.Notification = Conversation{f.Client, f.Server, true}
				s.Pushes = f.Responses
				s.Why = WhyUDPMode
				a.npaUDPFinding(f, c, fs)
				return s
			}
		}
		var attempts []*flows.Conn
		for _, b := range blocked {
			if !b.First.Before(c.First) && b.First.Sub(c.First) <= npaWindow+30*time.Second {
				attempts = append(attempts, b)
			}
		}
		if len(attempts) == 0 && udpServer[netip.AddrPortFrom(server, 5001)] && !c.Midstream {
			// The same server sends UDP notifications to other clients in
			// this capture: this session is in UDP mode too, and its
			// datagrams do not reach this client.
			s.Status, s.Confidence = NPAUDP, Medium
			s.Why = WhyUDPOthersOnly
			g := fs.add(NPAUDPUnreachable, Critical, a.v.ServiceOf(netip.AddrPortFrom(server, 5001), UDP), UDP, client, server, 5001, c.First, c.Last, c.Input, c.Frames[:min(len(c.Frames), 3)])
			if x := factsOf[NPAUDPFacts](g); g.member(c.Client, c.Vantage) {
				x.NoneArrived++
			}
			return s
		}
		s.Status = NPAMissing
		g := fs.add(NPANotificationMissing, Warning, svc, TCP, client, server, c.Server.Port(), c.First, c.Last, c.Input, c.Frames[:min(len(c.Frames), 3)])
		facts := g.member(c.Client, c.Vantage)
		x := factsOf[NPAMissingFacts](g)
		// (The session's own fields are its capture point's; the facts
		// count each main session once, as the finding does.)
		switch {
		case len(attempts) > 0:
			s.Confidence = High
			s.Why, s.Attempts, s.AttemptState = WhyAttemptBlocked, len(attempts), attempts[0].ConnState()
			g.severity = Critical
			for _, b := range attempts {
				a.explained[b] = true
				g.clientPts[b.Client.Port()] = true
				fr := g.frames[b.Input]
				g.frames[b.Input] = append(fr, b.Frames[:min(len(b.Frames), 4)]...)
				if facts {
					x.SYNs += b.Dir[0].SYN
					addCounts(&x.States, map[string]int{b.ConnState(): 1})
				}
			}
			if facts {
				x.Blocked++
			}
		case c.Midstream:
			s.Confidence = Low
			s.Why = WhyMidstreamNoSocket
			g.severity = Info
			if facts {
				x.Midstream++
			}
		default:
			s.Confidence = Medium
			s.Why = WhyNeverOpened
			if facts {
				x.Never++
			}
		}
		return s
	}
	n := m.paired.c
	s.Notification = Conversation{n.Client, n.Server, false}
	s.Pushes = n.Dir[1].DataSegs
	s.MaxIdle = n.MaxGap
	s.Status, s.Confidence = NPAPaired, High
	s.Why, s.Delay, s.ClientMsgs = WhyPaired, n.First.Sub(c.First), n.Dir[0].DataSegs
	if c.Midstream || n.Midstream {
		s.Confidence = Medium
		s.Midstream = true
	}
	if m.sharedAddr {
		s.Confidence = Medium
		s.SharedAddr = true
	}
	unacked := n.UnackedServerBytes()
	nFrames := n.Frames
	switch {
	case unacked > 0 && n.Dir[1].Retrans > 0:
		s.Status = NPALost
		g := fs.add(NPANotificationLost, Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		// (The reasons are counted at every capture point that shows
		// one: the explanation takes the most direct, the server side's
		// unacknowledged push or reset over the client side's.)
		g.member(n.Client, n.Vantage)
		factsOf[NPALostFacts](g).Unacked++
		g.addSample(n.Dir[1].MaxDataGap)
	case n.Dir[0].RST+n.Dir[1].RST > 0 && c.Last.Sub(n.Last) > npaLiveMargin && c.Dir[0].RST+c.Dir[1].RST == 0:
		s.Status = NPALost
		g := fs.add(NPANotificationLost, Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client, n.Vantage)
		factsOf[NPALostFacts](g).Reset++
		g.addSample(n.MaxGap)
	case n.Dir[0].Retrans > 0 && n.UnackedClientBytes() > 0 && c.Dir[0].Retrans == 0:
		// Seen from the client: what it sends on the notification socket
		// (its FIN at logout) is retransmitted and never acknowledged while
		// the main session's packets get through: the server has forgotten
		// the connection, torn down by a middlebox.
		s.Status, s.Confidence = NPALost, Medium
		g := fs.add(NPANotificationLost, Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client, n.Vantage)
		factsOf[NPALostFacts](g).ClientUnacked++
		g.addSample(n.MaxGap)
	case a.v.Timeouts.TCPIdle > 0 && n.MaxGap > a.v.Timeouts.TCPIdle && n.Dir[0].KeepAlives+n.Dir[1].KeepAlives == 0:
		s.Status = NPAIdleRisk
		g := fs.add(NPAIdleExceedsTimeout, Warning, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		if g.member(n.Client, n.Vantage) {
			g.addSample(n.MaxGap)
		}
	}
	a.te.npaSocket(n, s.Status == NPALost)
	return s
}

func (a *run) npaOrphan(n *npaConn, cs []*npaConn, fs *findingSet) NPASession {
	c := n.c
	svc := c.Service
	s := NPASession{Client: c.Client.Addr(), Server: c.Server.Addr(), Notification: Conversation{c.Client, c.Server, false},
		Status: NPAOrphan, Input: c.Input, Vantage: c.Vantage, Pushes: c.Dir[1].DataSegs, MaxIdle: c.MaxGap}
	sev := Info
	s.Confidence = Low
	s.Why = WhyOrphanNoMain
	for _, m := range cs {
		if m.main && m.c.Last.Before(c.Last) && !m.c.First.After(c.First) {
			sev = Warning
			s.Confidence = Medium
			s.Why = WhyOrphanMainEnded
		}
	}
	g := fs.add(NPAOrphanNotification, sev, svc, TCP, c.Client.Addr(), c.Server.Addr(), c.Server.Port(), c.First, c.Last, c.Input, c.Frames)
	g.member(c.Client, c.Vantage)
	if x := factsOf[NPAOrphanFacts](g); x.Why == 0 {
		x.Why = s.Why
	}
	return s
}

// npaUDPFinding reports UDP notification mode, and its failure where the
// datagrams draw ICMP errors.
func (a *run) npaUDPFinding(f *flows.UDPFlow, main *flows.Conn, fs *findingSet) {
	svc := f.Service
	client, server := f.Client.Addr(), f.Server.Addr()
	g := fs.add(NPAUDPMode, Info, svc, UDP, client, server, 5001, f.First, f.Last, f.Input, firstFrames(f, 3))
	if x := factsOf[NPAUDPFacts](g); g.member(f.Client, f.Vantage) {
		x.Datagrams += f.Responses
	}
	if f.RefusedCount > 0 {
		u := fs.add(NPAUDPUnreachable, Critical, svc, UDP, client, server, 5001, f.First, f.Last, f.Input, f.Frames)
		if x := factsOf[NPAUDPFacts](u); u.member(f.Client, f.Vantage) {
			h := &f.Refused[0].ICMP
			x.note(ICMPCode{h.V6, h.Type, h.Code}, h.From.Addr(), f.RefusedCount)
			x.Datagrams += f.Responses
		}
	}
}
