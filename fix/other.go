package fix

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/remedy"
)

const (
	srcPF      = "OpenBSD pf.conf(5), state options and set timeout: https://man.openbsd.org/pf.conf"
	srcOpenWrt = "OpenWrt, Firewall configuration (/etc/config/firewall, rule sections): https://openwrt.org/docs/guide-user/firewall/firewall_configuration; uci(1)"
	srcAWS     = "AWS, Troubleshoot NAT gateways (idle timeout 350 seconds): https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html"
	srcAzure   = "Microsoft, Azure NAT Gateway resource, idle timeout timers (TCP 4-120 minutes, UDP 4 minutes, not configurable): https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource; az network nat gateway update"
	srcGCP     = "Google Cloud SDK, gcloud compute routers nats update: https://cloud.google.com/sdk/gcloud/reference/compute/routers/nats/update"
)

func pf(c Change) Snippet {
	dev := "pf (OpenBSD, FreeBSD, pfSense)"
	src := cmp.Or(sourceSet(c), "any")
	af := "inet"
	if c.Dst.Is6() && !c.Dst.Is4In6() {
		af = "inet6"
	}
	head := comment("#", headline(c))
	head += anySourceNote(c, "#")
	pass := func(state string) string {
		flags := ""
		if c.Transport == catalog.TCP {
			flags = " flags S/SA"
		}
		return fmt.Sprintf("pass in quick %s proto %s from %s to %s port %d%s keep state%s\n", af, c.Transport, src, c.Dst, c.Port, flags, state)
	}
	s := Snippet{Device: dev, Lang: "pf.conf", Source: srcPF}
	const quick = "quick makes the first matching rule final: put the rule above the block rules of the interface facing the clients (add on IFACE to bind it), then pfctl -nf /etc/pf.conf to check and pfctl -f /etc/pf.conf to load. On pfSense or OPNsense add the same rule in the GUI (Firewall > Rules; its Advanced Options hold the state timeout and max-src-conn)."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + pass("")
		s.Note = quick
	case remedy.ActAllowTwo:
		s.Text = head + comment("#", "Rules with max-src-conn below 2 break the NPA notification socket: this quick rule comes before them, without a limit.") + pass("")
		s.Note = quick + " Look for limits with pfctl -sr | grep max-src-conn."
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, PF)
		n := int64(v / time.Second)
		opts := fmt.Sprintf(" (udp.first %d, udp.single %d, udp.multiple %d)", n, n, n)
		global := fmt.Sprintf("set timeout { udp.first %d, udp.single %d, udp.multiple %d }", n, n, n)
		if c.Transport == catalog.TCP {
			opts = fmt.Sprintf(" (tcp.established %d)", n)
			global = fmt.Sprintf("set timeout tcp.established %d", n)
		}
		s.Text = head + comment("#", why) + pass(opts)
		s.Note = quick + " The state option sets the timeout for states this rule creates. Global alternative, in the options section: " + global + "."
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcPF, "pf sends resets only for block return and block return-rst rules (pfctl -sr | grep return) and for states it no longer has: if those are not the source, look at an IPS on the box (Snort or Suricata on pfSense: add the server to the pass list).")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcPF, symmetricNote(c, fmt.Sprintf("Workaround (it stops sequence checks for the state): keep state (sloppy) on the pass rule, e.g. pass quick proto tcp to %s port %d keep state (sloppy); pf.conf(5) names it for asymmetric routing.", c.Dst, c.Port)))
	default:
		return hostOnly(c, dev)
	}
	return s
}

