package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/fwdiag/fwdiag/dissect"
)

// Supportworks versions as ordered numbers: 7.4.0 is 740. An upper bound
// "7.5" means any 7.5.x (759); "7.3.x" means anything before 7.4.0 (739).
func versionNum(v string) int {
	switch v {
	case "":
		return -1
	case "7.3.x":
		return 739
	case "7.5":
		return 759
	}
	var a, b, c int
	fmt.Sscanf(v, "%d.%d.%d", &a, &b, &c)
	return a*100 + b*10 + c
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

// versionRange renders [lo, hi] ("" bounds open).
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

// versionFindings bounds each Supportworks server's version by the ports
// its clients use (seed: Supportworks Services and Ports).
func (a *Analyzer) versionFindings(conns []*Conn, udps []*UDPFlow) []Finding {
	type ev struct {
		svc    *Service
		frames map[int][]uint64
	}
	servers := map[netip.Addr]map[string]*ev{}
	note := func(server netip.Addr, svc *Service, input int, frame uint64) {
		if svc.MinVersion == "" && svc.MaxVersion == "" {
			return
		}
		m := servers[server]
		if m == nil {
			m = map[string]*ev{}
			servers[server] = m
		}
		k := fmt.Sprintf("%s/%d/%s", svc.Name, svc.Port, svc.Transport)
		e := m[k]
		if e == nil {
			e = &ev{svc: svc, frames: map[int][]uint64{}}
			m[k] = e
		}
		if len(e.frames[input]) < 3 {
			e.frames[input] = append(e.frames[input], frame)
		}
	}
	// A port counts when the server answered on it, or when a client with
	// a working Supportworks session to that server tried it: the client
	// software only tries the ports its version uses, even when a
	// firewall stops it (sw-host-firewall: 5002 and 5003 blocked on the
	// server's own loopback still say "up to 7.4.1").
	type pair struct{ client, server netip.Addr }
	sessions := map[pair]bool{}
	for _, c := range conns {
		if c.npaPort && (c.synAck || c.midstream && c.dir[1].pkts > 0) {
			sessions[pair{c.Client.Addr(), c.Server.Addr()}] = true
		}
	}
	for _, c := range conns {
		svc := a.flowService(&c.flowHead, TCP)
		if svc == nil || svc.Product != Supportworks {
			continue
		}
		answered := c.synAck || c.midstream && c.dir[1].pkts > 0
		if !answered && (c.firstSyn.IsZero() || !sessions[pair{c.Client.Addr(), c.Server.Addr()}]) {
			continue
		}
		note(c.Server.Addr(), svc, c.Input, c.FirstFrame)
	}
	for _, f := range udps {
		svc := a.flowService(&f.flowHead, UDP)
		if svc == nil || svc.Name != "sw-notify-udp" || f.responses == 0 {
			continue
		}
		note(f.Server.Addr(), svc, f.Input, f.FirstFrame)
	}
	addrs := make([]netip.Addr, 0, len(servers))
	for s := range servers {
		addrs = append(addrs, s)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	var out []Finding
	for _, s := range addrs {
		lo, hi := -1, -1
		var why []string
		keys := make([]string, 0, len(servers[s]))
		for k := range servers[s] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		f := Finding{Kind: "sw_version_inferred", Severity: Info, Service: "", Transport: TCP, Server: s.String(), Confidence: "medium"}
		frames := map[int][]uint64{}
		for _, k := range keys {
			e := servers[s][k]
			if v := versionNum(e.svc.MinVersion); v >= 0 && v > lo {
				lo = v
			}
			if v := versionNum(e.svc.MaxVersion); v >= 0 && (hi < 0 || v < hi) {
				hi = v
			}
			why = append(why, fmt.Sprintf("%s %s %d in use (%s)", e.svc.Name, strings.ToUpper(e.svc.Transport), e.svc.Port, versionRange(versionNum(e.svc.MinVersion), versionNum(e.svc.MaxVersion))))
			for in, fr := range e.frames {
				frames[in] = append(frames[in], fr...)
			}
		}
		rng := versionRange(lo, hi)
		if lo >= 0 && hi >= 0 && lo > hi {
			f.Summary = fmt.Sprintf("Supportworks server %s: the ports in use contradict each other (%s)", s, strings.Join(why, "; "))
			f.Detail = "No single version uses all these ports: a default port was probably moved, or two servers share the address. Declare moved ports with --service NAME=PORT."
			f.Confidence = "low"
		} else {
			f.Summary = fmt.Sprintf("Supportworks server %s: version %s, from the ports in use", s, rng)
			f.Detail = "The seed's port table bounds the version: " + strings.Join(why, "; ") + ". Ports can be moved (seed: any default port is changeable), so this holds for a default configuration."
		}
		f.Recommendation = "Ignore firewall rules for ports that do not apply to this version (seed: \"you can ignore any services/ports that do not apply to your particular Supportworks version\")."
		ins := make([]int, 0, len(frames))
		for in := range frames {
			ins = append(ins, in)
		}
		sort.Ints(ins)
		var ports []string
		for _, k := range keys {
			e := servers[s][k]
			ports = append(ports, fmt.Sprintf("%s.port==%d", e.svc.Transport, e.svc.Port))
		}
		for _, in := range ins {
			fr := frames[in]
			sort.Slice(fr, func(i, j int) bool { return fr[i] < fr[j] })
			f.Evidence = append(f.Evidence, Evidence{InputIndex: in, Frames: dedupFrames(fr)})
		}
		f.WiresharkFilter = fmt.Sprintf("%s.addr==%s && (%s)", ipField(s), s, strings.Join(ports, " || "))
		f.FirstSeen, f.LastSeen = a.first, a.last
		out = append(out, f)
	}
	return out
}

// captureFindings reports the limits of the capture itself.
func (a *Analyzer) captureFindings(conns []*Conn, inputs []*dissect.InputInfo) []Finding {
	var out []Finding
	mk := func(kind, sev, summary, detail, rec string) Finding {
		return Finding{Kind: kind, Severity: sev, Summary: summary, Detail: detail, Recommendation: rec, Confidence: "high",
			FirstSeen: a.first, LastSeen: a.last, Count: 1}
	}
	for i, in := range inputs {
		var damaged, outages []*dissect.FrameError
		for _, e := range in.Errors {
			if e.Interruption {
				outages = append(outages, e)
			} else {
				damaged = append(damaged, e)
			}
		}
		if len(outages) > 0 {
			var msgs []string
			for _, e := range outages {
				msgs = append(msgs, e.Msg)
			}
			f := mk("capture_interrupted", Warning, fmt.Sprintf("%s: the capture was interrupted", in.Path),
				"The captured interface went down during the capture: "+strings.Join(msgs, "; ")+". Packets of that time are missing, so an unanswered request then may have been answered.",
				"Capture on an interface that stays up for the whole reproduction, or repeat the reproduction.")
			f.Count = len(outages)
			out = append(out, f)
		}
		nDamaged := 0
		for _, e := range damaged {
			nDamaged += int(max(e.Count, 1))
		}
		if len(damaged) > 0 || in.Truncated > 0 {
			f := mk("capture_truncated", Warning,
				fmt.Sprintf("%s: %s damaged or cut short", in.Path, plural(nDamaged+int(in.Truncated), "frame or record", "frames or records")),
				"", "Conclusions about the affected frames are weaker; re-capture with a full snap length (tcpdump -s 0) and copy the file whole.")
			var msgs []string
			var frames []uint64
			for j, e := range damaged {
				if j < 5 {
					msgs = append(msgs, e.Error())
				}
				if e.Frame > 0 && len(frames) < 32 {
					frames = append(frames, e.Frame)
				}
			}
			f.Detail = fmt.Sprintf("%d frames were cut by the snap length; %d problems reading the file: %s", in.Truncated, len(damaged), strings.Join(msgs, "; "))
			if len(damaged) == 0 {
				f.Severity = Info
				f.Detail = fmt.Sprintf("%d frames were cut by the snap length: payload hints are unavailable for them, headers were read.", in.Truncated)
			}
			f.Evidence = []Evidence{{InputIndex: i, Frames: frames}}
			f.WiresharkFilter = "frame.cap_len < frame.len"
			f.Count = nDamaged + int(in.Truncated)
			out = append(out, f)
		}
		if in.Drops > 0 {
			f := mk("capture_drops", Warning, fmt.Sprintf("%s: the capture dropped %d packets", in.Path, in.Drops),
				"The capturing kernel reported dropped packets: a missing answer may be a packet the capture lost, not one the firewall dropped.",
				"Capture with a narrower filter or a larger buffer (tcpdump -B), or on a less busy host.")
			f.Count = int(in.Drops)
			out = append(out, f)
		}
	}
	dups := 0
	for _, c := range conns {
		dups += c.dups
	}
	if dups > 0 {
		f := mk("capture_duplicates", Info, fmt.Sprintf("%s captured twice", plural(dups, "TCP segment was", "TCP segments were")),
			"The same IPv4 datagram (same IP ID, sequence number and length) appears twice within 50 ms: the capture saw it at two points (pktmon components, a SPAN of both ports). These copies were ignored, not counted as retransmissions.",
			"Nothing to fix on the network; capture at one point if the duplicates confuse other tools.")
		f.Count = dups
		out = append(out, f)
	}
	vs := make([]int, 0, len(a.oneSided))
	for v := range a.oneSided {
		vs = append(vs, int(v))
	}
	sort.Ints(vs)
	for _, v := range vs {
		n := a.oneSided[uint16(v)]
		{
			vk := a.vantageOf[v]
			path := fmt.Sprint(vk.input)
			if vk.input < len(inputs) {
				path = inputs[vk.input].Path
			}
			f := mk("capture_one_sided", Warning, fmt.Sprintf("%s: only one direction of traffic was captured", path),
				fmt.Sprintf("None of the %d TCP connections at this capture point shows packets in both directions. Unanswered SYNs here may be answered on a path the capture does not see (asymmetric routing, a one-way SPAN), so they are not reported as blocked.", n),
				"Capture on a point that sees both directions, or add a capture from the other side.")
			f.Count = n
			out = append(out, f)
		}
	}
	return out
}

// oneSidedVantages finds the capture points that saw only one direction of
// traffic: at least three TCP connections, none with packets both ways (or
// an ICMP error back), and at least one that went beyond its SYNs in its one
// direction: packets that acknowledge what the other side sent, which this
// capture never saw. A client whose every SYN is dropped also shows one
// direction, but only SYNs: that is a blocked client, not a one-way capture.
// The unanswered SYNs of a one-sided capture point prove nothing.
func oneSidedVantages(conns []*Conn) map[uint16]int {
	type tally struct{ twoWay, beyondSYN, conns int }
	seen := map[uint16]*tally{}
	for _, c := range conns {
		s := seen[c.Vantage]
		if s == nil {
			s = &tally{}
			seen[c.Vantage] = s
		}
		s.conns++
		switch {
		case c.dir[0].pkts > 0 && c.dir[1].pkts > 0 || c.icmp != nil:
			s.twoWay++
		case c.dir[0].pkts > uint64(c.dir[0].syn) || c.dir[1].pkts > uint64(c.dir[1].syn):
			s.beyondSYN++
		}
	}
	out := map[uint16]int{}
	for v, s := range seen {
		if s.conns >= 3 && s.twoWay == 0 && s.beyondSYN > 0 {
			out[v] = s.conns
		}
	}
	return out
}
