package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"
)

// ---------------------------------------------------------------- server

type ksPeer struct {
	last    time.Time // last datagram from the peer
	tickled bool
}

func runKSServer(args []string) error {
	fs := flag.NewFlagSet("ks-server", flag.ExitOnError)
	addrs := fs.String("addrs", "198.51.100.20", "comma-separated listen addresses")
	port := fs.Int("port", 19283, "UDP port (19283 KeyServer, 19315 KeyShadow)")
	tcp := fs.Bool("tcp", true, "also listen on TCP (admin / report queries)")
	name := fs.String("name", "KeyServer", "name in answers")
	lateEvery := fs.Int("late-every", 0, "answer every Nth request of each client address late (0 = never)")
	lateDelay := fs.Duration("late-delay", 8*time.Second, "delay of the late answers")
	tickleAfter := fs.Duration("tickle-after", 0, "send one server-originated tickle to a client port silent this long (0 = off)")
	dur := fs.Duration("dur", 60*time.Second, "run time")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*dur)

	var wg sync.WaitGroup
	for _, a := range splitList(*addrs) {
		u, err := net.ListenUDP(ipNet("udp", a), &net.UDPAddr{IP: net.ParseIP(a), Port: *port})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer u.Close()
			ksUDP(u, *name, *lateEvery, *lateDelay, *tickleAfter, deadline)
		}()
		if *tcp {
			l, err := listenTCP(hostPort(a, *port))
			if err != nil {
				return err
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer l.Close(); acceptLoop(l, deadline, ksAdmin) }()
		}
	}
	log.Printf("%s on %s port %d (tcp %v, late every %d by %s, tickle after %s) for %s",
		*name, *addrs, *port, *tcp, *lateEvery, *lateDelay, *tickleAfter, *dur)
	wg.Wait()
	return nil
}

func ksUDP(u *net.UDPConn, name string, lateEvery int, lateDelay, tickleAfter time.Duration, deadline time.Time) {
	var mu sync.Mutex
	count := map[string]int{}     // per client IP
	peers := map[string]*ksPeer{} // per client ip:port
	addrOf := map[string]*net.UDPAddr{}
	if tickleAfter > 0 {
		go func() {
			for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
				time.Sleep(250 * time.Millisecond)
				mu.Lock()
				for k, p := range peers {
					if !p.tickled && time.Since(p.last) >= tickleAfter {
						p.tickled = true
						log.Printf("%s: tickle %s after %s of silence", name, k, time.Since(p.last).Round(time.Millisecond))
						_, _ = u.WriteToUDP([]byte(fmt.Sprintf("KS %s TICKLE\n", name)), addrOf[k])
					}
				}
				mu.Unlock()
			}
		}()
	}
	buf := make([]byte, 2048)
	_ = u.SetReadDeadline(deadline)
	for i := 0; i < 100000; i++ {
		n, ra, err := u.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := strings.TrimSpace(string(buf[:n]))
		mu.Lock()
		k := ra.String()
		if peers[k] == nil {
			peers[k] = &ksPeer{}
			addrOf[k] = ra
		}
		peers[k].last = time.Now()
		peers[k].tickled = false
		if strings.Contains(msg, "TICKLE-ACK") {
			mu.Unlock()
			continue
		}
		count[ra.IP.String()]++
		c := count[ra.IP.String()]
		mu.Unlock()
		reply := []byte(fmt.Sprintf("KS %s ACK %s status=ok seats=25 inuse=%d\n", name, field(msg, "seq"), c%25))
		if lateEvery > 0 && c%lateEvery == 0 {
			log.Printf("%s: request %d from %s answered late (%s)", name, c, ra, lateDelay)
			go func(to *net.UDPAddr, b []byte) {
				if sleepUntil(time.Now().Add(lateDelay), deadline) {
					_, _ = u.WriteToUDP(b, to)
					mu.Lock()
					if p := peers[to.String()]; p != nil {
						p.last = time.Now()
					}
					mu.Unlock()
				}
			}(ra, reply)
			continue
		}
		_, _ = u.WriteToUDP(reply, ra)
		mu.Lock()
		peers[k].last = time.Now()
		mu.Unlock()
	}
}

func ksAdmin(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "/0 0 KeyServer fwdiag-lab 8.1\n"); err != nil {
		return
	}
	for i := 0; i < 100; i++ {
		line, err := readLine(c, r, 10*time.Second)
		if err != nil {
			return
		}
		if _, err := fmt.Fprintf(c, "/0 0 OK %s rows=4\n", line); err != nil {
			return
		}
	}
}

