// Package dissect turns captured bytes into decoded packet summaries.
//
// It owns the file readers (pcap, pcapng, either gzip-compressed), the link
// layers (Ethernet with 802.1Q/QinQ, Linux SLL and SLL2, raw IP, BSD null;
// NFLOG, PPP and Cisco HDLC, 802.11 with or without radiotap), the tunnels
// and labels a packet can come in (VXLAN, Geneve, GRE, ERSPAN, GTP-U,
// Teredo, AYIYA, IP in IP, MPLS, PBB, VN-Tag), and the
// IPv4/IPv6/TCP/UDP/ICMP/ICMPv6/DNS decoding. It knows nothing of flows,
// services or findings: it only says what is in each frame.
//
// Data flows one way: dissect -> flows -> report. Nothing here imports those.
package dissect

import (
	"net/netip"
	"time"
)

// IP protocol numbers used by the summary.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	FlagFIN uint8 = 0x01
	FlagSYN uint8 = 0x02
	FlagRST uint8 = 0x04
	FlagPSH uint8 = 0x08
	FlagACK uint8 = 0x10
	FlagURG uint8 = 0x20
	FlagECE uint8 = 0x40
	FlagCWR uint8 = 0x80
)

// Packet is the decoded summary of one captured frame.
//
// A Packet is filled in place by a Source; the caller owns it and may reuse it
// for the next call. Payload points into the reader's buffer and is valid only
// until the next call to Next. Every other field is a value and may be kept.
// The zero value of each field means "not present in this frame".
type Packet struct {
	// The fields are in the order of use, not of the headers: the flow
	// engine reads those of the first three cache lines (time to payload
	// and DNS answers) of every packet, and the rest only for the odd one
	// (ICMP errors, NFLOG, tunnels). A packet crosses from the reading
	// goroutine to the analysing one in a batch, so every line it spans
	// is a line moved between the cores (dissect's TestPacketLayout).

	Time  time.Time // capture timestamp
	Frame uint64    // 1-based frame number within its input, as Wireshark numbers it
	Input int       // index of the input this frame came from (order given on the command line)
	// Interface is the pcapng interface id (0 for pcap).
	Interface int
	// PacketID is the pcapng EPB packet id option (pktmon logs one packet at
	// several components with the same id); 0 when absent.
	PacketID uint64
	// IfIndex is the Linux interface index from an SLL2 header (tcpdump -i
	// any); 0 for other link types. A forwarding host captured with -i any
	// shows each packet once per interface, so the interface is a vantage
	// point of its own.
	IfIndex int32
	// IPVersion is 4 or 6; 0 when the frame carries no IP packet.
	IPVersion uint8
	// Proto is the transport protocol number after IPv6 extension headers.
	Proto    uint8
	TCPFlags uint8 // FlagSYN | FlagACK ...
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8

	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // TCP or UDP ports
	Seq, Ack         uint32 // TCP sequence and acknowledgement numbers
	Window           uint16 // TCP window (unscaled)
	MSS              uint16 // MSS option on SYNs; 0 when absent

	PayloadLen int // TCP or UDP payload length as the IP header implies it
	// Payload is the captured transport payload (may be shorter than
	// PayloadLen when truncated). It aliases the reader's buffer: valid only
	// until the next call to Next. It is used only to confirm a service by its
	// greeting and is never copied into a report.
	Payload []byte
	// DNS holds the A/AAAA answers of a DNS response (UDP/TCP port 53). It is
	// nil for every other packet, so ordinary packets allocate nothing.
	DNS []DNSAnswer
	// IPID is the IPv4 identification field (0 for IPv6).
	IPID   uint16
	WScale int8 // window scale option on SYNs; -1 when absent
	// Truncated is true when the frame was cut by the snap length or a header
	// claimed more bytes than were captured; fields after the cut are zero.
	Truncated bool
	// Outgoing is true for a Linux cooked (SLL/SLL2) frame the host sent
	// (packet type 4).
	Outgoing bool
	// Fragment is true for an IP fragment other than a complete datagram;
	// only the first fragment (offset 0) carries transport fields.
	Fragment bool
	// Dropped is true when the pcapng EPB verdict option says the packet
	// was dropped at the component that logged it (etl2pcapng writes
	// pktmon's drop events so: verdict type XDP, value XDP_DROP).
	Dropped bool
	// Quoted is the packet that an ICMP/ICMPv6 error quotes, so the error can
	// be mapped back to its flow. Valid only when HasQuoted.
	HasQuoted bool

	// The rarely read: from here on a packet's fields are past the lines
	// the flow engine reads of an ordinary packet.

	ICMPType, ICMPCode uint8 // ICMP or ICMPv6 type and code
	// Tunnel is the innermost encapsulation the packet was carried in
	// (EncapVXLAN, EncapGRE, EncapMPLS...); EncapNone for a packet seen
	// as it is. The packet's fields (not the frame's) then describe the inner
	// packet: its addresses, ports and flags, not the tunnel's.
	Tunnel Encap
	// Undecoded, when not zero, says why the frame could not be followed to
	// the packet it carries: the encapsulation that stopped decoding and the
	// cause (an encrypted 802.11 frame, a tunnel header cut short, a tunnel
	// carrying a protocol fwdiag does not read). The fields below then
	// describe what was decoded: the outer packet when the tunnel's own
	// header failed, or nothing. Readers count it in InputInfo.Undecoded.
	Undecoded Undecoded
	// LogGroup is the NFLOG group (nflog:N) the frame was logged to; 0 for
	// other link types.
	LogGroup uint16
	CapLen   int // bytes captured
	OrigLen  int // bytes on the wire
	// LogPrefix is the prefix of the firewall rule that logged the frame to
	// NFLOG (iptables --nflog-prefix, nftables log prefix), without the
	// trailing NUL; empty for other link types and rules without one.
	LogPrefix string
	Quoted    Quoted
}

