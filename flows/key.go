package flows

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// Endpoint is an address and port; a fixed-size value usable as a map key.
type Endpoint = netip.AddrPort

// flowKey identifies a flow seen at one vantage point. The two endpoints are
// ordered (lo < hi) so both directions of a flow map to the same key.
//
// Why a vantage: captures taken on both sides of a firewall (or one `-i any`
// capture that sees each forwarded packet twice) show the same flow several
// times; keeping each view apart lets each side be judged on what it saw, and
// findings are then grouped across views.
type flowKey struct {
	vantage uint16
	proto   uint8
	lo, hi  Endpoint
}

func lessEndpoint(a, b Endpoint) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Port() < b.Port()
}

func makeKey(vantage uint16, proto uint8, a, b Endpoint) flowKey {
	if lessEndpoint(b, a) {
		a, b = b, a
	}
	return flowKey{vantage: vantage, proto: proto, lo: a, hi: b}
}

// vantageKey identifies a capture point: an input file and, inside it, the
// interface the frame was captured on (pcapng interface id; the Linux
// interface index of an SLL2 frame; for SLL v1, which has no index, the
// packet's direction, so that what reached a forwarding host and what it
// sent on stay apart).
type vantageKey struct {
	input, iface int
	ifIndex      int32
	outgoing     bool
}

// flowHead is what a TCP connection and a UDP flow share: where and when the
// flow was seen, and its two ends. Both embed it, so ordering and reporting
// treat them alike.
type flowHead struct {
	Vantage    uint16
	Input      int
	Client     Endpoint
	Server     Endpoint
	First      time.Time
	Last       time.Time
	FirstFrame uint64
}

// newHead starts a flow's header at its first packet.
func newHead(v uint16, p *dissect.Packet) flowHead {
	return flowHead{Vantage: v, Input: p.Input, First: p.Time, Last: p.Time, FirstFrame: p.Frame}
}

// less orders flows by first packet time, input, first frame and client:
// a total order, so every report lists flows the same way.
func (h *flowHead) less(o *flowHead) bool {
	if !h.First.Equal(o.First) {
		return h.First.Before(o.First)
	}
	if h.Input != o.Input {
		return h.Input < o.Input
	}
	if h.FirstFrame != o.FirstFrame {
		return h.FirstFrame < o.FirstFrame
	}
	return lessEndpoint(h.Client, o.Client)
}
