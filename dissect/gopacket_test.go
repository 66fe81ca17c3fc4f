package dissect

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// The decoder is hand-rolled rather than built on gopacket's
// DecodingLayerParser. The benchmarks here measure that choice: the same
// frames go through Decode and through a DecodingLayerParser used the fast
// way (preallocated layers, IgnoreUnsupported, the decoded slice reused),
// and TestDecodeAgreesWithGopacket checks that both sides fill the same
// Packet fields from every frame, so that neither does less work.

type namedFrame struct {
	name string
	data []byte
}

// frameMix is a realistic Ethernet mix: a TCP exchange over IPv4 and IPv6
// (SYN and SYN-ACK with Linux's options, data and ACKs with timestamps, a
// bare ACK padded to the Ethernet minimum), UDP, a VLAN-tagged segment, and
// ICMP errors as routers (IP header and 8 bytes) and hosts (the whole
// datagram) quote.
func frameMix() []namedFrame {
	// MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
	synOpts := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
	tsOpts := []byte{1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1}
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	syn := tcph(40000, 443, 1000, 0, FlagSYN, synOpts, nil)
	synAck := tcph(443, 40000, 5000, 1001, FlagSYN|FlagACK, synOpts, nil)
	ack := tcph(40000, 443, 1001, 5001, FlagACK, tsOpts, nil)
	req := tcph(40000, 443, 1001, 5001, FlagACK|FlagPSH, tsOpts, data(517))
	resp := tcph(443, 40000, 5001, 1518, FlagACK, tsOpts, data(1448))
	ackResp := tcph(40000, 443, 1518, 6449, FlagACK, tsOpts, nil)
	bare := ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 12, 0x4000, nil, tcph(40001, 22, 77, 88, FlagACK, nil, nil)))
	bare = append(bare, make([]byte, 60-len(bare))...) // Ethernet padding
	sent := ipv4h(addrC, addrS, ProtoTCP, 4242, 0x4000, nil, syn)
	udp := ipv4h(addrC, addrS, ProtoUDP, 4243, 0, nil, udph(51000, 19283, data(40)))
	udp6 := ipv6h(addrC6, addrS6, ProtoUDP, nil, udph(51001, 19283, data(40)))
	return []namedFrame{
		{"tcp_syn_ipv4", ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 1, 0x4000, nil, syn))},
		{"tcp_synack_ipv4", ether(etherIPv4, ipv4h(addrS, addrC, ProtoTCP, 0, 0x4000, nil, synAck))},
		{"tcp_ack_ipv4", ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 2, 0x4000, nil, ack))},
		{"tcp_data_ipv4", ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 3, 0x4000, nil, req))},
		{"tcp_data_ipv4_full", ether(etherIPv4, ipv4h(addrS, addrC, ProtoTCP, 7001, 0x4000, nil, resp))},
		{"tcp_ack_ipv4_after_data", ether(etherIPv4, ipv4h(addrC, addrS, ProtoTCP, 4, 0x4000, nil, ackResp))},
		{"tcp_ack_ipv4_padded", bare},
		{"tcp_data_vlan", ether(etherVLAN, append(vlan(0, 100, etherIPv4)[2:], ipv4h(addrS, addrC, ProtoTCP, 7002, 0x4000, nil, resp)...))},
		{"tcp_syn_ipv6", ether(etherIPv6, ipv6h(addrC6, addrS6, ProtoTCP, nil, syn))},
		{"tcp_synack_ipv6", ether(etherIPv6, ipv6h(addrS6, addrC6, ProtoTCP, nil, synAck))},
		{"tcp_data_ipv6", ether(etherIPv6, ipv6h(addrS6, addrC6, ProtoTCP, nil, resp))},
		{"tcp_ack_ipv6", ether(etherIPv6, ipv6h(addrC6, addrS6, ProtoTCP, nil, ackResp))},
		{"udp_ipv4", ether(etherIPv4, udp)},
		{"udp_ipv6", ether(etherIPv6, udp6)},
		// A router's time exceeded for a SYN: IP header and 8 bytes.
		{"icmp_ttl_router_quote", ether(etherIPv4, ipv4h(addrR, addrC, ProtoICMP, 9, 0, nil, icmph(11, 0, sent[:28])))},
		// A host's port unreachable: the whole datagram.
		{"icmp_port_unreach_host_quote", ether(etherIPv4, ipv4h(addrS, addrC, ProtoICMP, 10, 0, nil, icmph(3, 3, udp)))},
		{"icmpv6_port_unreach_quote", ether(etherIPv6, ipv6h(addrS6, addrC6, ProtoICMPv6, nil, icmph(1, 4, udp6)))},
	}
}

