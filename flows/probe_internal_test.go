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

// TestTableFilterHasEveryKey: the live table's key filter never calls a
// key absent that the table holds, through insertions, growth and the
// removals of sweeps (removeIfAt rebuilds it from the keys that stay),
// and calls most keys it never held absent, so that a scanner's new
// attempt is spared the lookup.
func TestTableFilterHasEveryKey(t *testing.T) {
	tab := newFlowTable[*Conn]()
	tab.filter = new(keyFilter)
	keyOf := func(i int) flowKey {
		var k flowKey
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%50000))
		setKey(&k, 0, 6, src, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), 445))
		return k
	}
	conns := map[int]*Conn{}
	for i := 0; i < 20000; i++ {
		k := keyOf(i)
		c := &Conn{}
		conns[i] = c
		tab.set(&k, c)
	}
	gone := map[*Conn]bool{}
	for i := 0; i < 20000; i += 3 {
		gone[conns[i]] = true
	}
	tab.removeIf(func(c *Conn) bool { return gone[c] })
	for i := 20000; i < 24000; i++ { // added after the sweep
		k := keyOf(i)
		c := &Conn{}
		conns[i] = c
		tab.set(&k, c)
	}
	for i, c := range conns {
		k := keyOf(i)
		if gone[c] {
			continue
		}
		if tab.absent(k.hash()) {
			t.Fatalf("key %d is in the table, and the filter calls it absent", i)
		}
		if tab.get(&k) != c {
			t.Fatalf("key %d: the table lost its connection", i)
		}
	}
	absent := 0
	for i := 100000; i < 110000; i++ {
		k := keyOf(i)
		if tab.absent(k.hash()) {
			absent++
		}
	}
	if absent < 9000 {
		t.Errorf("the filter called %d of 10000 keys never added absent; want most", absent)
	}
	removedAbsent := 0
	for i := 0; i < 20000; i += 3 {
		k := keyOf(i)
		if tab.absent(k.hash()) {
			removedAbsent++
		}
	}
	if removedAbsent < 6000 {
		t.Errorf("after the sweep the filter still holds %d of 6667 removed keys; want it rebuilt from those that stayed", 6667-removedAbsent)
	}
}
