package flows

import "github.com/fwdiag/fwdiag/dissect"

// Zeek's view of a TCP connection: each endpoint's state as Zeek's TCP
// analyzer tracks it (INACTIVE, SYN_SENT, ...), from which ConnState names
// the connection as Zeek's conn.log does, the sequence numbers Zeek keeps
// per endpoint (initial, highest sent + 1, highest acknowledged), and the
// history written from them. This file follows the semantics Zeek
// documents and implements (scripts/base/protocols/conn/main.zeek, the TCP
// session adapter); it is checked against Zeek's own conn.log for the
// traces of its test suite (pcaps/zeek_test.go). It deliberately keeps
// Zeek's quirks, and stays apart from fwdiag's own reading of the
// connection (retransmissions as Wireshark counts them, handshake timing),
// which the rest of tcp.go does.

// zeekState is a Zeek TCP endpoint state.
type zeekState uint8

const (
	zInactive    zeekState = iota // nothing sent yet
	zSynSent                      // sent a SYN (originator), no answer seen
	zSynAckSent                   // the originator sent a SYN-ACK
	zPartial                      // active without a SYN seen
	zEstablished                  // the handshake completed
	zClosed                       // sent a FIN
	zReset                        // sent a RST
)

// zeekTooLarge is the sequence jump beyond which Zeek ignores a SYN's or
// RST's sequence number for the endpoint's highest sequence number.
const zeekTooLarge = 1 << 20

// zeekEnd is one endpoint as Zeek tracks it. The connection owns it.
// Zeek keeps what the peer acknowledged with the endpoint acknowledged;
// here each endpoint keeps what it acknowledged itself (acked), and copies
// of the peer's state and initial sequence number, so that the common
// packet reads and writes its sender's endpoint only.
type zeekEnd struct {
	state, prev zeekState
	fin         bool      // sent a FIN
	peerState   zeekState // the peer's state
	start       uint32    // initial sequence number (the SYN's, or one below the first seen)
	last        uint32    // highest sequence number sent + 1
	acked       uint32    // highest acknowledgement of the peer's data sent
	peerStart   uint32    // the peer's initial sequence number
	// histSYN, histFIN and histRST are the relative sequence numbers of
	// the last SYN, FIN (its end) and RST: another one with a different
	// number is written into the history again.
	histSYN, histFIN, histRST uint32
	// rxmt and win0 count payload retransmissions and zero windows: the
	// history has their letter at the 1st, 10th, 100th, ... occurrence.
	rxmt, win0 uint32
}

func (e *zeekEnd) set(s zeekState) {
	if s != e.state {
		e.prev, e.state = e.state, s
	}
}

// zeekInit starts direction dir's sequence space at seq (nothing
// acknowledged beyond it), its highest sequence number sent at last.
func (c *Conn) zeekInit(dir int, seq, last uint32) {
	e, peer := &c.Dir[dir].zeek, &c.Dir[1-dir].zeek
	e.start, e.last = seq, last
	peer.acked, peer.peerStart = seq, seq
}

// size is Zeek's byte count for endpoint e (sequence space used, SYN and
// FIN not counted); ConnState only asks whether it is zero.
func (e *zeekEnd) size(peer *zeekEnd) uint32 {
	ack := peer.acked
	if e.prev == zSynSent && e.state == zReset && peer.state == zInactive && ack != e.start && ack != e.start+1 {
		// A half-open connection found and aborted: its numbers say nothing.
		return 0
	}
	n := ack - e.start
	if seqLT(ack, e.last) {
		n = e.last - e.start
	}
	if n != 0 {
		n-- // the SYN
	}
	if e.fin && n != 0 {
		n--
	}
	return n
}

