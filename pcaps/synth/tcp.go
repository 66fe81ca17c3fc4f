package synth

import "time"

// Side names one end of a TCP connection.
type Side int

// The two ends of a connection: the one that sent the SYN and the listener.
const (
	Client Side = 0
	Server Side = 1
)

func (s Side) peer() Side { return 1 - s }

// Conn is one TCP connection with real sequence arithmetic. Every method
// takes the capture time of its first packet and returns the capture time of
// its last one, so scenarios read as a timeline.
//
// Timing follows the capture point: Near is the side the capture runs next
// to. A packet from the near side is answered one RTT later at the capture
// point; a packet from the far side is answered after only the near host's
// processing delay (Proc). This is what makes a server-side capture look
// different from a client-side one.
type Conn struct {
	B    *Builder
	Host [2]*Host
	Port [2]uint16
	Near Side
	RTT  time.Duration
	Proc time.Duration
	// MSS bounds data segments; Win is the advertised window after the
	// handshake (scaled by 2^8, as the SYN options announce).
	MSS int
	Win [2]uint16

	nxt [2]uint32 // next sequence number each side will send
	rcv [2]uint32 // next sequence number each side expects (its ACK)
	isn [2]uint32
}

// NewConn prepares a connection from client to server with random ISNs and
// a Windows-like window; nothing is emitted until Open.
func NewConn(b *Builder, client *Host, cport uint16, server *Host, sport uint16, near Side, rtt time.Duration) *Conn {
	c := &Conn{B: b, Host: [2]*Host{client, server}, Port: [2]uint16{cport, sport}, Near: near, RTT: rtt,
		Proc: 150 * time.Microsecond, MSS: 1460, Win: [2]uint16{1026, 2053}}
	c.isn = [2]uint32{b.ISN(), b.ISN()}
	c.nxt = c.isn
	return c
}

// lag is how long after a packet from s its answer appears at the capture.
func (c *Conn) lag(s Side) time.Duration {
	if s == c.Near {
		return c.RTT
	}
	return c.Proc
}

// Lag exposes lag for scenario code that schedules answers itself.
func (c *Conn) Lag(s Side) time.Duration { return c.lag(s) }

func (c *Conn) seg(at time.Duration, s Side, seq uint32, flags Flags, win uint16, payload []byte) {
	p := s.peer()
	c.B.TCPSegment(at, c.Host[s], c.Port[s], c.Host[p], c.Port[p], seq, c.rcv[s], flags, win, payload)
}

// SYNs emits the client's SYN followed by n retransmissions of it (same ISN,
// new IP ID) at the classic 1 s, 2 s, 4 s ... back-off, none answered. It
// returns when the next retransmission would have been due, which is where
// an answered Open may follow.
func (c *Conn) SYNs(at time.Duration, n int) time.Duration {
	rto := time.Second
	for i := 0; i <= n; i++ {
		c.seg(at, Client, c.isn[Client], SYN, 64240, nil)
		at += rto
		rto *= 2
	}
	return at
}

// Open performs the three-way handshake starting at at.
func (c *Conn) Open(at time.Duration) time.Duration {
	c.seg(at, Client, c.isn[Client], SYN, 64240, nil)
	c.nxt[Client] = c.isn[Client] + 1
	c.rcv[Server] = c.nxt[Client]
	at += c.lag(Client)
	c.seg(at, Server, c.isn[Server], SYN|ACK, 65535, nil)
	c.nxt[Server] = c.isn[Server] + 1
	c.rcv[Client] = c.nxt[Server]
	at += c.lag(Server)
	c.seg(at, Client, c.nxt[Client], ACK, c.Win[Client], nil)
	return at
}

// Send emits payload from s as one or more MSS-sized segments (PSH on the
// last), delivered: the peer's next ACK covers it.
func (c *Conn) Send(at time.Duration, s Side, payload []byte) time.Duration {
	for len(payload) > 0 {
		n := min(len(payload), c.MSS)
		f := ACK
		if n == len(payload) {
			f |= PSH
		}
		c.seg(at, s, c.nxt[s], f, c.Win[s], payload[:n])
		c.nxt[s] += uint32(n)
		c.rcv[s.peer()] = c.nxt[s]
		payload = payload[n:]
		if len(payload) > 0 {
			at += 20 * time.Microsecond
		}
	}
	return at
}

// Ack emits a pure ACK from s for everything it has received.
func (c *Conn) Ack(at time.Duration, s Side) time.Duration {
	c.seg(at, s, c.nxt[s], ACK, c.Win[s], nil)
	return at
}

// Exchange is one request/response turn: s sends req, the peer answers with
// resp after think time (its ACK piggybacked), and s acknowledges the
// answer. It returns the time of that final ACK.
func (c *Conn) Exchange(at time.Duration, s Side, req []byte, think time.Duration, resp []byte) time.Duration {
	at = c.Send(at, s, req) + c.lag(s) + think
	at = c.Send(at, s.peer(), resp)
	return c.Ack(at+c.lag(s.peer()), s)
}

// Deliver emits data from s and the peer's pure ACK for it: a server push on
// a notification socket that arrives.
func (c *Conn) Deliver(at time.Duration, s Side, payload []byte) time.Duration {
	at = c.Send(at, s, payload)
	return c.Ack(at+c.lag(s), s.peer())
}

// SendLost emits payload from s that never reaches the peer: the original
// and retries retransmissions (same seq, new IP ID) with the RTO doubling
// from rto. It returns the time the last RTO expires, when a stack gives up
// and resets; the peer's ACK never advances.
func (c *Conn) SendLost(at time.Duration, s Side, payload []byte, retries int, rto time.Duration) time.Duration {
	seq := c.nxt[s]
	for i := 0; i <= retries; i++ {
		c.seg(at, s, seq, ACK|PSH, c.Win[s], payload)
		at += rto
		rto *= 2
	}
	c.nxt[s] = seq + uint32(len(payload))
	return at
}

// KeepAlive emits a TCP keep-alive probe from s (seq = next-1, no data) and,
// when answered, the peer's duplicate ACK.
func (c *Conn) KeepAlive(at time.Duration, s Side, answered bool) time.Duration {
	c.seg(at, s, c.nxt[s]-1, ACK, c.Win[s], nil)
	if !answered {
		return at
	}
	return c.Ack(at+c.lag(s), s.peer())
}

// Reset emits an RST/ACK from s at its current sequence number, as a stack
// aborting the connection does.
func (c *Conn) Reset(at time.Duration, s Side) time.Duration {
	c.seg(at, s, c.nxt[s], RST|ACK, 0, nil)
	return at
}

// Close performs the orderly FIN exchange started by s: FIN/ACK, the peer's
// FIN/ACK, and the last ACK.
func (c *Conn) Close(at time.Duration, s Side) time.Duration {
	c.seg(at, s, c.nxt[s], FIN|ACK, c.Win[s], nil)
	c.nxt[s]++
	c.rcv[s.peer()] = c.nxt[s]
	p := s.peer()
	at += c.lag(s)
	c.seg(at, p, c.nxt[p], FIN|ACK, c.Win[p], nil)
	c.nxt[p]++
	c.rcv[s] = c.nxt[p]
	at += c.lag(p)
	c.seg(at, s, c.nxt[s], ACK, c.Win[s], nil)
	return at
}
