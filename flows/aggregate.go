package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Thresholds past which per-client findings are folded together, so a
// report stays readable (and bounded) whatever the capture holds: a
// support engineer needs "a scanner tried 4000 ports" and "900 clients get
// late answers from this KeyServer", not 4000 or 900 findings.
const (
	// scanTargets is how many distinct server ports one client may fail to
	// reach before its attempts are a scan.
	scanTargets = 20
	// manyClients is how many clients may share a finding about one
	// service before they are reported together.
	manyClients = 20
	// maxSamples bounds the numeric samples a merged group keeps.
	maxSamples = 1000
)

// synKinds are the connection-attempt findings a scan is made of.
var synKinds = map[string]bool{"syn_unanswered": true, "syn_reset": true, "syn_icmp_rejected": true, "handshake_incomplete": true}

// aggregate folds scans (one client, many server ports) into one syn_scan
// finding per client. (The findings many clients share about one service
// are merged as they are added: findingSet.add.)
func (a *Analyzer) aggregate(fs *findingSet, texts map[*group]func(*group) Finding) {
	// Fan-out: scans.
	targets := map[netip.Addr]map[groupKey]bool{}
	for _, g := range fs.order {
		if synKinds[g.key.kind] {
			t := targets[g.key.client]
			if t == nil {
				t = map[groupKey]bool{}
				targets[g.key.client] = t
			}
			t[groupKey{server: g.key.server, port: g.key.port}] = true
		}
	}
	merged := map[*group]*group{} // member -> the group it went into
	scans := map[netip.Addr]*group{}
	for _, g := range fs.order {
		if !synKinds[g.key.kind] || len(targets[g.key.client]) <= scanTargets {
			continue
		}
		s := scans[g.key.client]
		if s == nil {
			s = newGroup(groupKey{kind: "syn_scan", client: g.key.client, transport: TCP}, Info, nil, g)
			s.notes = map[string]int{}
			scans[g.key.client] = s
			texts[s] = a.textScan
		}
		s.absorb(g)
		s.notes["kind "+g.key.kind] += g.count
		s.notes["host "+g.key.server.String()]++
		if g.service != nil {
			s.notes["svc "+g.service.Name]++
		}
		merged[g] = s
	}
	if len(merged) == 0 {
		return
	}
	// Rebuild the order: a merged group takes its first member's place.
	var order []*group
	placed := map[*group]bool{}
	for _, g := range fs.order {
		t := g
		if m := merged[g]; m != nil {
			t = m
		}
		if !placed[t] {
			placed[t] = true
			order = append(order, t)
		}
		if merged[g] != nil {
			delete(fs.groups, g.key)
			delete(texts, g)
		}
	}
	fs.order = order
}

// newGroup starts an empty group with a member's times.
func newGroup(k groupKey, severity string, svc *Service, first *group) *group {
	return &group{key: k, severity: severity, service: svc, first: first.first, last: first.last,
		frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, notes: map[string]int{}, inputs: map[int]bool{}}
}

// absorb adds a member group's counts, times and evidence.
func (g *group) absorb(m *group) {
	g.count += m.count
	if m.first.Before(g.first) {
		g.first = m.first
	}
	if m.last.After(g.last) {
		g.last = m.last
	}
	if SeverityRank(m.severity) > SeverityRank(g.severity) && g.key.kind != "syn_scan" {
		g.severity = m.severity
	}
	if g.service == nil && g.key.kind != "syn_scan" {
		g.service = m.service
	}
	for in, fr := range m.frames {
		g.frames[in] = appendFrames(g.frames[in], fr)
		g.inputs[in] = true
	}
	if len(g.clientPts) <= 40 {
		for p := range m.clientPts {
			g.clientPts[p] = true
		}
	}
	if g.key.kind != "syn_scan" {
		for n, v := range m.notes {
			g.notes[n] += v
		}
	}
	if room := maxSamples - len(g.samples); room > 0 {
		g.samples = append(g.samples, m.samples[:min(room, len(m.samples))]...)
	}
	if g.ttls == [2]uint8{} {
		g.ttls = m.ttls
	}
	if g.extra == "" {
		g.extra = m.extra
	}
}

// clientList names a merged group's clients, most affected first.
func (g *group) clientList(max int) string {
	type cc struct {
		a netip.Addr
		n int
	}
	var cs []cc
	for a, n := range g.clients {
		cs = append(cs, cc{a, n})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].n != cs[j].n {
			return cs[i].n > cs[j].n
		}
		return cs[i].a.Less(cs[j].a)
	})
	var parts []string
	for i, c := range cs {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-max))
			break
		}
		parts = append(parts, c.a.String())
	}
	return strings.Join(parts, ", ")
}

func (a *Analyzer) textScan(g *group) Finding {
	var kinds, svcs []string
	hosts := 0
	for n, v := range g.notes {
		switch {
		case strings.HasPrefix(n, "kind "):
			kinds = append(kinds, fmt.Sprintf("%s %d", strings.TrimPrefix(n, "kind "), v))
		case strings.HasPrefix(n, "host "):
			hosts++
		case strings.HasPrefix(n, "svc "):
			svcs = append(svcs, strings.TrimPrefix(n, "svc "))
		}
	}
	sort.Strings(kinds)
	sort.Strings(svcs)
	summary := fmt.Sprintf("%s scanned %s: %s that failed", g.client(), plural(hosts, "host", "hosts"), plural(g.count, "connection attempt", "connection attempts"))
	detail := fmt.Sprintf("%s tried to connect to many ports (%s) and was refused or ignored: a port scan (or a misconfigured client), not a product connection. The attempts are not reported one by one.",
		g.client(), strings.Join(kinds, ", "))
	if len(svcs) > 0 {
		detail += " Product ports among them: " + strings.Join(svcs, ", ") + "."
	}
	rec := fmt.Sprintf("Nothing to open for the products. If %s is not a known scanner, find out what it is.", g.client())
	f := ipField(g.client())
	return g.finding(summary, detail, rec, "medium", fmt.Sprintf("%s.src==%s && tcp.flags.syn==1 && tcp.flags.ack==0", f, g.client()))
}
