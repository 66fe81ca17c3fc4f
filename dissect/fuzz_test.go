package dissect

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seedFiles are the real captures the fuzz targets start from.
func seedFiles(f *testing.F) [][]byte {
	paths, _ := filepath.Glob("testdata/*.pcap*")
	more, _ := filepath.Glob("testdata/*.gz*")
	var out [][]byte
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzOpen reads whole fuzzed files: no panic, no endless loop, frame
// numbers that never go down (the packets of one A-MSDU share theirs),
// payloads inside the captured bytes.
func FuzzOpen(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	var ng ngFile
	fr := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	ng.shb(false).idb(LinkEthernet, 0, 0x89).epb(0, 1, fr, len(fr), 9).isb(0, 3).spb(fr).shb(true).idb(147, 0, 0).epb(0, 1, fr, len(fr), 0)
	f.Add(ng.b)
	// Link types and tunnels of the slow path; an A-MSDU is several
	// packets with one frame number.
	amsdu := cat(dot11h(0x02, true, true, 0), subframe(cat(snap(etherIPv4), inSYN4), true), subframe(cat(snap(etherIPv6), inData6), false))
	f.Add(pcapBytes(false, false, 65535, LinkIEEE80211, rec{ts: t0, data: amsdu}, rec{ts: t0, data: amsdu[:60]}))
	f.Add(pcapBytes(true, false, 65535, LinkRadiotap, rec{ts: t0, data: cat(radiotaph(0x10, 2), amsdu, []byte{1, 2, 3, 4})}))
	f.Add(pcapBytes(false, false, 65535, LinkNFLOG, rec{ts: t0, data: nflogh(binary.LittleEndian, 2, 1, "drop", inSYN4)}))
	var tun ngFile
	tun.shb(false).idb(LinkEthernet, 0, 0)
	for _, tc := range tunnelCases() {
		tun.epb(0, 1, tc.frame, len(tc.frame), 0)
	}
	f.Add(tun.b)
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(3*time.Second, func() { panic("slow input") })
		defer tm.Stop()
		s, err := NewReader(bytes.NewReader(data), "fuzz", 0)
		if err != nil {
			if _, ok := err.(*FrameError); !ok {
				t.Fatalf("got %T %v; want *FrameError", err, err)
			}
			return
		}
		var last uint64
		var p Packet
		for i := 0; ; i++ {
			if i > len(data)+10 {
				t.Fatalf("more results (%d) than bytes (%d): endless loop", i, len(data))
			}
			err := s.Next(&p)
			if err == io.EOF {
				break
			}
			if err != nil {
				fe, ok := err.(*FrameError)
				if !ok {
					t.Fatalf("got %T %v; want *FrameError", err, err)
				}
				if fe.Fatal {
					if s.Next(&p) != io.EOF {
						t.Fatal("got more after a fatal error; want io.EOF")
					}
					break
				}
				continue
			}
			if p.Frame < last || p.Frame == 0 {
				t.Fatalf("frame %d after %d; want increasing", p.Frame, last)
			}
			last = p.Frame
			if len(p.Payload) > p.CapLen {
				t.Fatalf("payload %d bytes > captured %d", len(p.Payload), p.CapLen)
			}
		}
		in := s.Inputs()[0]
		if in.Packets < last {
			t.Fatalf("Packets %d < last frame %d", in.Packets, last)
		}
	})
}

// FuzzDecode decodes fuzzed frames under every supported link type.
func FuzzDecode(f *testing.F) {
	for _, fr := range ordinaryFrames() {
		f.Add(fr)
	}
	for i, fr := range realFrames(f) {
		if i%4 == 0 {
			f.Add(fr)
		}
	}
	for _, tc := range tunnelCases() {
		f.Add(tc.frame)
	}
	for _, tc := range linkCases() {
		f.Add(tc.frame)
	}
	f.Add(cat(dot11h(0x02, true, true, 0), subframe(cat(snap(etherIPv4), inSYN4), true), subframe(cat(snap(etherIPv6), inData6), false)))
	lts := []int{LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkLinuxSLL, LinkLinuxSLL2,
		LinkNFLOG, LinkPPP, LinkPPPHDLC, LinkIEEE80211, LinkRadiotap}
	var p Packet
	d := NewDecoder(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lt := range lts {
			d.linkType = lt
			if err := d.Decode(data, t0, len(data), len(data)+1, &p); err != nil {
				t.Fatal(err)
			}
			for n := 0; ; n++ {
				if len(p.Payload) > len(data) || (p.HasQuoted && p.Quoted.IPVersion == 0) || p.Undecoded.Encap >= numEncap ||
					p.Undecoded.Cause >= numCause || p.Tunnel >= numEncap || (p.Undecoded.Encap == 0) != (p.Undecoded.Cause == 0) {
					t.Fatalf("bad packet %+v", p)
				}
				if n > len(data)/14 {
					t.Fatalf("%d packets from %d bytes", n, len(data))
				}
				if !d.More(&p) {
					break
				}
			}
		}
	})
}
