package flows

import (
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// maxFrames bounds the evidence frames a flow keeps.
const maxFrames = 24

// DirState is what one direction of a TCP connection has shown. The
// analyzer owns it; diagnosis reads it between packets.
type DirState struct {
	Pkts      uint64
	Payload   uint64 // payload bytes
	TTL       uint8  // TTL of the first genuine (non-RST) packet
	TTLSet    bool
	TTLVaries bool   // a later genuine packet came with another TTL
	NextSeq   uint32 // highest sequence number sent + 1
	SeqSet    bool
	AckSet    bool
	MaxAck    uint32 // highest acknowledgement number sent (AckSet)
	Retrans   int    // segments (SYNs and FINs included) below NextSeq
	// KeepAlives are 0/1-byte segments at next-expected minus one.
	KeepAlives int
	DataSegs   int // segments with payload
	SYN, FIN   int
	RST        int
	FirstData  time.Time
	LastData   time.Time
	// lastPkt .. lastLen are the previous packet's, for capture duplicates.
	lastPkt   time.Time
	lastIPID  uint16
	lastFlags uint8
	lastWin   uint16
	lastSeq   uint32
	lastAck   uint32
	lastLen   int
	ZeroWin   int
	// MaxDataGap is the longest silence (whole connection) that ended with
	// data from this direction: for an NPA socket, how long the channel sat
	// idle before the server pushed.
	MaxDataGap time.Duration
	// AnsweredGap is the longest silence (whole connection) that ended
	// with new data or a FIN from this direction that the other side then
	// acknowledged: the path let it through after that silence.
	AnsweredGap time.Duration
	// pending* describe this direction's earliest new segment not yet
	// acknowledged: the silence before it, the sequence number that
	// acknowledges it, and whether there is one.
	pendingGap time.Duration
	pendingEnd uint32
	pending    bool
	// zeek is the side as Zeek's TCP analyzer sees it (zeek.go).
	zeek zeekEnd
	// Resets[0] is the side's first reset; Resets[1] its first reset with
	// another TTL than that one (Frame 0: none). Resets with one TTL come
	// from one sender (the host, or the same middlebox), so these two let
	// diagnosis judge every reset the side sent.
	Resets [2]Reset
}

// Reset is one RST as the capture saw it.
type Reset struct {
	Time  time.Time
	Frame uint64
	TTL   uint8
}

// Conn is one TCP connection at one vantage point. Direction 0 is the client
// (originator), 1 the server. The analyzer owns it and updates it at every
// packet of the connection; diagnosis reads its exported fields between
// packets (from a View, or in an eviction hook) and never writes them.
type Conn struct {
	FlowHead

	Dir         [2]DirState
	FirstSyn    time.Time // zero when the capture saw no SYN from the client
	LastSyn     time.Time
	synSeq      uint32
	SynAck      bool
	SynAckTime  time.Time
	Established bool // the client acknowledged the SYN-ACK (or midstream data flows both ways)
	Midstream   bool // the capture began after the handshake
	MaxGap      time.Duration
	maxGapEnd   time.Time

	hist     [24]byte // Zeek's history (zeek.go)
	histN    uint8
	histSeen [2]uint8

	ICMP    *ICMPHit // the first ICMP error quoting this connection (nil none)
	Frames  []uint64 // evidence frames: the notable packets, up to maxFrames
	Dups    int      // capture duplicates ignored
	Closed  bool
	evicted bool   // left the live table for the evicted state (sweep)
	Greeted string // service greeting recognised in the payload ("" none)
	// CatalogPort and NPAPort classify the server port once, at creation,
	// for the eviction sweep (which looks at every live connection).
	CatalogPort, NPAPort bool
	// SharedPort is 80 or 443: a product's only on a product host.
	SharedPort bool
	// Prints are the first packets' identities, for comparing capture
	// points (prints.go); recorded once a second capture point exists.
	Prints []Print
	// LocalDrops counts packets the capturing machine itself dropped
	// (pktmon drop verdicts); LocalDrop is the first.
	LocalDrops int
	LocalDrop  LocalDrop
}

// ICMPHit is the ICMP error that quoted a flow's packet: the first one's
// type, code and sender, and how many came.
type ICMPHit struct {
	Type, Code uint8
	V6         bool
	From       Endpoint // address of the ICMP sender (port 0)
	TTL        uint8
	Time       time.Time
	Frame      uint64
	Count      int
	// Dir is the direction of the quoted packet: 0 the client's, 1 the
	// server's (refused on its way to the client).
	Dir uint8
}

func (c *Conn) addFrame(f uint64) {
	if len(c.Frames) < maxFrames {
		c.Frames = append(c.Frames, f)
	}
}

// seqLT compares TCP sequence numbers modulo 2^32.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// update applies one packet travelling in direction dir.
func (c *Conn) update(p *dissect.Packet, dir int) {
	d := &c.Dir[dir]
	// Zeek's view first (zeek.go): it counts capture duplicates too. Most
	// packets are the common case, taken here without a call.
	if z := &d.zeek; z.zeekCommon(p.TCPFlags) {
		if c.histSeen[dir]&(hData|hACK) != hData|hACK || p.Window == 0 {
			c.zeekSegmentRare(dir, z, p)
		}
		if z.segment(p) {
			c.zeekRetransmission(dir, z)
		}
	} else {
		c.zeekUpdate(p, dir)
	}
	t := p.Time
	if gap := sub(t, c.Last); gap > c.MaxGap && c.Dir[0].Pkts+c.Dir[1].Pkts > 0 {
		c.MaxGap, c.maxGapEnd = gap, t
	}
	// Capture duplicates (pktmon, span ports): the same IPv4 datagram twice
	// within 50 ms: same IP ID, flags, sequence and acknowledgement numbers,
	// window and length. Real retransmissions from Windows and Linux carry
	// a new IP ID. A sender that sets IP ID 0 (or any constant) on every
	// packet is still told apart by the flags and numbers: a FIN or RST
	// after an ACK with the same ID is a new packet, and a retransmission
	// so soon with nothing changed is indistinguishable from a copy.
	if p.IPVersion == 4 && d.Pkts > 0 && p.IPID == d.lastIPID && p.TCPFlags == d.lastFlags && p.Seq == d.lastSeq &&
		p.Ack == d.lastAck && p.Window == d.lastWin && p.PayloadLen == d.lastLen && sub(t, d.lastPkt) < 50*time.Millisecond {
		c.Dups++
		return
	}
	d.lastIPID, d.lastFlags, d.lastWin, d.lastSeq, d.lastAck, d.lastLen = p.IPID, p.TCPFlags, p.Window, p.Seq, p.Ack, p.PayloadLen
	prevLast := c.Last
	c.Last = t
	d.Pkts++
	d.lastPkt = t
	flags := p.TCPFlags
	syn, ack, fin, rst := flags&dissect.FlagSYN != 0, flags&dissect.FlagACK != 0, flags&dissect.FlagFIN != 0, flags&dissect.FlagRST != 0
	notable := false

	if rst {
		d.RST++
		switch {
		case d.RST == 1:
			d.Resets[0] = Reset{t, p.Frame, p.TTL}
		case d.Resets[1].Frame == 0 && p.TTL != d.Resets[0].TTL:
			d.Resets[1] = Reset{t, p.Frame, p.TTL}
		}
		c.Closed = true
		c.addFrame(p.Frame)
		return
	}
	if !d.TTLSet {
		d.TTL, d.TTLSet = p.TTL, true
	} else if d.TTL != p.TTL {
		d.TTLVaries = true
	}
	segLen := uint32(p.PayloadLen)
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	switch {
	case syn && !ack:
		d.SYN++
		if c.FirstSyn.IsZero() {
			c.FirstSyn, c.synSeq = t, p.Seq
		}
		c.LastSyn = t
		notable = true
	case syn && ack:
		if !c.SynAck {
			c.SynAck, c.SynAckTime = true, t
		}
		d.SYN++
		notable = true
	}
	if fin {
		d.FIN++
		notable = true
	}
	if p.PayloadLen > 0 {
		if d.FirstData.IsZero() {
			d.FirstData = t
			notable = true
		}
		if gap := sub(t, prevLast); gap > d.MaxDataGap && !prevLast.IsZero() {
			d.MaxDataGap = gap
		}
		d.LastData = t
		d.DataSegs++
		d.Payload += uint64(p.PayloadLen)
	}
	if ack && !syn && dir == 0 && c.SynAck {
		c.Established = true
	}
	if c.Midstream && dir == 1 && c.Dir[0].Pkts > 0 {
		c.Established = true
	}
	if p.Window == 0 && !syn && !rst && ack {
		d.ZeroWin++
	}

	// Sequence analysis: retransmissions and keep-alives, as Wireshark
	// defines them (a keep-alive is 0 or 1 byte at next-expected minus one).
	if d.SeqSet {
		switch {
		case !syn && !fin && p.PayloadLen <= 1 && p.Seq == d.NextSeq-1:
			d.KeepAlives++
			notable = true
		case segLen > 0 && seqLT(p.Seq, d.NextSeq):
			d.Retrans++
			notable = true
		}
		if end := p.Seq + segLen; seqLT(d.NextSeq, end) {
			if !d.pending && !syn && segLen > 0 && !prevLast.IsZero() {
				d.pending, d.pendingGap, d.pendingEnd = true, sub(t, prevLast), end
			}
			d.NextSeq = end
		}
	} else {
		d.NextSeq, d.SeqSet = p.Seq+segLen, true
	}
	if ack {
		if !d.AckSet || seqLT(d.MaxAck, p.Ack) {
			d.MaxAck, d.AckSet = p.Ack, true
		}
		if o := &c.Dir[1-dir]; o.pending && !seqLT(p.Ack, o.pendingEnd) {
			o.AnsweredGap = max(o.AnsweredGap, o.pendingGap)
			o.pending = false
		}
	}
	if c.Dir[0].FIN > 0 && c.Dir[1].FIN > 0 {
		c.Closed = true
	}
	if notable {
		c.addFrame(p.Frame)
	}
	// A greeting (SPEC §4 hints) is the first thing a side sends: look
	// only at each direction's first data segment, not every segment.
	if c.Greeted == "" && d.DataSegs == 1 && p.PayloadLen > 0 && len(p.Payload) > 0 {
		c.Greeted = recogniseGreeting(p.Payload, dir)
	}
}

// UnansweredGap is the silence (whole connection) before this
// direction's earliest new segment that the other side never
// acknowledged (0: none): every earlier one was, so the packet before
// that silence got through, and the path had forgotten the connection
// by the time the silence ended (when the segment was lost to it).
func (d *DirState) UnansweredGap() time.Duration {
	if !d.pending {
		return 0
	}
	return d.pendingGap
}

// UnackedServerBytes is how much server data the client never acknowledged.
func (c *Conn) UnackedServerBytes() uint32 {
	s, cl := &c.Dir[1], &c.Dir[0]
	if !s.SeqSet || s.DataSegs == 0 {
		return 0
	}
	if !cl.AckSet {
		return uint32(s.Payload)
	}
	if seqLT(cl.MaxAck, s.NextSeq) {
		return s.NextSeq - cl.MaxAck
	}
	return 0
}

// UnackedClientBytes is how much client data (FIN included) the server never
// acknowledged.
func (c *Conn) UnackedClientBytes() uint32 {
	cl, s := &c.Dir[0], &c.Dir[1]
	if !cl.SeqSet || !s.AckSet {
		return 0
	}
	if seqLT(s.MaxAck, cl.NextSeq) {
		return cl.NextSeq - s.MaxAck
	}
	return 0
}

// recogniseGreeting matches the payload hints of SPEC §4. dir is the sender.
func recogniseGreeting(b []byte, dir int) string {
	has := func(prefix string) bool {
		return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
	}
	if dir == 1 {
		switch {
		case has("SW102: Hello["):
			return "sw-binary"
		case has("/0 0 "):
			return "k2-keyserver"
		case has("+OK") || (len(b) > 0 && b[0] == '+'):
			return "sw-text"
		}
		return ""
	}
	if has("POST /xmlmc") {
		return "sw-xmlmc"
	}
	return ""
}
