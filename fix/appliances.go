package fix

import (
	"fmt"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/remedy"
)

const (
	srcASA        = "Cisco ASA Series Firewall CLI Configuration Guide, Connection Settings (set connection timeout idle, per-client-max, tcp-state-bypass) and Access Control Lists: https://www.cisco.com/c/en/us/td/docs/security/asa/asa91/configuration/firewall/asa_91_firewall_config/conns_connlimits.html"
	srcPANOS      = "Palo Alto Networks, Service-based session timeouts (PAN-OS 8.1+): https://docs.paloaltonetworks.com/pan-os/11-1/pan-os-admin/app-id/service-based-session-timeouts; PAN-OS CLI configuration mode"
	srcFortiOS    = "FortiOS CLI Reference, config firewall service custom (udp-idle-timer, session-ttl) and config firewall policy: https://docs.fortinet.com/document/fortigate/7.4.0/cli-reference/236620"
	srcCheckPoint = "Check Point Management API Reference, add service-udp / add service-tcp (session-timeout), add access-rule, publish: https://sc1.checkpoint.com/documents/latest/APIs/"
	srcSRX        = "Junos OS, applications application (protocol, destination-port, inactivity-timeout) and security policies global policy: https://www.juniper.net/documentation/en_US/junos13.2/topics/reference/configuration-statement/application-edit-applications.html"
)

// hms is an ASA time, h:mm:ss.
func hms(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}

// clip cuts s to n bytes (an ASA remark takes 100 characters).
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// asaSources are the ACL sources: "host A" each, or "any".
func asaSources(c Change) []string {
	var out []string
	for _, a := range sources(c) {
		out = append(out, "host "+a.String())
	}
	if len(out) == 0 {
		out = []string{"any"}
	}
	return out
}

func asa(c Change) Snippet {
	dev := "Cisco ASA"
	name := strings.ToUpper(objName(c))
	head := comment("!", headline(c))
	head += anySourceNote(c, "!")
	acl := func(list string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "access-list %s remark %s\n", list, clip(headline(c), 100))
		for _, src := range asaSources(c) {
			fmt.Fprintf(&b, "access-list %s extended permit %s %s host %s eq %d\n", list, c.Transport, src, c.Dst, c.Port)
		}
		return b.String()
	}
	class := func(set string) string {
		return acl(name) + fmt.Sprintf("class-map %s\n match access-list %s\npolicy-map global_policy\n class %s\n  %s\n", name, name, name, set)
	}
	s := Snippet{Device: dev, Lang: "cisco-asa", Source: srcASA}
	const order = "A connection takes the connection settings of the first class it matches in a policy map, and a class added to a policy map goes last: if another class with set connection already matches this traffic, change it there or remove and re-add the classes in order. global_policy is the one the default service-policy global_policy global applies."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + comment("!", "FWDIAG is a stand-in: put these lines at the top of the access list bound to the clients' interface",
			"(show running-config access-group), or bind FWDIAG with access-group if that interface has none.")
		for _, src := range asaSources(c) {
			s.Text += fmt.Sprintf("access-list FWDIAG line 1 extended permit %s %s host %s eq %d\n", c.Transport, src, c.Dst, c.Port)
		}
		s.Note = "An ASA applies one access list per interface and direction; answers pass by the connection table."
	case remedy.ActAllowTwo:
		s.Text = head + comment("!", "per-client-max 0 is no limit: each client needs two connections to port 5001.") + class("set connection per-client-max 0")
		s.Note = order
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, ASA)
		if v > 1193*time.Hour {
			return noConfig(dev, srcASA, "The ASA's longest idle timeout is 1193:0:0; set 0:0:0 (never) in the class if the traffic must outlive it.")
		}
		s.Text = head + comment("!", why) + class("set connection timeout idle "+hms(v))
		s.Note = order
		if c.Transport == catalog.UDP {
			s.Note += fmt.Sprintf(" Global alternative: timeout udp %s (all UDP).", hms(v))
		} else {
			s.Note += " Alternative: keep the idle timeout and add dcd (set connection timeout idle ... dcd) so that idle connections whose ends still answer are kept."
		}
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcASA, fmt.Sprintf("Find what resets: show conn detail and show asp drop, or capture NAME type asp-drop. If an IPS or FirePOWER (sfr) class covers %s, add a deny line for it at the top of that class's access list so that the module no longer inspects it; if a class sets connection timeout idle ... reset, raise that timeout for this traffic.", label(c)))
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcASA, symmetricNote(c, fmt.Sprintf("Workaround (it turns off stateful checks for the traffic): TCP state bypass, with access-list %[1]s extended permit tcp any host %[2]s eq %[3]d and its reverse, class-map %[1]s / match access-list %[1]s, policy-map global_policy / class %[1]s / set connection advanced-options tcp-state-bypass.", name, c.Dst, c.Port)))
	default:
		return hostOnly(c, dev)
	}
	return s
}

