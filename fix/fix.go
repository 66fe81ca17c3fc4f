// Package fix writes the change a remedy asks for in each device's own
// configuration language: nftables, iptables, Windows Defender Firewall
// (PowerShell), Cisco ASA, PAN-OS, FortiOS, Check Point, Junos (SRX), pf,
// OpenWrt uci, and the AWS, Azure and Google Cloud NAT gateways. It reads a
// remedy (package remedy) and the clients it is for, and writes text: it
// does no I/O and keeps no state. Where a device cannot do what the remedy
// asks, its snippet says so in Note and says what to do instead, rather
// than invent a command.
package fix

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/remedy"
)

// Firewall names a device family whose configuration language fix writes.
// Its string is the name users type (--firewall) and the report's JSON.
type Firewall string

// The firewalls, named as the catalog's profiles name them where one exists.
const (
	NFTables   Firewall = "nftables"   // Linux nftables (nft)
	IPTables   Firewall = "iptables"   // Linux iptables (iptables-restore)
	Windows    Firewall = "windows"    // Windows Defender Firewall: PowerShell New-NetFirewallRule, netsh
	ASA        Firewall = "asa"        // Cisco ASA
	PANOS      Firewall = "panos"      // Palo Alto Networks PAN-OS (CLI configure mode)
	FortiGate  Firewall = "fortigate"  // Fortinet FortiGate (FortiOS CLI)
	CheckPoint Firewall = "checkpoint" // Check Point (mgmt_cli)
	SRX        Firewall = "srx"        // Juniper SRX (Junos set commands)
	PF         Firewall = "pf"         // pf (OpenBSD, FreeBSD, pfSense) pf.conf
	OpenWrt    Firewall = "openwrt"    // OpenWrt (uci, fw4)
	AWSNAT     Firewall = "aws-nat"    // AWS NAT gateway (aws cli)
	AzureNAT   Firewall = "azure-nat"  // Azure NAT gateway (az cli)
	GCPNAT     Firewall = "gcp-nat"    // Google Cloud NAT (gcloud)
)

// Firewalls returns every firewall, in a fixed order (hosts first, then
// appliances, then cloud NAT gateways). The slice is fresh on each call.
func Firewalls() []Firewall {
	return []Firewall{NFTables, IPTables, Windows, ASA, PANOS, FortiGate, CheckPoint, SRX, PF, OpenWrt, AWSNAT, AzureNAT, GCPNAT}
}

