package synth

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// The busysite scenario (issue 15) is an hour of a busy site seen at its
// core firewall: the PCs of 10.20.0.0/16 all run KeyAccess against the
// KeyServer (UDP 19283) and some of them the Supportworks client (a main
// session and a long-held NPA notification socket to TCP 5001 on two
// application servers), users browse HTTPS sites on the internet, and
// vulnerability scanners sweep the server subnets. It streams like volume
// (actors on the Scheduler), in time order, and its rates are per hour, so
// -duration 10h gives ten hours of the same site.
//
// The scanners draw from their own random sources and answer from their
// own copies of the hosts (own IPv4 ID counters): a capture with scanners
// is the capture without them plus the scanners' packets, byte for byte,
// which is what lets a benchmark check that the scans change no finding
// but their own.

// Busy site defaults (BusySiteOptions) and the scan geometry.
const (
	busySWClients  = 800
	busyK2Clients  = 2000
	busyWebPerHour = 600
	busyScanHosts  = 500
	// ScanPorts is how many TCP ports a scanner probes on each host.
	ScanPorts = 200
	// busySweep is how long a scanner takes over one sweep of every
	// host and port; it starts over every busySweep.
	busySweep = time.Hour
)

// BusySiteOptions are fwgen's defaults for -scenario busysite: an hour,
// 800 Supportworks clients, 2,000 KeyAccess clients, 600 web flows and one
// scanner sweeping 500 hosts x 200 ports (~1.9M packets, ~790 MB).
func BusySiteOptions() Options {
	o := DefaultOptions()
	o.SWClients, o.K2Clients, o.Flows = busySWClients, busyK2Clients, busyWebPerHour
	o.Scanners, o.ScanHosts = 1, busyScanHosts
	return o
}

// busyWorld is what the actors of one busysite run share.
type busyWorld struct {
	volumeWorld
	pcs int
}

// pc returns the address of the site's i-th PC in 10.20.0.0/16 (.1 to
// .250 in each /24) and its IPv6 address in 2001:db8:20::/64.
func (w *busyWorld) pc(i int) (netip.Addr, netip.Addr) {
	v4 := netip.AddrFrom4([4]byte{10, 20, byte(i / 250), byte(1 + i%250)})
	v6 := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x20}
	v6[14], v6[15] = byte(i>>8), byte(i)
	return v4, netip.AddrFrom16(v6)
}

// scanTarget returns the i-th scanned host (i < 500): 198.51.100.1-250,
// the server subnet with every server of the site, then 198.51.101.1-250.
// Beyond 500, the next /24s.
func scanTarget(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, byte(100 + i/250), byte(1 + i%250)})
}

