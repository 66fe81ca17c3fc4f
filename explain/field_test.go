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