// ParseFirewall returns the firewall named s (case-insensitive). "all" is
// not a firewall: the caller expands it to Firewalls(). The error lists the
// known names.
func ParseFirewall(s string) (Firewall, error) {
	var names []string
	for _, f := range Firewalls() {
		if strings.EqualFold(string(f), strings.TrimSpace(s)) {
			return f, nil
		}
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown firewall %q (known: %s)", s, strings.Join(names, ", "))
}

// ForProfile returns the firewall of a catalog timeout profile (linux is
// nftables); false for the profiles that name no device ("default", "rfc")
// and for unknown names.
func ForProfile(profile string) (Firewall, bool) {
	switch p := strings.ToLower(profile); p {
	case "linux":
		return NFTables, true
	case "default", "rfc":
		return "", false
	default:
		for _, f := range Firewalls() {
			if string(f) == p && f != IPTables && f != NFTables {
				return f, true
			}
		}
	}
	return "", false
}

// Change is one change to write: a remedy and the clients it is for.
type Change struct {
	remedy.Remedy
	// From are the clients (the sources allowed); empty means any source.
	From []netip.Addr
	// More counts the clients beyond From (at least); when it is above
	// zero the snippets are written for any source and say so in a comment.
	More int
}

// Options tune the names a snippet uses on Linux. Zero values take the
// defaults noted on each field.
type Options struct {
	NFTFamily string // nftables table family; zero: inet
	NFTTable  string // nftables table; zero: filter
	NFTChain  string // nftables chain; zero: forward
	IPTChain  string // iptables chain; zero: FORWARD
}

// Snippet is a change written for one device.
type Snippet struct {
	Firewall Firewall // the device family
	Device   string   // the device as a person names it: "Linux nftables", "Windows Server (Supportworks server)"
	// Lang is the language of Text: nft, iptables-restore, sysctl,
	// powershell, cisco-asa, pan-os-cli, fortios-cli, checkpoint-mgmt-cli,
	// junos, pf.conf, uci, aws-cli, azure-cli, gcloud, or text; empty when
	// Text is (the device can only be told in words, see Note).
	Lang string
	// Text is ready to paste; comments in the device's comment syntax name
	// the finding's traffic. Empty when the device cannot do it (see Note).
	Text string
	// Source is the vendor document the syntax follows: title and URL.
	Source string
	// Note says what cannot be done on this device and what to do instead,
	// or a caveat; empty when there is nothing to add.
	Note string
}

// For renders c for the firewalls fws, in the order of fws.
//
// Changes on the path, on a middlebox or between capture points give one
// snippet per firewall in fws; a Linux firewall asked to raise a timeout
// gives two (the rule-scoped nft or iptables change, then the global
// sysctl alternative, both with Firewall set to it). A firewall that
// cannot do what c asks gives a snippet with an empty Text and a Note that
// says what to do instead.
//
// Changes that live on a host are written for that host whatever fws
// says, once: client_host for the client's Windows Defender Firewall,
// server_host for the Windows server. A Supportworks idle-TCP change adds,
// after the firewalls' snippets, the Windows server's TCP keepalive.
//
// For returns nil when there is nothing to configure: inspect, an unknown
// action, or a change without a server address.
func For(c Change, fws []Firewall, o Options) []Snippet {
	if c.Action == remedy.ActInspect || !c.Dst.IsValid() {
		return nil
	}
	switch c.Device.Kind {
	case remedy.DevClientHost:
		return windowsClient(c)
	case remedy.DevServer:
		return windowsServer(c)
	}
	var out []Snippet
	for _, fw := range fws {
		out = append(out, render(c, fw, o)...)
	}
	if c.Action == remedy.ActRaiseTCPIdle && isSupportworks(c) {
		out = append(out, keepAlive(c, fws))
	}
	return out
}

// render writes c for one firewall on the path.
func render(c Change, fw Firewall, o Options) []Snippet {
	var out []Snippet
	switch fw {
	case NFTables:
		out = nftables(c, o)
	case IPTables:
		out = iptables(c, o)
	case Windows:
		out = []Snippet{windowsPath(c)}
	case ASA:
		out = []Snippet{asa(c)}
	case PANOS:
		out = []Snippet{panos(c)}
	case FortiGate:
		out = []Snippet{fortigate(c)}
	case CheckPoint:
		out = []Snippet{checkpoint(c)}
	case SRX:
		out = []Snippet{srx(c)}
	case PF:
		out = []Snippet{pf(c)}
	case OpenWrt:
		out = openwrt(c)
	case AWSNAT:
		out = []Snippet{awsNAT(c)}
	case AzureNAT:
		out = []Snippet{azureNAT(c)}
	case GCPNAT:
		out = []Snippet{gcpNAT(c)}
	}
	for i := range out {
		out[i].Firewall = fw
		if out[i].Text == "" {
			out[i].Lang = ""
		}
		if c.Device.Kind == remedy.DevMiddlebox && c.Device.Addr.IsValid() {
			out[i].Device += fmt.Sprintf(" (the device at %s)", c.Device.Addr)
		}
		if out[i].Text != "" && len(sources(c)) > 0 {
			out[i].Note = strings.TrimSpace(out[i].Note + " " + natNote)
		}
	}
	return out
}

// natNote warns that the sources are the clients as the capture saw them:
// on the device that translates them (a NAT in front of the clients, seen
// from the server's side as one shared address) the rule must name them
// before translation, or it never matches (the lab's npa-blocked, fixed
// from the server's capture alone).
const natNote = "The sources are the clients' addresses as the capture saw them: on a device that translates them (NAT), name their addresses before translation, or leave the source out."

// Value is the timeout a fix sets for a remedy's Min: Min rounded up to a
// whole minute, which every device here takes (in seconds or in minutes),
// plus a minute of margin, so strictly above Min: 15m gives 16m (960 s),
// 1m gives 2m, 350s gives 7m, 0 gives 1m. A snippet never sets a timeout
// below the device's own default (see timeout).
func Value(min time.Duration) time.Duration {
	if min < 0 {
		min = 0
	}
	return (min+time.Minute-1)/time.Minute*time.Minute + time.Minute
}

// profileOf names the catalog profile of a firewall ("" none).
func profileOf(fw Firewall) string {
	switch fw {
	case NFTables, IPTables:
		return "linux"
	case Windows, OpenWrt, PF, ASA, PANOS, FortiGate, CheckPoint, SRX, AWSNAT, AzureNAT, GCPNAT:
		return string(fw)
	}
	return ""
}

// timeout is the value a snippet for fw sets for c: Value(c.Min), or the
// device's default when that is longer (a fix must never shorten a
// timeout), with a comment line saying which.
func timeout(c Change, fw Firewall) (time.Duration, string) {
	v := Value(c.Min)
	p, err := catalog.LookupProfile(profileOf(fw))
	if err != nil {
		return v, ""
	}
	def := p.UDP
	if c.Transport == catalog.TCP {
		def = p.TCPIdle
	}
	if def > v {
		return def, fmt.Sprintf("%s already exceeds %s by default (%s); this sets the default again in case it was lowered", p.Device, dur(c.Min), secs(def))
	}
	return v, fmt.Sprintf("%s is %s, strictly above the %s the finding needs%s", secs(v), dur(v), dur(c.Min), k2Rule(c))
}

// k2Rule cites the K2 seed's timeout rules for K2 UDP changes.
func k2Rule(c Change) string {
	if c.Service == nil || c.Service.Product != catalog.K2 || c.Transport != catalog.UDP {
		return ""
	}
	return " (K2 seed rules 1-3: over 15 minutes for KeyAccess clients, at least 1 minute for KeyConfigure admin traffic)"
}

func isSupportworks(c Change) bool {
	return c.Service != nil && c.Service.Product == catalog.Supportworks
}

func isK2(c Change) bool { return c.Service != nil && c.Service.Product == catalog.K2 }

// dur writes a duration as people say it: 16m, 1h6m, 50s, 2h10s.
func dur(d time.Duration) string {
	d = d.Round(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%d s", int64(d/time.Second)) }

// MaxNamedSources is how many clients a snippet names one by one; a
// change for more is written for any source, with the prefix that covers
// them to narrow it (133 host lines of an ASA access list help nobody).
const MaxNamedSources = 16

// anySource reports whether c is written for any source: clients beyond
// those listed, or more than MaxNamedSources.
func (c Change) anySource() bool { return c.More > 0 || len(c.From) > MaxNamedSources }

// anySourceNote is the comment, in the device's comment syntax, of a
// snippet written for any source; "" when it names its clients.
func anySourceNote(c Change, mark string) string {
	if !c.anySource() {
		return ""
	}
	line := "Written for any source: the clients are too many to name."
	if p, ok := covering(c.From); ok && c.More == 0 {
		// Every client is known (none beyond the list): their prefix.
		line += fmt.Sprintf(" All %d lie in %s: narrow the source to it.", len(c.From), p)
	}
	return comment(mark, line)
}

// covering is the smallest prefix holding every address of as (all of one
// family); false when there are none, the families mix, or the prefix is
// wider than a /8 (no narrowing worth saying).
func covering(as []netip.Addr) (netip.Prefix, bool) {
	if len(as) == 0 {
		return netip.Prefix{}, false
	}
	first := as[0].Unmap()
	for bits := first.BitLen(); bits >= 8; bits-- {
		p, err := first.Prefix(bits)
		if err != nil {
			return netip.Prefix{}, false
		}
		all := true
		for _, a := range as[1:] {
			if !p.Contains(a.Unmap()) {
				all = false
				break
			}
		}
		if all {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// sources are the clients a snippet names: From in Dst's address family,
// nil for any source (no clients, or too many: anySource).
func sources(c Change) []netip.Addr {
	if c.anySource() {
		return nil
	}
	var out []netip.Addr
	for _, a := range c.From {
		a = a.Unmap()
		if a.IsValid() && a.Is4() == c.Dst.Unmap().Is4() {
			out = append(out, a)
		}
	}
	return out
}

// label is "UDP 19283 (k2-keyserver)".
func label(c Change) string {
	l := fmt.Sprintf("%s %d", strings.ToUpper(string(c.Transport)), c.Port)
	if c.Service != nil {
		l += fmt.Sprintf(" (%s)", c.Service.Name)
	}
	return l
}

// from words the sources: "from 10.0.0.1", "from any source (at least 42
// clients, too many to name)".
func from(c Change) string {
	src := sources(c)
	switch {
	case c.More > 0:
		return fmt.Sprintf("from any source (at least %d clients, too many to name)", len(c.From)+c.More)
	case c.anySource():
		return fmt.Sprintf("from any source (%d clients, too many to name)", len(c.From))
	case len(src) == 0:
		return "from any source"
	}
	var s []string
	for _, a := range src {
		s = append(s, a.String())
	}
	return "from " + strings.Join(s, ", ")
}

// headline is the first comment line of every snippet: the change, the
// traffic and the clients, in words.
func headline(c Change) string {
	dst := c.Dst.String()
	switch c.Action {
	case remedy.ActAllow:
		return fmt.Sprintf("fwdiag: allow %s %s to %s", label(c), from(c), dst)
	case remedy.ActAllowTwo:
		return fmt.Sprintf("fwdiag: allow two connections per client to %s %s %s (main session + NPA notification socket)", dst, label(c), from(c))
	case remedy.ActRaiseUDPTimeout:
		return fmt.Sprintf("fwdiag: keep UDP state for %s %s %s longer than %s", dst, label(c), from(c), dur(c.Min))
	case remedy.ActRaiseTCPIdle:
		return fmt.Sprintf("fwdiag: keep idle established %s to %s %s longer than %s", label(c), dst, from(c), dur(c.Min))
	case remedy.ActExemptFromReset:
		return fmt.Sprintf("fwdiag: stop resetting established %s sessions to %s %s", label(c), dst, from(c))
	case remedy.ActSymmetricPath:
		return fmt.Sprintf("fwdiag: both directions of %s between %s and the clients through the same stateful devices", label(c), dst)
	case remedy.ActCheckService:
		return fmt.Sprintf("fwdiag: check that %s listens on %s", label(c), dst)
	case remedy.ActOpenHostFirewall:
		return fmt.Sprintf("fwdiag: let the server %s reach its own %s (loopback and its own address)", dst, label(c))
	case remedy.ActUseTCPNotify:
		return fmt.Sprintf("fwdiag: switch Supportworks notifications on %s to TCP", dst)
	}
	return "fwdiag: " + string(c.Action)
}

// comment prefixes each line of text with a comment marker.
func comment(mark string, lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		b.WriteString(mark + " " + l + "\n")
	}
	return b.String()
}

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// objName is the name fwdiag gives the objects it adds: fwdiag-udp-19283,
// or fwdiag-k2-keyserver-udp-19283 when the service is known. At most 31
// characters, the shortest limit of the devices here (FortiOS policy
// names allow 35, Check Point and PAN-OS more).
func objName(c Change) string {
	n := fmt.Sprintf("fwdiag-%s-%d", c.Transport, c.Port)
	if c.Service != nil {
		svc := unsafeName.ReplaceAllString(strings.ToLower(string(c.Service.Name)), "-")
		if long := fmt.Sprintf("fwdiag-%s-%s-%d", svc, c.Transport, c.Port); len(long) <= 31 {
			n = long
		}
	}
	return n
}

// addrName names an address object: fwdiag-10.0.0.1, fwdiag-2001-db8--1.
func addrName(a netip.Addr) string {
	return "fwdiag-" + strings.ReplaceAll(a.String(), ":", "-")
}

// prefix is the host prefix of a: 10.0.0.1/32, 2001:db8::1/128.
func prefix(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// noConfig is a Note-only snippet.
func noConfig(device, source, note string) Snippet {
	return Snippet{Device: device, Source: source, Note: note}
}

// sourceSet writes c's sources as an nftables or pf set: one address
// alone, several in braces; "" for any source.
func sourceSet(c Change) string {
	var srcs []string
	for _, a := range sources(c) {
		srcs = append(srcs, a.String())
	}
	switch len(srcs) {
	case 0:
		return ""
	case 1:
		return srcs[0]
	}
	return "{ " + strings.Join(srcs, ", ") + " }"
}
