package flows

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// groupKey is what findings are grouped by: a thousand blocked SYNs from one
// client to one service make one finding with a count.
type groupKey struct {
	kind      string
	client    netip.Addr
	server    netip.Addr
	port      uint16
	transport string
}

// group accumulates the members of one finding.
type group struct {
	key       groupKey
	severity  string
	service   *Service
	count     int
	first     time.Time
	last      time.Time
	frames    map[int][]uint64 // input -> evidence frames
	clientPts map[uint16]bool  // client ports of the members (for the filter)
	// notes collect facts from members that the text draws on.
	notes map[string]int
	// samples keep numeric facts (durations, TTLs) to summarise.
	samples []time.Duration
	ttls    [2]uint8 // e.g. forged TTL, genuine TTL
	extra   string
	inputs  map[int]bool
	// clients is set on a group merged from many clients' groups (fan-in):
	// the clients and how many members each had; key.client is then zero.
	clients map[netip.Addr]int
	// rep is a member client, for the address family of a merged group.
	rep netip.Addr
	// moreClients counts members beyond the clients named in clients.
	moreClients int
	// seen holds the client ports of the members counted (see member).
	seen map[uint16]bool
	// hashes holds the packets counted by the capture comparison.
	hashes map[uint64]bool
}

// who names a group's client in prose: one address, or "N clients".
type who struct {
	addr netip.Addr
	n    int
}

func (w who) String() string {
	if w.n > 1 {
		return fmt.Sprintf("%d clients", w.n)
	}
	if w.n < 0 {
		return fmt.Sprintf("more than %d clients", -w.n)
	}
	return w.addr.String()
}

// Is4 and Is4In6 give the family of the client(s), for Wireshark fields.
func (w who) Is4() bool    { return w.addr.Is4() }
func (w who) Is4In6() bool { return w.addr.Is4In6() }

// client is the group's client for prose and filters.
func (g *group) client() who {
	if g.clients != nil {
		if g.moreClients > 0 {
			return who{g.rep, -len(g.clients)}
		}
		return who{g.rep, len(g.clients)}
	}
	return who{g.key.client, 1}
}

// findingSet collects groups in first-seen order, with the function that
// renders each. Findings that many clients share about one service are
// merged as they come (fan-in), so the set stays bounded by services, not
// by clients, whatever a flood brings.
type findingSet struct {
	groups map[groupKey]*group
	order  []*group
	texts  map[*group]func(*group) Finding
	// perService counts the client groups of each (kind, server, port);
	// merged holds the group they went into once past manyClients.
	perService map[serviceKey]int
	merged     map[serviceKey]*group
}

// serviceKey is a groupKey without its client.
type serviceKey struct {
	kind, transport string
	server          netip.Addr
	port            uint16
}

func newFindingSet() *findingSet {
	return &findingSet{groups: map[groupKey]*group{}, texts: map[*group]func(*group) Finding{},
		perService: map[serviceKey]int{}, merged: map[serviceKey]*group{}}
}

// maxClientList bounds the clients a merged group names one by one.
const maxClientList = 1000

// member records the client port of a group's member (a connection or a
// flow; the client address is the group's) and, when the same member was
// already counted, takes back the count add gave it: the same connection
// seen at two capture points (both sides of a firewall, or two interfaces
// of a tcpdump -i any) is one connection. Merged groups count raw.
func (g *group) member(port uint16) {
	if g.clients == nil && g.key.client.IsValid() {
		if g.seen == nil {
			g.seen = map[uint16]bool{}
		}
		if g.seen[port] {
			g.count--
		} else {
			g.seen[port] = true
		}
	}
	if len(g.clientPts) <= 40 || g.clientPts[port] {
		g.clientPts[port] = true
	}
}

// maxSample is the largest numeric fact the members recorded (0 none).
func (g *group) maxSample() time.Duration {
	var m time.Duration
	for _, s := range g.samples {
		m = max(m, s)
	}
	return m
}

// addSample keeps a numeric fact about a member, up to maxSamples.
func (g *group) addSample(d time.Duration) {
	if len(g.samples) < maxSamples {
		g.samples = append(g.samples, d)
	}
}

// mergeService folds the client groups of sk into one group.
func (fs *findingSet) mergeService(sk serviceKey) *group {
	var m *group
	keep := fs.order[:0]
	for _, g := range fs.order {
		if g.key.kind != sk.kind || g.key.transport != sk.transport || g.key.server != sk.server || g.key.port != sk.port || !g.key.client.IsValid() {
			keep = append(keep, g)
			continue
		}
		if m == nil {
			m = newGroup(groupKey{kind: sk.kind, server: sk.server, port: sk.port, transport: sk.transport}, g.severity, g.service, g)
			m.clients = map[netip.Addr]int{}
			m.rep = g.key.client
			fs.texts[m] = fs.texts[g]
			keep = append(keep, m)
		}
		m.absorb(g)
		m.noteClient(g.key.client, g.count)
		delete(fs.groups, g.key)
		delete(fs.texts, g)
	}
	fs.order = keep
	fs.groups[m.key] = m
	fs.merged[sk] = m
	return m
}

// noteClient counts a member client of a merged group.
func (g *group) noteClient(c netip.Addr, n int) {
	if _, ok := g.clients[c]; ok || len(g.clients) < maxClientList {
		g.clients[c] += n
		return
	}
	g.moreClients++
}