// panList is a PAN-OS value list: "a" or "[ a b ]".
func panList(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return "[ " + strings.Join(v, " ") + " ]"
}

func panos(c Change) Snippet {
	dev := "Palo Alto Networks PAN-OS"
	name := objName(c)
	var srcs []string
	for _, a := range sources(c) {
		srcs = append(srcs, a.String())
	}
	if len(srcs) == 0 {
		srcs = []string{"any"}
	}
	desc := fmt.Sprintf("description %q", headline(c))
	rule := func(rname, svc string) string {
		return fmt.Sprintf("set rulebase security rules %s from any to any source %s destination %s source-user any category any application any service %s action allow %s\n", rname, panList(srcs), c.Dst, svc, desc) +
			fmt.Sprintf("move rulebase security rules %s top\n", rname)
	}
	s := Snippet{Device: dev, Lang: "pan-os-cli", Source: srcPANOS}
	const cli = "Configuration mode (configure), then commit. PAN-OS CLI has no comment lines: the change is named in the objects' description. "
	switch c.Action {
	case remedy.ActAllow:
		s.Text = fmt.Sprintf("set service %s protocol %s port %d\nset service %s %s\n", name, c.Transport, c.Port, name, desc) + rule(name, name)
		s.Note = cli + "Zones are any: narrow from/to to the clients' and server's zones if the site's rules use zones."
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, PANOS)
		n := int64(v / time.Second)
		if n > 604800 {
			return noConfig(dev, srcPANOS, "A service timeout override takes at most 604800 s.")
		}
		s.Text = fmt.Sprintf("set service %s protocol %s port %d override yes timeout %d\n", name, c.Transport, c.Port, n) +
			fmt.Sprintf("set service %s %s\n", name, desc) + rule(name, name)
		s.Note = cli + why + ". The override applies to sessions matched by a rule that uses this service (the rule above); sessions open before the commit keep the old timeout."
	case remedy.ActAllowTwo:
		return noConfig(dev, srcPANOS, "PAN-OS limits concurrent sessions per client only in a DoS Protection profile (classified by source IP, Resources Protection > Max Concurrent Sessions) used by a DoS Protection policy rule: for rules that match "+c.Dst.String()+" TCP 5001, set it to at least 2 per client, with room for clients that reconnect.")
	case remedy.ActExemptFromReset:
		s.Text = fmt.Sprintf("set service %s protocol %s port %d\nset service %s %s\n", name, c.Transport, c.Port, name, desc) + rule(name+"-noips", name)
		s.Note = cli + "Threat prevention resets sessions through the Vulnerability Protection and Anti-Spyware profiles of the rule that allows them: this rule, moved to the top, has no profiles. Narrower: an exception for the threat ID shown in Monitor > Threat (action reset-both/reset-client/reset-server) in the profile."
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcPANOS, symmetricNote(c, "Workaround (it weakens TCP checks): in the Zone Protection profile of the zones involved, Packet Based Attack Protection > TCP Drop: Reject Non-SYN TCP: no and Asymmetric Path: bypass (or the same in Device > Setup > Session > TCP Settings for the whole firewall). The CLI names of these settings differ between PAN-OS versions: set them in the web interface or check with 'find command keyword asymmetric-path'."))
	default:
		return hostOnly(c, dev)
	}
	return s
}