// zeekUpdate applies one packet from direction dir (0 the originator) to
// Zeek's view of the connection; update does the same with segment for
// the common case. Zeek sees every packet the capture holds, capture duplicates
// included, so update calls them before it sets duplicates aside.
func (c *Conn) zeekUpdate(p *dissect.Packet, dir int) {
	e, peer := &c.Dir[dir].zeek, &c.Dir[1-dir].zeek
	f := p.TCPFlags
	orig := dir == 0
	syn, ack, fin, rst := f&dissect.FlagSYN != 0, f&dissect.FlagACK != 0, f&dissect.FlagFIN != 0, f&dissect.FlagRST != 0
	n := uint32(p.PayloadLen)
	seg := n // sequence space the segment takes
	if syn {
		seg++
	}
	if fin {
		seg++
	}
	if rst {
		seg -= n // a reset's payload is not part of the stream
	}
	seq := p.Seq
	end := seq + seg

	// The endpoint's initial sequence number: from its first packet (one
	// below it without a SYN), again from a SYN with a new one.
	switch e.state {
	case zInactive:
		if syn {
			c.zeekInit(dir, seq, end)
		} else {
			c.zeekInit(dir, seq-1, seq)
		}
	case zSynSent, zSynAckSent:
		if syn && seq != e.start {
			c.zeekInit(dir, seq, end)
		}
	case zEstablished, zPartial:
		if syn {
			c.zeekInit(dir, seq, end)
		}
	case zReset:
		if syn && e.prev == zInactive {
			// The earlier RST may have been forged: start from the SYN.
			c.zeekInit(dir, seq, end)
		}
	}
	c.zeekHistory(dir, e, f, seq-e.start, n)
	if p.Window == 0 && !rst && peer.state != zClosed && e.state != zReset {
		// Zero windows after a RST, or after the peer's FIN, say nothing.
		e.win0++
		if pow10(e.win0) {
			c.addHist(dir, 'W')
		}
	}
	if fin {
		e.fin = true
	}
	if ack {
		switch {
		case peer.state == zInactive:
			// The peer's numbers start from what this side acknowledges.
			c.zeekInit(1-dir, p.Ack-1, p.Ack-1)
		case rst, int32(p.Ack-peer.start) < 0:
			// Zeek trusts no acknowledgement in a RST, nor one below
			// the peer's initial sequence number.
		default:
			if d := int32(p.Ack - e.acked); d > 0 && !(p.Ack == 0 && d > zeekTooLarge) {
				e.acked = p.Ack
			}
		}
	}
	dl := int32(end - e.last)
	switch {
	case (syn || rst) && (dl > zeekTooLarge || dl < -zeekTooLarge):
	case fin && e.last == e.start+1:
		e.last = end // only the SYN and the FIN seen (or a > 2 GB stream)
	case e.state == zReset:
	case dl > 0:
		e.last = end
	case n > 0:
		// Payload at or below the highest sequence number sent: a
		// retransmission (Zeek's 't' is payload only: not a SYN, FIN or
		// empty segment sent again).
		c.zeekRetransmission(dir, e)
	}

	// The state machine.
	switch e.state {
	case zInactive:
		if syn {
			switch {
			case !orig:
				if peer.state == zSynSent {
					peer.set(zEstablished)
				}
				e.set(zEstablished)
			case ack:
				e.set(zSynAckSent)
			default:
				e.set(zSynSent)
			}
		}
		if fin {
			e.set(zClosed)
		}
		if rst {
			e.set(zReset)
		}
		if e.state == zInactive {
			switch {
			case !orig && n == 0 && c.Dir[0].zeek.state == zSynSent:
				// Some stacks acknowledge a SYN before answering it:
				// not yet a partial connection.
			case ack && peer.state == zEstablished:
				// The SYN was missed but the SYN-ACK was not.
				e.set(zEstablished)
			default:
				e.set(zPartial)
			}
		}
	case zSynSent, zSynAckSent:
		if fin {
			e.set(zClosed)
		}
		if rst {
			e.set(zReset)
		}
	case zEstablished, zPartial:
		if syn && e.state == zPartial && peer.state == zInactive && !ack {
			e.set(zSynSent)
		}
		if fin && !rst {
			e.set(zClosed)
			if peer.state == zReset && peer.prev == zClosed {
				// The peer's FIN then RST: a normal close after all.
				peer.set(zClosed)
			}
		}
		if rst {
			e.set(zReset)
		}
	case zClosed:
		// A RST after both FINs leaves the connection closed normally.
		if rst && peer.state != zClosed {
			e.set(zReset)
		}
	}
	// The copies the common case reads (zeekInit keeps the starts).
	e.peerState = peer.state
	peer.peerState = e.state
}

