package flows_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

// FuzzFlows feeds the flow engine packet summaries made from arbitrary
// bytes (16 bytes a packet: addresses, ports, protocol, flags, numbers,
// time steps), including ICMP errors quoting whatever, with tiny state caps
// so eviction runs too: neither the engine nor diagnosis may panic.
func FuzzFlows(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef"))
	f.Add(make([]byte, 160))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := diagnose.NewEvictions()
		a := flows.New(flows.Config{Timeouts: flowtest.Defaults(), MaxConns: 4, MaxUDPFlows: 4, ComparePoints: len(data)%2 == 0, OnEvict: ev})
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		protos := [...]uint8{dissect.ProtoTCP, dissect.ProtoUDP, dissect.ProtoICMP, dissect.ProtoICMPv6}
		for i := 0; i+16 <= len(data) && i < 16*2000; i += 16 {
			b := data[i : i+16]
			now = now.Add(time.Duration(b[15]) * 37 * time.Millisecond)
			p := dissect.Packet{Input: int(b[14] % 2), Frame: uint64(i/16 + 1), Time: now, IPVersion: 4,
				Src: netip.AddrFrom4([4]byte{192, 0, 2, b[0] % 4}), Dst: netip.AddrFrom4([4]byte{198, 51, 100, b[1] % 4}),
				TTL: b[2], IPID: binary.BigEndian.Uint16(b[3:5]), Proto: protos[b[5]%4],
				SrcPort: []uint16{5001, 19283, 443, 40000, 53}[b[6]%5], DstPort: []uint16{5001, 19283, 19315, 40001, 80}[b[7]%5],
				TCPFlags: b[8], Seq: uint32(b[9]) << 8, Ack: uint32(b[10]) << 8, PayloadLen: int(b[11]), Payload: b[12:14],
				ICMPType: b[12] % 5, ICMPCode: b[13] % 14, WScale: -1}
			if p.Proto == dissect.ProtoICMP || p.Proto == dissect.ProtoICMPv6 {
				p.HasQuoted = b[13]%2 == 0
				p.Quoted = dissect.Quoted{IPVersion: 4, Src: p.Dst, Dst: p.Src, Proto: protos[b[9]%2], SrcPort: p.DstPort, DstPort: p.SrcPort, Seq: p.Seq}
			}
			a.Add(&p)
		}
		diagnose.Run(a.View(), ev, nil)
	})
}
