package fix

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/remedy"
)

// The Linux snippets are written into the site's own chain, not into a
// chain of fwdiag's: in nftables every base chain on a hook sees the packet
// and a drop in any of them is final, so an accept in a separate base chain
// would not override a drop in the site's chain. Each nft snippet is
// self-contained and safe to run again: "add table" and "add chain" do
// nothing when the table and chain exist (the chain line carries the hook
// of a base chain named for its hook, and no policy, so an existing
// chain's policy is left alone), then "insert rule" puts the rule first in
// the chain, ahead of the site's own drops and limits. Running a snippet
// twice inserts its rule twice, which changes nothing but the listing.
// The iptables snippets are for iptables-restore --noflush, which keeps
// the rest of the table; they declare no chain, since a chain line would
// flush a user-defined chain under --noflush.

const (
	srcNFTTimeout = "nft(8), CT TIMEOUT and the ct timeout set statement; nftables wiki, Ct timeout: https://wiki.nftables.org/wiki-nftables/index.php/Ct_timeout"
	srcNFTRules   = "nft(8); nftables wiki, Simple rule management: https://wiki.nftables.org/wiki-nftables/index.php/Simple_rule_management"
	srcSysctl     = "Linux kernel documentation, Netfilter Conntrack Sysfs variables: https://docs.kernel.org/networking/nf_conntrack-sysctl.html"
	srcIPT        = "iptables(8), iptables-restore(8), iptables-extensions(8) (CT target --timeout, comment, conntrack): https://ipset.netfilter.org/iptables-extensions.man.html; nfct(8)"
)

// nftNames are the family, table and chain a snippet writes into.
func nftNames(o Options) (family, table, chain string) {
	family, table, chain = o.NFTFamily, o.NFTTable, o.NFTChain
	if family == "" {
		family = "inet"
	}
	if table == "" {
		table = "filter"
	}
	if chain == "" {
		chain = "forward"
	}
	return family, table, chain
}

// nftHooks are the chain names that nft snippets create as base chains.
var nftHooks = map[string]bool{"prerouting": true, "input": true, "forward": true, "output": true, "postrouting": true}

// nftHeader adds the table and chain (no-ops when they exist).
func nftHeader(family, table, chain string) string {
	h := fmt.Sprintf("add table %s %s\n", family, table)
	if nftHooks[chain] {
		return h + fmt.Sprintf("add chain %s %s %s { type filter hook %s priority filter; }\n", family, table, chain, chain)
	}
	return h + fmt.Sprintf("add chain %s %s %s\n", family, table, chain)
}

// nftMatch matches src -> dst:port (dir "to") or the server's answers
// dst:port -> src (dir "from").
func nftMatch(c Change, toServer bool) string {
	ip := "ip"
	if c.Dst.Is6() && !c.Dst.Is4In6() {
		ip = "ip6"
	}
	set := sourceSet(c)
	var b strings.Builder
	if toServer {
		if set != "" {
			fmt.Fprintf(&b, "%s saddr %s ", ip, set)
		}
		fmt.Fprintf(&b, "%s daddr %s %s dport %d", ip, c.Dst, c.Transport, c.Port)
	} else {
		fmt.Fprintf(&b, "%s saddr %s %s sport %d", ip, c.Dst, c.Transport, c.Port)
		if set != "" {
			fmt.Fprintf(&b, " %s daddr %s", ip, set)
		}
	}
	return b.String()
}

// nftComment is a rule comment (nft allows 128 bytes).
func nftComment(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return fmt.Sprintf("comment %q", s)
}

func familyMismatch(family string, dst netip.Addr) bool {
	return (family == "ip" && dst.Is6() && !dst.Is4In6()) || (family == "ip6" && dst.Is4())
}

