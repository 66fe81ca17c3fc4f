package explain

import (
	"net/netip"
	"testing"
)

// TestICMPFieldFollowsIPField: a filter never pairs ip.* with icmpv6 (or
// ipv6.* with icmp): for an IPv4-mapped address both say IPv4.
func TestICMPFieldFollowsIPField(t *testing.T) {
	for _, a := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8::1"} {
		addr := netip.MustParseAddr(a)
		want := map[string]string{"ip": "icmp", "ipv6": "icmpv6"}[ipField(addr)]
		if got := icmpField(addr); got != want {
			t.Errorf("%s: icmpField %s with ipField %s", a, got, ipField(addr))
		}
	}
}

// TestSortedAddrsNumeric: prose names addresses in the report's numeric
// order (10.0.0.9 before 10.0.0.10, which text order reverses).
func TestSortedAddrsNumeric(t *testing.T) {
	m := map[netip.Addr]int{netip.MustParseAddr("10.0.0.10"): 1, netip.MustParseAddr("10.0.0.9"): 1}
	if got := sortedAddrs(m); got[0].String() != "10.0.0.9" {
		t.Errorf("sortedAddrs %v; want 10.0.0.9 first", got)
	}
}
