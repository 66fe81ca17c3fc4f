package synth

import (
	"strconv"
	"strings"
	"time"
)

// Supportworks payloads, in the format of the lab emulator (pcaps/lab/emu)
// so that the analyzer's payload hints see the same text in real and
// synthetic captures. The greeting prefix is the one SPEC §4 names.
const (
	swGreeting = "SW102: Hello[sw-prod01]\n"
	swOK       = "OK session=S0001 server=sw-prod01 version=7.5.2\n"
)

func swLogin(user string) []byte { return []byte("LOGIN user=" + user + " udpport=0\n") }

func swNotify(session string) []byte { return []byte("NOTIFY session=" + session + "\n") }

// The payload builders append to dst so that the volume generator can reuse
// buffers (Builder.Text) instead of allocating per packet.

func swRequest(dst []byte, n int) []byte {
	dst = strconv.AppendInt(append(dst, "REQ n="...), int64(n), 10)
	return append(dst, " op=select table=opencall\n"...)
}

func swAnswer(dst []byte, n, rows int) []byte {
	dst = strconv.AppendInt(append(dst, "DATA n="...), int64(n), 10)
	dst = strconv.AppendInt(append(dst, " rows="...), int64(rows), 10)
	dst = append(dst, ' ')
	for i := 0; i < 60*rows; i++ {
		dst = append(dst, 'r')
	}
	return append(dst, '\n')
}

func swPush(dst []byte, seq int, session string) []byte {
	dst = strconv.AppendInt(append(dst, "NPA seq="...), int64(seq), 10)
	dst = append(append(dst, " session="...), session...)
	dst = strconv.AppendInt(append(dst, " table=opencall callref="...), int64(1000+seq), 10)
	return append(dst, " action=update nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\n"...)
}

// NPA scenario timeline (server-side capture). The constants are the
// contract SCENARIO.md documents; tests read them too.
const (
	npaFirstPush  = 5 * time.Minute
	npaIdleGap    = 2 * time.Hour
	npaRetries    = 6
	npaRTO        = 200 * time.Millisecond
	npaMainPeriod = 30 * time.Second
	npaEnd        = 2*time.Hour + 8*time.Minute
)

// swPair opens a Supportworks client's two 5001 connections as the seed's
// stages 1 and 2 describe: the main session (greeting, LOGIN, OK) and, a
// moment later, the notification socket (greeting, NOTIFY, then only the
// server's ACK). It returns both and the time the pair is up.
func swPair(b *Builder, at time.Duration, cli, srv *Host, near Side, rtt time.Duration, session, user string) (mainC, npa *Conn, t time.Duration) {
	port := b.EphemeralPort()
	mainC = NewConn(b, cli, port, srv, 5001, near, rtt)
	t = mainC.Open(at)
	t = mainC.Send(t+2*time.Millisecond, Server, []byte(swGreeting))
	t = mainC.Exchange(t+mainC.Lag(Server)+4*time.Millisecond, Client, swLogin(user), 3*time.Millisecond,
		[]byte(strings.Replace(swOK, "S0001", session, 1)))

	npa = NewConn(b, cli, port+1, srv, 5001, near, rtt)
	t = npa.Open(t + 120*time.Millisecond)
	t = npa.Send(t+2*time.Millisecond, Server, []byte(swGreeting))
	t = npa.Deliver(t+npa.Lag(Server)+3*time.Millisecond, Client, swNotify(session))
	return mainC, npa, t
}

// npaIdle is the two-hour idle notification socket, captured on the server.
// The main session stays busy (a request every ~30 s), so the firewall keeps
// its state; the notification socket carries one acknowledged push at
// 5 min, then nothing (no keepalives) for exactly npaIdleGap. With acked
// false the next push is never acknowledged: the server retransmits it
// npaRetries times with the RTO doubling from 200 ms, then resets, which is
// what a firewall that forgot the connection after its TCP idle timeout
// causes. With acked true the push and a later one are acknowledged: the
// same idle gap is only a risk at sites with a shorter timeout.
func npaIdle(b *Builder, acked bool) error {
	router := MAC(OUICisco, gatewayMACSerial)
	srv := NewHost(b.Rand, "sw-server", addr("198.51.100.10"), MAC(OUIVMware, 0x10aa01), ttlWindows)
	cli := NewHost(b.Rand, "sw-client", addr("192.0.2.25"), router, ttlWindows2Hops)
	const rtt = 18 * time.Millisecond
	mainC, npa, t := swPair(b, 0, cli, srv, Server, rtt, "S0001", "jsmith")

	// Main session: periodic client requests, server answers, client ACKs.
	// Every fifth answer is larger than one segment, as list views are.
	n := 1
	for next := t + b.Jitter(npaMainPeriod, 0.1); next < npaEnd; next += b.Jitter(npaMainPeriod, 0.1) {
		rows := 3
		if n%5 == 0 {
			rows = 20
		}
		mainC.Exchange(next, Client, swRequest(nil, n), time.Duration(2+b.Rand.IntN(8))*time.Millisecond, swAnswer(nil, n, rows))
		n++
	}

	// Notification socket: one push at 5 min, acknowledged by the client.
	last := npa.Deliver(npaFirstPush, Server, swPush(nil, 1, "S0001"))
	// Exactly npaIdleGap of silence on this connection, then the next push.
	push := last + npaIdleGap
	if acked {
		t = npa.Deliver(push, Server, swPush(nil, 2, "S0001"))
		npa.Deliver(t+40*time.Second, Server, swPush(nil, 3, "S0001"))
	} else {
		giveUp := npa.SendLost(push, Server, swPush(nil, 2, "S0001"), npaRetries, npaRTO)
		npa.Reset(giveUp, Server)
	}
	return finish(b)
}
