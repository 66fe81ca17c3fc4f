package flows

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// ackWindow is how soon a client datagram must follow an unsolicited server
// datagram to count as its acknowledgement (KeyAccess answers a tickle at
// once; a new request comes on its own schedule, seconds later).
const ackWindow = time.Second

// maxLate bounds the late datagrams a UDP flow remembers one by one.
const maxLate = 16

// LateDatagram is a server-to-client datagram that came after a silence
// longer than the UDP timeout in force.
type LateDatagram struct {
	Time    time.Time
	Silence time.Duration // since the flow's previous datagram
	Frame   uint64
}

// UDPFlow is one client's UDP conversation with a service port at one
// vantage point. Direction 0 is the client, 1 the server.
//
// The analyzer owns it; diagnosis reads its exported fields between packets.
type UDPFlow struct {
	FlowHead

	Requests, Responses int
	// ServerFirst is true when the server spoke first (UDP notifications,
	// K2 tickles to a client whose request the capture did not see).
	ServerFirst bool
	LastReq     time.Time
	// pendingReq is the time of the latest request not yet answered.
	pendingReq time.Time
	// unanswered counts requests followed by another request (or the end of
	// the capture) with no answer in between.
	unanswered  int
	MaxSilence  time.Duration
	maxSilFrame uint64
	Late        []LateDatagram // the first maxLate late datagrams
	LateCount   int
	Delays      [6]int // answer delays by bucket (delayBucket)
	ICMP        *ICMPHit
	ICMPCount   int
	// EndedLate is true while the flow's last datagram is a server datagram
	// that came after the UDP timeout: a firewall in front of the client
	// dropped it, so the client never heard an answer.
	EndedLate bool
	// lastUnsolicited is when the server last spoke with no request
	// pending (a K2 tickle); a client datagram right after it is the
	// acknowledgement, not a request awaiting an answer.
	lastUnsolicited time.Time
	// LateDelivered counts late datagrams the client answered at once:
	// whatever the threshold says, the path still had state for them.
	LateDelivered int
	// LateTickles counts late datagrams the server sent unasked.
	LateTickles int
	Frames      []uint64
	Prints      []Print  // see Conn.Prints
	TTL         [2]uint8 // the last TTL seen each way (0 none)
	// Refused are the server's datagrams (answers, tickles) that an ICMP
	// error quoted: something between here and the client, or the client
	// host, refused them (the first maxLate; RefusedCount counts all).
	// ICMP and ICMPCount are the errors quoting the client's datagrams.
	Refused      []RefusedDatagram
	RefusedCount int
	// LocalDrops counts the flow's other packets the capturing machine
	// dropped (pktmon drop verdicts: the client's own requests); LocalDrop
	// is the first.
	LocalDrops int
	LocalDrop  LocalDrop
	// lastServer* describe the server's latest datagram: when it came, the
	// silence before it and its frame, for an error that quotes it.
	lastServer        time.Time
	lastServerSilence time.Duration
	lastServerFrame   uint64
	// MaxFollowed is the longest silence before a server datagram that no
	// ICMP error or local drop refused and after which the client spoke
	// again from the same port: evidence, from any capture point, that
	// the path let the datagram through after that silence (a client
	// whose answers stop coming rebinds to a new port).
	MaxFollowed time.Duration
	// lastServerSettled: the latest server datagram was refused, or the
	// client has spoken since (it counted towards MaxFollowed).
	lastServerSettled bool
	// lastServerAfterRefused: the datagram before the latest server
	// datagram was a server datagram refused too; refusedLast: the
	// flow's latest datagram was refused.
	lastServerAfterRefused, refusedLast bool
}

// RefusedDatagram is a server datagram that an ICMP error quoted. Such an
// error after a silence is proof that a stateful device forgot the flow
// (a NAT mapping or firewall entry expired), whatever timeout is assumed.
type RefusedDatagram struct {
	// Silence is the flow's silence before the refused datagram; Frame is
	// that datagram (0 when this capture point did not see it go out).
	Silence time.Duration
	Frame   uint64
	// ICMP is the error: who sent it, its code, its frame (zero for a
	// datagram the capturing machine dropped itself).
	ICMP ICMPHit
	// Local, when the capturing machine dropped the datagram itself (a
	// pktmon drop verdict), says at which component.
	Local *LocalDrop
	// AfterRefused: the flow's datagram before this one was a refused
	// server datagram, so Silence counts from a datagram that never got
	// past the device: the device had been idle longer than Silence.
	AfterRefused bool
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
	if len(f.Frames) < maxFrames {
		f.Frames = append(f.Frames, fr)
	}
}

