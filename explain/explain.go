// Package explain words typed findings for people: a summary, what was
// seen (detail), what to change (fix, quoting the product's own document)
// and a Wireshark display filter that selects the evidence. Its functions
// are pure: they read a diagnose.Finding and the Context and return text,
// so each kind's words are golden-tested on their own, and redaction
// happens on typed addresses (Context.Addr) before any word is written.
package explain

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// TCP and UDP name the transports.
const (
	TCP = catalog.TCP
	UDP = catalog.UDP
)

// Context is what the words depend on besides the finding itself.
type Context struct {
	// Timeouts are the thresholds the analysis ran with, and their sources.
	Timeouts catalog.Timeouts
	// Addr writes an address (a redactor's pseudonym); nil: as it is.
	Addr func(netip.Addr) string
	// Inputs are the inputs' paths, by index.
	Inputs []string
	// CapturePoints are the result's capture points, by index.
	CapturePoints []diagnose.CapturePoint
}

// Text is a finding in words.
type Text struct {
	Summary string // one line: who, what, how many
	Detail  string // what was seen and why it matters
	Fix     string // what to change, with the product rule that applies
	Filter  string // a Wireshark display filter for the evidence
}

// A writes an address as the report shows it.
func (c *Context) A(a netip.Addr) string {
	if c.Addr != nil {
		return c.Addr(a)
	}
	return a.String()
}

// AP writes an address and port ("a:p", "[a]:p") as the report shows it.
func (c *Context) AP(ap netip.AddrPort) string {
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		return "[" + c.A(ap.Addr()) + "]:" + fmt.Sprint(ap.Port())
	}
	return c.A(ap.Addr()) + ":" + fmt.Sprint(ap.Port())
}

// who names a finding's client(s): one address, "N clients" or "more
// than N clients".
func (c *Context) who(f *diagnose.Finding) string {
	w := f.Who()
	switch {
	case w.N > 1:
		return fmt.Sprintf("%d clients", w.N)
	case w.N < 0:
		return fmt.Sprintf("more than %d clients", -w.N)
	}
	return c.A(w.Addr)
}

// Finding words a finding.
func Finding(c *Context, f *diagnose.Finding) Text {
	fn := texts[f.Kind]
	if fn == nil {
		return Text{Summary: string(f.Kind)}
	}
	t := fn(c, f)
	if f.Clients != nil {
		// Merged from many clients: the filters test the set of clients
		// (or, when too many to list, none: the service's traffic).
		n := fmt.Sprint(len(f.Clients))
		if f.MoreClients > 0 {
			n = "more than " + n
		}
		t.Detail += fmt.Sprintf(" Clients (%s): %s.", n, c.clientList(f, 12))
	}
	if s := f.Symptoms(); s != nil && len(s.Shadows) > 0 && t.Filter != "" {
		// The failover folded in as a symptom: its datagrams to the
		// KeyShadows are evidence too.
		ipf := ipField(f.Who().Addr)
		var shadows []string
		for _, a := range sortedAddrs(s.Shadows) {
			shadows = append(shadows, c.A(a))
		}
		t.Filter = fmt.Sprintf("(%s) || (%s)", t.Filter, and(c.clientIs(f, "addr"), fmt.Sprintf("%s.addr in {%s} && udp.port==19315", ipf, strings.Join(shadows, ", "))))
	}
	return t
}

// textFunc words one kind.
type textFunc func(*Context, *diagnose.Finding) Text

// texts holds each kind's wording, gathered from the files that word them
// (a file per concern, as in diagnose). It is not changed after init.
var texts = gather(synTexts, npaTexts, udpTexts, compareTexts, captureTexts)

func gather(sets ...map[diagnose.Kind]textFunc) map[diagnose.Kind]textFunc {
	all := map[diagnose.Kind]textFunc{}
	for _, set := range sets {
		for k, fn := range set {
			all[k] = fn
		}
	}
	return all
}

// Kinds lists the kinds that have words, for tests.
func Kinds() []diagnose.Kind {
	out := make([]diagnose.Kind, 0, len(texts))
	for k := range texts {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// factsOf returns the finding's facts of type *T (zero facts when absent).
func factsOf[T any](f *diagnose.Finding) *T {
	if x, ok := any(f.Facts).(*T); ok {
		return x
	}
	return new(T)
}

// clientList names a merged finding's clients, most affected first.
func (c *Context) clientList(f *diagnose.Finding, most int) string {
	var parts []string
	for i, cc := range f.Clients {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(f.Clients)-most))
			break
		}
		parts = append(parts, c.A(cc.Addr))
	}
	return strings.Join(parts, ", ")
}