func runBusySite(b *Builder, o Options) error {
	if o.Duration <= 0 {
		return fmt.Errorf("busysite: -duration must be positive")
	}
	if o.SWClients < 0 || o.K2Clients < 0 || o.Flows < 0 || o.Scanners < 0 || o.ScanHosts < 0 {
		return fmt.Errorf("busysite: counts must not be negative")
	}
	if o.ScanHosts > 250*156 || o.Scanners > 200 || max(o.SWClients, o.K2Clients) > 250*250 {
		return fmt.Errorf("busysite: at most 62,500 clients (10.20.0.0/16), 200 scanners and 39,000 scanned hosts")
	}
	w := &busyWorld{volumeWorld: volumeWorld{router: MAC(OUICisco, gatewayMACSerial), noise: make([]byte, 1<<16)},
		pcs: max(o.SWClients, o.K2Clients, 1)}
	for i := range w.noise {
		w.noise[i] = byte(b.Rand.Uint32())
	}
	for i := 0; i < 2; i++ {
		w.sw = append(w.sw, NewHost(b.Rand, fmt.Sprintf("sw-app%d", i+1), addr(fmt.Sprintf("198.51.100.%d", 10+i)), MAC(OUIVMware, 0x10aa00+uint32(i)), ttlWindows))
	}
	w.ks = NewHost(b.Rand, "keyserver", addr("198.51.100.20"), MAC(OUIDell, 0x20ab01), ttlWindows)
	w.resolver = NewHost(b.Rand, "resolver", addr("198.51.100.53"), MAC(OUIVMware, 0x53aa01), ttlLinux)
	for i := 0; i < 48; i++ {
		w.web4 = append(w.web4, NewHost(b.Rand, "web", addr(fmt.Sprintf("203.0.113.%d", 100+i)), w.router, uint8(48+b.Rand.IntN(10))))
	}
	for i := 0; i < 16; i++ {
		w.web6 = append(w.web6, NewHost(b.Rand, "web6", addr(fmt.Sprintf("2001:db8:443::%x", 100+i)), w.router, uint8(50+b.Rand.IntN(8))))
	}

	var s Scheduler
	// Every PC runs KeyAccess; SWClients of them, spread evenly over the
	// PCs, also run the Supportworks client. (Each application keeps its own
	// Host, so a PC's IPv4 IDs run in one sequence per application.)
	for i := 0; i < o.K2Clients; i++ {
		a, _ := w.pc(i)
		h := NewHost(b.Rand, "ka", a, w.router, ttlWindows-1)
		k := &busyK2{w: w, h: h, port: b.EphemeralPort(), never: b.Rand.IntN(50) == 0, slow: b.Rand.IntN(20) == 0,
			period: time.Duration(45+b.Rand.IntN(90)) * time.Second}
		s.Add(time.Duration(b.Rand.Int64N(int64(k.period))), k)
	}
	for i := 0; i < o.SWClients; i++ {
		a, _ := w.pc(i * w.pcs / o.SWClients)
		h := NewHost(b.Rand, "sw-client", a, w.router, ttlWindows-1)
		c := &busySW{w: w, h: h, srv: w.sw[i%len(w.sw)], session: fmt.Sprintf("S%05d", i+1)}
		// Staff log in over the first ten minutes.
		s.Add(time.Duration(b.Rand.Int64N(int64(10*time.Minute))), c)
	}
	if o.Flows > 0 {
		n := int(float64(o.Flows)*o.Duration.Hours() + 0.5)
		for i := 0; i < n; i++ {
			f := &busyWeb{w: w, v6: i%10 == 9}
			v4, v6 := w.pc(b.Rand.IntN(w.pcs))
			f.cli = Host{Name: "pc", Addr: v4, MAC: w.router, TTL: ttlWindows - 1, ipID: uint16(b.Rand.Uint32())}
			if f.v6 {
				f.cli.Addr = v6
			}
			start := time.Duration(b.Rand.Int64N(int64(o.Duration)))
			f.end = start + time.Duration(20+b.Rand.IntN(1180))*time.Second
			s.Add(start, f)
		}
	}
	// Each scanner sweeps every host and port once per sweep, starting
	// within its first sixtieth and done by its end.
	sweep := min(o.Duration, busySweep)
	for k := 0; k < o.Scanners; k++ {
		start := time.Duration(k)*7*time.Second + time.Second
		if sweep >= time.Minute {
			start %= sweep / 60
		} else {
			start = 0
		}
		s.Add(start, newBusyScanner(w, o, k, sweep))
	}
	b.End = o.Duration // the capture stops at the hour, whatever is under way
	if err := s.Run(b, o.Duration); err != nil {
		return err
	}
	return b.Err()
}

// busyK2 is a KeyAccess client sending a request every period (45 s to
// 135 s). Answers come within 50 ms but to "slow" clients (one in 20),
// whose requests are answered 7 minutes late one time in four (the client
// waits for it); "never" clients (one in 50) are not answered at all and
// start over from a new source port after 10 silent minutes.
type busyK2 struct {
	w           *busyWorld
	h           *Host
	port        uint16
	seq         int
	never, slow bool
	period      time.Duration
}

