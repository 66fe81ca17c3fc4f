package report

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRedactPreservesPrefixes(t *testing.T) {
	r := NewRedactor([]byte("site secret"))
	cases := []struct {
		a, b   string
		shared int
	}{
		{"192.0.2.10", "192.0.2.11", 31},
		{"192.0.2.10", "192.0.2.130", 24},
		{"192.0.2.10", "198.51.100.10", 5},
		{"2001:db8:c::10", "2001:db8:5::10", 44},
	}
	for _, tc := range cases {
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		pa, pb := r.Addr(a), r.Addr(b)
		if pa == a || pb == b {
			t.Errorf("%s or %s was not changed", tc.a, tc.b)
		}
		if got := commonPrefix(pa, pb); got != tc.shared {
			t.Errorf("%s/%s -> %s/%s share %d bits; want %d (as the originals)", tc.a, tc.b, pa, pb, got, tc.shared)
		}
		if r.Addr(a) != pa {
			t.Errorf("pseudonym of %s is not stable", tc.a)
		}
	}
	if NewRedactor([]byte("other")).Addr(netip.MustParseAddr("192.0.2.10")) == r.Addr(netip.MustParseAddr("192.0.2.10")) {
		t.Error("two keys gave the same pseudonym")
	}
}

func commonPrefix(a, b netip.Addr) int {
	x, y := a.AsSlice(), b.AsSlice()
	for i := range x {
		for bit := 7; bit >= 0; bit-- {
			if (x[i]>>bit)&1 != (y[i]>>bit)&1 {
				return i*8 + 7 - bit
			}
		}
	}
	return len(x) * 8
}

func TestRedactReportLeavesNoAddress(t *testing.T) {
	rep := &Report{
		Inputs:   []Input{{Path: "cap/192.0.2.10.pcap"}},
		Hosts:    []HostRow{{Addr: "192.0.2.10", Roles: []string{"sw-client"}}},
		Findings: []Finding{{Client: "192.0.2.10", Server: "2001:db8:5::10", Summary: "192.0.2.10 to 2001:db8:5::10 sw-binary", WiresharkFilter: "ip.src==192.0.2.10 && tcp.dstport==5001"}},
		Errors:   []string{"x.pcap: frame 3: bad"},
	}
	NewRedactor([]byte("k")).Apply(rep)
	all := rep.Hosts[0].Addr + rep.Findings[0].Client + rep.Findings[0].Server + rep.Findings[0].Summary + rep.Findings[0].WiresharkFilter
	for _, real := range []string{"192.0.2.10", "2001:db8:5::10"} {
		if strings.Contains(all, real) {
			t.Errorf("%s survived redaction: %s", real, all)
		}
	}
	if !strings.Contains(rep.Findings[0].WiresharkFilter, "tcp.dstport==5001") || rep.Inputs[0].Path != "cap/192.0.2.10.pcap" {
		t.Errorf("redaction changed more than addresses: %+v", rep)
	}
	if rep.Findings[0].Client != strings.Fields(rep.Findings[0].Summary)[0] {
		t.Errorf("the same address got two pseudonyms")
	}
}