// gpDecoder fills a Packet with gopacket: a DecodingLayerParser over
// preallocated layers for the frame, and a second parse of the quoted
// datagram of an ICMP error. The quote is parsed with a preallocated IP
// layer directly, and its ports are read from the IP payload's first bytes:
// routers quote only 8 bytes of the transport header, which gopacket's TCP
// layer rejects (it needs 20), and going through its error would allocate.
type gpDecoder struct {
	parser  *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	qip4    layers.IPv4 // the datagram an ICMP error quotes
	qip6    layers.IPv6
}

func newGPDecoder() *gpDecoder {
	g := &gpDecoder{decoded: make([]gopacket.LayerType, 0, 8)}
	g.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet,
		&g.eth, &g.dot1q, &g.ip4, &g.ip6, &g.tcp, &g.udp, &g.icmp4, &g.icmp6)
	g.parser.IgnoreUnsupported = true
	return g
}

// decode fills p with the fields Decode fills for an Ethernet frame.
func (g *gpDecoder) decode(data []byte, ts time.Time, p *Packet) error {
	p.Reset()
	p.Time, p.CapLen, p.OrigLen = ts, len(data), len(data)
	err := g.parser.DecodeLayers(data, &g.decoded)
	p.Truncated = g.parser.Truncated
	for _, typ := range g.decoded {
		switch typ {
		case layers.LayerTypeIPv4:
			ip := &g.ip4
			p.IPVersion, p.TTL, p.IPID, p.Proto = 4, ip.TTL, ip.Id, uint8(ip.Protocol)
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
			p.Fragment = ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0
		case layers.LayerTypeIPv6:
			ip := &g.ip6
			p.IPVersion, p.TTL, p.Proto = 6, ip.HopLimit, uint8(ip.NextHeader)
			if ip.HopByHop != nil {
				p.Proto = uint8(ip.HopByHop.NextHeader)
			}
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		case layers.LayerTypeTCP:
			t := &g.tcp
			p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
			p.Seq, p.Ack, p.Window = t.Seq, t.Ack, t.Window
			p.TCPFlags = gpFlags(t)
			if t.SYN {
				for i := range t.Options {
					o := &t.Options[i]
					switch {
					case o.OptionType == layers.TCPOptionKindMSS && o.OptionLength == 4:
						p.MSS = binary.BigEndian.Uint16(o.OptionData)
					case o.OptionType == layers.TCPOptionKindWindowScale && o.OptionLength == 3:
						p.WScale = int8(min(o.OptionData[0], 14))
					}
				}
			}
			p.Payload, p.PayloadLen = t.Payload, len(t.Payload)
		case layers.LayerTypeUDP:
			p.SrcPort, p.DstPort = uint16(g.udp.SrcPort), uint16(g.udp.DstPort)
			p.Payload, p.PayloadLen = g.udp.Payload, len(g.udp.Payload)
		case layers.LayerTypeICMPv4:
			p.ICMPType, p.ICMPCode = g.icmp4.TypeCode.Type(), g.icmp4.TypeCode.Code()
			if p.IsICMPError() {
				g.quoted(g.icmp4.Payload, p)
			}
		case layers.LayerTypeICMPv6:
			p.ICMPType, p.ICMPCode = g.icmp6.TypeCode.Type(), g.icmp6.TypeCode.Code()
			// gopacket's ICMPv6 payload still holds the 4 bytes of the
			// message body (unused, MTU or pointer) before the quote.
			if p.IsICMPError() && len(g.icmp6.Payload) >= 4 {
				g.quoted(g.icmp6.Payload[4:], p)
			}
		}
	}
	return err
}

func gpFlags(t *layers.TCP) uint8 {
	var f uint8
	if t.FIN {
		f |= FlagFIN
	}
	if t.SYN {
		f |= FlagSYN
	}
	if t.RST {
		f |= FlagRST
	}
	if t.PSH {
		f |= FlagPSH
	}
	if t.ACK {
		f |= FlagACK
	}
	if t.URG {
		f |= FlagURG
	}
	if t.ECE {
		f |= FlagECE
	}
	if t.CWR {
		f |= FlagCWR
	}
	return f
}

