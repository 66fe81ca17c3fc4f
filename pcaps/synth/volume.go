package synth

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The volume scenario (issue 7) is a busy data-centre capture point: the
// Supportworks servers, the KeyServer and web servers sit behind it, and a
// large client population arrives from the CGNAT shared space
// 100.64.0.0/10. It streams: actors (Scheduler, queue.go) emit a few packets per
// step and the reorder queue only holds what is in flight, so memory does not
// grow with -packets.

// volumeWorld holds what the actors of one volume run share: the servers,
// the router MAC every remote host arrives with, and a block of random
// bytes that bulk payloads are sliced from (filling fresh random bytes per
// segment would dominate the run time).
type volumeWorld struct {
	router   net.HardwareAddr
	sw       []*Host
	ks       *Host
	resolver *Host
	web4     []*Host
	web6     []*Host
	noise    []byte
}

// slice returns n bytes of random-looking payload without allocating.
func (w *volumeWorld) slice(b *Builder, n int) []byte {
	off := b.Rand.IntN(len(w.noise) - n)
	return w.noise[off : off+n]
}

// cgnat returns the i-th address of 100.64.0.0/10 (i < 2^22).
func cgnat(i uint32) netip.Addr {
	v := 100<<24 | 64<<16 | i&(1<<22-1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// runVolume builds the world, adds the actors and runs the scheduler until
// the packet limit (or, with -packets 0, the virtual duration) is reached.
func runVolume(b *Builder, o Options) error {
	if o.Duration <= 0 {
		return fmt.Errorf("volume: -duration must be positive")
	}
	w := &volumeWorld{router: MAC(OUICisco, gatewayMACSerial), noise: make([]byte, 1<<16)}
	for i := range w.noise {
		w.noise[i] = byte(b.Rand.Uint32())
	}
	for i := 0; i < 4; i++ {
		w.sw = append(w.sw, NewHost(b.Rand, fmt.Sprintf("sw-%d", i), addr(fmt.Sprintf("198.51.100.%d", 10+i)), MAC(OUIVMware, 0x10aa00+uint32(i)), ttlWindows))
	}
	w.ks = NewHost(b.Rand, "keyserver", addr("198.51.100.20"), MAC(OUIDell, 0x20ab01), ttlWindows)
	w.resolver = NewHost(b.Rand, "resolver", addr("198.51.100.53"), MAC(OUIVMware, 0x53aa01), ttlLinux)
	for i := 0; i < 64; i++ {
		w.web4 = append(w.web4, NewHost(b.Rand, "web", addr(fmt.Sprintf("203.0.113.%d", 100+i)), MAC(OUIVMware, 0x443000+uint32(i)), ttlLinux))
		w.web6 = append(w.web6, NewHost(b.Rand, "web6", addr(fmt.Sprintf("2001:db8:443::%x", 100+i)), MAC(OUIVMware, 0x446000+uint32(i)), ttlLinux))
	}

	var s Scheduler
	// Client populations take disjoint slices of 100.64.0.0/10.
	for i := 0; i < o.K2Clients; i++ {
		h := NewHost(b.Rand, "ka", cgnat(uint32(0x010000+i)), w.router, uint8(110+b.Rand.IntN(17)))
		k := &k2Actor{w: w, h: h, port: b.EphemeralPort(), never: b.Rand.IntN(50) == 0,
			period: time.Duration(60+b.Rand.IntN(120)) * time.Second}
		s.Add(time.Duration(b.Rand.Int64N(int64(2*time.Minute))), k)
	}
	for i := 0; i < o.SWClients; i++ {
		h := NewHost(b.Rand, "sw-client", cgnat(uint32(0x080000+i)), w.router, uint8(110+b.Rand.IntN(17)))
		a := &swActor{w: w, h: h, srv: w.sw[i%len(w.sw)], session: fmt.Sprintf("S%05d", i+1), lossy: b.Rand.IntN(100) == 0}
		s.Add(time.Duration(b.Rand.Int64N(int64(time.Minute))), a)
	}
	// Web noise: size each transfer so that -packets is reached near
	// -duration, from a rough count of what the other actors produce.
	perFlow := 40
	if o.Packets > 0 && o.Flows > 0 {
		hours := o.Duration.Hours()
		other := hours*(66*float64(o.K2Clients)+400*float64(o.SWClients)) + 10000 + float64(o.SYNFlood) + float64(o.UDPFlood)
		perFlow = int((float64(o.Packets) - other) / float64(o.Flows))
	}
	segs := max(2, (perFlow-14)*2/3)
	if o.Flows > 0 {
		s.Add(0, &webSpawner{w: w, every: o.Duration / time.Duration(o.Flows), segs: segs,
			cli: Host{MAC: w.router}})
	}
	s.Add(10*time.Minute, newScanner(b, w))
	if o.SYNFlood > 0 {
		s.Add(time.Second, &floodActor{w: w, n: o.SYNFlood, every: o.Duration / time.Duration(o.SYNFlood+1),
			target: w.web4[0], h: Host{MAC: w.router}})
	}
	if o.UDPFlood > 0 {
		s.Add(time.Second+time.Millisecond, &udpFloodActor{n: o.UDPFlood, every: o.Duration / time.Duration(o.UDPFlood+1),
			target: w.ks, h: Host{MAC: w.router}, payload: kaRequest(nil, 1, "ka", "login")})
	}
	end := o.Duration
	if o.Packets > 0 {
		end = 1<<63 - 1 // run until the packet limit
	}
	if err := s.Run(b, end); err != nil {
		return err
	}
	if err := b.Err(); err != nil && err != ErrFull {
		return err
	}
	return nil
}

// k2Actor is a KeyAccess client sending a heartbeat every period. Most
// answers come within 50 ms; about one in 60 comes 2 to 15 minutes late
// (the client waits silently); "never" clients are not answered at all and
// start over from a new port after 10 silent minutes, as the K2 protocol
// page describes.
type k2Actor struct {
	w      *volumeWorld
	h      *Host
	port   uint16
	seq    int
	never  bool
	period time.Duration
}

func (k *k2Actor) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	k.seq++
	b.Text[0] = kaRequest(b.Text[0][:0], k.seq, "ka", "heartbeat")
	b.UDP(now, k.h, k.port, k.w.ks, portKeyServer, b.Text[0])
	b.Text[1] = ksAnswer(b.Text[1][:0], "keyserver", k.seq, k.seq%25)
	switch {
	case k.never:
		k.port = b.EphemeralPort()
		k.seq = 0
		return now + k2StartOver, false
	case b.Rand.IntN(60) == 0:
		late := time.Duration(120+b.Rand.IntN(780)) * time.Second
		b.UDP(now+late, k.w.ks, portKeyServer, k.h, k.port, b.Text[1])
		return now + late + time.Duration(1+b.Rand.IntN(30))*time.Second, false
	default:
		b.UDP(now+fastDelay(b), k.w.ks, portKeyServer, k.h, k.port, b.Text[1])
		return now + b.Jitter(k.period, 0.1), false
	}
}

// swActor is a Supportworks client: it opens the main session and the NPA
// notification socket, then makes a request every ~30 s while the server
// pushes a notification every few minutes. A "lossy" client's socket goes
// the npa-idle-2h way on its third push: retransmitted, never acknowledged,
// reset.
type swActor struct {
	w        *volumeWorld
	h, srv   *Host
	session  string
	lossy    bool
	main     *Conn
	npa      *Conn
	n, pushN int
	nextReq  time.Duration
	nextPush time.Duration
}

func (a *swActor) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	if a.main == nil {
		rtt := time.Duration(5+b.Rand.IntN(40)) * time.Millisecond
		var t time.Duration
		a.main, a.npa, t = swPair(b, now, a.h, a.srv, Server, rtt, a.session, "user")
		a.nextReq = t + b.Jitter(npaMainPeriod, 0.1)
		a.nextPush = t + b.Jitter(3*time.Minute, 0.5)
		return min(a.nextReq, a.nextPush), false
	}
	if now >= a.nextPush && a.npa != nil {
		a.pushN++
		b.Text[0] = swPush(b.Text[0][:0], a.pushN, a.session)
		if a.lossy && a.pushN == 3 {
			giveUp := a.npa.SendLost(now, Server, b.Text[0], npaRetries, npaRTO)
			a.npa.Reset(giveUp, Server)
			a.npa = nil
		} else {
			a.npa.Deliver(now, Server, b.Text[0])
			a.nextPush = now + b.Jitter(5*time.Minute, 0.5)
		}
	}
	if now >= a.nextReq {
		a.n++
		rows := 3
		if a.n%7 == 0 {
			rows = 30
		}
		b.Text[0], b.Text[1] = swRequest(b.Text[0][:0], a.n), swAnswer(b.Text[1][:0], a.n, rows)
		a.main.Exchange(now, Client, b.Text[0], time.Duration(1+b.Rand.IntN(10))*time.Millisecond, b.Text[1])
		a.nextReq = now + b.Jitter(npaMainPeriod, 0.1)
	}
	if a.npa == nil {
		return a.nextReq, false
	}
	return min(a.nextReq, a.nextPush), false
}

