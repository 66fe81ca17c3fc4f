package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"time"
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
	c      *Conn
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
func isNPAMain(c *Conn) bool { return c.dir[0].dataSegs >= 2 }

// npaFindings pairs Supportworks main sessions with their notification
// channels and diagnoses the pairs.
func (a *Analyzer) npaFindings(conns []*Conn, udps []*UDPFlow, fs *findingSet, texts map[*group]func(*group) Finding) []NPASession {
	type gk struct {
		vantage uint16
		client  netip.Addr
		server  Endpoint
	}
	groups := map[gk][]*npaConn{}
	blocked := map[gk][]*Conn{}
	var order []gk
	for _, c := range conns {
		svc := a.flowService(&c.flowHead, TCP)
		if svc == nil || svc.Name != "sw-binary" {
			continue
		}
		k := gk{c.Vantage, c.Client.Addr(), c.Server}
		if !(c.synAck || c.midstream) {
			blocked[k] = append(blocked[k], c)
			continue
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], &npaConn{c: c, main: isNPAMain(c)})
	}
	// UDP notification flows: server port 5001 to a client's dynamic port.
	udpByClient := map[gk][]*UDPFlow{}
	udpServer := map[uint16]map[Endpoint]bool{} // vantage -> servers sending UDP notifications
	for _, f := range udps {
		if svc := a.flowService(&f.flowHead, UDP); svc != nil && svc.Name == "sw-notify-udp" && f.responses > 0 {
			k := gk{f.Vantage, f.Client.Addr(), netip.AddrPortFrom(f.Server.Addr(), 5001)}
			udpByClient[k] = append(udpByClient[k], f)
			if udpServer[f.Vantage] == nil {
				udpServer[f.Vantage] = map[Endpoint]bool{}
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
			if !n.main && !n.c.midstream && i+1 < len(cs) && !cs[i+1].c.midstream && cs[i+1].c.First.Sub(n.c.First) <= npaWindow && !hasMainBefore(cs[:i], n.c) {
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
				if m.c.midstream || n.c.midstream {
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
				sessions = append(sessions, a.npaMainSession(n, blocked[k], udpByClient[k], udpServer[k.vantage], fs, texts))
			} else if n.paired == nil {
				sessions = append(sessions, a.npaOrphan(n, cs, fs, texts))
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
			a.npaUDPFinding(f, nil, fs, texts)
			sessions = append(sessions, NPASession{Client: f.Client.Addr().String(), Server: f.Server.Addr().String(),
				Notification: endpoints(f.Client, f.Server) + " udp", Status: "udp", Confidence: "medium",
				Why: "UDP datagrams from the server's port 5001 to a client port; the main session is not in the capture", Input: f.Input, Pushes: f.responses})
		}
	}
	sort.SliceStable(sessions, func(i, j int) bool { return sessions[i].Client < sessions[j].Client })
	return sessions
}

func hasMainBefore(cs []*npaConn, n *Conn) bool {
	for _, m := range cs {
		if m.main && m.paired == nil && n.First.Sub(m.c.First) <= npaWindow {
			return true
		}
	}
	return false
}

func endpoints(client, server Endpoint) string {
	return client.String() + " -> " + server.String()
}

func (a *Analyzer) npaMainSession(m *npaConn, blocked []*Conn, udp []*UDPFlow, udpServer map[Endpoint]bool, fs *findingSet, texts map[*group]func(*group) Finding) NPASession {
	c := m.c
	s := NPASession{Client: c.Client.Addr().String(), Server: c.Server.Addr().String(), Main: endpoints(c.Client, c.Server), Input: c.Input}
	svc := a.flowService(&c.flowHead, TCP)
	client, server := c.Client.Addr(), c.Server.Addr()
	if m.paired == nil {
		// UDP notification mode: the server sends datagrams from 5001.
		for _, f := range udp {
			if f.Last.After(c.First) {
				s.Status, s.Confidence = "udp", "high"
				s.Notification = endpoints(f.Client, f.Server) + " udp"
				s.Pushes = f.responses
				s.Why = "no second TCP connection; the server sends UDP datagrams from its port 5001 to the client (legacy UDP notifications)"
				a.npaUDPFinding(f, c, fs, texts)
				return s
			}
		}
		var attempts []*Conn
		for _, b := range blocked {
			if !b.First.Before(c.First) && b.First.Sub(c.First) <= npaWindow+30*time.Second {
				attempts = append(attempts, b)
			}
		}
		if len(attempts) == 0 && udpServer[netip.AddrPortFrom(server, 5001)] && !c.midstream {
			// The same server sends UDP notifications to other clients in
			// this capture: this session is in UDP mode too, and its
			// datagrams do not reach this client.
			s.Status, s.Confidence = "udp", "medium"
			s.Why = "no second TCP connection; the server sends UDP notifications to other clients in this capture, but none reached this one"
			g := fs.add("npa_udp_unreachable", Critical, a.serviceOf(netip.AddrPortFrom(server, 5001), UDP), UDP, client, server, 5001, c.First, c.Last, c.Input, c.frames[:min(len(c.frames), 3)])
			g.notes["@none-arrived"]++
			texts[g] = a.textNPAUDPUnreachable
			return s
		}
		s.Status = "missing"
		g := fs.add("npa_notification_missing", Warning, svc, TCP, client, server, c.Server.Port(), c.First, c.Last, c.Input, c.frames[:min(len(c.frames), 3)])
		g.member(c.Client.Port())
		switch {
		case len(attempts) > 0:
			s.Confidence = "high"
			s.Why = fmt.Sprintf("the client tried to open the notification socket (%s) but the attempt was %s", plural(len(attempts), "attempt", "attempts"), attempts[0].ConnState())
			g.severity = Critical
			g.notes["@blocked"]++
			for _, b := range attempts {
				b.explained = true
				g.notes["@syns"] += b.dir[0].syn
				g.clientPts[b.Client.Port()] = true
				fr := g.frames[b.Input]
				g.frames[b.Input] = append(fr, b.frames[:min(len(b.frames), 4)]...)
				g.notes["state "+b.ConnState()]++
			}
		case c.midstream:
			s.Confidence = "low"
			s.Why = "the capture began during the session: an idle notification socket opened before it would show no packet"
			g.severity = Info
			g.notes["@midstream"]++
		default:
			s.Confidence = "medium"
			s.Why = "no second connection to 5001 and no UDP notifications followed the login"
			g.notes["@never"]++
		}
		texts[g] = a.textNPAMissing
		return s
	}
	n := m.paired.c
	s.Notification = endpoints(n.Client, n.Server)
	s.Pushes = n.dir[1].dataSegs
	s.MaxIdleS = n.maxGap.Seconds()
	s.Status, s.Confidence = "paired", "high"
	s.Why = fmt.Sprintf("second connection from the same client %s after the main session; the client sent %s on it, the server pushed %s",
		dur(n.First.Sub(c.First)), plural(n.dir[0].dataSegs, "message", "messages"), plural(n.dir[1].dataSegs, "segment", "segments"))
	if c.midstream || n.midstream {
		s.Confidence = "medium"
		s.Why += "; the capture began during the session, so the pairing rests on the traffic shape, not on the login order"
	}
	if m.sharedAddr {
		s.Confidence = "medium"
		s.Why += "; several clients share this address (NAT), so the pairing rests on timing"
	}
	unacked := n.unackedServerBytes()
	nFrames := n.frames
	switch {
	case unacked > 0 && n.dir[1].retrans > 0:
		s.Status = "lost"
		g := fs.add("npa_notification_lost", Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client.Port())
		g.notes["@unacked"]++
		g.addSample(n.dir[1].maxDataGap)
		texts[g] = a.textNPALost
	case n.dir[0].rst+n.dir[1].rst > 0 && c.Last.Sub(n.Last) > npaLiveMargin && c.dir[0].rst+c.dir[1].rst == 0:
		s.Status = "lost"
		g := fs.add("npa_notification_lost", Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client.Port())
		g.notes["@reset"]++
		g.addSample(n.maxGap)
		texts[g] = a.textNPALost
	case n.dir[0].retrans > 0 && n.unackedClientBytes() > 0 && c.dir[0].retrans == 0:
		// Seen from the client: what it sends on the notification socket
		// (its FIN at logout) is retransmitted and never acknowledged while
		// the main session's packets get through: the server has forgotten
		// the connection, torn down by a middlebox.
		s.Status, s.Confidence = "lost", "medium"
		g := fs.add("npa_notification_lost", Critical, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client.Port())
		g.notes["@client-unacked"]++
		g.addSample(n.maxGap)
		texts[g] = a.textNPALost
	case a.cfg.Timeouts.TCPIdle > 0 && n.maxGap > a.cfg.Timeouts.TCPIdle && n.dir[0].keepalives+n.dir[1].keepalives == 0:
		s.Status = "idle_risk"
		g := fs.add("npa_idle_exceeds_timeout", Warning, svc, TCP, client, server, n.Server.Port(), n.First, n.Last, n.Input, nFrames)
		g.member(n.Client.Port())
		g.addSample(n.maxGap)
		texts[g] = a.textNPAIdle
	}
	return s
}

func (a *Analyzer) npaOrphan(n *npaConn, cs []*npaConn, fs *findingSet, texts map[*group]func(*group) Finding) NPASession {
	c := n.c
	svc := a.flowService(&c.flowHead, TCP)
	s := NPASession{Client: c.Client.Addr().String(), Server: c.Server.Addr().String(), Notification: endpoints(c.Client, c.Server),
		Status: "orphan", Input: c.Input, Pushes: c.dir[1].dataSegs, MaxIdleS: c.maxGap.Seconds()}
	sev := Info
	s.Confidence = "low"
	s.Why = "a 5001 connection on which the client only acknowledges server pushes, with no main session from the same client in the capture"
	for _, m := range cs {
		if m.main && m.c.Last.Before(c.Last) && !m.c.First.After(c.First) {
			sev = Warning
			s.Confidence = "medium"
			s.Why = "its main session from the same client ended while the notification socket lived on"
		}
	}
	g := fs.add("npa_orphan_notification", sev, svc, TCP, c.Client.Addr(), c.Server.Addr(), c.Server.Port(), c.First, c.Last, c.Input, c.frames)
	g.member(c.Client.Port())
	g.extra = s.Why
	texts[g] = a.textNPAOrphan
	return s
}

// npaUDPFinding reports UDP notification mode, and its failure where the
// datagrams draw ICMP errors.
func (a *Analyzer) npaUDPFinding(f *UDPFlow, main *Conn, fs *findingSet, texts map[*group]func(*group) Finding) {
	svc := a.flowService(&f.flowHead, UDP)
	client, server := f.Client.Addr(), f.Server.Addr()
	g := fs.add("npa_udp_mode", Info, svc, UDP, client, server, 5001, f.First, f.Last, f.Input, firstFrames(f, 3))
	g.member(f.Client.Port())
	g.notes["@datagrams"] += f.responses
	texts[g] = a.textNPAUDPMode
	if f.icmp != nil {
		u := fs.add("npa_udp_unreachable", Critical, svc, UDP, client, server, 5001, f.First, f.Last, f.Input, f.frames)
		u.member(f.Client.Port())
		u.notes[icmpCodeName(f.icmp.v6, f.icmp.typ, f.icmp.code)] += f.icmpCount
		u.notes["from "+f.icmp.from.Addr().String()]++
		u.notes["@datagrams"] += f.responses
		texts[u] = a.textNPAUDPUnreachable
	}
}