func (k *busyK2) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	k.seq++
	op := "heartbeat"
	if k.seq == 1 {
		op = "login"
	}
	b.Text[0] = kaRequest(b.Text[0][:0], k.seq, "ka", op)
	b.UDP(now, k.h, k.port, k.w.ks, portKeyServer, b.Text[0])
	b.Text[1] = ksAnswer(b.Text[1][:0], "keyserver", k.seq, k.seq%25)
	switch {
	case k.never:
		k.port = b.EphemeralPort()
		k.seq = 0
		return now + k2StartOver, false
	case k.slow && b.Rand.IntN(4) == 0:
		late := k2Late7 + time.Duration(b.Rand.IntN(20000))*time.Millisecond
		b.UDP(now+late, k.w.ks, portKeyServer, k.h, k.port, b.Text[1])
		return now + late + time.Duration(1+b.Rand.IntN(30))*time.Second, false
	default:
		b.UDP(now+fastDelay(b), k.w.ks, portKeyServer, k.h, k.port, b.Text[1])
		return now + b.Jitter(k.period, 0.1), false
	}
}

// Supportworks rates at the busy site: a request on the main session every
// ~busyReq, a push on the notification socket every ~busyPush, always
// acknowledged.
const (
	busyReq  = 9 * time.Second
	busyPush = 2 * time.Minute
)

// XMLMC request and answer of the busy site's Supportworks clients at login.
const (
	xmlmcCall   = "POST /xmlmc/ HTTP/1.1\r\nHost: sw-app\r\nContent-Type: text/xmlmc\r\nContent-Length: 96\r\n\r\n<methodCall service=\"session\" method=\"getSessionInfo\"><params><sessionId/></params></methodCall>"
	xmlmcAnswer = "HTTP/1.1 200 OK\r\nContent-Type: text/xmlmc\r\nContent-Length: 88\r\n\r\n<methodCallResult status=\"ok\"><params><serverVersion>7.5.2</serverVersion></params></methodCallResult>"
)

// busySW is a Supportworks client: swPair's two connections and a short
// XMLMC call to 5015 at login, then requests on the main session and
// acknowledged pushes on the notification socket.
type busySW struct {
	w         *busyWorld
	h, srv    *Host
	session   string
	main, npa *Conn
	n, pushN  int
	nextReq   time.Duration
	nextPush  time.Duration
}

func (a *busySW) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	if a.main == nil {
		rtt := time.Duration(300+b.Rand.IntN(1700)) * time.Microsecond
		var t time.Duration
		a.main, a.npa, t = swPair(b, now, a.h, a.srv, Server, rtt, a.session, "user")
		// The client's XMLMC call at login (sw-xmlmc, 5015: 7.4.0 or later).
		x := NewConn(b, a.h, b.EphemeralPort(), a.srv, 5015, Server, rtt)
		xt := x.Open(t + 50*time.Millisecond)
		xt = x.Exchange(xt+time.Millisecond, Client, []byte(xmlmcCall), 4*time.Millisecond, []byte(xmlmcAnswer))
		x.Close(xt+time.Millisecond, Client)
		a.nextReq = t + b.Jitter(busyReq, 0.5)
		a.nextPush = t + b.Jitter(busyPush, 0.5)
		return min(a.nextReq, a.nextPush), false
	}
	if now >= a.nextPush {
		a.pushN++
		b.Text[0] = swPush(b.Text[0][:0], a.pushN, a.session)
		a.npa.Deliver(now, Server, b.Text[0])
		a.nextPush = now + b.Jitter(busyPush, 0.5)
	}
	if now >= a.nextReq {
		a.n++
		rows := 2 + b.Rand.IntN(6)
		if a.n%8 == 0 {
			rows = 20 + b.Rand.IntN(20) // a list view: one or two segments
		}
		b.Text[0], b.Text[1] = swRequest(b.Text[0][:0], a.n), swAnswer(b.Text[1][:0], a.n, rows)
		a.main.Exchange(now, Client, b.Text[0], time.Duration(1+b.Rand.IntN(15))*time.Millisecond, b.Text[1])
		a.nextReq = now + b.Jitter(busyReq, 0.5)
	}
	return min(a.nextReq, a.nextPush), false
}

