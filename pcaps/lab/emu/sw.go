package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ---------------------------------------------------------------- server

type swSession struct {
	id      string
	user    string
	ended   chan struct{}
	endOnce sync.Once
}

func (s *swSession) end() { s.endOnce.Do(func() { close(s.ended) }) }

type swServer struct {
	deadline  time.Time
	pushFirst time.Duration
	pushEvery time.Duration
	pushMax   int
	pushPad   int

	mu       sync.Mutex
	nextID   int
	sessions map[string]*swSession
	udp      map[string]*net.UDPConn // local IP -> socket bound to port 5001
	mainPort int
}

func runSWServer(args []string) error {
	fs := flag.NewFlagSet("sw-server", flag.ExitOnError)
	addrs := fs.String("addrs", "198.51.100.10", "comma-separated listen addresses")
	mainPort := fs.Int("main-port", 5001, "binary requests + NPA port")
	textPort := fs.Int("text-port", 5005, "text request port (0 = off)")
	xmlmcPort := fs.Int("xmlmc-port", 5015, "XMLMC port (0 = off)")
	extra := fs.String("extra-ports", "", "comma-separated extra TCP ports that accept and hold (e.g. 5002 SQL)")
	dur := fs.Duration("dur", 60*time.Second, "run time")
	pushFirst := fs.Duration("push-first", 2*time.Second, "first notification push after registration")
	pushEvery := fs.Duration("push-every", 3*time.Second, "notification push interval")
	pushMax := fs.Int("push-max", 50, "max pushes per session")
	pushPad := fs.Int("push-pad", 40, "extra payload bytes per push")
	_ = fs.Parse(args)

	s := &swServer{
		deadline: time.Now().Add(*dur), pushFirst: *pushFirst, pushEvery: *pushEvery,
		pushMax: *pushMax, pushPad: *pushPad, sessions: map[string]*swSession{},
		udp: map[string]*net.UDPConn{}, mainPort: *mainPort,
	}
	var wg sync.WaitGroup
	serve := func(addr string, h func(net.Conn)) error {
		l, err := listenTCP(addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); defer l.Close(); acceptLoop(l, s.deadline, h) }()
		return nil
	}
	for _, a := range splitList(*addrs) {
		if err := serve(hostPort(a, *mainPort), s.handleMain); err != nil {
			return err
		}
		if *textPort > 0 {
			if err := serve(hostPort(a, *textPort), s.handleText); err != nil {
				return err
			}
		}
		if *xmlmcPort > 0 {
			l, err := listenTCP(hostPort(a, *xmlmcPort))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: http.HandlerFunc(xmlmcHandler), ReadHeaderTimeout: 5 * time.Second}
			srv.SetKeepAlivesEnabled(false) // XMLMC: one request per connection
			wg.Add(1)
			go func() { defer wg.Done(); _ = srv.Serve(l) }()
			go func() {
				time.Sleep(time.Until(s.deadline))
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
		}
		for _, p := range splitList(*extra) {
			port, err := strconv.Atoi(p)
			if err != nil {
				return err
			}
			if err := serve(hostPort(a, port), s.handleHold); err != nil {
				return err
			}
		}
	}
	log.Printf("listening on %s (main %d text %d xmlmc %d extra %q) for %s", *addrs, *mainPort, *textPort, *xmlmcPort, *extra, *dur)
	wg.Wait()
	s.mu.Lock()
	for _, u := range s.udp {
		u.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *swServer) handleMain(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "SW102: Hello[fwdiag-lab]\n"); err != nil {
		return
	}
	first, err := readLine(c, r, 10*time.Second)
	if err != nil {
		log.Printf("%s: no first message: %v", c.RemoteAddr(), err)
		return
	}
	switch {
	case strings.HasPrefix(first, "LOGIN "):
		s.mainSession(c, r, first)
	case strings.HasPrefix(first, "NOTIFY "):
		s.notifySession(c, first)
	default:
		log.Printf("%s: unknown first message %q", c.RemoteAddr(), first)
	}
}