// add returns the group for the key, creating it, and records one member.
func (fs *findingSet) add(kind, severity string, svc *Service, transport string, client, server netip.Addr, port uint16,
	first, last time.Time, input int, frames []uint64) *group {
	k := groupKey{kind, client, server, port, transport}
	sk := serviceKey{kind, transport, server, port}
	g := fs.groups[k]
	if g == nil && client.IsValid() {
		if m := fs.merged[sk]; m != nil {
			g = m
			m.noteClient(client, 1)
		} else if fs.perService[sk]++; fs.perService[sk] > manyClients {
			g = fs.mergeService(sk)
			g.noteClient(client, 1)
		}
	}
	if g == nil {
		g = &group{key: k, severity: severity, service: svc, first: first, last: last,
			frames: map[int][]uint64{}, clientPts: map[uint16]bool{}, notes: map[string]int{}, inputs: map[int]bool{}}
		fs.groups[k] = g
		fs.order = append(fs.order, g)
	}
	if SeverityRank(severity) > SeverityRank(g.severity) {
		g.severity = severity
	}
	if g.service == nil {
		g.service = svc
	}
	g.count++
	if first.Before(g.first) {
		g.first = first
	}
	if last.After(g.last) {
		g.last = last
	}
	g.inputs[input] = true
	g.frames[input] = appendFrames(g.frames[input], frames)
	return g
}

// finding renders a group into a Finding with the given text.
func (g *group) finding(summary, detail, recommendation, confidence, filter string) Finding {
	f := Finding{
		Kind: g.key.kind, Severity: g.severity, Transport: g.key.transport,
		Port: int(g.key.port), FirstSeen: g.first, LastSeen: g.last, Count: g.count,
		Summary: summary, Detail: detail, Recommendation: recommendation,
		Confidence: confidence, WiresharkFilter: filter,
	}
	if g.service != nil {
		f.Service = g.service.Name
	}
	if g.key.client.IsValid() {
		f.Client = g.key.client.String()
	}
	if g.clients != nil {
		// Merged from many clients: the per-client filter no longer fits;
		// select the service's traffic instead, and name the clients.
		f.WiresharkFilter = fmt.Sprintf("%s.addr==%s && %s.port==%d", ipField(g.rep), g.key.server, g.key.transport, g.key.port)
		n := fmt.Sprint(len(g.clients))
		if g.moreClients > 0 {
			n = "more than " + n
		}
		f.Detail += fmt.Sprintf(" Clients (%s): %s.", n, g.clientList(12))
	}
	if g.key.server.IsValid() {
		f.Server = g.key.server.String()
	}
	inputs := make([]int, 0, len(g.frames))
	for in := range g.frames {
		inputs = append(inputs, in)
	}
	sort.Ints(inputs)
	for _, in := range inputs {
		fr := append([]uint64(nil), g.frames[in]...)
		sort.Slice(fr, func(i, j int) bool { return fr[i] < fr[j] })
		fr = dedupFrames(fr)
		if len(fr) > 0 {
			f.Evidence = append(f.Evidence, Evidence{InputIndex: in, Frames: fr})
		}
	}
	return f
}

func dedupFrames(fr []uint64) []uint64 {
	out := fr[:0]
	for i, f := range fr {
		if i == 0 || f != fr[i-1] {
			out = append(out, f)
		}
	}
	return out
}

// serviceLabel names a service for prose: "sw-binary (TCP 5001)".
func serviceLabel(svc *Service, port uint16, transport string) string {
	if svc == nil {
		return fmt.Sprintf("%s %d", strings.ToUpper(transport), port)
	}
	return fmt.Sprintf("%s (%s %d)", svc.Name, strings.ToUpper(transport), port)
}

// ipField returns Wireshark's field prefix for an address: ip or ipv6.
func ipField(a interface {
	Is4() bool
	Is4In6() bool
}) string {
	if a.Is4() || a.Is4In6() {
		return "ip"
	}
	return "ipv6"
}

// portSet renders Wireshark's set syntax for a few ports ("in {a, b}": Wireshark
// 4 requires the commas), "" when too many.
func portSet(field string, ports map[uint16]bool) string {
	if len(ports) == 0 || len(ports) > 40 {
		return ""
	}
	ps := make([]int, 0, len(ports))
	for p := range ports {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	if len(ps) == 1 {
		return fmt.Sprintf("%s==%d", field, ps[0])
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("%s in {%s}", field, strings.Join(s, ", "))
}

// dur renders a duration for prose in the unit a reader expects.
func dur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= 2*time.Minute:
		return fmt.Sprintf("%.1f min", d.Minutes())
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// icmpNotes returns the ICMP codes and the addresses of the ICMP senders a
// group's members recorded (notes "NAME" and "from ADDR"), sorted.
func (g *group) icmpNotes() (codes, froms []string) {
	for n := range g.notes {
		switch {
		case strings.HasPrefix(n, "@"):
		case strings.HasPrefix(n, "from "):
			froms = append(froms, strings.TrimPrefix(n, "from "))
		default:
			codes = append(codes, n)
		}
	}
	sort.Strings(codes)
	sort.Strings(froms)
	return codes, froms
}

// flowFilter selects a group's flows between its client and server on the
// service port, narrowed to the members' client ports when they are few.
func flowFilter(g *group, transport string) string {
	f := ipField(g.client())
	s := fmt.Sprintf("%s.addr==%s && %s.addr==%s && %s.port==%d", f, g.client(), f, g.key.server, transport, g.key.port)
	if ps := portSet(transport+".port", g.clientPts); ps != "" {
		s += " && " + ps
	}
	return s
}

// appendFrames adds frames to have, keeping at most 64 (the evidence a
// finding lists per input).
func appendFrames(have, frames []uint64) []uint64 {
	for _, f := range frames {
		if len(have) >= 64 {
			break
		}
		have = append(have, f)
	}
	return have
}