// CapturePoint names a capture point for prose and tables: the input's
// file name, with the interface when the input has several.
func (c *Context) CapturePoint(v uint16) string {
	if int(v) >= len(c.CapturePoints) {
		return fmt.Sprintf("capture point %d", v)
	}
	k := c.CapturePoints[v]
	name := fmt.Sprintf("input %d", k.Input+1)
	if k.Input < len(c.Inputs) && c.Inputs[k.Input] != "" {
		name = filepath.Base(c.Inputs[k.Input])
	}
	switch {
	case k.IfIndex != 0:
		name += fmt.Sprintf(" interface %d", k.IfIndex)
	case k.Iface != 0:
		name += fmt.Sprintf(" interface id %d", k.Iface)
	case k.Outgoing:
		name += " (outgoing)"
	}
	return name
}

// input names an input by index.
func (c *Context) input(i int) string {
	if i >= 0 && i < len(c.Inputs) {
		return c.Inputs[i]
	}
	return fmt.Sprint(i)
}

// serviceLabel names a service for prose: "sw-binary (TCP 5001)".
func serviceLabel(svc *catalog.Service, port uint16, transport catalog.Transport) string {
	if svc == nil {
		return fmt.Sprintf("%s %d", strings.ToUpper(string(transport)), port)
	}
	return fmt.Sprintf("%s (%s %d)", svc.Name, strings.ToUpper(string(transport)), port)
}

// ipField returns Wireshark's field prefix for an address: ip or ipv6.
func ipField(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "ip"
	}
	return "ipv6"
}

// icmpField is the display-filter protocol of ICMP errors about a's
// traffic: icmp for IPv4 (IPv4-mapped IPv6 too, as ipField), else icmpv6.
func icmpField(a netip.Addr) string {
	if ipField(a) == "ip" {
		return "icmp"
	}
	return "icmpv6"
}

// maxFilterClients bounds the clients a filter lists; a finding merged
// from more selects the service's traffic from every client.
const maxFilterClients = 40

// clientIs is the display-filter test that a packet's source, destination
// or either address (dir "src", "dst", "addr") is the finding's client, or
// one of the clients of a merged finding; "" when they are too many to
// list.
func (c *Context) clientIs(f *diagnose.Finding, dir string) string {
	ipf := ipField(f.Who().Addr)
	if f.Clients == nil {
		return fmt.Sprintf("%s.%s==%s", ipf, dir, c.A(f.Who().Addr))
	}
	if f.MoreClients > 0 || len(f.Clients) > maxFilterClients {
		return ""
	}
	addrs := make([]string, len(f.Clients))
	for i, cl := range f.Clients {
		addrs[i] = c.A(cl.Addr)
	}
	if len(addrs) == 1 {
		return fmt.Sprintf("%s.%s==%s", ipf, dir, addrs[0])
	}
	return fmt.Sprintf("%s.%s in {%s}", ipf, dir, strings.Join(addrs, ", "))
}

