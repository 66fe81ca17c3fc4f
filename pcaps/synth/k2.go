package synth

import (
	"strconv"
	"time"
)

// KeyServer and KeyShadow ports from the K2 seed.
const (
	portKeyServer = 19283
	portKeyShadow = 19315
)

// K2 payloads in the lab emulator's text format (pcaps/lab/emu/ks.go).
// Like the Supportworks ones, these append to dst to allow buffer reuse.
func kaRequest(dst []byte, seq int, host, op string) []byte {
	dst = strconv.AppendInt(append(dst, "KA REQ seq="...), int64(seq), 10)
	dst = append(append(append(append(dst, " host="...), host...), " op="...), op...)
	return append(dst, " product=office\n"...)
}

func ksAnswer(dst []byte, name string, seq, inuse int) []byte {
	dst = append(append(append(dst, "KS "...), name...), " ACK "...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = strconv.AppendInt(append(dst, " status=ok seats=25 inuse="...), int64(inuse), 10)
	return append(dst, '\n')
}

func ksTickle(name string) []byte { return []byte("KS " + name + " TICKLE\n") }

// K2 timings from SPEC §4 (the keyserver communication protocol page) and
// the seed: a tickle about 7 minutes after contact, re-tickles about every
// minute (59 s here, so that re-tickles stay under a 60 s UDP timeout and
// only the first one is a late datagram), a client that hears nothing for
// 10 minutes starts over, and answers up to 15 minutes late.
const (
	k2TickleAfter = 7 * time.Minute
	k2Retickle    = 59 * time.Second
	k2StartOver   = 10 * time.Minute
	k2Late7       = 7 * time.Minute
	k2Late15      = 15 * time.Minute
	k2LateC       = 7*time.Minute + 30*time.Second
	k2ServerEnd   = 26 * time.Minute
	k2ClientEnd   = 27 * time.Minute
)

// udpPeer is one side of a KeyAccess conversation: a host and its port.
type udpPeer struct {
	h    *Host
	port uint16
}

// k2Flow emits request/answer pairs on one client flow and remembers the
// time of its last packet, which is what silences are measured from.
type k2Flow struct {
	b       *Builder
	cli, sv udpPeer
	name    string
	seq     int
	last    time.Duration
}

// req emits a client request at at and returns its time.
func (f *k2Flow) req(at time.Duration, op string) time.Duration {
	f.seq++
	f.b.UDP(at, f.cli.h, f.cli.port, f.sv.h, f.sv.port, kaRequest(nil, f.seq, f.cli.h.Name, op))
	f.last = at
	return at
}

// answer emits the server's answer to the latest request at at.
func (f *k2Flow) answer(at time.Duration) time.Duration {
	f.b.UDP(at, f.sv.h, f.sv.port, f.cli.h, f.cli.port, ksAnswer(nil, f.name, f.seq, 3+f.seq%20))
	f.last = at
	return at
}

// turn is a request answered after delay (as seen at the capture point).
func (f *k2Flow) turn(at time.Duration, op string, delay time.Duration) time.Duration {
	return f.answer(f.req(at, op) + delay)
}

// fastDelay is a prompt KeyServer answer seen on the server: 2 to 50 ms.
func fastDelay(b *Builder) time.Duration {
	return time.Duration(2000+b.Rand.IntN(48000)) * time.Microsecond
}

// k2LateServer is the server-side capture of late K2 answers. KeyServer
// 198.51.100.20 (Windows, local) serves three KeyAccess clients two hops
// away. Client .31 goes quiet and is tickled after 7 minutes, re-tickled
// twice, then comes back by itself. Client .32 gets answers after 7 and
// after 15 minutes of silence. Client .33 gets an answer 7m30s late that is
// never followed by client traffic (the client's firewall dropped it) and
// starts over from a new port 10 minutes after its request. The KeyServer
// also resolves prs.sassafras.com and fetches product definitions (ks-prs).
func k2LateServer(b *Builder, _ Options) error {
	router := MAC(OUICisco, gatewayMACSerial)
	ks := NewHost(b.Rand, "keyserver", addr("198.51.100.20"), MAC(OUIDell, 0x20ab01), ttlWindows)
	dns := NewHost(b.Rand, "resolver", addr("198.51.100.53"), MAC(OUIVMware, 0x53aa01), ttlLinux)
	prs := NewHost(b.Rand, "prs.sassafras.com", addr("203.0.113.80"), router, 52)
	clients := [3]*Host{
		NewHost(b.Rand, "ka-031", addr("192.0.2.31"), router, ttlWindows2Hops),
		NewHost(b.Rand, "ka-032", addr("192.0.2.32"), router, ttlWindows2Hops),
		NewHost(b.Rand, "ka-033", addr("192.0.2.33"), router, ttlWindows2Hops),
	}
	flow := func(h *Host, at time.Duration) *k2Flow {
		return &k2Flow{b: b, cli: udpPeer{h, b.EphemeralPort()}, sv: udpPeer{ks, portKeyServer}, name: "keyserver", last: at}
	}

	// Client .31: contact, silence, tickle at 7 min, two re-tickles, then
	// its own requests every ~50 s to the end.
	a := flow(clients[0], 0)
	a.turn(0, "login", fastDelay(b))
	a.turn(30*time.Second, "checkout", fastDelay(b))
	tk := a.last + k2TickleAfter
	for i := 0; i < 3; i++ {
		b.UDP(tk, ks, portKeyServer, a.cli.h, a.cli.port, ksTickle("keyserver"))
		tk += k2Retickle
	}
	for t := 9*time.Minute + 50*time.Second; t < k2ServerEnd; t += b.Jitter(50*time.Second, 0.05) {
		a.turn(t, "heartbeat", fastDelay(b))
	}

	// Client .32: answers after exactly 7 and 15 minutes of flow silence.
	c2 := flow(clients[1], 0)
	c2.turn(10*time.Second, "login", fastDelay(b))
	c2.turn(60*time.Second, "checkout", k2Late7)
	c2.turn(8*time.Minute+5*time.Second, "heartbeat", fastDelay(b))
	c2.turn(9*time.Minute, "checkout", k2Late15)
	c2.turn(24*time.Minute+10*time.Second, "heartbeat", fastDelay(b))
	c2.turn(25*time.Minute+10*time.Second, "checkin", fastDelay(b))

	// Client .33: a late answer nobody hears, then a new source port.
	c3 := flow(clients[2], 0)
	c3.turn(20*time.Second, "login", fastDelay(b))
	lost := c3.req(2*time.Minute, "checkout")
	c3.answer(lost + k2LateC)
	c3b := flow(clients[2], lost+k2StartOver)
	c3b.cli.port = c3.cli.port + 7 // a different ephemeral port, deterministic
	for t := lost + k2StartOver; t < k2ServerEnd; t += b.Jitter(60*time.Second, 0.05) {
		op := "heartbeat"
		if c3b.seq == 0 {
			op = "login"
		}
		c3b.turn(t, op, fastDelay(b))
	}

	// ks-prs: resolve and fetch product definitions over HTTPS, healthy.
	b.DNSLookup(90*time.Second, 400*time.Microsecond, ks, b.EphemeralPort(), dns, "prs.sassafras.com", prs.Addr)
	https := NewConn(b, ks, b.EphemeralPort(), prs, 443, Client, 35*time.Millisecond)
	t := https.Open(90*time.Second + 2*time.Millisecond)
	t = https.Exchange(t+time.Millisecond, Client, tlsRecord(b, 0x16, 517), 5*time.Millisecond, tlsRecord(b, 0x16, 2900))
	t = https.Exchange(t+time.Millisecond, Client, tlsRecord(b, 0x17, 380), 40*time.Millisecond, tlsRecord(b, 0x17, 9000))
	https.Close(t+50*time.Millisecond, Client)
	return finish(b)
}

// k2LateClient is the client-side view of the same trouble, captured on the
// client LAN behind a stateful firewall with a 90 s UDP timeout (the Windows
// Firewall value the K2 seed quotes). Late answers are dropped before the
// capture point, so they never appear. Client .41 is unanswered on its
// first port, starts over twice from new ports (each time after 10 silent
// minutes, resending twice), and then fails over to the KeyShadow at
// 198.51.100.21:19315, which answers promptly. Client .42 loses one answer,
// starts over from a new port and is then answered by the KeyServer.
func k2LateClient(b *Builder, _ Options) error {
	router := MAC(OUICisco, gatewayMACSerial)
	ks := NewHost(b.Rand, "keyserver", addr("198.51.100.20"), router, ttlWindows2Hops)
	shadow := NewHost(b.Rand, "keyshadow", addr("198.51.100.21"), router, ttlWindows2Hops)
	dns := NewHost(b.Rand, "resolver", addr("192.0.2.53"), MAC(OUIVMware, 0x53bb01), ttlLinux)
	d := NewHost(b.Rand, "ka-041", addr("192.0.2.41"), MAC(OUIIntel, 0x410041), ttlWindows)
	e := NewHost(b.Rand, "ka-042", addr("192.0.2.42"), MAC(OUIIntel, 0x420042), ttlWindows)
	const rtt = 24 * time.Millisecond
	answerDelay := func() time.Duration { return rtt + time.Duration(b.Rand.IntN(6000))*time.Microsecond }
	flow := func(h *Host, port uint16, sv *Host, svPort uint16, name string) *k2Flow {
		return &k2Flow{b: b, cli: udpPeer{h, port}, sv: udpPeer{sv, svPort}, name: name}
	}

	// Client .41 (D).
	b.DNSLookup(0, 3*time.Millisecond, d, b.EphemeralPort(), dns, "keyserver.corp.example", ks.Addr)
	pd := b.EphemeralPort()
	d1 := flow(d, pd, ks, portKeyServer, "keyserver")
	d1.turn(time.Second, "login", answerDelay())
	lost := d1.req(31*time.Second, "checkout")
	at := lost + k2StartOver
	for i := 1; i <= 2; i++ {
		df := flow(d, pd+uint16(10*i), ks, portKeyServer, "keyserver")
		df.req(at, "login")
		df.seq--
		df.req(at+5*time.Second, "login")
		df.seq--
		df.req(at+15*time.Second, "login")
		if i == 1 {
			at += 15*time.Second + k2StartOver
		} else {
			at += 25 * time.Second
		}
	}
	b.DNSLookup(at-2*time.Second, 3*time.Millisecond, d, b.EphemeralPort(), dns, "keyshadow.corp.example", shadow.Addr)
	sf := flow(d, pd+30, shadow, portKeyShadow, "keyshadow")
	for t := at; t < k2ClientEnd; t += b.Jitter(60*time.Second, 0.05) {
		op := "heartbeat"
		if sf.seq == 0 {
			op = "login"
		}
		sf.turn(t, op, answerDelay())
	}

	// Client .42 (E).
	pe := b.EphemeralPort()
	e1 := flow(e, pe, ks, portKeyServer, "keyserver")
	e1.turn(5*time.Second, "login", answerDelay())
	lostE := e1.req(2*time.Minute, "checkout")
	e2 := flow(e, pe+3, ks, portKeyServer, "keyserver")
	for t := lostE + k2StartOver; t < k2ClientEnd; t += b.Jitter(60*time.Second, 0.05) {
		op := "heartbeat"
		if e2.seq == 0 {
			op = "login"
		}
		e2.turn(t, op, answerDelay())
	}
	return finish(b)
}

// tlsRecord returns n bytes that look like TLS records of the given content
// type (handshake 0x16, application data 0x17), enough for dissectors and
// for a payload size that is realistic; the content is random.
func tlsRecord(b *Builder, typ byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(b.Rand.Uint32())
	}
	for off := 0; off+5 <= n; off += 16384 + 5 {
		l := min(n-off-5, 16384)
		p[off], p[off+1], p[off+2], p[off+3], p[off+4] = typ, 3, 3, byte(l>>8), byte(l)
	}
	return p
}
