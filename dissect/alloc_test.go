package dissect

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
	"time"
)

// ordinaryFrames are frames the zero-allocation promise covers.
func ordinaryFrames() map[string][]byte {
	syn := tcph(40000, 5001, 1000, 0, FlagSYN, []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}, nil)
	return map[string][]byte{
		"tcp_syn_ipv4":  ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 1, 0, nil, syn)),
		"tcp_data_ipv6": ether(etherIPv6, ipv6h(addrC6, addrS6, ProtoTCP, nil, tcph(1, 2, 3, 4, FlagACK, nil, make([]byte, 1200)))),
		"udp_ipv4":      ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 19283, make([]byte, 40)))),
		"icmp_quote":    ether(etherIPv4, ipv4h(addrR, addrC, ProtoICMP, 1, 0, nil, icmph(3, 13, ipv4h(addrC, addrS, ProtoTCP, 1, 0, nil, syn)))),
		"icmpv6_quote":  ether(etherIPv6, ipv6h(addrS6, addrC6, ProtoICMPv6, nil, icmph(1, 4, ipv6h(addrC6, addrS6, ProtoUDP, nil, udph(5, 6, nil))))),
	}
}

// realFrames returns the frames of testdata/eth.pcap except DNS answers
// (which may allocate), as the lab recorded them.
func realFrames(t testing.TB) [][]byte {
	b, err := os.ReadFile("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	d := NewDecoder(LinkEthernet)
	for off := 24; off+16 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+8:]))
		f := b[off+16 : off+16+n]
		off += 16 + n
		var p Packet
		d.Decode(f, t0, n, n, &p)
		if p.DNS == nil {
			out = append(out, f)
		}
	}
	return out
}

func TestDecodeAllocs(t *testing.T) {
	d := NewDecoder(LinkEthernet)
	var p Packet
	frames := ordinaryFrames()
	for i, f := range realFrames(t) {
		frames["eth_pcap_"+itoa(uint64(i))] = f
	}
	for name, f := range frames {
		n := testing.AllocsPerRun(200, func() {
			d.Decode(f, t0, len(f), len(f), &p)
		})
		if n != 0 {
			t.Errorf("%s: got %v allocations per decode; want 0", name, n)
		}
	}
}

// TestDecodeAllocsEncap: the slow path allocates nothing either, for any
// tunnel or link type, A-MSDU subframes included (an NFLOG prefix once,
// when first met).
func TestDecodeAllocsEncap(t *testing.T) {
	var p Packet
	check := func(name string, lt int, f []byte) {
		d := NewDecoder(lt)
		d.Decode(f, t0, len(f), len(f), &p)
		n := testing.AllocsPerRun(200, func() {
			d.Decode(f, t0, len(f), len(f), &p)
			for d.More(&p) {
			}
		})
		if n != 0 {
			t.Errorf("%s: got %v allocations per decode; want 0", name, n)
		}
	}
	for _, tc := range tunnelCases() {
		check(tc.name, LinkEthernet, tc.frame)
	}
	for _, tc := range linkCases() {
		check(tc.name, tc.linkType, tc.frame)
	}
	check("amsdu", LinkIEEE80211, cat(dot11h(0x02, true, true, 0), subframe(cat(snap(etherIPv4), inSYN4), true), subframe(cat(snap(etherIPv6), inData6), false)))
}

// bigCapture repeats the real frames n times as a pcap or pcapng file.
func bigCapture(t testing.TB, ng bool, n int) []byte {
	frames := realFrames(t)
	var recs []rec
	var f ngFile
	f.shb(false).idb(LinkEthernet, 262144, 0)
	for i := range n {
		fr := frames[i%len(frames)]
		ts := t0.Add(time.Duration(i) * time.Microsecond)
		if ng {
			f.epb(0, uint64(ts.UnixMicro()), fr, len(fr), uint64(i+1))
		} else {
			recs = append(recs, rec{ts: ts, data: fr})
		}
	}
	if ng {
		return f.b
	}
	return pcapBytes(false, false, 262144, 1, recs...)
}

func TestNextAllocs(t *testing.T) {
	for _, ng := range []bool{false, true} {
		name := "pcap"
		if ng {
			name = "pcapng"
		}
		t.Run(name, func(t *testing.T) {
			s, err := NewReader(bytes.NewReader(bigCapture(t, ng, 3000)), "mem", 0)
			if err != nil {
				t.Fatal(err)
			}
			m := Merge([]Source{s, mustReader(t, bigCapture(t, ng, 3000))})
			var p Packet
			for range 100 { // warm up
				m.Next(&p)
			}
			n := testing.AllocsPerRun(2000, func() {
				if err := m.Next(&p); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("got %v allocations per Next; want 0", n)
			}
		})
	}
}

func mustReader(t testing.TB, b []byte) Source {
	s, err := NewReader(bytes.NewReader(b), "mem", 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func BenchmarkDecode(b *testing.B) {
	frames := realFrames(b)
	d := NewDecoder(LinkEthernet)
	var p Packet
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := frames[i%len(frames)]
		d.Decode(f, t0, len(f), len(f), &p)
	}
}

// BenchmarkDecodeEncap decodes the frames of TestTunnels and TestLinkTypes
// (one op is one frame; the slow path).
func BenchmarkDecodeEncap(b *testing.B) {
	type frame struct {
		lt int
		f  []byte
	}
	var frames []frame
	for _, tc := range tunnelCases() {
		frames = append(frames, frame{LinkEthernet, tc.frame})
	}
	for _, tc := range linkCases() {
		frames = append(frames, frame{tc.linkType, tc.frame})
	}
	d := NewDecoder(LinkEthernet)
	var p Packet
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := frames[i%len(frames)]
		d.linkType = f.lt
		d.Decode(f.f, t0, len(f.f), len(f.f), &p)
	}
}

func BenchmarkReadPcap(b *testing.B)   { benchRead(b, false) }
func BenchmarkReadPcapng(b *testing.B) { benchRead(b, true) }

func benchRead(b *testing.B, ng bool) {
	data := bigCapture(b, ng, 100_000)
	r := bytes.NewReader(data)
	s, err := NewReader(r, "mem", 0)
	if err != nil {
		b.Fatal(err)
	}
	var p Packet
	b.SetBytes(int64(len(data) / 100_000))
	b.ReportAllocs()
	for b.Loop() {
		if s.Next(&p) != nil {
			r.Reset(data)
			s, _ = NewReader(r, "mem", 0)
		}
	}
}
