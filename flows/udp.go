package flows

import (
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// ackWindow is how soon a client datagram must follow an unsolicited server
// datagram to count as its acknowledgement (KeyAccess answers a tickle at
// once; a new request comes on its own schedule, seconds later).
const ackWindow = time.Second

// maxLate bounds the late datagrams a UDP flow remembers one by one.
const maxLate = 16

// lateDatagram is a server-to-client datagram that came after a silence
// longer than the UDP timeout in force.
type lateDatagram struct {
	time    time.Time
	silence time.Duration
	frame   uint64
}

// UDPFlow is one client's UDP conversation with a service port at one
// vantage point. Direction 0 is the client, 1 the server.
type UDPFlow struct {
	flowHead

	requests, responses int
	// serverFirst is true when the server spoke first (UDP notifications,
	// K2 tickles to a client whose request the capture did not see).
	serverFirst bool
	lastReq     time.Time
	// pendingReq is the time of the latest request not yet answered.
	pendingReq time.Time
	// unanswered counts requests followed by another request (or the end of
	// the capture) with no answer in between.
	unanswered  int
	maxSilence  time.Duration
	maxSilFrame uint64
	late        []lateDatagram
	lateCount   int
	delays      [6]int
	icmp        *icmpHit
	icmpCount   int
	// endedLate is true while the flow's last datagram is a server datagram
	// that came after the UDP timeout: a firewall in front of the client
	// dropped it, so the client never heard an answer.
	endedLate bool
	// lastUnsolicited is when the server last spoke with no request
	// pending (a K2 tickle); a client datagram right after it is the
	// acknowledgement, not a request awaiting an answer.
	lastUnsolicited time.Time
	// lateDelivered counts late datagrams the client answered at once:
	// whatever the threshold says, the path still had state for them.
	lateDelivered int
	// lateTickles counts late datagrams the server sent unasked.
	lateTickles int
	frames      []uint64
	prints      []pktPrint // see Conn.prints
	ttl         [2]uint8
}

// delayBucket sorts an answer delay into the buckets of UDPFlowRow.Delays.
func delayBucket(d time.Duration) int {
	switch {
	case d < time.Second:
		return 0
	case d < 10*time.Second:
		return 1
	case d < time.Minute:
		return 2
	case d < 5*time.Minute:
		return 3
	case d < 15*time.Minute:
		return 4
	}
	return 5
}

func (f *UDPFlow) addFrame(fr uint64) {
	if len(f.frames) < maxFrames {
		f.frames = append(f.frames, fr)
	}
}

// update applies one datagram travelling in direction dir, judged against
// the UDP timeout udpTimeout.
func (f *UDPFlow) update(p *dissect.Packet, dir int, udpTimeout time.Duration) {
	t := p.Time
	silence := sub(t, f.Last)
	started := f.requests+f.responses > 0
	f.Last = t
	f.ttl[dir] = p.TTL
	wasLate := f.endedLate
	f.endedLate = false
	if dir == 0 {
		if !f.lastUnsolicited.IsZero() && sub(t, f.lastUnsolicited) < ackWindow {
			if wasLate {
				f.lateDelivered++
			}
			f.lastUnsolicited = time.Time{}
			f.requests++
			return
		}
		// A request sent while the previous one is still unanswered means
		// the client gave up waiting for it.
		if !f.pendingReq.IsZero() {
			f.unanswered++
		}
		f.requests++
		f.lastReq = t
		f.pendingReq = t
		if f.requests <= 3 {
			f.addFrame(p.Frame)
		}
		return
	}
	if !started {
		f.serverFirst = true
	}
	f.responses++
	unsolicited := f.pendingReq.IsZero()
	if unsolicited {
		f.lastUnsolicited = t
	}
	if !f.pendingReq.IsZero() {
		f.delays[delayBucket(sub(t, f.pendingReq))]++
		f.pendingReq = time.Time{}
	}
	if started && silence > f.maxSilence {
		f.maxSilence, f.maxSilFrame = silence, p.Frame
	}
	if started && udpTimeout > 0 && silence > udpTimeout {
		f.endedLate = true
		f.lateCount++
		if unsolicited {
			f.lateTickles++
		}
		if len(f.late) < maxLate {
			f.late = append(f.late, lateDatagram{t, silence, p.Frame})
		}
		f.addFrame(p.Frame)
	} else if f.responses <= 3 {
		f.addFrame(p.Frame)
	}
}

// finishUnanswered settles the request still pending at the end of the
// capture: it counts as unanswered only when the capture went on long enough
// after it that an answer should have come.
func (f *UDPFlow) finishUnanswered(end time.Time, wait time.Duration) int {
	n := f.unanswered
	if !f.pendingReq.IsZero() && end.Sub(f.pendingReq) >= wait {
		n++
	}
	return n
}
