package flows

import "github.com/fwdiag/fwdiag/dissect"

// Captures from both sides of a firewall (or one tcpdump -i any on it, which
// sees each packet on both interfaces) say exactly which packets the
// firewall ate, as pcapdiff and Wireshark's Compare do: the same packet is
// recognised at each capture point by what NAT leaves alone (IPv4 ID, TCP
// sequence and acknowledgement numbers and flags, payload length and first
// bytes), flows that share packets are the same flow, and a packet one side
// saw that the other, watching the same flow at the time, never saw was
// dropped (or, when only the receiving side saw it, injected) in between.

// MaxPrints bounds the packets a flow remembers for the comparison.
const MaxPrints = 32

// Print is one packet's identity for matching across capture points.
type Print struct {
	Hash  uint64 // fingerprint: what NAT does not change
	Frame uint64
	T     int64 // capture time, Unix nanoseconds
	Dir   uint8 // 0 client to server, 1 server to client
	RST   bool
}

// fingerprint hashes what NAT does not change (FNV-1a).
func fingerprint(p *dissect.Packet) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64, n int) {
		for i := 0; i < n; i++ {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
	}
	mix(uint64(p.Proto), 1)
	if p.IPVersion == 4 {
		mix(uint64(p.IPID), 2)
	}
	mix(uint64(p.Seq), 4)
	mix(uint64(p.Ack), 4)
	mix(uint64(p.TCPFlags), 1)
	mix(uint64(p.PayloadLen), 4)
	for i, b := range p.Payload {
		if i == 32 {
			break
		}
		mix(uint64(b), 1)
	}
	return h
}

// addPrint records a packet of a flow while there is room.
func addPrint(prints *[]Print, p *dissect.Packet, dir int) {
	if len(*prints) >= MaxPrints {
		return
	}
	if *prints == nil {
		*prints = make([]Print, 0, MaxPrints)
	}
	*prints = append(*prints, Print{Hash: fingerprint(p), Frame: p.Frame, T: p.Time.UnixNano(), Dir: uint8(dir), RST: p.TCPFlags&dissect.FlagRST != 0})
}
