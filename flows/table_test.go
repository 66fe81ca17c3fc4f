package flows

import (
	"net/netip"
	"testing"
)

// TestFlowTable: every flow set is found under its key from either
// direction, absent keys give nil, replacing keeps the count, and removeIf
// keeps exactly the others, across growth from the minimum size.
func TestFlowTable(t *testing.T) {
	tab := newFlowTable[*Conn]()
	const n = 5000
	keys := make([]flowKey, n)
	conns := make([]*Conn, n)
	for i := range keys {
		// Four flows share each client address, differing only in port,
		// vantage or protocol, so a lookup must compare the whole key.
		j := i / 4
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(j >> 8), byte(j)}), uint16(40000+i%2))
		b := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.10"), 5001)
		if i%3 == 0 {
			b = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::10"), 5001)
		}
		setKey(&keys[i], uint16(i/2%2), 6, a, b)
		var back flowKey
		setKey(&back, uint16(i/2%2), 6, b, a)
		if back != keys[i] {
			t.Fatalf("key %d differs by direction", i)
		}
		conns[i] = &Conn{}
		tab.set(&keys[i], conns[i])
	}
	if tab.len() != n {
		t.Fatalf("len %d; want %d", tab.len(), n)
	}
	tab.set(&keys[7], conns[7]) // replacing adds nothing
	if tab.len() != n {
		t.Fatalf("len %d after replacing; want %d", tab.len(), n)
	}
	for i := range keys {
		if got := tab.get(&keys[i]); got != conns[i] {
			t.Fatalf("get(key %d) = %p; want %p", i, got, conns[i])
		}
	}
	var same, other flowKey
	a, b := keys[1].endpointsForTest()
	setKey(&same, 0, 6, a, b)
	if got := tab.get(&same); got != conns[1] {
		t.Fatalf("the key rebuilt from its endpoints found %p; want %p", got, conns[1])
	}
	setKey(&other, 0, 17, a, b)
	if got := tab.get(&other); got != nil {
		t.Fatalf("a UDP key found the TCP flow %p", got)
	}
	odd := map[*Conn]bool{}
	for i := 1; i < n; i += 2 {
		odd[conns[i]] = true
	}
	tab.removeIf(func(c *Conn) bool { return odd[c] })
	seen := 0
	tab.each(func(c *Conn) {
		seen++
		if odd[c] {
			t.Errorf("a removed flow is still there")
		}
	})
	if seen != n/2 || tab.len() != n/2 {
		t.Fatalf("each saw %d, len %d; want %d", seen, tab.len(), n/2)
	}
	for i := range keys {
		want := conns[i]
		if i%2 == 1 {
			want = nil
		}
		if got := tab.get(&keys[i]); got != want {
			t.Fatalf("after removeIf, get(key %d) = %p; want %p", i, got, want)
		}
	}
}

// endpointsForTest rebuilds the endpoints of an IPv4 key.
func (k flowKey) endpointsForTest() (netip.AddrPort, netip.AddrPort) {
	a := netip.AddrFrom4([4]byte{byte(k.a1 >> 24), byte(k.a1 >> 16), byte(k.a1 >> 8), byte(k.a1)})
	b := netip.AddrFrom4([4]byte{byte(k.b1 >> 24), byte(k.b1 >> 16), byte(k.b1 >> 8), byte(k.b1)})
	return netip.AddrPortFrom(a, uint16(k.meta>>48)), netip.AddrPortFrom(b, uint16(k.meta>>32))
}
