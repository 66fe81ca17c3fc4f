package flows

import "github.com/fwdiag/fwdiag/dissect"

// Zeek's view of a TCP connection: each endpoint's state as Zeek's TCP
// analyzer tracks it (INACTIVE, SYN_SENT, ...), from which ConnState names
// the connection as Zeek's conn.log does, and the sequence numbers Zeek
// keeps per endpoint (start, highest sequence number sent + 1, highest
// acknowledged by the peer). This file follows the semantics Zeek
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
type zeekEnd struct {
	state, prev zeekState
	fin         bool   // sent a FIN
	start       uint32 // initial sequence number (the SYN's, or one below the first seen)
	last        uint32 // highest sequence number sent + 1
	ack         uint32 // highest sequence number the peer acknowledged
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

func (e *zeekEnd) initSeq(seq, last uint32) { e.start, e.ack, e.last = seq, seq, last }

// size is Zeek's byte count for the endpoint (sequence space used, SYN and
// FIN not counted); ConnState only asks whether it is zero.
func (e *zeekEnd) size(peer *zeekEnd) uint32 {
	if e.prev == zSynSent && e.state == zReset && peer.state == zInactive && e.ack != e.start && e.ack != e.start+1 {
		// A half-open connection found and aborted: its numbers say nothing.
		return 0
	}
	n := e.ack - e.start
	if seqLT(e.ack, e.last) {
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
// Zeek's view of the connection. Zeek sees every packet the capture holds,
// capture duplicates included, so this runs before they are set aside.
func (c *Conn) zeekUpdate(p *dissect.Packet, dir int) {
	e, peer := &c.zeek[dir], &c.zeek[1-dir]
	orig := dir == 0
	f := p.TCPFlags
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
			e.initSeq(seq, end)
		} else {
			e.initSeq(seq-1, seq)
		}
	case zSynSent, zSynAckSent:
		if syn && seq != e.start {
			e.initSeq(seq, end)
		}
	case zEstablished, zPartial:
		if syn {
			e.initSeq(seq, end)
		}
	case zReset:
		if syn && e.prev == zInactive {
			// The earlier RST may have been forged: start from the SYN.
			e.initSeq(seq, end)
		}
	}
	c.zeekHistory(dir, e, syn, ack, fin, rst, seq-e.start, n)
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
			peer.initSeq(p.Ack-1, p.Ack-1)
		case rst, int32(p.Ack-peer.start) < 0:
			// Zeek trusts no acknowledgement in a RST, nor one below
			// the peer's initial sequence number.
		default:
			if d := int32(p.Ack - peer.ack); d > 0 && !(p.Ack == 0 && d > zeekTooLarge) {
				peer.ack = p.Ack
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
		e.rxmt++
		if pow10(e.rxmt) {
			c.addHist(dir, 'T')
		}
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
			case !orig && n == 0 && c.zeek[0].state == zSynSent:
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

// zeekHistory writes the history letters of one packet. rel is its
// sequence number relative to the sender's initial one, n its payload.
func (c *Conn) zeekHistory(dir int, e *zeekEnd, syn, ack, fin, rst bool, rel, n uint32) {
	bits := 0
	for _, b := range [3]bool{syn, fin, rst} {
		if b {
			bits++
		}
	}
	switch {
	case bits > 1:
		if fin && rst {
			c.firstHist(dir, hFINRST, 'I')
		} else {
			c.firstHist(dir, hMulti, 'Q')
		}
	case syn:
		l := byte('S')
		if ack {
			l = 'H'
		}
		// Written again for a SYN with another sequence number.
		if !c.firstHist(dir, hSYN, l) && rel != e.histSYN {
			c.addHist(dir, l)
		}
		e.histSYN = rel
	case fin:
		// A FIN's number is at the end of its payload.
		if !c.firstHist(dir, hFIN, 'F') && rel+n != e.histFIN {
			c.addHist(dir, 'F')
		}
		e.histFIN = rel + n
	case rst:
		if !c.firstHist(dir, hRST, 'R') && rel != e.histRST {
			c.addHist(dir, 'R')
		}
		e.histRST = rel
	case n > 0:
		c.firstHist(dir, hData, 'D')
	case ack:
		c.firstHist(dir, hACK, 'A')
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
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
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
	o, r := &c.zeek[0], &c.zeek[1]
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