// update applies one datagram travelling in direction dir, judged against
// the UDP timeout udpTimeout.
func (f *UDPFlow) update(p *dissect.Packet, dir int, udpTimeout time.Duration) {
	t := p.Time
	silence := sub(t, f.Last)
	started := f.Requests+f.Responses > 0
	f.Last = t
	f.TTL[dir] = p.TTL
	wasLate := f.EndedLate
	f.EndedLate = false
	afterRefused := f.refusedLast
	f.refusedLast = false
	if dir == 0 {
		if !f.lastServer.IsZero() && !f.lastServerSettled {
			f.MaxFollowed = max(f.MaxFollowed, f.lastServerSilence)
			f.lastServerSettled = true
		}
		if !f.lastUnsolicited.IsZero() && sub(t, f.lastUnsolicited) < ackWindow {
			if wasLate {
				f.LateDelivered++
			}
			f.lastUnsolicited = time.Time{}
			f.Requests++
			return
		}
		// A request sent while the previous one is still unanswered means
		// the client gave up waiting for it.
		if !f.pendingReq.IsZero() {
			f.unanswered++
		}
		f.Requests++
		f.LastReq = t
		f.pendingReq = t
		if f.Requests <= 3 {
			f.addFrame(p.Frame)
		}
		return
	}
	if !started {
		f.ServerFirst = true
	}
	f.Responses++
	unsolicited := f.pendingReq.IsZero()
	if unsolicited {
		f.lastUnsolicited = t
	}
	if !f.pendingReq.IsZero() {
		f.Delays[delayBucket(sub(t, f.pendingReq))]++
		f.pendingReq = time.Time{}
	}
	if started {
		f.lastServer, f.lastServerSilence, f.lastServerFrame = t, silence, p.Frame
		f.lastServerSettled, f.lastServerAfterRefused = false, afterRefused
	}
	if started && silence > f.MaxSilence {
		f.MaxSilence, f.maxSilFrame = silence, p.Frame
	}
	if started && udpTimeout > 0 && silence > udpTimeout {
		f.EndedLate = true
		f.LateCount++
		if unsolicited {
			f.LateTickles++
		}
		if len(f.Late) < maxLate {
			f.Late = append(f.Late, LateDatagram{t, silence, p.Frame})
		}
		f.addFrame(p.Frame)
	} else if f.Responses <= 3 {
		f.addFrame(p.Frame)
	}
}

// FinishUnanswered settles the request still pending at the end of the
// capture: it counts as unanswered only when the capture went on long enough
// after it that an answer should have come.
func (f *UDPFlow) FinishUnanswered(end time.Time, wait time.Duration) int {
	n := f.unanswered
	if !f.pendingReq.IsZero() && end.Sub(f.pendingReq) >= wait {
		n++
	}
	return n
}

// refusedWindow is how soon after a server datagram an ICMP error quoting
// it must come to be taken for that datagram's (an error returns within a
// round trip; the next datagram may follow seconds later).
const refusedWindow = 2 * time.Second

// refusedLocally records a server datagram the capturing machine dropped
// (pktmon): the client's own firewall refused the answer.
func (f *UDPFlow) refusedLocally(p *dissect.Packet) {
	f.record(RefusedDatagram{Local: &LocalDrop{Frame: p.Frame, Component: p.Interface, Dir: 1}}, p)
}

// refused records an ICMP error that quotes a server datagram of the flow.
func (f *UDPFlow) refused(p *dissect.Packet) {
	f.record(RefusedDatagram{ICMP: ICMPHit{Type: p.ICMPType, Code: p.ICMPCode, V6: p.Proto == dissect.ProtoICMPv6,
		From: netip.AddrPortFrom(p.Src, 0), TTL: p.TTL, Time: p.Time, Frame: p.Frame, Count: 1, Dir: 1}}, p)
}

// record adds a refused server datagram, p being the evidence of it.
func (f *UDPFlow) record(r RefusedDatagram, p *dissect.Packet) {
	if !f.lastServer.IsZero() && sub(p.Time, f.lastServer) < refusedWindow {
		r.Silence, r.Frame = f.lastServerSilence, f.lastServerFrame
		r.AfterRefused = f.lastServerAfterRefused
		f.lastServerSettled = true
		f.refusedLast = f.Last == f.lastServer
	} else {
		// This capture point did not see the datagram go out (it sees the
		// error on its way to the server): its silence is at least the
		// time since the flow's last packet here.
		r.Silence = sub(p.Time, f.Last)
	}
	f.RefusedCount++
	if len(f.Refused) < maxLate {
		f.Refused = append(f.Refused, r)
	}
	f.addFrame(p.Frame)
}
