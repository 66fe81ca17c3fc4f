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
	"strings"
	"time"

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
	// junos, pf.conf, uci, aws-cli, azure-cli, gcloud, or text.
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

// For renders c for the firewalls fws. Changes on the path, on a
// middlebox or between capture points give one snippet per firewall in
// fws, in the order of fws. Changes that live on a host are written for
// that host whatever fws says, once: client_host for the client's Windows
// Defender Firewall, server_host for the Windows server. For returns nil
// when there is nothing to configure (inspect, an unknown action).
func For(c Change, fws []Firewall, o Options) []Snippet {
	return nil
}

// Value is the timeout a fix sets for a remedy's Min: Min rounded up to a
// whole minute, which every device here takes (in seconds or in minutes),
// plus a minute of margin, so strictly above Min: 15m gives 16m (960 s),
// 1m gives 2m, 350s gives 7m, 0 gives 1m.
func Value(min time.Duration) time.Duration {
	return 0
}
