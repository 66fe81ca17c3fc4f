// Package synth writes deterministic synthetic packet captures for fwdiag.
//
// The lab in pcaps/lab records real traffic, but it cannot wait two hours for
// a firewall to forget an idle NPA socket, nor produce millions of packets on
// demand. This package fills both gaps: it builds realistic Ethernet frames
// (TCP with a real handshake, correct seq/ack arithmetic, keep-alives,
// retransmissions with RTO back-off, FIN and RST; UDP; ICMP errors quoting
// the original header; DNS answers) on a virtual clock, from a seeded random
// source, so the same flags always give byte-identical files.
//
// Packets may be emitted out of time order (a scenario often writes one
// flow's whole story before the next one); a small reorder queue sorts them
// by timestamp before they reach the writer, and Scheduler bounds that queue
// for streaming output.
package synth

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DefaultStart is the wall-clock time of virtual time zero: a fixed date
// keeps the files reproducible and makes SCENARIO.md times exact.
var DefaultStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// ErrFull is returned by emitting calls once the packet limit is reached, so
// that generators can stop early without treating it as a failure.
var ErrFull = errors.New("synth: packet limit reached")

// Sink receives finished frames in timestamp order; pcapgo.Writer and
// pcapgo.NgWriter both satisfy it.
type Sink interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// Host is one IP endpoint as the capture point sees it: its address, the
// MAC address its frames carry on the captured segment (a router's MAC for
// hosts beyond a hop), the TTL its packets arrive with, and its IPv4 ID
// counter, which advances with every packet it sends as on Windows.
type Host struct {
	Name string
	Addr netip.Addr
	MAC  net.HardwareAddr
	TTL  uint8
	ipID uint16
}

// NewHost returns a host whose IPv4 ID counter starts at a random value, as
// real stacks do, so that two hosts never share an ID sequence.
func NewHost(rng *rand.Rand, name string, addr netip.Addr, mac net.HardwareAddr, ttl uint8) *Host {
	return &Host{Name: name, Addr: addr, MAC: mac, TTL: ttl, ipID: uint16(rng.Uint32())}
}

// MAC builds a MAC address from a vendor OUI and a serial number, so that
// captures show plausible vendors (VMware, Intel, Cisco) instead of zeros.
func MAC(oui uint32, serial uint32) net.HardwareAddr {
	return net.HardwareAddr{byte(oui >> 16), byte(oui >> 8), byte(oui), byte(serial >> 16), byte(serial >> 8), byte(serial)}
}

// Vendor OUIs used for plausible MAC addresses.
const (
	OUIVMware = 0x005056
	OUIIntel  = 0x001b21
	OUICisco  = 0x00000c
	OUIDell   = 0x14187f
)

// Builder serializes frames on a virtual clock and hands them, in timestamp
// order, to a Sink. All serialization state is reused between packets so
// that the volume generator does not allocate per packet.
type Builder struct {
	Start time.Time
	Rand  *rand.Rand
	// Limit stops the output after this many packets (0: no limit).
	Limit int
	// End drops every packet stamped after it (0: none dropped), as a
	// capture stopped at End would: the answers and transfers still under
	// way then are cut off.
	End time.Duration

	sink    Sink
	err     error
	written int
	q       queue
	buf     gopacket.SerializeBuffer
	opts    gopacket.SerializeOptions
	eth     layers.Ethernet
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	pl      gopacket.Payload
	// Text holds two reusable payload buffers for generators that build
	// text payloads per packet (a request and its answer at once).
	Text    [2][]byte
	lastIP  [128]byte
	lastLen int
	lastV6  bool
	tcpOpts [5]layers.TCPOption
}

// NewBuilder returns a builder writing to sink with a random source seeded
// by seed: the only source of randomness a scenario may use.
func NewBuilder(sink Sink, seed uint64) *Builder {
	b := &Builder{
		Start: DefaultStart,
		Rand:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		sink:  sink,
		buf:   gopacket.NewSerializeBufferExpectedSize(64, 1600),
		opts:  gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
	b.tcpOpts = [5]layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{8}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
	}
	return b
}

// Err returns the first error any emitting call met (ErrFull included);
// after it, emitting calls do nothing.
func (b *Builder) Err() error { return b.err }

// Written reports how many packets reached the sink.
func (b *Builder) Written() int { return b.written }

// Full reports whether the packet limit has been reached, counting packets
// still waiting in the reorder queue, so generators stop producing early.
func (b *Builder) Full() bool {
	return b.Limit > 0 && b.written+b.q.Len() >= b.Limit
}