func openwrt(c Change) []Snippet {
	dev := "OpenWrt (fw4/fw3)"
	head := comment("#", headline(c))
	head += anySourceNote(c, "#")
	rule := func(extra string) string {
		var b strings.Builder
		b.WriteString("uci add firewall rule\n")
		set := func(k, v string) { fmt.Fprintf(&b, "uci set firewall.@rule[-1].%s=%s\n", k, shQuote(v)) }
		set("name", objName(c))
		set("src", "*")
		set("dest", "*")
		set("proto", string(c.Transport))
		for _, a := range sources(c) {
			fmt.Fprintf(&b, "uci add_list firewall.@rule[-1].src_ip=%s\n", shQuote(a.String()))
		}
		set("dest_ip", c.Dst.String())
		set("dest_port", fmt.Sprint(c.Port))
		b.WriteString(extra)
		set("target", "ACCEPT")
		b.WriteString("uci reorder firewall.@rule[-1]=0\nuci commit firewall\n/etc/init.d/firewall reload\n")
		return b.String()
	}
	s := Snippet{Device: dev, Lang: "uci", Source: srcOpenWrt}
	const order = "uci reorder moves the rule first, ahead of the site's reject rules. src and dest * match any zone; name the zones (e.g. lan, wan) to narrow it."
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + rule("")
		s.Note = order
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		sc := sysctlSnippet(c, dev, OpenWrt, "/etc/sysctl.d/90-fwdiag.conf")
		sc.Note = "OpenWrt sets these in /etc/sysctl.d/11-nf-conntrack.conf; a file named after it wins. fw4 is nftables: a rule-scoped ct timeout (see the nftables snippet) can go in an include under /etc/nftables.d/, inside table inet fw4."
		return []Snippet{sc}
	case remedy.ActAllowTwo:
		return []Snippet{noConfig(dev, srcOpenWrt, "fw4 and fw3 have no per-client connection limit in /etc/config/firewall; a limit comes from a custom include (nft ct count, iptables connlimit): set it to at least 2 per client for "+c.Dst.String()+" TCP 5001.")}
	case remedy.ActExemptFromReset:
		return []Snippet{noConfig(dev, srcOpenWrt, "OpenWrt resets TCP only for REJECT rules (target REJECT in /etc/config/firewall, or a zone's reject policy): allow this traffic by a rule moved above them (see allow), or look for an IPS package (snort, suricata) on the router.")}
	case remedy.ActSymmetricPath:
		return []Snippet{noConfig(dev, srcOpenWrt, symmetricNote(c, "Workaround: OpenWrt drops conntrack-invalid packets by default (option drop_invalid); a half-seen connection can be let through with a NOTRACK rule for this traffic in both directions (rule target NOTRACK) and stateless ACCEPT rules."))}
	default:
		return []Snippet{hostOnly(c, dev)}
	}
	return []Snippet{s}
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// outsideNAT is what to do when a NAT gateway cannot keep K2's state.
func outsideNAT(c Change) string {
	return fmt.Sprintf("Put the KeyServer traffic outside the NAT: let the clients reach %s by a private path without address translation (the same VPC or VNet, peering, a transit gateway or a VPN without NAT), or send it through a NAT instance or firewall whose UDP timeout can be raised. A keepalive more often than the NAT's timeout is not possible here: the late K2 answers come from the server up to 15 minutes after the client's last datagram.", c.Dst)
}

func awsNAT(c Change) Snippet {
	dev := "AWS NAT gateway"
	switch c.Action {
	case remedy.ActAllow:
		return noConfig(dev, srcAWS, "A NAT gateway does not filter: allow "+label(c)+" to "+c.Dst.String()+" in the security groups and network ACLs of the clients' subnets and of the server.")
	case remedy.ActRaiseUDPTimeout:
		if isK2(c) {
			return noConfig(dev, srcAWS, "The NAT gateway's idle timeout is 350 s and cannot be changed. "+outsideNAT(c))
		}
		return noConfig(dev, srcAWS, fmt.Sprintf("The NAT gateway's idle timeout is 350 s and cannot be changed: have one end send on the flow more often than every 350 s, or keep %s traffic out of the NAT gateway (a private path, or a NAT instance with a longer timeout).", label(c)))
	case remedy.ActRaiseTCPIdle:
		note := "The NAT gateway's idle timeout is 350 s and cannot be changed: have one end send TCP keepalives more often than every 350 s"
		if isSupportworks(c) {
			note += " (the Supportworks server's KeepAliveTime below)"
		}
		return noConfig(dev, srcAWS, note+", or keep the traffic out of the NAT gateway.")
	case remedy.ActAllowTwo:
		return noConfig(dev, srcAWS, "A NAT gateway has no per-client connection limit (it allows 55,000 simultaneous connections to each destination): look at the firewalls on the path.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcAWS, "A NAT gateway resets connections that were idle for 350 s when their next packet comes: keep them busier than that (TCP keepalive under 350 s) rather than look for a setting.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcAWS, symmetricNote(c, "A NAT gateway must see both directions: the route tables must send the answers back through the NAT gateway that translated the request; there is no bypass."))
	}
	return hostOnly(c, dev)
}