// zeekCommon reports whether a packet with flags f from e is the common
// case segment handles: no SYN, FIN or RST, from an established or
// partial endpoint whose peer is not inactive.
func (e *zeekEnd) zeekCommon(f uint8) bool {
	return f&(dissect.FlagSYN|dissect.FlagFIN|dissect.FlagRST) == 0 && (e.state == zEstablished || e.state == zPartial) && e.peerState != zInactive
}

// segment is zeekUpdate's numbers for the common case (zeekCommon), where
// the state machine has nothing to do: it applies the packet's
// acknowledgement and end to e and reports whether the packet was a
// retransmission (payload at or below the highest sequence number sent).
// update calls it inline, with zeekSegmentRare for a side's first data or
// pure ACK and zero windows, and zeekRetransmission.
func (e *zeekEnd) segment(p *dissect.Packet) bool {
	if p.TCPFlags&dissect.FlagACK != 0 && int32(p.Ack-e.peerStart) >= 0 {
		if d := int32(p.Ack - e.acked); d > 0 && (p.Ack != 0 || d <= zeekTooLarge) {
			e.acked = p.Ack
		}
	}
	n := uint32(p.PayloadLen)
	if end := p.Seq + n; int32(end-e.last) > 0 {
		e.last = end
		return false
	}
	return n > 0
}

// zeekSegmentRare writes a side's first data or pure ACK into the history,
// and a zero window.
func (c *Conn) zeekSegmentRare(dir int, e *zeekEnd, p *dissect.Packet) {
	c.zeekHistory(dir, e, p.TCPFlags, p.Seq-e.start, uint32(p.PayloadLen))
	if p.Window == 0 && e.peerState != zClosed {
		e.win0++
		if pow10(e.win0) {
			c.addHist(dir, 'W')
		}
	}
}

// zeekRetransmission counts one: t at the 1st, 10th, 100th, ...
func (c *Conn) zeekRetransmission(dir int, e *zeekEnd) {
	e.rxmt++
	if pow10(e.rxmt) {
		c.addHist(dir, 'T')
	}
}

// Zeek's history: the letters, and the bit each sets in a direction's
// mask of letters already written.
const (
	hSYN    = 1 << iota // S (or H: SYN-ACK)
	hFIN                // F
	hRST                // R
	hFINRST             // I: FIN and RST together
	hData               // D
	hACK                // A: a pure ACK
	hMulti              // Q: SYN with FIN or RST
)

// zeekHistory writes the history letters of one packet with flags f. rel
// is its sequence number relative to the sender's initial one, n its
// payload length.
func (c *Conn) zeekHistory(dir int, e *zeekEnd, f uint8, rel, n uint32) {
	switch f & (dissect.FlagSYN | dissect.FlagFIN | dissect.FlagRST) {
	case 0:
		switch {
		case n > 0:
			c.firstHist(dir, hData, 'D')
		case f&dissect.FlagACK != 0:
			c.firstHist(dir, hACK, 'A')
		}
	case dissect.FlagSYN:
		l := byte('S')
		if f&dissect.FlagACK != 0 {
			l = 'H'
		}
		// Written again for a SYN with another sequence number.
		if !c.firstHist(dir, hSYN, l) && rel != e.histSYN {
			c.addHist(dir, l)
		}
		e.histSYN = rel
	case dissect.FlagFIN:
		// A FIN's number is at the end of its payload.
		if !c.firstHist(dir, hFIN, 'F') && rel+n != e.histFIN {
			c.addHist(dir, 'F')
		}
		e.histFIN = rel + n
	case dissect.FlagRST:
		if !c.firstHist(dir, hRST, 'R') && rel != e.histRST {
			c.addHist(dir, 'R')
		}
		e.histRST = rel
	case dissect.FlagFIN | dissect.FlagRST:
		c.firstHist(dir, hFINRST, 'I')
	default:
		c.firstHist(dir, hMulti, 'Q')
	}
}

