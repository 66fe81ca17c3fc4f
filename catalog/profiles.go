package catalog

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Profile is a firewall's default idle timeouts, with where the numbers come
// from. A zero TCPIdle means the device keeps established TCP state as long
// as the socket lives.
type Profile struct {
	Name    string
	Device  string
	UDP     time.Duration // idle timeout for a UDP flow that has seen answers
	TCPIdle time.Duration // established TCP idle timeout; 0 = none
	Note    string        // the numbers as the source gives them
	Source  string
}

// DefaultProfileName is the profile used when none is given: the product spec takes
// UDP 60 s from the clients' own Windows firewall and TCP 3600 s, the common
// enterprise firewall default.
const DefaultProfileName = "default"

// Profiles returns the table of SPEC §5, sorted by name, "default" first.
func Profiles() []Profile {
	ps := []Profile{
		{Name: "windows", Device: "Windows Firewall (WFP)", UDP: 60 * time.Second, Note: "60 s (the K2 seed says 90 s for XP SP2); TCP state lives with the socket", Source: "Microsoft WFP docs, ale-stateful-filtering; K2 seed, Windows Personal Firewall"},
		{Name: "linux", Device: "Linux netfilter conntrack", UDP: 30 * time.Second, TCPIdle: 432000 * time.Second, Note: "30 s unreplied, 120 s stream (180 s before 5.0); established 432000 s", Source: "Linux nf_conntrack_proto_udp.c, nf_conntrack_proto_tcp.c"},
		{Name: "openwrt", Device: "OpenWrt", UDP: 60 * time.Second, TCPIdle: 7440 * time.Second, Note: "60 s, 180 s stream; established 7440 s", Source: "OpenWrt sysctl-nf-conntrack.conf"},
		{Name: "pf", Device: "pf (pfSense, OpenBSD, FreeBSD)", UDP: 60 * time.Second, TCPIdle: 86400 * time.Second, Note: "udp.first 60 s, udp.single 30 s, udp.multiple 60 s; tcp.established 86400 s", Source: "FreeBSD sys/netpfil/pf/pf.h"},
		{Name: "asa", Device: "Cisco ASA", UDP: 120 * time.Second, TCPIdle: 3600 * time.Second, Note: "timeout udp 0:02:00, timeout conn 1:00:00", Source: "Cisco ASA timeout defaults"},
		{Name: "panos", Device: "Palo Alto PAN-OS", UDP: 30 * time.Second, TCPIdle: 3600 * time.Second, Note: "udp 30 s, tcp 3600 s", Source: "Palo Alto session timeout KB"},
		{Name: "fortigate", Device: "FortiGate", UDP: 180 * time.Second, TCPIdle: 3600 * time.Second, Note: "udp-idle-timer 180 s, session-ttl 3600 s", Source: "Fortinet session-ttl / udp-idle-timer"},
		{Name: "checkpoint", Device: "Check Point", UDP: 40 * time.Second, TCPIdle: 3600 * time.Second, Note: "UDP virtual session 40 s, TCP session 3600 s", Source: "Check Point global properties"},
		{Name: "srx", Device: "Juniper SRX", UDP: 60 * time.Second, TCPIdle: 1800 * time.Second, Note: "udp 60 s, tcp 1800 s", Source: "Juniper flow-based sessions"},
		{Name: "aws-nat", Device: "AWS NAT gateway", UDP: 350 * time.Second, TCPIdle: 350 * time.Second, Note: "350 s idle for all flows", Source: "AWS NAT gateway docs"},
		{Name: "azure-nat", Device: "Azure NAT gateway", UDP: 240 * time.Second, TCPIdle: 240 * time.Second, Note: "4 minutes idle", Source: "Azure NAT gateway docs"},
		{Name: "gcp-nat", Device: "Google Cloud NAT", UDP: 30 * time.Second, TCPIdle: 1200 * time.Second, Note: "udp 30 s, tcp established 1200 s", Source: "Google Cloud NAT defaults"},
		{Name: "rfc", Device: "RFC-conformant NAT", UDP: 120 * time.Second, TCPIdle: 7440 * time.Second, Note: "UDP 120 s minimum, 300 s recommended (RFC 4787); TCP 7440 s (RFC 5382)", Source: "RFC 4787 REQ-5, RFC 5382 REQ-5"},
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	def := Profile{Name: DefaultProfileName, Device: "unknown firewall", UDP: 60 * time.Second, TCPIdle: 3600 * time.Second,
		Note: "UDP 60 s as the clients' own Windows firewall; TCP 3600 s, the common enterprise firewall default", Source: "Microsoft WFP docs; ASA, PAN-OS, FortiGate and Check Point defaults"}
	return append([]Profile{def}, ps...)
}

// LookupProfile finds a profile by name (case-insensitive).
func LookupProfile(name string) (Profile, error) {
	var names []string
	for _, p := range Profiles() {
		if strings.EqualFold(p.Name, name) {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(names, ", "))
}

// Timeouts are the thresholds an analysis runs with, and where each came from.
type Timeouts struct {
	Profile    string
	UDP        time.Duration
	UDPSource  string
	TCPIdle    time.Duration // 0 = no TCP idle timeout
	TCPSource  string
	DeviceName string
}

// TimeoutsFor builds thresholds from a profile with optional overrides (a
// zero override keeps the profile's value).
func TimeoutsFor(p Profile, udp, tcpIdle time.Duration) Timeouts {
	t := Timeouts{Profile: p.Name, DeviceName: p.Device,
		UDP: p.UDP, UDPSource: fmt.Sprintf("%s profile: %s (%s)", p.Name, p.Note, p.Source),
		TCPIdle: p.TCPIdle, TCPSource: fmt.Sprintf("%s profile: %s (%s)", p.Name, p.Note, p.Source)}
	if udp > 0 {
		t.UDP, t.UDPSource = udp, "--udp-timeout "+udp.String()
	}
	if tcpIdle > 0 {
		t.TCPIdle, t.TCPSource = tcpIdle, "--tcp-idle-timeout "+tcpIdle.String()
	}
	return t
}

// ProfilesDroppingUDP lists the profiles whose UDP timeout is shorter than
// silence: the devices that would have dropped a datagram after it.
func ProfilesDroppingUDP(silence time.Duration) []string {
	var out []string
	for _, p := range Profiles() {
		if p.Name != DefaultProfileName && p.UDP > 0 && silence > p.UDP {
			out = append(out, p.Name)
		}
	}
	return out
}

// ProfilesDroppingTCP lists the profiles whose established-TCP idle timeout
// is shorter than idle.
func ProfilesDroppingTCP(idle time.Duration) []string {
	var out []string
	for _, p := range Profiles() {
		if p.Name != DefaultProfileName && p.TCPIdle > 0 && idle > p.TCPIdle {
			out = append(out, p.Name)
		}
	}
	return out
}

// ProfilesWithin lists the profiles whose idle timeout for transport lies
// in a measured bracket: longer than above and no longer than below (0:
// no bound on that side). A profile without an established-TCP timeout
// (state lives with the socket) fits any TCP bracket with no upper bound.
// A bracket whose bounds contradict each other fits none.
func ProfilesWithin(t Transport, above, below time.Duration) []string {
	if below > 0 && above >= below {
		return nil
	}
	var out []string
	for _, p := range Profiles() {
		if p.Name == DefaultProfileName {
			continue
		}
		d := p.UDP
		if t == TCP {
			d = p.TCPIdle
		}
		switch {
		case d == 0 && t == TCP:
			if below == 0 {
				out = append(out, p.Name)
			}
		case d > above && (below == 0 || d <= below):
			out = append(out, p.Name)
		}
	}
	return out
}

// IdleNeed is how long a firewall must keep a product's idle flows for the
// product to work, and why (0: no rule known). KeyAccess clients: KeyServer
// may answer up to 15 minutes late (K2 seed, rule 1). A Supportworks
// notification socket waits indefinitely; only TCP keepalives, 2 h by
// default on Windows and Linux, keep it busy, so the firewall must keep it
// longer than that.
func IdleNeed(p Product, t Transport) time.Duration {
	switch {
	case p == K2 && t == UDP:
		return K2ClientUDPIdle
	case p == Supportworks && t == TCP:
		return NPATCPIdle
	}
	return 0
}

// K2ClientUDPIdle is the UDP timeout KeyAccess clients need (K2 seed,
// rule 1: "the UDP response path to the requester must not be timed out
// for 15 minutes").
const K2ClientUDPIdle = 15 * time.Minute

// NPATCPIdle is the established-TCP idle timeout a Supportworks
// notification socket needs when only the operating system's default
// keepalives (2 h on Windows and Linux, SPEC section 5) keep it busy.
const NPATCPIdle = 2 * time.Hour