// Quoted is the header summary of the original datagram inside an ICMP error.
type Quoted struct {
	IPVersion        uint8
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	Seq              uint32 // TCP sequence number when the quote reaches it
	IPID             uint16
}

// DNSAnswer is one name-to-address binding from a DNS response.
type DNSAnswer struct {
	Name string // the queried name, lower case, without the trailing dot
	Addr netip.Addr
}

// HasFlag reports whether every bit of f is set in the TCP flags.
func (p *Packet) HasFlag(f uint8) bool { return p.TCPFlags&f == f }

// IsICMPError reports whether the packet is an ICMP or ICMPv6 error message
// (destination unreachable, time exceeded, parameter problem, packet too big).
func (p *Packet) IsICMPError() bool {
	switch p.Proto {
	case ProtoICMP:
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	case ProtoICMPv6:
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// Reset clears the packet for reuse.
func (p *Packet) Reset() {
	// Zero, then set: a composite literal with a field set is built on the
	// stack and copied, and that copy stalls on store forwarding (measured:
	// BenchmarkDecode 21 -> 14 ns).
	*p = Packet{}
	p.WScale = -1
}

// FrameError is a problem with one frame or with the file around it. Readers
// return it for damaged input; analysis goes on with the next readable frame
// when Fatal is false.
type FrameError struct {
	Path  string // input path as given ("-" for stdin)
	Frame uint64 // 1-based frame number, 0 when the problem is with the file itself
	Msg   string
	Fatal bool // the rest of the file cannot be read
	// Count is how many frames the problem affected when one error stands
	// for a repeated problem (0 or 1 = one).
	Count uint64
	// Interruption marks a notice that the capture itself paused (a live
	// interface went down and came back): packets were missed, none was
	// damaged.
	Interruption bool
	// LinkType, when not 0, says the frames were skipped because fwdiag
	// does not analyse their link type (nothing was damaged).
	LinkType int
}

func (e *FrameError) Error() string {
	if e.Frame > 0 {
		return e.Path + ": frame " + itoa(e.Frame) + ": " + e.Msg
	}
	return e.Path + ": " + e.Msg
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}
