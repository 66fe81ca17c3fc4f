package flows

import (
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// maxFrames bounds the evidence frames a flow keeps.
const maxFrames = 24

// dirState is what one direction of a TCP connection has shown.
type dirState struct {
	pkts       uint64
	payload    uint64
	ttl        uint8 // TTL of the first genuine (non-RST) packet
	ttlSet     bool
	ttlVaries  bool
	nextSeq    uint32 // highest sequence number sent + 1
	seqSet     bool
	maxAck     uint32
	ackSet     bool
	retrans    int
	keepalives int
	dataSegs   int
	syn, fin   int
	rst        int
	rstTTL     uint8
	rstIPID    uint16
	rstTime    time.Time
	rstFrame   uint64
	firstData  time.Time
	lastData   time.Time
	lastPkt    time.Time
	lastIPID   uint16
	lastSeq    uint32
	lastLen    int
	zeroWin    int
	// maxDataGap is the longest silence (whole connection) that ended with
	// data from this direction: for an NPA socket, how long the channel sat
	// idle before the server pushed.
	maxDataGap time.Duration
}

// Conn is one TCP connection at one vantage point. Direction 0 is the client
// (originator), 1 the server.
type Conn struct {
	flowHead

	dir         [2]dirState
	firstSyn    time.Time
	lastSyn     time.Time
	synSeq      uint32
	synAck      bool
	synAckTime  time.Time
	established bool // the client acknowledged the SYN-ACK (or midstream data flows both ways)
	midstream   bool // the capture began after the handshake
	maxGap      time.Duration
	maxGapEnd   time.Time

	hist     [24]byte
	histN    uint8
	histSeen [2]uint16

	icmp    *icmpHit
	frames  []uint64
	dups    int
	closed  bool
	evicted bool   // left the live table for the evicted state (sweep)
	greeted string // service greeting recognised in the payload ("" none)
	// explained is set (during Result) when a more specific finding already
	// accounts for this connection's failure.
	explained bool
	// catalogPort and npaPort classify the server port once, at creation,
	// for the eviction sweep (which looks at every live connection).
	catalogPort, npaPort bool
	// sharedPort is 80 or 443: a product's only on a product host.
	sharedPort bool
	// prints are the first packets' identities, for comparing capture
	// points (compare.go); recorded once a second capture point exists.
	prints []pktPrint
}

type icmpHit struct {
	typ, code uint8
	v6        bool
	from      Endpoint // address of the ICMP sender (port 0)
	ttl       uint8
	time      time.Time
	frame     uint64
	count     int
}

// history letters (Zeek): index into the per-direction seen bitmask.
const (
	hSYN = iota
	hSYNACK
	hACK
	hData
	hFIN
	hRST
	hRetrans
	hZeroWin
	hKeepAlive
)

var histLetters = [...]byte{'s', 'h', 'a', 'd', 'f', 'r', 't', 'w', 'k'}

func (c *Conn) addHist(dir int, h int) {
	bit := uint16(1) << h
	if c.histSeen[dir]&bit != 0 || int(c.histN) >= len(c.hist) {
		return
	}
	c.histSeen[dir] |= bit
	l := histLetters[h]
	if dir == 0 {
		l -= 'a' - 'A'
	}
	c.hist[c.histN] = l
	c.histN++
}

// History is Zeek's history string: one letter per event kind and direction,
// upper case for the client.
func (c *Conn) History() string { return string(c.hist[:c.histN]) }

func (c *Conn) addFrame(f uint64) {
	if len(c.frames) < maxFrames {
		c.frames = append(c.frames, f)
	}
}

// seqLT compares TCP sequence numbers modulo 2^32.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// update applies one packet travelling in direction dir.
func (c *Conn) update(p *dissect.Packet, dir int) {
	d := &c.dir[dir]
	t := p.Time
	if gap := sub(t, c.Last); gap > c.maxGap && c.dir[0].pkts+c.dir[1].pkts > 0 {
		c.maxGap, c.maxGapEnd = gap, t
	}
	// Capture duplicates (pktmon, span ports): the same IPv4 datagram twice,
	// same IP ID, sequence number and length. Real retransmissions from
	// Windows and Linux carry a new IP ID, so this does not hide them.
	if p.IPVersion == 4 && d.pkts > 0 && p.IPID != 0 && p.IPID == d.lastIPID && p.Seq == d.lastSeq && p.PayloadLen == d.lastLen && sub(t, d.lastPkt) < 50*time.Millisecond {
		c.dups++
		return
	}
	d.lastIPID, d.lastSeq, d.lastLen = p.IPID, p.Seq, p.PayloadLen
	prevLast := c.Last
	c.Last = t
	d.pkts++
	d.lastPkt = t
	flags := p.TCPFlags
	syn, ack, fin, rst := flags&dissect.FlagSYN != 0, flags&dissect.FlagACK != 0, flags&dissect.FlagFIN != 0, flags&dissect.FlagRST != 0
	notable := false

	if rst {
		d.rst++
		d.rstTTL, d.rstIPID, d.rstTime, d.rstFrame = p.TTL, p.IPID, t, p.Frame
		c.addHist(dir, hRST)
		c.closed = true
		c.addFrame(p.Frame)
		return
	}
	if !d.ttlSet {
		d.ttl, d.ttlSet = p.TTL, true
	} else if d.ttl != p.TTL {
		d.ttlVaries = true
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
		d.syn++
		if c.firstSyn.IsZero() {
			c.firstSyn, c.synSeq = t, p.Seq
		}
		c.lastSyn = t
		c.addHist(dir, hSYN)
		notable = true
	case syn && ack:
		if !c.synAck {
			c.synAck, c.synAckTime = true, t
		}
		d.syn++
		c.addHist(dir, hSYNACK)
		notable = true
	}
	if fin {
		d.fin++
		c.addHist(dir, hFIN)
		notable = true
	}
	if p.PayloadLen > 0 {
		if d.firstData.IsZero() {
			d.firstData = t
			notable = true
		}
		if gap := sub(t, prevLast); gap > d.maxDataGap && !prevLast.IsZero() {
			d.maxDataGap = gap
		}
		d.lastData = t
		d.dataSegs++
		d.payload += uint64(p.PayloadLen)
		c.addHist(dir, hData)
	} else if ack && !syn && !fin {
		c.addHist(dir, hACK)
	}
	if ack && !syn && dir == 0 && c.synAck {
		c.established = true
	}
	if c.midstream && dir == 1 && c.dir[0].pkts > 0 {
		c.established = true
	}
	if p.Window == 0 && !syn && !rst && ack {
		d.zeroWin++
		c.addHist(dir, hZeroWin)
	}

	// Sequence analysis: retransmissions and keep-alives, as Wireshark
	// defines them (a keep-alive is 0 or 1 byte at next-expected minus one).
	if d.seqSet {
		switch {
		case !syn && !fin && p.PayloadLen <= 1 && p.Seq == d.nextSeq-1:
			d.keepalives++
			c.addHist(dir, hKeepAlive)
			notable = true
		case segLen > 0 && seqLT(p.Seq, d.nextSeq):
			d.retrans++
			c.addHist(dir, hRetrans)
			notable = true
		}
		if end := p.Seq + segLen; seqLT(d.nextSeq, end) {
			d.nextSeq = end
		}
	} else {
		d.nextSeq, d.seqSet = p.Seq+segLen, true
	}
	if ack {
		if !d.ackSet || seqLT(d.maxAck, p.Ack) {
			d.maxAck, d.ackSet = p.Ack, true
		}
	}
	if c.dir[0].fin > 0 && c.dir[1].fin > 0 {
		c.closed = true
	}
	if notable {
		c.addFrame(p.Frame)
	}
	// A greeting (SPEC §4 hints) is the first thing a side sends: look
	// only at each direction's first data segment, not every segment.
	if c.greeted == "" && d.dataSegs == 1 && p.PayloadLen > 0 && len(p.Payload) > 0 {
		c.greeted = recogniseGreeting(p.Payload, dir)
	}
}

// unackedServerBytes is how much server data the client never acknowledged.
func (c *Conn) unackedServerBytes() uint32 {
	s, cl := &c.dir[1], &c.dir[0]
	if !s.seqSet || s.dataSegs == 0 {
		return 0
	}
	if !cl.ackSet {
		return uint32(s.payload)
	}
	if seqLT(cl.maxAck, s.nextSeq) {
		return s.nextSeq - cl.maxAck
	}
	return 0
}

// unackedClientBytes is how much client data (FIN included) the server never
// acknowledged.
func (c *Conn) unackedClientBytes() uint32 {
	cl, s := &c.dir[0], &c.dir[1]
	if !cl.seqSet || !s.ackSet {
		return 0
	}
	if seqLT(s.maxAck, cl.nextSeq) {
		return cl.nextSeq - s.maxAck
	}
	return 0
}

// ConnState is Zeek's conn_state summary of the connection.
func (c *Conn) ConnState() string {
	o, r := &c.dir[0], &c.dir[1]
	origSyn := !c.firstSyn.IsZero()
	switch {
	case origSyn && !c.synAck:
		switch {
		case r.rst > 0:
			return "REJ"
		case o.rst > 0:
			return "RSTOS0"
		case o.fin > 0:
			return "SH"
		}
		return "S0"
	case !origSyn && c.synAck:
		switch {
		case r.rst > 0:
			return "RSTRH"
		case r.fin > 0:
			return "SHR"
		}
		return "OTH"
	case !origSyn && !c.synAck:
		return "OTH"
	}
	switch {
	case o.rst > 0:
		return "RSTO"
	case r.rst > 0:
		return "RSTR"
	case o.fin > 0 && r.fin > 0:
		return "SF"
	case o.fin > 0:
		return "S2"
	case r.fin > 0:
		return "S3"
	}
	return "S1"
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
