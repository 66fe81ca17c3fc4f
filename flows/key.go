package flows

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
)

// Endpoint is an address and port; a fixed-size value usable as a map key.
type Endpoint = netip.AddrPort

// flowKey identifies a flow seen at one vantage point. The two endpoints are
// ordered so both directions of a flow map to the same key.
//
// Why a vantage: captures taken on both sides of a firewall (or one `-i any`
// capture that sees each forwarded packet twice) show the same flow several
// times; keeping each view apart lets each side be judged on what it saw, and
// findings are then grouped across views.
//
// Why words rather than two netip.AddrPort: plain integers are hashed and
// compared in registers (flowTable), where a map keyed by AddrPorts hashes
// them field by field. The key is built by setKey and looked up; only a
// probe record, which keeps its key instead of its ends, reads it back
// (isLow, ends, vantage).
type flowKey struct {
	a0, a1 uint64 // the lower endpoint's address, 16 bytes (IPv4 as 4-in-6)
	b0, b1 uint64 // the higher endpoint's address
	// meta packs the ports (lower, higher), the vantage, the protocol and
	// which addresses are IPv4, so an IPv4 address and its 4-in-6 form stay
	// apart as netip keeps them.
	meta uint64
}

// setKey fills k with the key of the flow between a and b. It writes k's
// words in place: a key returned by value is copied with 16-byte loads of
// the 8-byte words just stored, which stalls on store forwarding.
func setKey(k *flowKey, vantage uint16, proto uint8, a, b Endpoint) {
	a0, a1, a4 := AddrWords(a.Addr())
	b0, b1, b4 := AddrWords(b.Addr())
	ap, bp := a.Port(), b.Port()
	if b0 < a0 || b0 == a0 && (b1 < a1 || b1 == a1 && (b4 < a4 || b4 == a4 && bp < ap)) {
		a0, a1, a4, ap, b0, b1, b4, bp = b0, b1, b4, bp, a0, a1, a4, ap
	}
	k.a0, k.a1, k.b0, k.b1 = a0, a1, b0, b1
	k.meta = uint64(ap)<<48 | uint64(bp)<<32 | uint64(vantage)<<16 | uint64(proto)<<8 | a4<<1 | b4
}

// The key read back, for probe records (probe.go), which keep the key
// instead of their ends: the fields are setKey's.

// isLow says whether e is the key's lower endpoint (a0, a1 and the first
// port), as setKey ordered them.
func (k *flowKey) isLow(e Endpoint) bool {
	w0, w1, is4 := AddrWords(e.Addr())
	return w0 == k.a0 && w1 == k.a1 && is4 == k.meta>>1&1 && uint64(e.Port()) == k.meta>>48
}

// ends returns the key's lower and higher endpoints.
func (k *flowKey) ends() (low, high Endpoint) {
	return netip.AddrPortFrom(wordsAddr(k.a0, k.a1, k.meta>>1&1 != 0), uint16(k.meta>>48)),
		netip.AddrPortFrom(wordsAddr(k.b0, k.b1, k.meta&1 != 0), uint16(k.meta>>32))
}

// vantage returns the key's capture point index.
func (k *flowKey) vantage() uint16 { return uint16(k.meta >> 16) }

// AddrWords returns x's 16 bytes as two words and 1 when x is IPv4 (its
// four bytes in the low word): what hashes of addresses elsewhere start
// from too (diagnose's scan tables).
//
// IPv4 goes through As4: reading back the two halves of As16's array
// stalls on store forwarding (the compiler copies the array with one
// 16-byte load of two 8-byte stores), which cost more than the rest of a
// packet's flow update.
func AddrWords(x netip.Addr) (w0, w1, is4 uint64) {
	if x.Is4() {
		b := x.As4()
		return 0, uint64(binary.BigEndian.Uint32(b[:])), 1
	}
	b := x.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), 0
}

// wordsAddr is the address AddrWords took apart.
func wordsAddr(w0, w1 uint64, is4 bool) netip.Addr {
	if is4 {
		return netip.AddrFrom4([4]byte{byte(w1 >> 24), byte(w1 >> 16), byte(w1 >> 8), byte(w1)})
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], w0)
	binary.BigEndian.PutUint64(b[8:], w1)
	return netip.AddrFrom16(b)
}

// vantageKey identifies a capture point: an input file and, inside it, the
// interface the frame was captured on (pcapng interface id; the Linux
// interface index of an SLL2 frame; for SLL v1, which has no index, the
// packet's direction, so that what reached a forwarding host and what it
// sent on stay apart).
type vantageKey = CapturePoint

// CapturePoint identifies where packets were captured: an input file and,
// inside it, the interface (pcapng interface id, SLL2 interface index) or,
// for SLL v1, the direction.
type CapturePoint struct {
	Input, Iface int
	IfIndex      int32
	Outgoing     bool
}

// FlowHead is what a TCP connection and a UDP flow share: where and when the
// flow was seen, and its two ends. Both embed it, so ordering and reporting
// treat them alike.
type FlowHead struct {
	Vantage    uint16 // capture point (Analyzer.CapturePoints)
	Input      int    // index of the input file
	Client     Endpoint
	Server     Endpoint
	First      time.Time
	Last       time.Time
	FirstFrame uint64

	// Service is the flow's catalog service (nil: none), settled when the
	// flow is handed to diagnosis (View, or an eviction hook): only then
	// are the hosts' roles that decide ports 80/443 and 25 known.
	Service *catalog.Service
}

// newHead starts a flow's header at its first packet.
func newHead(v uint16, p *dissect.Packet) FlowHead {
	return FlowHead{Vantage: v, Input: p.Input, First: p.Time, Last: p.Time, FirstFrame: p.Frame}
}

// compare orders flows by first packet time, input, first frame and client:
// a total order, so every report lists flows the same way.
func (h *FlowHead) compare(o *FlowHead) int {
	if c := h.First.Compare(o.First); c != 0 {
		return c
	}
	if c := cmp.Compare(h.Input, o.Input); c != 0 {
		return c
	}
	if c := cmp.Compare(h.FirstFrame, o.FirstFrame); c != 0 {
		return c
	}
	return h.Client.Compare(o.Client)
}

// sub is t.Sub(u) for the flow engine's per-packet gaps. time.Time.Sub
// checks its result for overflow by adding it back (u.Add(d).Equal(t)),
// which was a sixth of a flow update; a span under 280 years cannot
// overflow a Duration, so only longer ones take that way.
func sub(t, u time.Time) time.Duration {
	if ds := t.Unix() - u.Unix(); ds > -280*365*86400 && ds < 280*365*86400 {
		return time.Duration(ds)*time.Second + time.Duration(t.Nanosecond()-u.Nanosecond())
	}
	return t.Sub(u)
}