// ---------------------------------------------------------------- client

func runKSClient(args []string) error {
	fs := flag.NewFlagSet("ks-client", flag.ExitOnError)
	server := fs.String("server", "198.51.100.20", "KeyServer address")
	port := fs.Int("port", 19283, "KeyServer UDP port")
	shadow := fs.String("shadow", "", "shadow hint address (KeyShadow, UDP 19315); empty = none")
	shadowPort := fs.Int("shadow-port", 19315, "KeyShadow UDP port")
	local := fs.String("local", "", "local address to bind")
	host := fs.String("host", "pc", "client name in requests")
	every := fs.Duration("every", 2*time.Second, "interval between answered requests")
	timeout := fs.Duration("timeout", 3*time.Second, "wait for an answer before rebinding")
	failAfter := fs.Int("fail-after", 3, "unanswered tries before failing over to the shadow")
	maxReq := fs.Int("max", 50, "max requests")
	dur := fs.Duration("dur", 30*time.Second, "run time")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*dur)

	bind := func() (*net.UDPConn, error) {
		return net.ListenUDP(ipNet("udp", *server), &net.UDPAddr{IP: net.ParseIP(*local)})
	}
	u, err := bind()
	if err != nil {
		return err
	}
	defer func() { u.Close() }()
	target := &net.UDPAddr{IP: net.ParseIP(*server), Port: *port}
	onShadow := false
	unanswered := 0
	answered, rebinds := 0, 0
	buf := make([]byte, 2048)
	for seq := 1; seq <= *maxReq && time.Now().Before(deadline); seq++ {
		msg := fmt.Sprintf("KA REQ seq=%d host=%s op=checkout product=office\n", seq, *host)
		if _, err := u.WriteToUDP([]byte(msg), target); err != nil {
			log.Printf("%s: send: %v", *host, err)
		}
		got := false
		wait := time.Now().Add(*timeout)
		if wait.After(deadline) {
			wait = deadline
		}
		for j := 0; j < 20; j++ {
			_ = u.SetReadDeadline(wait)
			n, ra, err := u.ReadFromUDP(buf)
			if err != nil {
				break
			}
			reply := string(buf[:n])
			if strings.Contains(reply, "TICKLE") {
				log.Printf("%s: tickled by %s", *host, ra)
				_, _ = u.WriteToUDP([]byte(fmt.Sprintf("KA TICKLE-ACK host=%s\n", *host)), ra)
				continue
			}
			if strings.Contains(reply, fmt.Sprintf("seq=%d ", seq)) || strings.Contains(reply, fmt.Sprintf("ACK %d ", seq)) {
				got = true
				break
			}
			log.Printf("%s: stale answer %q", *host, strings.TrimSpace(reply))
		}
		if got {
			answered++
			unanswered = 0
			// Idle until the next request, but keep listening: a tickle
			// from the server is acknowledged at once.
			next := time.Now().Add(*every)
			if next.After(deadline) {
				next = deadline
			}
			for j := 0; j < 20 && time.Now().Before(next); j++ {
				_ = u.SetReadDeadline(next)
				n, ra, err := u.ReadFromUDP(buf)
				if err != nil {
					break
				}
				if strings.Contains(string(buf[:n]), "TICKLE") {
					log.Printf("%s: tickled by %s", *host, ra)
					_, _ = u.WriteToUDP([]byte(fmt.Sprintf("KA TICKLE-ACK host=%s\n", *host)), ra)
				}
			}
			if !time.Now().Before(deadline) {
				break
			}
			continue
		}
		unanswered++
		log.Printf("%s: request %d to %s unanswered (%d in a row), rebinding", *host, seq, target, unanswered)
		u.Close()
		if u, err = bind(); err != nil {
			return err
		}
		rebinds++
		if unanswered >= *failAfter && *shadow != "" && !onShadow {
			target = &net.UDPAddr{IP: net.ParseIP(*shadow), Port: *shadowPort}
			onShadow = true
			unanswered = 0
			log.Printf("%s: failing over to shadow %s", *host, target)
		}
	}
	log.Printf("%s: done: %d answered, %d rebinds, shadow=%v", *host, answered, rebinds, onShadow)
	return nil
}