// webSpawner starts one bulk HTTPS transfer every `every`, from a random
// CGNAT client to a random web server (one in ten over IPv6), each a
// complete connection emitted at once: handshake, TLS hellos, a request, segs
// data segments with an ACK every second segment, and the FIN exchange. One
// in five is preceded by a DNS lookup; one in fifty loses its first SYN.
type webSpawner struct {
	w     *volumeWorld
	every time.Duration
	segs  int
	cli   Host
	cli6  Host
	n     uint32
}

func (s *webSpawner) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	s.n++
	w := s.w
	cli, srv := &s.cli, w.web4[b.Rand.IntN(len(w.web4))]
	cli.Addr = cgnat(0x100000 + b.Rand.Uint32N(0x300000))
	cli.TTL = uint8(110 + b.Rand.IntN(17))
	if s.n%10 == 0 {
		cli, srv = &s.cli6, w.web6[b.Rand.IntN(len(w.web6))]
		a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0x64}
		for i := 8; i < 16; i++ {
			a[i] = byte(b.Rand.Uint32())
		}
		cli.Addr, cli.MAC, cli.TTL = netip.AddrFrom16(a), w.router, 57
	}
	cli.ipID = uint16(b.Rand.Uint32())
	t := now
	if s.n%5 == 0 && srv.Addr.Is4() {
		b.DNSLookup(t, 600*time.Microsecond, cli, b.EphemeralPort(), w.resolver, "www.example.com", srv.Addr)
		t += time.Millisecond
	}
	rtt := time.Duration(8+b.Rand.IntN(60)) * time.Millisecond
	c := NewConn(b, cli, b.EphemeralPort(), srv, 443, Server, rtt)
	if s.n%50 == 0 {
		t = c.SYNs(t, 0)
	}
	t = c.Open(t)
	t = c.Exchange(t+time.Millisecond, Client, w.slice(b, 517), time.Millisecond, w.slice(b, 3000))
	t = c.Send(t+rtt, Client, w.slice(b, 300))
	t += c.Proc + 5*time.Millisecond
	segs := max(1, s.segs/2+b.Rand.IntN(s.segs+1))
	for i := 0; i < segs; i++ {
		c.Send(t, Server, w.slice(b, 1460))
		if i%2 == 1 || i == segs-1 {
			c.Ack(t+rtt, Client)
		}
		t += 120 * time.Microsecond
	}
	c.Close(t+rtt+time.Millisecond, Client)
	return now + b.Jitter(s.every, 0.5), false
}

