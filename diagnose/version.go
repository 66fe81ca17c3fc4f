package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
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

// versionFindings bounds each Supportworks server's version by the ports
// its clients use (seed: Supportworks Services and Ports).
func (a *run) versionFindings(conns []*flows.Conn, udps []*flows.UDPFlow) []Finding {
	type ev struct {
		svc    *catalog.Service
		frames map[int][]uint64
	}
	type portID struct {
		name      catalog.ServiceName
		port      uint16
		transport catalog.Transport
	}
	servers := map[netip.Addr]map[portID]*ev{}
	note := func(server netip.Addr, svc *catalog.Service, input int, frame uint64) {
		if svc.MinVersion == "" && svc.MaxVersion == "" {
			return
		}
		m := servers[server]
		if m == nil {
			m = map[portID]*ev{}
			servers[server] = m
		}
		k := portID{svc.Name, svc.Port, svc.Transport}
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
		if c.NPAPort && (c.SynAck || c.Midstream && c.Dir[1].Pkts > 0) {
			sessions[pair{c.Client.Addr(), c.Server.Addr()}] = true
		}
	}
	for _, c := range conns {
		svc := c.Service
		if svc == nil || svc.Product != catalog.Supportworks {
			continue
		}
		answered := c.SynAck || c.Midstream && c.Dir[1].Pkts > 0
		if !answered && (c.FirstSyn.IsZero() || !sessions[pair{c.Client.Addr(), c.Server.Addr()}]) {
			continue
		}
		note(c.Server.Addr(), svc, c.Input, c.FirstFrame)
	}
	for _, f := range udps {
		svc := f.Service
		if svc == nil || svc.Name != catalog.SWNotifyUDP || f.Responses == 0 {
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
		keys := make([]portID, 0, len(servers[s]))
		for k := range servers[s] {
			keys = append(keys, k)
		}
		// In the order of "name/port/transport" as text, as reports have
		// always listed them.
		key := func(k portID) string { return fmt.Sprintf("%s/%d/%s", k.name, k.port, k.transport) }
		sort.Slice(keys, func(i, j int) bool { return key(keys[i]) < key(keys[j]) })
		vf := &VersionFacts{Lo: -1, Hi: -1}
		frames := map[int][]uint64{}
		for _, k := range keys {
			e := servers[s][k]
			lo, hi := versionNum(e.svc.MinVersion), versionNum(e.svc.MaxVersion)
			if lo >= 0 && lo > vf.Lo {
				vf.Lo = lo
			}
			if hi >= 0 && (vf.Hi < 0 || hi < vf.Hi) {
				vf.Hi = hi
			}
			vf.Ports = append(vf.Ports, VersionPort{Service: e.svc.Name, Transport: e.svc.Transport, Port: e.svc.Port, Lo: lo, Hi: hi})
			for in, fr := range e.frames {
				frames[in] = append(frames[in], fr...)
			}
		}
		f := Finding{Kind: SWVersionInferred, Severity: Info, Transport: TCP, Server: s, Confidence: Medium,
			First: a.v.First, Last: a.v.Last, Facts: vf}
		if vf.Lo >= 0 && vf.Hi >= 0 && vf.Lo > vf.Hi {
			f.Confidence = Low // no single version uses all these ports
		}
		ins := make([]int, 0, len(frames))
		for in := range frames {
			ins = append(ins, in)
		}
		sort.Ints(ins)
		for _, in := range ins {
			fr := frames[in]
			slices.Sort(fr)
			f.Evidence = append(f.Evidence, Evidence{Input: in, Frames: slices.Compact(fr)})
		}
		out = append(out, f)
	}
	return out
}

// captureFindings reports the limits of the capture itself.
func (a *run) captureFindings(conns []*flows.Conn, inputs []*dissect.InputInfo) []Finding {
	var out []Finding
	mk := func(kind Kind, sev Severity, count int, facts *CaptureFacts) Finding {
		return Finding{Kind: kind, Severity: sev, Confidence: High, First: a.v.First, Last: a.v.Last, Count: count, Facts: facts}
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
			cf := &CaptureFacts{Input: i}
			for _, e := range outages {
				cf.Messages = append(cf.Messages, e.Msg)
			}
			out = append(out, mk(CaptureInterrupted, Warning, len(outages), cf))
		}
		nDamaged := 0
		for _, e := range damaged {
			nDamaged += int(max(e.Count, 1))
		}
		if len(damaged) > 0 || in.Truncated > 0 {
			cf := &CaptureFacts{Input: i, Truncated: int(in.Truncated), Damaged: nDamaged, Problems: len(damaged)}
			var frames []uint64
			for j, e := range damaged {
				if j < 5 {
					cf.Messages = append(cf.Messages, e.Error())
				}
				if e.Frame > 0 && len(frames) < 32 {
					frames = append(frames, e.Frame)
				}
			}
			sev := Warning
			if len(damaged) == 0 {
				sev = Info // only cut by the snap length: headers were read
			}
			f := mk(CaptureTruncated, sev, nDamaged+int(in.Truncated), cf)
			f.Evidence = []Evidence{{Input: i, Frames: frames}}
			out = append(out, f)
		}
		if in.Drops > 0 {
			out = append(out, mk(CaptureDrops, Warning, int(in.Drops), &CaptureFacts{Input: i, Drops: in.Drops}))
		}
	}
	dups := 0
	for _, c := range conns {
		dups += c.Dups
	}
	if dups > 0 {
		out = append(out, mk(CaptureDuplicates, Info, dups, &CaptureFacts{Input: -1}))
	}
	vs := make([]int, 0, len(a.oneSided))
	for v := range a.oneSided {
		vs = append(vs, int(v))
	}
	sort.Ints(vs)
	for _, v := range vs {
		n := a.oneSided[uint16(v)]
		out = append(out, mk(CaptureOneSided, Warning, n, &CaptureFacts{Input: a.v.CapturePoints[v].Input, Connections: n}))
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
func oneSidedVantages(conns []*flows.Conn) map[uint16]int {
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
		case c.Dir[0].Pkts > 0 && c.Dir[1].Pkts > 0 || c.ICMP != nil:
			s.twoWay++
		case c.Dir[0].Pkts > uint64(c.Dir[0].SYN) || c.Dir[1].Pkts > uint64(c.Dir[1].SYN):
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