// firstHist writes letter l unless the direction has written bit's letter
// already; it reports whether it wrote it.
func (c *Conn) firstHist(dir int, bit uint8, l byte) bool {
	if c.histSeen[dir]&bit != 0 {
		return false
	}
	c.histSeen[dir] |= bit
	c.addHist(dir, l)
	return true
}

// addHist appends letter l (upper case), in lower case for the responder.
// The history holds the first len(hist) letters.
func (c *Conn) addHist(dir int, l byte) {
	if int(c.histN) >= len(c.hist) {
		return
	}
	if dir == 1 {
		l += 'a' - 'A'
	}
	c.hist[c.histN] = l
	c.histN++
}

// zeekFlipped notes that the client did not send the connection's first
// packet (a SYN-ACK or a segment of a connection joined midstream came
// first): Zeek's history then starts with '^', direction flipped.
func (c *Conn) zeekFlipped() { c.hist[0], c.histN = '^', 1 }

// pow10 reports whether n is 1, 10, 100, ...: where Zeek writes the
// letter of a counted event again.
func pow10(n uint32) bool {
	switch n {
	case 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9:
		return true
	}
	return false
}

// History is Zeek's history string for the connection: a letter per event,
// upper case for the originator (the client), lower case for the responder,
// after a '^' when the responder's packet came first.
// s SYN, h SYN-ACK, a pure ACK, d payload, f FIN, r RST (s, h, f and r again
// for one with another sequence number), t payload retransmitted and w zero
// window (again at the 10th, 100th, ...), i FIN+RST, q SYN with FIN or RST.
func (c *Conn) History() string { return string(c.hist[:c.histN]) }

// ConnState is Zeek's conn_state for the connection, from both endpoints'
// states (Zeek's conn_state function in base/protocols/conn):
//
//	S0      the originator sent a SYN, no reply
//	S1      established, not closed
//	SF      both sides closed normally (FIN, or FIN then RST)
//	REJ     the originator's SYN answered by a RST
//	S2, S3  established, only the originator (S2) or responder (S3) closed
//	RSTO    the originator reset after the handshake
//	RSTOS0  the originator sent a SYN then a RST, no SYN-ACK seen
//	RSTR    the responder reset
//	RSTRH   the responder sent a SYN-ACK then a RST, no SYN seen
//	SH, SHR one side closed while the other was never active
//	OTH     anything else (no SYN seen, not closed)
func (c *Conn) ConnState() string {
	o, r := &c.Dir[0].zeek, &c.Dir[1].zeek
	oIdle := o.state == zInactive || o.state == zPartial
	rIdle := r.state == zInactive || r.state == zPartial
	switch {
	case r.state == zReset:
		switch {
		case o.state == zSynSent || o.state == zSynAckSent || o.state == zReset && o.size(r) == 0 && r.size(o) == 0:
			return "REJ"
		case oIdle:
			return "RSTRH"
		}
		return "RSTR"
	case o.state == zReset:
		switch {
		case !rIdle:
			return "RSTO"
		case c.synThenReset():
			return "RSTOS0"
		}
		return "OTH"
	case o.state == zClosed && r.state == zClosed:
		return "SF"
	case o.state == zClosed:
		if rIdle {
			return "SH"
		}
		return "S2"
	case r.state == zClosed:
		if oIdle {
			return "SHR"
		}
		return "S3"
	case o.state == zSynSent && r.state == zInactive:
		return "S0"
	case o.state == zEstablished && r.state == zEstablished:
		return "S1"
	}
	return "OTH"
}

// synThenReset is Zeek's test for RSTOS0: the history starts with the
// originator's SYN (after a '^'), and its RST comes before any SYN-ACK,
// ACK, FIN, content gap, or odd flag combination from it.
func (c *Conn) synThenReset() bool {
	h := c.hist[:c.histN]
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, l := range h[1:] {
		switch l {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