// scanner is a SYN scan from 203.0.113.66 across ports 1-1024 of the
// Supportworks servers: open ports answer SYN-ACK (the scanner resets),
// closed ports RST, and the firewall answers ports 135-139 and 445 with
// ICMP admin-prohibited. It gives the analyzer blocked-SYN noise to sort
// from the real traffic.
type scanner struct {
	w      *volumeWorld
	h, fw  *Host
	target int
	port   uint16
}

func newScanner(b *Builder, w *volumeWorld) *scanner {
	return &scanner{w: w, h: NewHost(b.Rand, "scanner", addr("203.0.113.66"), w.router, 49),
		fw: NewHost(b.Rand, "firewall", addr("198.51.100.1"), w.router, ttlLinux), port: 1}
}

func (s *scanner) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	srv := s.w.sw[s.target]
	sport := uint16(40000 + s.target)
	isn := b.ISN()
	b.TCPSegment(now, s.h, sport, srv, s.port, isn, 0, SYN, 1024, nil)
	switch p := s.port; {
	case p == 80 || p == 443 || p == 21:
		sisn := b.ISN()
		b.TCPSegment(now+200*time.Microsecond, srv, s.port, s.h, sport, sisn, isn+1, SYN|ACK, 65535, nil)
		b.TCPSegment(now+30*time.Millisecond, s.h, sport, srv, s.port, isn+1, 0, RST, 0, nil)
	case (p >= 135 && p <= 139) || p == 445:
		q := b.QuoteLast()
		b.ICMPUnreachable(now+100*time.Microsecond, s.fw, s.h, CodeAdminProhibited, q)
	default:
		b.TCPSegment(now+200*time.Microsecond, srv, s.port, s.h, sport, 0, isn+1, RST|ACK, 0, nil)
	}
	s.port++
	if s.port > 1024 {
		s.port = 1
		s.target++
		if s.target == len(s.w.sw) {
			return 0, true
		}
	}
	return now + 5*time.Millisecond, false
}

