package diagnose

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/fwdiag/fwdiag/catalog"
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
	midstream := map[netip.Addr]bool{}
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
		if svc == nil || svc.Product != catalog.Supportworks || a.scanners[c.Client.Addr()] {
			continue
		}
		answered := c.SynAck || c.Midstream && c.Dir[1].Pkts > 0
		if !answered && (c.FirstSyn.IsZero() || !sessions[pair{c.Client.Addr(), c.Server.Addr()}]) {
			continue
		}
		note(c.Server.Addr(), svc, c.Input, c.FirstFrame)
		if c.FirstSyn.IsZero() {
			midstream[c.Server.Addr()] = true
		}
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
		vf := &VersionFacts{Lo: -1, Hi: -1, Midstream: midstream[s]}
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