// quoted is the second parse: the datagram inside an ICMP error.
func (g *gpDecoder) quoted(b []byte, p *Packet) {
	if len(b) < 1 {
		return
	}
	q := &p.Quoted
	var t []byte
	switch b[0] >> 4 {
	case 4:
		ip := &g.qip4
		if ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			return
		}
		q.IPVersion, q.IPID, q.Proto = 4, ip.Id, uint8(ip.Protocol)
		q.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		q.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		if ip.FragOffset == 0 {
			t = ip.Payload
		}
	case 6:
		ip := &g.qip6
		if ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			return
		}
		q.IPVersion, q.Proto = 6, uint8(ip.NextHeader)
		if ip.HopByHop != nil {
			q.Proto = uint8(ip.HopByHop.NextHeader)
		}
		q.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		q.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		t = ip.Payload
	default:
		return
	}
	p.HasQuoted = true
	if q.Proto != ProtoTCP && q.Proto != ProtoUDP {
		return
	}
	if len(t) >= 4 {
		q.SrcPort = binary.BigEndian.Uint16(t[0:2])
		q.DstPort = binary.BigEndian.Uint16(t[2:4])
	}
	if len(t) >= 8 && q.Proto == ProtoTCP {
		q.Seq = binary.BigEndian.Uint32(t[4:8])
	}
}

// labFrames are the frames BenchmarkDecode uses (testdata/eth.pcap without
// its DNS answers), named.
func labFrames(t testing.TB) []namedFrame {
	var out []namedFrame
	for i, f := range realFrames(t) {
		out = append(out, namedFrame{"eth_pcap_" + itoa(uint64(i)), f})
	}
	return out
}

// withoutSlices returns p without its slice fields, and its payload.
func withoutSlices(p Packet) (Packet, []byte) {
	pl := p.Payload
	p.Payload, p.DNS = nil, nil
	return p, pl
}

// TestDecodeAgreesWithGopacket checks that the two decoders of the
// benchmarks fill the same fields with the same values on every frame, so
// that the comparison is between equal work.
func TestDecodeAgreesWithGopacket(t *testing.T) {
	d := NewDecoder(LinkEthernet)
	g := newGPDecoder()
	check := func(t *testing.T, frames []namedFrame) {
		for _, f := range frames {
			var own, gp Packet
			if err := d.Decode(f.data, t0, len(f.data), len(f.data), &own); err != nil {
				t.Fatalf("%s: own: %v", f.name, err)
			}
			if err := g.decode(f.data, t0, &gp); err != nil {
				t.Errorf("%s: gopacket: %v", f.name, err)
			}
			o, op := withoutSlices(own)
			p, gpp := withoutSlices(gp)
			if !reflect.DeepEqual(o, p) {
				t.Errorf("%s: decoders disagree\n own:      %+v\n gopacket: %+v", f.name, o, p)
			}
			if !bytes.Equal(op, gpp) {
				t.Errorf("%s: payloads disagree: own %d bytes, gopacket %d", f.name, len(op), len(gpp))
			}
		}
	}
	t.Run("mix", func(t *testing.T) {
		frames := frameMix()
		check(t, frames)
		// Agreement on empty results would prove nothing: every frame of
		// the mix carries IP and a transport, and the ICMP errors a quote
		// with its ports.
		for _, f := range frames {
			var p Packet
			d.Decode(f.data, t0, len(f.data), len(f.data), &p)
			switch {
			case p.IPVersion == 0 || p.TTL == 0 || p.Proto == 0:
				t.Errorf("%s: no IP header decoded: %+v", f.name, p)
			case p.Proto == ProtoTCP || p.Proto == ProtoUDP:
				if p.SrcPort == 0 || p.DstPort == 0 {
					t.Errorf("%s: no ports decoded", f.name)
				}
			case !p.HasQuoted || p.Quoted.SrcPort == 0 || p.Quoted.DstPort == 0:
				t.Errorf("%s: no quoted ports decoded: %+v", f.name, p.Quoted)
			}
		}
	})
	t.Run("lab", func(t *testing.T) { check(t, labFrames(t)) })
}

func BenchmarkDecodeMix(b *testing.B) { benchDecodeVsGopacket(b, frameMix()) }

func BenchmarkDecodeLab(b *testing.B) { benchDecodeVsGopacket(b, labFrames(b)) }

// benchDecodeVsGopacket decodes the same frames into a Packet with Decode
// ("own") and with gopacket; one op is one frame.
func benchDecodeVsGopacket(b *testing.B, frames []namedFrame) {
	b.Run("own", func(b *testing.B) {
		d := NewDecoder(LinkEthernet)
		var p Packet
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f := frames[i%len(frames)].data
			d.Decode(f, t0, len(f), len(f), &p)
		}
	})
	b.Run("gopacket", func(b *testing.B) {
		g := newGPDecoder()
		var p Packet
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f := frames[i%len(frames)].data
			g.decode(f, t0, &p)
		}
	})
}
