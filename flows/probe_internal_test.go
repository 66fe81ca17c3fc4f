package flows

import (
	"net/netip"
	"testing"
)

// TestScanKeyIsScanBit: the key's words give the same 16 bits as the
// addresses, for IPv4, IPv6 and 4-in-6, either end.
func TestScanKeyIsScanBit(t *testing.T) {
	addrs := []string{"10.99.0.10", "192.0.2.255", "2001:db8::1:ff0a", "::ffff:10.99.0.10", "fe80::1"}
	for _, as := range addrs {
		for _, bs := range addrs {
			a, b := netip.MustParseAddr(as), netip.MustParseAddr(bs)
			an := &Analyzer{}
			an.setScanBit(a)
			var k flowKey
			setKey(&k, 0, 6, netip.AddrPortFrom(b, 80), netip.AddrPortFrom(a, 40000))
			if !an.scanKey(&k) {
				t.Errorf("scanKey(%s <-> %s) false with %s's bit set", b, a, a)
			}
			bn := &Analyzer{}
			bn.setScanBit(netip.MustParseAddr("198.51.100.7"))
			if want := bn.scanBit(a) || bn.scanBit(b); bn.scanKey(&k) != want {
				t.Errorf("scanKey(%s <-> %s) = %v, scanBit says %v", b, a, !want, want)
			}
		}
	}
}