// and joins display-filter tests with &&, leaving out empty ones.
func and(tests ...string) string {
	var keep []string
	for _, t := range tests {
		if t != "" {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, " && ")
}

// portSet renders Wireshark's set syntax for a few ports ("in {a, b}":
// Wireshark 4 requires the commas), "" when there are none (or too many,
// which the finding leaves out).
func portSet(field string, ports []uint16) string {
	switch len(ports) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("%s==%d", field, ports[0])
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return fmt.Sprintf("%s in {%s}", field, strings.Join(s, ", "))
}

// flowFilter selects a finding's flows between its client and server on
// the service port, narrowed to the members' client ports when they are few.
func flowFilter(c *Context, f *diagnose.Finding, transport catalog.Transport) string {
	ipf := ipField(f.Who().Addr)
	s := and(c.clientIs(f, "addr"), fmt.Sprintf("%s.addr==%s && %s.port==%d", ipf, c.A(f.Server), transport, f.Port))
	if ps := portSet(string(transport)+".port", f.ClientPorts); ps != "" {
		s += " && " + ps
	}
	return s
}

// synFilter selects a finding's SYNs (and, with answers, the replies).
func synFilter(c *Context, f *diagnose.Finding, answer string) string {
	ipf := ipField(f.Who().Addr)
	s := and(c.clientIs(f, "src"), fmt.Sprintf("%s.dst==%s && tcp.dstport==%d && tcp.flags.syn==1 && tcp.flags.ack==0", ipf, c.A(f.Server), f.Port))
	if ps := portSet("tcp.srcport", f.ClientPorts); ps != "" {
		s += " && " + ps
	}
	if answer != "" {
		return "(" + s + ") || (" + answer + ")"
	}
	return s
}

// seedRule quotes the product rule that applies to a service, if any.
func seedRule(svc *catalog.Service) string {
	if svc == nil {
		return ""
	}
	label := serviceLabel(svc, svc.Port, svc.Transport)
	switch svc.Product {
	case catalog.Supportworks:
		return fmt.Sprintf(" Supportworks needs %s open from its clients to the server (%s: \"Each service is provided as a TCP protocol connection from the Supportworks server on specific ports - which you have to ensure your firewall keeps open\").", label, svc.Source)
	case catalog.K2:
		switch svc.Name {
		case catalog.K2PRS:
			return fmt.Sprintf(" While %s is blocked the Product Recognition Service cannot work: KeyServer gets no new product definitions (KeyConfigure's manual \"Find Product Definitions\" from an unblocked computer still can). %s: \"All firewalls between KeyServer and prs.sassafras.com must be configured to allow https port 443 (or optionally, http port 80) connections initiated from the KeyServer computer\".", label, svc.Source)
		case catalog.K2VersionCheck:
			return fmt.Sprintf(" While %s is blocked KeyConfigure waits for its version check at every launch: turn the version check off in KeyConfigure's Config Menu, or allow HTTP to www.sassafras.com (%s).", label, svc.Source)
		case catalog.K2SMTP:
			return fmt.Sprintf(" While %s is blocked KeyServer status and warning mail is not delivered (%s).", label, svc.Source)
		}
		return fmt.Sprintf(" K2 needs %s (%s).", label, svc.Source)
	}
	return ""
}

// icmpCodeName names ICMP/ICMPv6 error codes in the words firewall
// administrators use.
func icmpCodeName(k diagnose.ICMPCode) string {
	if k.V6 {
		switch k.Type {
		case 1:
			switch k.Code {
			case 0:
				return "no-route"
			case 1:
				return "admin-prohibited"
			case 2:
				return "beyond-scope"
			case 3:
				return "addr-unreachable"
			case 4:
				return "port-unreachable"
			case 5:
				return "policy-fail"
			case 6:
				return "reject-route"
			}
			return fmt.Sprintf("unreachable code %d", k.Code)
		case 2:
			return "packet-too-big"
		case 3:
			return "time-exceeded"
		case 4:
			return "parameter-problem"
		}
		return fmt.Sprintf("ICMPv6 type %d code %d", k.Type, k.Code)
	}
	switch k.Type {
	case 3:
		switch k.Code {
		case 0:
			return "net-unreachable"
		case 1:
			return "host-unreachable"
		case 2:
			return "prot-unreachable"
		case 3:
			return "port-unreachable"
		case 4:
			return "frag-needed"
		case 9:
			return "net-prohibited"
		case 10:
			return "host-prohibited"
		case 13:
			return "admin-prohibited"
		}
		return fmt.Sprintf("unreachable code %d", k.Code)
	case 11:
		return "time-exceeded"
	case 12:
		return "parameter-problem"
	}
	return fmt.Sprintf("ICMP type %d code %d", k.Type, k.Code)
}

// icmpNotes returns the names of the ICMP codes and the senders' addresses
// of a finding's errors, each sorted.
func (c *Context) icmpNotes(x *diagnose.ICMPFacts) (codes, froms []string) {
	seen := map[string]bool{}
	for k := range x.Codes {
		if n := icmpCodeName(k); !seen[n] {
			seen[n] = true
			codes = append(codes, n)
		}
	}
	sort.Strings(codes)
	for _, a := range sortedAddrs(x.From) {
		froms = append(froms, c.A(a))
	}
	return codes, froms
}

// sortedAddrs returns a set's addresses in numeric order, the order of the
// report's lists (a finding's servers, the hosts table), so prose and JSON
// name them alike.
func sortedAddrs[V any](m map[netip.Addr]V) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	// Numerically, as the report's tables and lists sort addresses.
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
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

// Plural counts n things: "1 connection", "2 connections".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, ", ")
}

// appear and them agree with a count in prose.
func appear(n int) string {
	if n == 1 {
		return "appears"
	}
	return "appear"
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
