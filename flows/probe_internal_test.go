package flows

import (
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/internal/bloom"
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
	tab.filter = new(bloom.Filter)
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

// TestProbeRecordSize: a record is two whole cache lines.
func TestProbeRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(probe{}); n != 128 {
		t.Errorf("probe record is %d bytes, want 128", n)
	}
	if off := unsafe.Offsetof(probe{}.key) + unsafe.Sizeof(flowKey{}); off > 64 {
		t.Errorf("a record's key ends at byte %d: the sweeps' and lookups' fields are past the first cache line", off)
	}
}

// allScan is a ProbeHook that calls every client a scanner.
type allScan struct{}

func (allScan) EvictConn(*Conn, time.Time, *TTLView)        {}
func (allScan) EvictUDP(*UDPFlow, time.Time, time.Duration) {}
func (allScan) Scanner(netip.Addr) bool                     { return true }
func (allScan) Probe(*Probe, time.Time)                     {}

// TestProbeRecordGivesBackItsHead: a record keeps its connection's head in
// its key and packed fields; head gives back exactly the FlowHead the
// connection would have had (==, locations included), for IPv4, IPv6 and
// 4-in-6, either end the key's lower, UTC (files) and Local (live) times,
// 1970 and 2096. A time it cannot give back exactly (another location,
// beyond 2096) makes no record, but the connection.
func TestProbeRecordGivesBackItsHead(t *testing.T) {
	at := time.Date(2026, 11, 30, 13, 0, 0, 123456789, time.UTC)
	cases := []struct {
		src, dst string
		time     time.Time
		record   bool
	}{
		{"10.99.0.10:40000", "198.51.100.7:445", at, true},
		{"198.51.100.7:40000", "10.99.0.10:445", at, true}, // client the key's higher end
		{"10.99.0.10:445", "10.99.0.10:40000", at, true},   // one host, ports decide
		{"[2001:db8::66]:50000", "[2001:db8::1:7]:22", at.Local(), true},
		{"[::ffff:10.99.0.10]:40000", "[::ffff:10.0.0.1]:3389", at, true},
		{"10.99.0.10:40000", "198.51.100.7:445", time.Unix(0, 1).UTC(), true},
		{"10.99.0.10:40000", "198.51.100.7:445", time.Unix(4e9-1, 0).UTC(), true},
		{"10.99.0.10:40000", "198.51.100.7:445", time.Unix(4e9, 0).UTC(), false},
		{"10.99.0.10:40000", "198.51.100.7:445", at.In(time.FixedZone("X", 3600)), false},
		{"10.99.0.10:40000", "10.99.0.10:40000", at, false}, // the same end twice
	}
	for i, tc := range cases {
		prof, _ := catalog.LookupProfile(catalog.DefaultProfileName)
		a := New(Config{Timeouts: catalog.TimeoutsFor(prof, 0, 0), OnEvict: allScan{}})
		src, dst := netip.MustParseAddrPort(tc.src), netip.MustParseAddrPort(tc.dst)
		p := dissect.Packet{Input: 3, Time: tc.time, Frame: 77, IPVersion: 4, Proto: dissect.ProtoTCP,
			Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), TCPFlags: dissect.FlagSYN, Seq: 1000, TTL: 64}
		if src.Addr().Is6() {
			p.IPVersion = 6
		}
		// The fan-out hint does not hold yet: the hook names the client.
		a.Add(&p)
		if got := a.nprobes == 1; got != tc.record {
			t.Fatalf("case %d (%s -> %s at %v): record %v, want %v", i, tc.src, tc.dst, tc.time, got, tc.record)
		}
		want := FlowHead{Input: 3, Client: src, Server: dst, First: tc.time, Last: tc.time, FirstFrame: 77}
		var got FlowHead
		if tc.record {
			got = a.probes[0].head()
		} else {
			got = a.conns()[0].FlowHead
		}
		if got != want {
			t.Errorf("case %d: head %+v\nwant %+v", i, got, want)
		}
		// The reset: the server's, absorbed; its time given back as such.
		if !tc.record {
			continue
		}
		r := p
		r.Src, r.Dst, r.SrcPort, r.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		r.Time, r.Frame, r.TCPFlags, r.Seq, r.Ack = tc.time.Add(time.Millisecond), 78, dissect.FlagRST|dissect.FlagACK, 0, 1001
		a.Add(&r)
		if a.nprobes != 1 || a.probes[0].rstFrame != 78 {
			t.Fatalf("case %d: the server's reset was not absorbed (%d records, reset frame %d)", i, a.nprobes, a.probes[0].rstFrame)
		}
		c := a.conns()[0]
		if c.Last != r.Time || c.Dir[1].Pkts != 1 || c.Client != src {
			t.Errorf("case %d: the record's connection: last %v, %d server packets, client %v; want %v, 1, %v", i, c.Last, c.Dir[1].Pkts, c.Client, r.Time, src)
		}
	}
}