// floodActor sends n SYNs to one web server from n distinct (address, port)
// sources in 100.64.0.0/10, evenly spread, none answered: the worst case
// for an analyzer's half-open connection state. Source i maps to address
// x = i*0x9E3779B1 mod 2^22 (a bijection, so addresses repeat only every
// 2^22 SYNs) and a port that differs for each repeat.
type floodActor struct {
	w      *volumeWorld
	n, i   int
	every  time.Duration
	target *Host
	h      Host
}

func (f *floodActor) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	t := now
	for k := 0; k < 64 && f.i < f.n; k++ {
		i := uint32(f.i)
		x := (i * 0x9E3779B1) & (1<<22 - 1)
		f.h.Addr = cgnat(x)
		f.h.TTL = uint8(40 + x%60)
		f.h.ipID = uint16(x)
		port := uint16(1024 + (uint32(f.i>>22)*20011+x*7)%64000)
		b.TCPSegment(t, &f.h, port, f.target, 443, x*2654435761, 0, SYN, 1024, nil)
		f.i++
		t += f.every
	}
	return t, f.i >= f.n
}

// udpFloodActor sends n KeyAccess login requests to the KeyServer's UDP
// 19283 from n distinct sources in 10.0.0.0/8, evenly spread, none
// answered: the worst case for an analyzer's UDP flow state. Like
// floodActor it draws nothing from the builder's random source, so the
// rest of the capture is the same with and without it. Source i maps to
// address x = i*0x9E3779B1 mod 2^24 (a bijection: the first 16.7M sources
// have distinct addresses) and an ephemeral port that differs for each
// repeat.
type udpFloodActor struct {
	n, i    int
	every   time.Duration
	target  *Host
	h       Host
	payload []byte
}

func (f *udpFloodActor) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	t := now
	for k := 0; k < 64 && f.i < f.n; k++ {
		i := uint32(f.i)
		x := (i * 0x9E3779B1) & (1<<24 - 1)
		f.h.Addr = netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)})
		f.h.TTL = uint8(40 + x%60)
		f.h.ipID = uint16(x)
		port := uint16(49152 + (uint32(f.i>>24)*20011+x*7)%16384) // ephemeral: no dissector claims it
		b.UDP(t, &f.h, port, f.target, portKeyServer, f.payload)
		f.i++
		t += f.every
	}
	return t, f.i >= f.n
}