// busyWeb is one ordinary HTTPS connection from a PC to a web server on
// the internet (one in ten over IPv6), held from its start to its end (20 s
// to 20 min later): a handshake (after a DNS lookup, one IPv4 connection in
// four), the TLS hellos, then a fetch every 2 to 16 s (a request and an
// answer of 300 B to 4 KB, or one time in five 8 KB to 100 KB, with an ACK
// every second segment) and an orderly close.
type busyWeb struct {
	w    *busyWorld
	v6   bool
	cli  Host
	c    *Conn
	end  time.Duration
	last time.Duration
}

func (f *busyWeb) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	w := f.w
	if f.c == nil {
		srv := w.web4[b.Rand.IntN(len(w.web4))]
		if f.v6 {
			srv = w.web6[b.Rand.IntN(len(w.web6))]
		}
		t := now
		if b.Rand.IntN(4) == 0 && !f.v6 {
			b.DNSLookup(t, 400*time.Microsecond, &f.cli, b.EphemeralPort(), w.resolver, "www.example.com", srv.Addr)
			t += time.Millisecond
		}
		rtt := time.Duration(8+b.Rand.IntN(80)) * time.Millisecond
		f.c = NewConn(b, &f.cli, b.EphemeralPort(), srv, 443, Client, rtt)
		t = f.c.Open(t)
		t = f.c.Exchange(t+time.Millisecond, Client, w.slice(b, 517), 2*time.Millisecond, w.slice(b, 2900+b.Rand.IntN(1500)))
		f.last = t
		return t + time.Duration(100+b.Rand.IntN(900))*time.Millisecond, false
	}
	if now >= f.end {
		f.c.Close(max(now, f.last+time.Millisecond), Client)
		return 0, true
	}
	c := f.c
	t := c.Send(now, Client, w.slice(b, 300+b.Rand.IntN(500)))
	t += c.RTT + time.Duration(2+b.Rand.IntN(40))*time.Millisecond
	// Answer sizes: mostly small objects, some large.
	size := 300 + b.Rand.IntN(4000)
	if b.Rand.IntN(5) == 0 {
		size = 8000 + b.Rand.IntN(92000)
	}
	for i := 0; size > 0; i++ {
		n := min(size, c.MSS)
		c.Send(t, Server, w.slice(b, n))
		size -= n
		if i%2 == 1 || size == 0 {
			c.Ack(t+c.Lag(Server), Client)
		}
		t += 120 * time.Microsecond
	}
	f.last = t + c.Lag(Server)
	return now + time.Duration(2000+b.Rand.IntN(14000))*time.Millisecond, false
}

// busyScanner is a vulnerability scanner at 10.99.0.10+k: once every sweep
// it sends one SYN to each of ScanHosts hosts x ScanPorts ports, in a random
// order, evenly spread over the sweep. Live hosts (every one of
// 198.51.100.0/24, one in five beyond) reset closed ports and answer their
// few open ports with a SYN-ACK that the scanner resets; the other hosts do
// not answer.
type busyScanner struct {
	rng   *rand.Rand
	h     *Host
	hosts []*Host
	live  []bool
	open  [][]uint16
	order []uint32
	i     int
	every time.Duration
	sweep time.Duration
	start time.Duration
}

// scanPorts is the scanners' port list: the usual suspects first, then
// the rest of 1-1024 and a few high ports up to ScanPorts.
var scanPorts = func() []uint16 {
	ports := []uint16{21, 22, 23, 25, 53, 80, 88, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636,
		993, 995, 1433, 1521, 2049, 3306, 3389, 5001, 5002, 5003, 5004, 5005, 5006, 5008, 5013, 5014, 5015, 5021,
		5432, 5900, 5985, 5986, 8080, 8443, 9000, 9090, 19283, 19315}
	seen := map[uint16]bool{}
	for _, p := range ports {
		seen[p] = true
	}
	for p := uint16(1); len(ports) < ScanPorts; p++ {
		if !seen[p] {
			ports = append(ports, p)
		}
	}
	return ports
}()