func fortigate(c Change) Snippet {
	dev := "FortiGate (FortiOS)"
	name := objName(c)
	v6 := c.Dst.Is6() && !c.Dst.Is4In6()
	addrTable, addrField, src, dst := "address", "subnet", "srcaddr", "dstaddr"
	if v6 {
		addrTable, addrField, src, dst = "address6", "ip6", "srcaddr6", "dstaddr6"
	}
	addr := func(a string, p string) string {
		if v6 {
			return fmt.Sprintf("    edit %q\n        set %s %s\n    next\n", a, addrField, p)
		}
		return fmt.Sprintf("    edit %q\n        set %s %s 255.255.255.255\n    next\n", a, addrField, strings.TrimSuffix(p, "/32"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config firewall %s\n", addrTable)
	srcNames := []string{}
	for _, a := range sources(c) {
		b.WriteString(addr(addrName(a), prefix(a)))
		srcNames = append(srcNames, fmt.Sprintf("%q", addrName(a)))
	}
	b.WriteString(addr(addrName(c.Dst), prefix(c.Dst)))
	b.WriteString("end\n")
	if len(srcNames) == 0 {
		srcNames = []string{`"all"`}
	}
	service := func(extra string) string {
		return fmt.Sprintf("config firewall service custom\n    edit %q\n        set %s-portrange %d\n%s        set comment %q\n    next\nend\n", name, c.Transport, c.Port, extra, headline(c))
	}
	policy := fmt.Sprintf("config firewall policy\n    edit 0\n        set name %q\n        set srcintf \"any\"\n        set dstintf \"any\"\n        set %s %s\n        set %s %q\n        set action accept\n        set schedule \"always\"\n        set service %q\n        set comments %q\n    next\nend\n",
		name, src, strings.Join(srcNames, " "), dst, addrName(c.Dst), name, headline(c))
	s := Snippet{Device: dev, Lang: "fortios-cli", Source: srcFortiOS}
	const placement = "edit 0 adds the policy at the end: move it above any policy that denies or otherwise matches this traffic (config firewall policy, move ID before ID). srcintf/dstintf any needs the interfaces of the site's policies in practice: set them to the clients' and server's interfaces. The change is named in the objects' comment fields. IPv6 in config firewall policy (srcaddr6/dstaddr6) is FortiOS 6.4 and later."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = b.String() + service("") + policy
		s.Note = placement
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, FortiGate)
		n := int64(v / time.Second)
		extra := fmt.Sprintf("        set udp-idle-timer %d\n", n)
		if c.Transport == catalog.TCP {
			extra = fmt.Sprintf("        set session-ttl %d\n", n)
		}
		if (c.Transport == catalog.UDP && n > 86400) || n > 2764800 {
			return noConfig(dev, srcFortiOS, "The value is above what a FortiGate service timer takes (udp-idle-timer up to 86400 s, session-ttl up to 2764800 s).")
		}
		s.Text = b.String() + service(extra) + policy
		s.Note = why + ". The timer applies to sessions accepted by a policy that uses this service. " + placement
		if c.Transport == catalog.UDP {
			s.Note += fmt.Sprintf(" Global alternatives: config system session-ttl, config port, edit an unused id, set protocol 17, set start-port %d, set end-port %d, set timeout %d; or config system global, set udp-idle-timer (all UDP).", c.Port, c.Port, n)
		}
	case remedy.ActAllowTwo:
		return noConfig(dev, srcFortiOS, "A FortiGate limits sessions per client with a per-IP traffic shaper (config firewall shaper per-ip-shaper, set max-concurrent-session N) on the policy: for the policy that passes "+c.Dst.String()+" TCP 5001, set it to 0 (no limit) or well above 2.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcFortiOS, "Find the IPS signature in the log (Log & Report > Intrusion Prevention, action reset) and add it to the IPS sensor's exempt list for "+c.Dst.String()+", or pass this traffic by a policy above the current one without an IPS sensor.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcFortiOS, symmetricNote(c, "Workaround (it turns off stateful inspection for the VDOM): config system settings, set asymroute enable."))
	default:
		return hostOnly(c, dev)
	}
	return s
}

func checkpoint(c Change) Snippet {
	dev := "Check Point (Management API)"
	name := objName(c)
	var b strings.Builder
	b.WriteString(comment("#", headline(c), "Run on the management server in expert mode (-r true logs in as the local administrator).") +
		"mgmt_cli login -r true > fwdiag-id.txt\n")
	var srcs []string
	for i, a := range sources(c) {
		fmt.Fprintf(&b, "mgmt_cli add host name %q ip-address %q -s fwdiag-id.txt\n", addrName(a), a)
		srcs = append(srcs, fmt.Sprintf("source.%d %q", i+1, addrName(a)))
	}
	if len(srcs) == 0 {
		srcs = []string{`source "Any"`}
	}
	fmt.Fprintf(&b, "mgmt_cli add host name %q ip-address %q -s fwdiag-id.txt\n", addrName(c.Dst), c.Dst)
	svc := func(extra string) string {
		return fmt.Sprintf("mgmt_cli add service-%s name %q port \"%d\"%s comments %q -s fwdiag-id.txt\n", c.Transport, name, c.Port, extra, headline(c))
	}
	rule := fmt.Sprintf("mgmt_cli add access-rule layer \"Network\" position \"top\" name %q %s destination %q service %q action \"Accept\" track.type \"Log\" comments %q -s fwdiag-id.txt\n",
		name, strings.Join(srcs, " "), addrName(c.Dst), name, headline(c)) +
		"mgmt_cli publish -s fwdiag-id.txt\nmgmt_cli logout -s fwdiag-id.txt\n" +
		comment("#", "Then install the policy on the gateways between the clients and the server (SmartConsole: Install Policy).")
	s := Snippet{Device: dev, Lang: "checkpoint-mgmt-cli", Source: srcCheckPoint}
	const layer = "\"Network\" is the default access layer of the Standard policy: use the site's layer name if it differs. Objects that already exist with these names make add fail: use set instead."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = b.String() + svc("") + rule
		s.Note = layer
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, CheckPoint)
		s.Text = b.String() + svc(fmt.Sprintf(" session-timeout %d use-default-session-timeout false", int64(v/time.Second))) + rule
		s.Note = why + ". For UDP, session-timeout is the service's Virtual session timeout (SmartConsole: service > Advanced). It applies to connections matched by a rule that uses this service. " + layer
	case remedy.ActAllowTwo:
		return noConfig(dev, srcCheckPoint, "The access policy has no per-client connection limit; limits come from the IPS protection Network Quota or from fw samp / sam_policy rules with concurrent-conns: for "+c.Dst.String()+" TCP 5001 allow at least 2 per client.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcCheckPoint, "Find the protection in the logs (Logs & Monitor, Threat Prevention, action Prevent) and add a Threat Prevention exception for "+c.Dst.String()+" "+label(c)+" (SmartConsole: Security Policies > Threat Prevention > Exceptions), then install the policy.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcCheckPoint, symmetricNote(c, "Workaround (it weakens stateful checks): Global Properties > Stateful Inspection > Out of state packets: clear Drop out of state TCP packets, or keep it and add the service to the exceptions."))
	default:
		return hostOnly(c, dev)
	}
	return s
}