func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func (s *swServer) mainSession(c net.Conn, r *bufio.Reader, login string) {
	s.mu.Lock()
	s.nextID++
	sess := &swSession{id: fmt.Sprintf("S%04d", s.nextID), user: field(login, "user"), ended: make(chan struct{})}
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	defer sess.end()
	log.Printf("main session %s user=%s from %s", sess.id, sess.user, c.RemoteAddr())
	if _, err := fmt.Fprintf(c, "OK session=%s server=fwdiag-lab version=7.4.1\n", sess.id); err != nil {
		return
	}
	if p, _ := strconv.Atoi(field(login, "udpport")); p > 0 {
		// Legacy UDP notifications: to the address the client connected
		// from (as seen here: after NAT, the NAT address) and the port it
		// announced, from our own port 5001.
		ra := c.RemoteAddr().(*net.TCPAddr)
		la := c.LocalAddr().(*net.TCPAddr)
		go s.udpPush(sess, la.IP, &net.UDPAddr{IP: ra.IP, Port: p})
	}
	for i := 0; i < 100000; i++ {
		line, err := readLine(c, r, time.Until(s.deadline))
		if err != nil {
			log.Printf("main session %s ended: %v", sess.id, err)
			return
		}
		switch {
		case strings.HasPrefix(line, "LOGOUT"):
			_, _ = io.WriteString(c, "BYE\n")
			log.Printf("main session %s logout", sess.id)
			return
		case strings.HasPrefix(line, "REQ"):
			n := field(line, "n")
			_, err = fmt.Fprintf(c, "DATA n=%s rows=3 %s\n", n, strings.Repeat("r", 60))
		default:
			_, err = io.WriteString(c, "ERR unknown\n")
		}
		if err != nil {
			return
		}
	}
}

func (s *swServer) pushMsg(sess *swSession, seq int) string {
	return fmt.Sprintf("NPA seq=%d session=%s table=opencall callref=%d action=update %s\n",
		seq, sess.id, 1000+seq, strings.Repeat("n", s.pushPad))
}

func (s *swServer) notifySession(c net.Conn, first string) {
	id := field(first, "session")
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		log.Printf("notify for unknown session %q from %s", id, c.RemoteAddr())
		_, _ = io.WriteString(c, "ERR no such session\n")
		return
	}
	log.Printf("notification socket for %s from %s", id, c.RemoteAddr())
	// The client sends nothing more here; its close (EOF) or a reset ends
	// the socket.
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_ = c.SetReadDeadline(s.deadline)
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<16))
	}()
	// Server-originated data only from here on.
	next := time.Now().Add(s.pushFirst)
	for seq := 1; seq <= s.pushMax; seq++ {
		t := time.NewTimer(time.Until(next))
		select {
		case <-sess.ended:
			t.Stop()
			log.Printf("notification socket for %s: main session ended, closing", id)
			return
		case <-gone:
			t.Stop()
			log.Printf("notification socket for %s closed by the client", id)
			return
		case <-t.C:
		}
		if !time.Now().Before(s.deadline) {
			return
		}
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, s.pushMsg(sess, seq)); err != nil {
			log.Printf("push %d to %s failed: %v", seq, id, err)
			return
		}
		log.Printf("push %d to %s", seq, id)
		next = next.Add(s.pushEvery)
	}
	select {
	case <-sess.ended:
	case <-gone:
	}
}

func (s *swServer) udpSocket(ip net.IP) (*net.UDPConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.udp[ip.String()]; u != nil {
		return u, nil
	}
	u, err := net.ListenUDP(ipNet("udp", ip.String()), &net.UDPAddr{IP: ip, Port: s.mainPort})
	if err != nil {
		return nil, err
	}
	s.udp[ip.String()] = u
	return u, nil
}

func (s *swServer) udpPush(sess *swSession, local net.IP, to *net.UDPAddr) {
	u, err := s.udpSocket(local)
	if err != nil {
		log.Printf("udp notifications for %s: %v", sess.id, err)
		return
	}
	log.Printf("udp notifications for %s to %s from port %d", sess.id, to, s.mainPort)
	next := time.Now().Add(s.pushFirst)
	for seq := 1; seq <= s.pushMax; seq++ {
		t := time.NewTimer(time.Until(next))
		select {
		case <-sess.ended:
			t.Stop()
			return
		case <-t.C:
		}
		if !time.Now().Before(s.deadline) {
			return
		}
		if _, err := u.WriteToUDP([]byte(s.pushMsg(sess, seq)), to); err != nil {
			log.Printf("udp push %d: %v", seq, err)
		}
		next = next.Add(s.pushEvery)
	}
}