func newBusyScanner(w *busyWorld, o Options, k int, sweep time.Duration) *busyScanner {
	rng := rand.New(rand.NewPCG(o.Seed^0x5ca77e5ca77e, uint64(k)+1))
	n := o.ScanHosts * ScanPorts
	s := &busyScanner{rng: rng, sweep: sweep}
	if n > 0 {
		s.every = (sweep - sweep/60) / time.Duration(n)
	}
	s.h = &Host{Name: "scanner", Addr: netip.AddrFrom4([4]byte{10, 99, 0, byte(10 + k)}), MAC: w.router, TTL: ttlLinuxOneHop, ipID: uint16(rng.Uint32())}
	servers := map[netip.Addr]*Host{w.ks.Addr: w.ks, w.resolver.Addr: w.resolver}
	for _, h := range w.sw {
		servers[h.Addr] = h
	}
	for i := 0; i < o.ScanHosts; i++ {
		a := scanTarget(i)
		// The site's own servers keep their MAC and TTL; the other hosts of
		// the server subnet are VMs on it; beyond it, hosts a hop away.
		h := &Host{Name: "scanned", Addr: a, MAC: MAC(OUIVMware, 0x510000+uint32(i)), TTL: ttlWindows}
		if rng.IntN(3) == 0 {
			h.TTL = ttlLinux
		}
		if i >= 250 {
			h.MAC, h.TTL = w.router, h.TTL-1
		}
		srv := servers[a]
		if srv != nil {
			h.MAC, h.TTL = srv.MAC, srv.TTL
		}
		h.ipID = uint16(rng.Uint32()) // its own counter: see the scenario comment
		s.hosts = append(s.hosts, h)
		live := i < 250 || rng.IntN(5) == 0
		s.live = append(s.live, live)
		var open []uint16
		switch {
		case !live:
		case srv == w.ks:
			open = []uint16{80, 443, 3389}
		case srv == w.resolver:
			open = []uint16{22, 53}
		case srv != nil: // a Supportworks server: 5001, 5002 (SQL), 5005 (text), 5015 (XMLMC)
			open = []uint16{80, 135, 443, 445, 3389, 5001, 5002, 5005, 5015}
		case h.TTL == ttlLinux || h.TTL == ttlLinuxOneHop:
			open = []uint16{22, 443}
		default:
			open = []uint16{3389}
		}
		s.open = append(s.open, open)
	}
	return s
}

func (s *busyScanner) Step(b *Builder, now time.Duration) (time.Duration, bool) {
	n := len(s.hosts) * ScanPorts
	if n == 0 {
		return 0, true
	}
	if s.i == 0 {
		if s.order == nil {
			s.order = make([]uint32, n)
			for j := range s.order {
				s.order[j] = uint32(j)
			}
		}
		s.rng.Shuffle(n, func(i, j int) { s.order[i], s.order[j] = s.order[j], s.order[i] })
		s.start = now
	}
	probe := s.order[s.i]
	hi, port := int(probe)/ScanPorts, scanPorts[int(probe)%ScanPorts]
	dst := s.hosts[hi]
	sport := uint16(32768 + s.rng.IntN(28000))
	isn := s.rng.Uint32()
	b.TCPSegment(now, s.h, sport, dst, port, isn, 0, SYN, 1024, nil)
	if s.live[hi] {
		lag := time.Duration(200+s.rng.IntN(1800)) * time.Microsecond
		open := false
		for _, p := range s.open[hi] {
			open = open || p == port
		}
		if open {
			b.TCPSegment(now+lag, dst, port, s.h, sport, s.rng.Uint32(), isn+1, SYN|ACK, 65535, nil)
			b.TCPSegment(now+lag+100*time.Microsecond, s.h, sport, dst, port, isn+1, 0, RST, 0, nil)
		} else {
			b.TCPSegment(now+lag, dst, port, s.h, sport, 0, isn+1, RST|ACK, 0, nil)
		}
	}
	s.i++
	if s.i == n {
		s.i = 0
		return s.start + s.sweep, false // the next sweep
	}
	// Evenly spread, with a little jitter that never runs past the sweep.
	next := s.start + time.Duration(s.i)*s.every + time.Duration(s.rng.Int64N(int64(s.every)/2+1))
	return max(next, now), false
}