func nftables(c Change, o Options) []Snippet {
	family, table, chain := nftNames(o)
	dev := "Linux nftables"
	if familyMismatch(family, c.Dst) {
		return []Snippet{noConfig(dev, srcNFTRules, fmt.Sprintf("A table of family %s cannot match %s: use an inet table (--nft-family inet) or the table of the other family.", family, c.Dst))}
	}
	head := comment("#", headline(c), fmt.Sprintf("nft -f FILE: adds %s %s and its chain %s when missing, then inserts at the top of that chain.", family, table, chain))
	head += anySourceNote(c, "#")
	tag := nftComment(fmt.Sprintf("fwdiag: %s %s %s", c.Action, strings.ToLower(label(c)), c.Dst))
	rule := func(match, verdict string) string {
		return fmt.Sprintf("insert rule %s %s %s %s %s %s\n", family, table, chain, match, verdict, tag)
	}
	s := Snippet{Device: dev, Lang: "nft", Source: srcNFTRules}
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + nftHeader(family, table, chain) + rule(nftMatch(c, true), "accept")
		s.Note = "The accept is inserted into the chain that holds the site's drops: an accept in a separate base chain would not override them (every base chain on a hook must accept). Answers pass by the site's ct state established,related rule."
	case remedy.ActAllowTwo:
		s.Text = head + comment("#", "Rules that limit connections per client (ct count over N, a meter or set with ct count) below 2",
			"break the NPA notification socket: this accept comes before them in the chain.") +
			nftHeader(family, table, chain) + rule(nftMatch(c, true), "ct state new accept")
		s.Note = "Look for limits elsewhere too: nft list ruleset | grep -n 'ct count'."
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, NFTables)
		obj := objName(c)
		l3 := "ip"
		if c.Dst.Is6() && !c.Dst.Is4In6() {
			l3 = "ip6"
		}
		policy := fmt.Sprintf("unreplied: %d, replied: %d", int64(v/time.Second), int64(v/time.Second))
		if c.Transport == catalog.TCP {
			policy = fmt.Sprintf("established: %d", int64(v/time.Second))
		}
		s.Source = srcNFTTimeout
		s.Text = head + comment("#", why, "The timeout policy is attached to a connection by its first packet: connections open before this runs keep the old timeout.") +
			nftHeader(family, table, chain) +
			fmt.Sprintf("add ct timeout %s %s %s { protocol %s; l3proto %s; policy = { %s }; }\n", family, table, obj, c.Transport, l3, policy) +
			rule(nftMatch(c, true), fmt.Sprintf("ct timeout set %q", obj))
		s.Note = "The rule only sets the timeout and does not accept: the site's rules still decide. The sysctl alternative below changes the timeout for all " + strings.ToUpper(string(c.Transport)) + " connections of the host."
		return []Snippet{s, sysctlSnippet(c, "Linux conntrack (sysctl, all connections)", NFTables, "/etc/sysctl.d/90-fwdiag.conf")}
	case remedy.ActExemptFromReset:
		s.Text = head + comment("#", "Accepts both directions ahead of any queue (NFQUEUE to an IPS) or reject with tcp reset rule in this chain.") +
			nftHeader(family, table, chain) + rule(nftMatch(c, false), "accept") + rule(nftMatch(c, true), "accept")
		s.Note = "This bypasses only what is in this chain: an IPS fed from another base chain, a bridge or af-packet (Suricata, Snort) needs its own pass rule for this traffic."
	case remedy.ActSymmetricPath:
		return []Snippet{noConfig(dev, srcNFTRules, symmetricNote(c, "Workaround on Linux, where routing cannot be made symmetric: conntrack marks packets of a connection whose other half it never saw as ct state invalid, which rulesets drop. "+
			"Exempting the flow from tracking, in a chain on hook prerouting with priority raw (-300): ip daddr SERVER tcp dport PORT notrack, and the same for the answers by sport, "+
			"then stateless accepts for both directions in the filter chain. The sysctl net.netfilter.nf_conntrack_tcp_loose=1 (the default) lets conntrack pick up TCP mid-stream."))}
	default:
		return []Snippet{hostOnly(c, dev)}
	}
	return []Snippet{s}
}

// symmetricNote opens every symmetric_path Note.
func symmetricNote(c Change, workaround string) string {
	return fmt.Sprintf("No configuration line can make a path symmetric: route %s so that both directions between %s and its clients cross the same stateful firewalls and NAT (one default gateway, or policy routing of the answers back through the device that saw the request). %s",
		label(c), c.Dst, strings.TrimSpace(workaround))
}

// hostOnly is the Note for host actions asked of a path firewall.
func hostOnly(c Change, dev string) Snippet {
	return noConfig(dev, "", fmt.Sprintf("%s is done on the server, not on a firewall on the path.", c.Action))
}

// sysctlSnippet writes the global conntrack timeouts as a sysctl.d file.
func sysctlSnippet(c Change, dev string, fw Firewall, file string) Snippet {
	v, why := timeout(c, fw)
	n := int64(v / time.Second)
	keys := []string{"net.netfilter.nf_conntrack_udp_timeout", "net.netfilter.nf_conntrack_udp_timeout_stream"}
	if c.Transport == catalog.TCP {
		keys = []string{"net.netfilter.nf_conntrack_tcp_timeout_established"}
	}
	text := comment("#", headline(c), "Global alternative: every "+strings.ToUpper(string(c.Transport))+" connection of the host gets this timeout.",
		why, "Write to "+file+", then: sysctl -p "+file)
	for _, k := range keys {
		text += fmt.Sprintf("%s = %d\n", k, n)
	}
	return Snippet{Device: dev, Lang: "sysctl", Text: text, Source: srcSysctl,
		Note: "Longer conntrack timeouts keep more entries: check nf_conntrack_count against nf_conntrack_max on a busy firewall."}
}

// iptChain is the chain iptables snippets insert into.
func iptChain(o Options) string {
	if o.IPTChain == "" {
		return "FORWARD"
	}
	return o.IPTChain
}