// Flush writes every queued packet stamped at or before upTo. Callers that
// emit out of order must only flush up to the earliest time they may still
// emit at; Close flushes everything.
func (b *Builder) Flush(upTo time.Duration) error {
	for b.q.Len() > 0 && b.q.min() <= upTo {
		p := b.q.pop()
		if b.Limit > 0 && b.written >= b.Limit || b.End > 0 && p.at > b.End {
			b.q.recycle(p.v)
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: b.Start.Add(p.at), CaptureLength: len(p.v), Length: len(p.v)}
		err := b.sink.WritePacket(ci, p.v)
		b.q.recycle(p.v)
		if err != nil {
			return err
		}
		b.written++
	}
	return nil
}

// Close writes everything still queued.
func (b *Builder) Close() error { return b.Flush(1<<63 - 1) }

// ipLayer fills the reused IPv4 or IPv6 layer for a packet from src to dst
// and returns it with the Ethernet type it needs.
func (b *Builder) ipLayer(src, dst *Host, proto layers.IPProtocol) (gopacket.SerializableLayer, gopacket.NetworkLayer) {
	src.ipID++
	if src.Addr.Is4() {
		s, d := src.Addr.As4(), dst.Addr.As4()
		b.ip4 = layers.IPv4{Version: 4, IHL: 5, TTL: src.TTL, Id: src.ipID, Protocol: proto,
			SrcIP: b.ip4.SrcIP[:0], DstIP: b.ip4.DstIP[:0]}
		b.ip4.SrcIP = append(b.ip4.SrcIP, s[:]...)
		b.ip4.DstIP = append(b.ip4.DstIP, d[:]...)
		if proto == layers.IPProtocolTCP {
			b.ip4.Flags = layers.IPv4DontFragment
		}
		b.eth.EthernetType = layers.EthernetTypeIPv4
		return &b.ip4, &b.ip4
	}
	s, d := src.Addr.As16(), dst.Addr.As16()
	b.ip6 = layers.IPv6{Version: 6, HopLimit: src.TTL, NextHeader: proto,
		SrcIP: append(b.ip6.SrcIP[:0], s[:]...), DstIP: append(b.ip6.DstIP[:0], d[:]...)}
	b.eth.EthernetType = layers.EthernetTypeIPv6
	return &b.ip6, &b.ip6
}

// emit serializes Ethernet + IP + l4 + payload and queues the frame at time
// at. It also remembers the start of the IP packet so that a following
// ICMP error can quote it.
func (b *Builder) emit(at time.Duration, src, dst *Host, proto layers.IPProtocol, l4 gopacket.SerializableLayer, payload []byte) {
	if b.err != nil {
		return
	}
	if b.Full() {
		b.err = ErrFull
		return
	}
	b.eth.SrcMAC, b.eth.DstMAC = src.MAC, dst.MAC
	ip, nl := b.ipLayer(src, dst, proto)
	switch l := l4.(type) {
	case *layers.TCP:
		_ = l.SetNetworkLayerForChecksum(nl)
	case *layers.UDP:
		_ = l.SetNetworkLayerForChecksum(nl)
	case *layers.ICMPv6:
		_ = l.SetNetworkLayerForChecksum(nl)
	}
	b.pl = payload
	if err := gopacket.SerializeLayers(b.buf, b.opts, &b.eth, ip, l4, &b.pl); err != nil {
		b.err = err
		return
	}
	data := b.buf.Bytes()
	b.lastV6 = src.Addr.Is6()
	b.lastLen = copy(b.lastIP[:], data[14:])
	b.q.push(at, data)
}

// TCPSegment emits one TCP segment with explicit header fields; Conn builds
// on it, and it is exported for odd packets (scans, floods, forged RSTs).
func (b *Builder) TCPSegment(at time.Duration, src *Host, sport uint16, dst *Host, dport uint16,
	seq, ack uint32, flags Flags, win uint16, payload []byte) {
	b.tcp = layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		Window: win, Padding: b.tcp.Padding[:0],
		FIN: flags&FIN != 0, SYN: flags&SYN != 0, RST: flags&RST != 0, PSH: flags&PSH != 0, ACK: flags&ACK != 0}
	if flags&SYN != 0 {
		b.tcp.Options = b.tcpOpts[:]
	}
	b.emit(at, src, dst, layers.IPProtocolTCP, &b.tcp, payload)
}