func srx(c Change) Snippet {
	dev := "Juniper SRX (Junos)"
	name := objName(c)
	var b strings.Builder
	var srcs []string
	for _, a := range sources(c) {
		fmt.Fprintf(&b, "set security address-book global address %s %s\n", addrName(a), prefix(a))
		srcs = append(srcs, addrName(a))
	}
	if len(srcs) == 0 {
		srcs = []string{"any"}
	}
	fmt.Fprintf(&b, "set security address-book global address %s %s\n", addrName(c.Dst), prefix(c.Dst))
	app := func(extra string) string {
		return fmt.Sprintf("set applications application %s protocol %s destination-port %d%s\n", name, c.Transport, c.Port, extra) +
			fmt.Sprintf("set applications application %s description %q\n", name, headline(c))
	}
	pol := "set security policies global policy " + name
	var p strings.Builder
	for _, s := range srcs {
		fmt.Fprintf(&p, "%s match source-address %s\n", pol, s)
	}
	fmt.Fprintf(&p, "%s match destination-address %s\n%s match application %s\n%s then permit\n%s description %q\n", pol, addrName(c.Dst), pol, name, pol, pol, headline(c))
	s := Snippet{Device: dev, Lang: "junos", Source: srcSRX}
	const global = "Configuration mode (load set terminal, or paste), then commit. Global policies are checked after the zone-pair policies: if a zone policy denies this traffic, put the same match in that zone pair and insert it above the deny. The change is named in the description statements."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = b.String() + app("") + p.String()
		s.Note = global
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, SRX)
		n := int64(v / time.Second)
		if n > 86400 {
			return noConfig(dev, srcSRX, "inactivity-timeout takes at most 86400 s (or never): set never on the application if the traffic must outlive it.")
		}
		s.Text = b.String() + app(fmt.Sprintf(" inactivity-timeout %d", n)) + p.String()
		s.Note = why + ". The timeout applies to sessions permitted by a policy that matches this application; applications with overlapping ports and protocols take the timeout of the one defined last. " + global
	case remedy.ActAllowTwo:
		return noConfig(dev, srcSRX, "The SRX limits sessions per client with the zone screen limit-session source-ip-based N (set security screen ids-option SCREEN limit-session source-ip-based N): on the clients' zone, N must be well above 2 per client.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcSRX, "If IDP resets these sessions, add an exempt rule for "+c.Dst.String()+" "+label(c)+" with the attack named in the IDP log (set security idp idp-policy POLICY rulebase-exempt rule RULE match ...), or permit the traffic by a policy without application-services idp.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcSRX, symmetricNote(c, "Workaround (global, it weakens TCP checks): set security flow tcp-session no-syn-check and set security flow tcp-session no-sequence-check."))
	default:
		return hostOnly(c, dev)
	}
	return s
}