var iptBuiltin = map[string]bool{"INPUT": true, "FORWARD": true, "OUTPUT": true, "PREROUTING": true, "POSTROUTING": true}

// iptMatch is the match of src -> dst:port (toServer) or the answers.
func iptMatch(c Change, toServer bool) string {
	var srcs []string
	for _, a := range sources(c) {
		srcs = append(srcs, prefix(a))
	}
	p := string(c.Transport)
	var b strings.Builder
	if toServer {
		if len(srcs) > 0 {
			fmt.Fprintf(&b, "-s %s ", strings.Join(srcs, ","))
		}
		fmt.Fprintf(&b, "-d %s -p %s -m %s --dport %d", prefix(c.Dst), p, p, c.Port)
	} else {
		fmt.Fprintf(&b, "-s %s", prefix(c.Dst))
		if len(srcs) > 0 {
			fmt.Fprintf(&b, " -d %s", strings.Join(srcs, ","))
		}
		fmt.Fprintf(&b, " -p %s -m %s --sport %d", p, p, c.Port)
	}
	return b.String()
}

func iptables(c Change, o Options) []Snippet {
	chain := iptChain(o)
	v6 := c.Dst.Is6() && !c.Dst.Is4In6()
	restore := "iptables-restore"
	nfctFamily := "inet"
	if v6 {
		restore, nfctFamily = "ip6tables-restore", "inet6"
	}
	dev := "Linux iptables"
	head := comment("#", headline(c), fmt.Sprintf("Apply with: %s --noflush < FILE (--noflush keeps the rest of the table).", restore))
	head += anySourceNote(c, "#")
	if !iptBuiltin[chain] {
		head += comment("#", "The chain "+chain+" must exist: it is the site's own, declaring it here would flush it.")
	}
	tag := fmt.Sprintf("-m comment --comment %q", fmt.Sprintf("fwdiag: %s %s %s", c.Action, strings.ToLower(label(c)), c.Dst))
	ins := func(ch, match, target string) string {
		return fmt.Sprintf("-I %s 1 %s %s -j %s\n", ch, match, tag, target)
	}
	s := Snippet{Device: dev, Lang: "iptables-restore", Source: srcIPT}
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + "*filter\n" + ins(chain, iptMatch(c, true), "ACCEPT") + "COMMIT\n"
		s.Note = "Answers pass by the site's -m conntrack --ctstate ESTABLISHED,RELATED rule."
	case remedy.ActAllowTwo:
		s.Text = head + comment("#", "Rules with -m connlimit --connlimit-above N (or hashlimit) below 2 for these clients break the NPA",
			"notification socket: this accept comes first in the chain.") +
			"*filter\n" + ins(chain, iptMatch(c, true)+" -m conntrack --ctstate NEW", "ACCEPT") + "COMMIT\n"
		s.Note = "Look for limits elsewhere too: iptables-save | grep -n connlimit."
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, IPTables)
		n := int64(v / time.Second)
		obj := objName(c)
		pol := fmt.Sprintf("unreplied %d replied %d", n, n)
		if c.Transport == catalog.TCP {
			pol = fmt.Sprintf("established %d", n)
		}
		s.Text = head + comment("#", why,
			"The CT target needs the timeout policy to exist; create it first (package nfct):",
			fmt.Sprintf("nfct add timeout %s %s %s %s", obj, nfctFamily, c.Transport, pol),
			"The policy is attached by a connection's first packet: connections open before this keep the old timeout.") +
			"*raw\n" + ins("PREROUTING", iptMatch(c, true), "CT --timeout "+obj) + "COMMIT\n"
		s.Note = "The rule in the raw table only sets the timeout; the filter rules still decide. Without nfct, use the sysctl alternative below (all connections of the host)."
		return []Snippet{s, sysctlSnippet(c, "Linux conntrack (sysctl, all connections)", IPTables, "/etc/sysctl.d/90-fwdiag.conf")}
	case remedy.ActExemptFromReset:
		s.Text = head + comment("#", "Accepts both directions ahead of any NFQUEUE (IPS) or REJECT --reject-with tcp-reset rule in this chain.") +
			"*filter\n" + ins(chain, iptMatch(c, false), "ACCEPT") + ins(chain, iptMatch(c, true), "ACCEPT") + "COMMIT\n"
		s.Note = "An IPS fed from elsewhere (another chain, a bridge, af-packet) needs its own pass rule for this traffic."
	case remedy.ActSymmetricPath:
		return []Snippet{noConfig(dev, srcIPT, symmetricNote(c, "Workaround on Linux: conntrack marks the half-seen connection INVALID; exempt the flow with -t raw -j CT --notrack (or -j NOTRACK) in PREROUTING for both directions and accept it statelessly in the filter chain. net.netfilter.nf_conntrack_tcp_loose=1 (the default) lets conntrack pick up TCP mid-stream."))}
	default:
		return []Snippet{hostOnly(c, dev)}
	}
	return []Snippet{s}
}