func azureNAT(c Change) Snippet {
	dev := "Azure NAT gateway"
	switch c.Action {
	case remedy.ActAllow:
		return noConfig(dev, srcAzure, "A NAT gateway does not filter: allow "+label(c)+" to "+c.Dst.String()+" in the network security groups of the clients' and server's subnets.")
	case remedy.ActRaiseUDPTimeout:
		note := "An Azure NAT gateway's UDP idle timeout is 4 minutes and is not configurable (--idle-timeout sets the TCP idle timeout only). "
		if isK2(c) {
			return noConfig(dev, srcAzure, note+outsideNAT(c))
		}
		return noConfig(dev, srcAzure, note+"Have one end send on the flow more often than every 4 minutes, or keep the traffic out of the NAT gateway.")
	case remedy.ActRaiseTCPIdle:
		v := Value(c.Min)
		min := int64((v + time.Minute - 1) / time.Minute)
		min = max(min, 4)
		if min > 120 {
			note := "An Azure NAT gateway's TCP idle timeout is at most 120 minutes: set 120 and have one end send TCP keepalives more often"
			if isSupportworks(c) {
				note += " (the Supportworks server's KeepAliveTime below)"
			}
			return noConfig(dev, srcAzure, note+".")
		}
		text := comment("#", headline(c), fmt.Sprintf("%d minutes (the setting is in whole minutes, 4 to 120).", min), "Set the two names first.") +
			"RESOURCE_GROUP='<resource group of the NAT gateway>'\nNAT_GATEWAY='<NAT gateway name>'\n" +
			fmt.Sprintf("az network nat gateway update --resource-group \"$RESOURCE_GROUP\" --name \"$NAT_GATEWAY\" --idle-timeout %d\n", min)
		return Snippet{Device: dev, Lang: "azure-cli", Text: text, Source: srcAzure,
			Note: "The timeout applies to every TCP flow of the NAT gateway; longer timeouts hold SNAT ports longer."}
	case remedy.ActAllowTwo:
		return noConfig(dev, srcAzure, "A NAT gateway has no per-client connection limit: look at the firewalls on the path.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcAzure, "A NAT gateway drops idle flows silently and resets them when their next packet comes: raise its TCP idle timeout or keep the connection busier than it.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcAzure, symmetricNote(c, "A NAT gateway must see both directions of what it translates; there is no bypass."))
	}
	return hostOnly(c, dev)
}

func gcpNAT(c Change) Snippet {
	dev := "Google Cloud NAT"
	switch c.Action {
	case remedy.ActAllow:
		return noConfig(dev, srcGCP, "Cloud NAT does not filter: allow "+label(c)+" to "+c.Dst.String()+" in the VPC firewall rules.")
	case remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle:
		v, why := timeout(c, GCPNAT)
		flag := "--udp-idle-timeout"
		if c.Transport == catalog.TCP {
			flag = "--tcp-established-idle-timeout"
		}
		text := comment("#", headline(c), why, "Set the three names first.") +
			"NAT='<Cloud NAT name>'\nROUTER='<Cloud Router name>'\nREGION='<region>'\n" +
			fmt.Sprintf("gcloud compute routers nats update \"$NAT\" --router \"$ROUTER\" --region \"$REGION\" %s %ds\n", flag, int64(v/time.Second))
		return Snippet{Device: dev, Lang: "gcloud", Text: text, Source: srcGCP,
			Note: "The timeout applies to every flow of this NAT; longer timeouts hold NAT ports longer (see --min-ports-per-vm)."}
	case remedy.ActAllowTwo:
		return noConfig(dev, srcGCP, "Cloud NAT has no per-client connection limit below two; it allots each VM NAT ports (--min-ports-per-vm, 64 by default): look at the firewalls on the path.")
	case remedy.ActExemptFromReset:
		return noConfig(dev, srcGCP, "Cloud NAT does not reset established connections by policy; idle flows expire after --tcp-established-idle-timeout: raise it (see raise_tcp_idle_timeout) or keep the connection busier than it.")
	case remedy.ActSymmetricPath:
		return noConfig(dev, srcGCP, symmetricNote(c, "Cloud NAT must see both directions of what it translates; there is no bypass."))
	}
	return hostOnly(c, dev)
}