// Flags are TCP header flags.
type Flags uint8

// TCP flags.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// UDP emits one UDP datagram.
func (b *Builder) UDP(at time.Duration, src *Host, sport uint16, dst *Host, dport uint16, payload []byte) {
	b.udp = layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	b.emit(at, src, dst, layers.IPProtocolUDP, &b.udp, payload)
}

// Quote is the start of an IP packet as an ICMP error carries it back: the
// IPv4 header plus 8 bytes (RFC 792), or for IPv6 the header plus the first
// 88 bytes after it (RFC 4443 asks for as much as fits).
type Quote struct {
	b  [128]byte
	n  int
	v6 bool
}

// QuoteLast returns the quote of the most recently emitted packet, so that a
// scenario can answer it with an ICMP error.
func (b *Builder) QuoteLast() Quote {
	q := Quote{v6: b.lastV6}
	n := b.lastLen
	if !b.lastV6 {
		n = min(n, int(b.lastIP[0]&0x0f)*4+8)
	}
	q.n = copy(q.b[:], b.lastIP[:n])
	return q
}

// Unreachable codes for ICMPv4 type 3 (and the nearest ICMPv6 type 1 code).
const (
	CodePortUnreachable   = 3
	CodeHostProhibited    = 10
	CodeAdminProhibited   = 13
	codeV6AdminProhibited = 1
	codeV6PortUnreachable = 4
)

// ICMPUnreachable emits a destination-unreachable error from router (or the
// destination host itself) to the quoted packet's sender.
func (b *Builder) ICMPUnreachable(at time.Duration, from, to *Host, code uint8, q Quote) {
	if q.v6 {
		c := uint8(codeV6AdminProhibited)
		if code == CodePortUnreachable {
			c = codeV6PortUnreachable
		}
		b.icmp6 = layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeDestinationUnreachable, c)}
		var body [132]byte // 4 unused bytes, then the quote
		n := 4 + copy(body[4:], q.b[:q.n])
		b.emit(at, from, to, layers.IPProtocolICMPv6, &b.icmp6, body[:n])
		return
	}
	b.icmp4 = layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, code)}
	b.emit(at, from, to, layers.IPProtocolICMPv4, &b.icmp4, q.b[:q.n])
}

// DNSLookup emits an A (or AAAA, for IPv6 answers) query from client to
// resolver at time at and its answer rtt later, with a 300 s TTL. The name
// resolution lets an analyzer label endpoints such as prs.sassafras.com.
func (b *Builder) DNSLookup(at, rtt time.Duration, client *Host, cport uint16, resolver *Host, name string, answers ...netip.Addr) {
	qtype := layers.DNSTypeA
	if len(answers) > 0 && answers[0].Is6() {
		qtype = layers.DNSTypeAAAA
	}
	id := uint16(b.Rand.Uint32())
	q := layers.DNS{ID: id, RD: true, QDCount: 1,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: qtype, Class: layers.DNSClassIN}}}
	b.dns(at, client, cport, resolver, 53, &q)
	r := q
	r.QR, r.RA = true, true
	for _, a := range answers {
		rr := layers.DNSResourceRecord{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: a.AsSlice()}
		if a.Is6() {
			rr.Type = layers.DNSTypeAAAA
		}
		r.Answers = append(r.Answers, rr)
	}
	r.ANCount = uint16(len(r.Answers))
	b.dns(at+rtt, resolver, 53, client, cport, &r)
}

// dns serializes a DNS message into a UDP payload. DNS is rare enough in
// every scenario that its allocations do not matter.
func (b *Builder) dns(at time.Duration, src *Host, sport uint16, dst *Host, dport uint16, m *layers.DNS) {
	sb := gopacket.NewSerializeBuffer()
	if err := m.SerializeTo(sb, b.opts); err != nil {
		if b.err == nil {
			b.err = err
		}
		return
	}
	b.UDP(at, src, sport, dst, dport, sb.Bytes())
}

// Jitter returns d scaled by a random factor in [1-f, 1+f], so periodic
// traffic does not look machine-perfect.
func (b *Builder) Jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 - f + 2*f*b.Rand.Float64()))
}

// EphemeralPort returns a port from the IANA dynamic range (Windows' and
// modern Linux' default ephemeral range starts at 49152).
func (b *Builder) EphemeralPort() uint16 { return uint16(49152 + b.Rand.IntN(16000)) }

// ISN returns a random initial sequence number.
func (b *Builder) ISN() uint32 { return b.Rand.Uint32() }