func (s *swServer) handleText(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := io.WriteString(c, "+SWTEXT fwdiag-lab ready\r\n"); err != nil {
		return
	}
	for i := 0; i < 100; i++ {
		line, err := readLine(c, r, 10*time.Second)
		if err != nil {
			return
		}
		if strings.EqualFold(line, "QUIT") {
			_, _ = io.WriteString(c, "+OK bye\r\n")
			return
		}
		if _, err := fmt.Fprintf(c, "+OK %s\r\n", line); err != nil {
			return
		}
	}
}

func (s *swServer) handleHold(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(s.deadline)
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

func xmlmcHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/xmlmc" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
	w.Header().Set("Content-Type", "text/xmlmc; charset=UTF-8")
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><methodCallResult status="ok"><params><sessionId>fwdiag-lab</sessionId></params></methodCallResult>`)
}

// ---------------------------------------------------------------- client

func runSWClient(args []string) error {
	fs := flag.NewFlagSet("sw-client", flag.ExitOnError)
	server := fs.String("server", "198.51.100.10", "Supportworks server address")
	local := fs.String("local", "", "local address to bind")
	user := fs.String("user", "analyst", "login name")
	notify := fs.String("notify", "tcp", "notification mode: tcp, udp or none")
	keepalive := fs.Duration("keepalive", 0, "TCP keepalive idle/interval on the notification socket (0 = off)")
	secondDelay := fs.Duration("second-delay", 400*time.Millisecond, "delay between login and the notification connection")
	reqEvery := fs.Duration("req-every", 2*time.Second, "main-session request interval")
	textEvery := fs.Duration("text-every", 0, "5005 text request interval (0 = off)")
	xmlmcEvery := fs.Duration("xmlmc-every", 0, "5015 XMLMC request interval (0 = off)")
	sqlEvery := fs.Duration("sql-every", 0, "5002 SQL connection interval (0 = off)")
	kbEvery := fs.Duration("kb-every", 0, "5003 KnowledgeBase index connection interval (0 = off)")
	kbPort := fs.Int("kb-port", 5003, "")
	exportAt := fs.Duration("export-at", 0, "send an EXPORT request on the main session at this offset (0 = never)")
	dur := fs.Duration("dur", 30*time.Second, "session length")
	mainPort := fs.Int("main-port", 5001, "")
	textPort := fs.Int("text-port", 5005, "")
	xmlmcPort := fs.Int("xmlmc-port", 5015, "")
	sqlPort := fs.Int("sql-port", 5002, "")
	connTimeout := fs.Duration("connect-timeout", 6*time.Second, "TCP connect timeout")
	_ = fs.Parse(args)

	start := time.Now()
	deadline := start.Add(*dur)
	udpPort := 0
	var wg sync.WaitGroup
	if *notify == "udp" {
		u, err := net.ListenUDP(ipNet("udp", *server), &net.UDPAddr{IP: net.ParseIP(*local)})
		if err != nil {
			return err
		}
		defer u.Close()
		udpPort = u.LocalAddr().(*net.UDPAddr).Port
		log.Printf("%s: UDP notification socket on port %d", *user, udpPort)
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			n := 0
			_ = u.SetReadDeadline(deadline.Add(time.Second))
			for i := 0; i < 1000; i++ {
				if _, _, err := u.ReadFromUDP(buf); err != nil {
					break
				}
				n++
			}
			log.Printf("%s: %d UDP notifications received", *user, n)
		}()
	}

	d := tcpDialer(*local, *connTimeout, 0)
	mc, err := d.Dial("tcp", hostPort(*server, *mainPort))
	if err != nil {
		return fmt.Errorf("main session: %w", err)
	}
	defer mc.Close()
	mr := bufio.NewReader(mc)
	greet, err := readLine(mc, mr, 5*time.Second)
	if err != nil || !strings.HasPrefix(greet, "SW102: Hello[") {
		return fmt.Errorf("main session greeting %q: %v", greet, err)
	}
	fmt.Fprintf(mc, "LOGIN user=%s udpport=%d\n", *user, udpPort)
	ok, err := readLine(mc, mr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	sessID := field(ok, "session")
	log.Printf("%s: logged in %s from %s", *user, sessID, mc.LocalAddr())

	var nc net.Conn
	if *notify == "tcp" {
		time.Sleep(*secondDelay)
		nd := tcpDialer(*local, *connTimeout, *keepalive)
		nc, err = nd.Dial("tcp", hostPort(*server, *mainPort))
		if err != nil {
			// What the real client does: carry on without notifications.
			log.Printf("%s: notification connection failed: %v (continuing without notifications)", *user, err)
			nc = nil
		} else {
			nr := bufio.NewReader(nc)
			if g, err := readLine(nc, nr, 5*time.Second); err != nil || !strings.HasPrefix(g, "SW102: Hello[") {
				log.Printf("%s: notification greeting %q: %v", *user, g, err)
			}
			fmt.Fprintf(nc, "NOTIFY session=%s\n", sessID)
			log.Printf("%s: notification socket %s registered", *user, nc.LocalAddr())
			wg.Add(1)
			go func(c net.Conn, r *bufio.Reader) {
				defer wg.Done()
				n := 0
				for i := 0; i < 1000; i++ {
					if _, err := readLine(c, r, time.Until(deadline)+2*time.Second); err != nil {
						log.Printf("%s: notification socket ended after %d pushes: %v", *user, n, err)
						return
					}
					n++
				}
			}(nc, nr)
		}
	}

	// Side requests on other ports run in their own goroutines.
	side := func(every time.Duration, name string, f func() error) {
		if every <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(every)
			for i := 0; i < 100 && sleepUntil(next, deadline.Add(-time.Second)); i++ {
				if err := f(); err != nil {
					log.Printf("%s: %s: %v", *user, name, err)
				} else {
					log.Printf("%s: %s ok", *user, name)
				}
				next = next.Add(every)
			}
		}()
	}
	side(*textEvery, "text 5005", func() error { return swText(*local, hostPort(*server, *textPort), *connTimeout) })
	side(*xmlmcEvery, "xmlmc 5015", func() error { return swXMLMC(*local, hostPort(*server, *xmlmcPort), *connTimeout) })
	hold := func(port int, req string) func() error {
		return func() error {
			c, err := tcpDialer(*local, *connTimeout, 0).Dial("tcp", hostPort(*server, port))
			if err != nil {
				return err
			}
			_, _ = io.WriteString(c, req)
			time.Sleep(200 * time.Millisecond)
			return c.Close()
		}
	}
	side(*sqlEvery, "sql 5002", hold(*sqlPort, "SELECT 1\n"))
	side(*kbEvery, "kbindex 5003", hold(*kbPort, "SEARCH printer\n"))

	mainAlive := true
	exportDone := *exportAt <= 0
	next := start.Add(*reqEvery)
	for n := 1; n < 10000 && sleepUntil(next, deadline); n++ {
		req := fmt.Sprintf("REQ n=%d op=select table=opencall", n)
		if !exportDone && time.Since(start) >= *exportAt {
			// Starts with EXPORT so a firewall can match it at payload offset 0.
			req = fmt.Sprintf("EXPORT n=%d table=opencall rows=all", n)
			exportDone = true
		}
		_ = mc.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := fmt.Fprintf(mc, "%s\n", req); err != nil {
			log.Printf("%s: main session write: %v", *user, err)
			mainAlive = false
			break
		}
		if _, err := readLine(mc, mr, 5*time.Second); err != nil {
			log.Printf("%s: main session read: %v", *user, err)
			mainAlive = false
			break
		}
		next = next.Add(*reqEvery)
	}
	if mainAlive {
		fmt.Fprintf(mc, "LOGOUT\n")
		_, _ = readLine(mc, mr, 2*time.Second)
	}
	if nc != nil {
		nc.Close()
	}
	mc.Close()
	wg.Wait()
	log.Printf("%s: done", *user)
	return nil
}

func swText(local, addr string, timeout time.Duration) error {
	c, err := tcpDialer(local, timeout, 0).Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	g, err := readLine(c, r, 5*time.Second)
	if err != nil || !strings.HasPrefix(g, "+") {
		return fmt.Errorf("greeting %q: %v", g, err)
	}
	for _, cmd := range []string{"GETCALLCOUNT status=open", "QUIT"} {
		if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
			return err
		}
		if l, err := readLine(c, r, 5*time.Second); err != nil || !strings.HasPrefix(l, "+OK") {
			return fmt.Errorf("answer %q: %v", l, err)
		}
	}
	return nil
}

func swXMLMC(local, addr string, timeout time.Duration) error {
	d := tcpDialer(local, timeout, 0)
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: timeout + 3*time.Second}
	body := `<?xml version="1.0" encoding="utf-8"?><methodCall service="session" method="getSessionInfo"><params/></methodCall>`
	resp, err := cl.Post("http://"+addr+"/xmlmc", "text/xmlmc", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}
