package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// selfSigned makes a throwaway certificate for the stand-in names.
func selfSigned(names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"fwdiag lab stand-in"}},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// runWeb is the prs.sassafras.com / www.sassafras.com stand-in.
func runWeb(args []string) error {
	fs := flag.NewFlagSet("web", flag.ExitOnError)
	addrs := fs.String("addrs", "203.0.113.10,203.0.113.11", "comma-separated listen addresses")
	names := fs.String("names", "prs.sassafras.com,www.sassafras.com", "certificate names")
	dur := fs.Duration("dur", 60*time.Second, "run time")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*dur)
	cert, err := selfSigned(splitList(*names))
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case strings.HasPrefix(r.URL.Path, "/prs"):
			fmt.Fprintf(w, "product-definitions 2026.11 count=3\n")
		default:
			fmt.Fprintf(w, "K2 latest 8.1.0.2\n")
		}
	})
	var wg sync.WaitGroup
	var servers []*http.Server
	for _, a := range splitList(*addrs) {
		for _, useTLS := range []bool{false, true} {
			port := 80
			if useTLS {
				port = 443
			}
			l, err := listenTCP(hostPort(a, port))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			srv.SetKeepAlivesEnabled(false)
			servers = append(servers, srv)
			wg.Add(1)
			if useTLS {
				// Hand-rolled HTTPS exchange so that both sides read the
				// peer's close_notify before closing: no RST at the end.
				cfg := &tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true}
				go func() {
					defer wg.Done()
					defer l.Close()
					acceptLoop(l, deadline, func(c net.Conn) { serveTLSOnce(c, cfg) })
				}()
			} else {
				go func() { defer wg.Done(); _ = srv.Serve(l) }()
			}
		}
	}
	log.Printf("web stand-in on %s (80, 443) for %s", *addrs, *dur)
	time.Sleep(time.Until(deadline))
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	wg.Wait()
	return nil
}

// serveTLSOnce answers one HTTPS request and closes cleanly.
func serveTLSOnce(raw net.Conn, cfg *tls.Config) {
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Server(raw, cfg)
	r := bufio.NewReader(c)
	req, err := http.ReadRequest(r)
	if err != nil {
		return
	}
	body := "K2 latest 8.1.0.2\n"
	if strings.HasPrefix(req.URL.Path, "/prs") {
		body = "product-definitions 2026.11 count=3\n"
	}
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	_ = c.CloseWrite() // close_notify
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<16))
}

// httpsGet: one HTTPS GET with SNI host, reading to EOF before closing.
func httpsGet(local string, ip net.IP, host string, port int, path string, timeout time.Duration) error {
	addr := hostPort(ip.String(), port)
	raw, err := tcpDialer(local, timeout, 0).Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(timeout + 2*time.Second))
	c := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		return err
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: fwdiag-lab\r\nConnection: close\r\n\r\n", path, host)
	resp, err := io.ReadAll(io.LimitReader(c, 1<<16))
	if err != nil {
		return err
	}
	status, _, _ := strings.Cut(string(resp), "\r\n")
	log.Printf("GET https://%s%s via %s: %s", host, path, addr, status)
	return c.Close()
}

// httpGet fetches url with the connection going to ip (already resolved by
// the lab DNS), bound to local. useTLS: HTTPS with SNI = host, no verification
// (the stand-in's certificate is self-signed).
func httpGet(local string, ip net.IP, host string, port int, path string, useTLS bool, timeout time.Duration) error {
	if useTLS {
		return httpsGet(local, ip, host, port, path, timeout)
	}
	d := tcpDialer(local, timeout, 0)
	addr := hostPort(ip.String(), port)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{ServerName: host, InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: timeout + 2*time.Second}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s%s", scheme, host, path)
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	log.Printf("GET %s via %s: %s", url, addr, resp.Status)
	return nil
}

func lookup(local, dns, name string, v6 bool) (net.IP, error) {
	t := uint16(dnsTypeA)
	if v6 {
		t = dnsTypeAAAA
	}
	ip, err := dnsLookup(local, dns, name, t, 2*time.Second)
	if err == nil {
		log.Printf("resolved %s = %s", name, ip)
	}
	return ip, err
}

// runKeyConfigure emulates the K2 admin console start-up and a short session.
func runKeyConfigure(args []string) error {
	fs := flag.NewFlagSet("keyconfigure", flag.ExitOnError)
	local := fs.String("local", "", "local address")
	dns := fs.String("dns", "203.0.113.53", "DNS resolver")
	ks := fs.String("ks", "198.51.100.20", "KeyServer address")
	shadow := fs.String("shadow", "", "KeyShadow address to query for status (UDP 19315); empty = none")
	www := fs.String("www", "www.sassafras.com", "version check host (HTTP 80)")
	prs := fs.String("prs", "prs.sassafras.com", "PRS host (HTTPS 443)")
	v6 := fs.Bool("6", false, "resolve AAAA instead of A")
	timeout := fs.Duration("connect-timeout", 6*time.Second, "TCP connect timeout")
	_ = fs.Parse(args)

	// 1. Version check at launch: DNS then HTTP 80 to www.sassafras.com.
	if ip, err := lookup(*local, *dns, *www, *v6); err != nil {
		log.Printf("version check: %v", err)
	} else if err := httpGet(*local, ip, *www, 80, "/K2/version.txt", false, *timeout); err != nil {
		log.Printf("version check failed (slow launch): %v", err)
	}
	// 2. Admin session: UDP 19283 then TCP 19283 from this host.
	if err := kcUDP(*local, *ks, 19283, 3); err != nil {
		log.Printf("admin UDP: %v", err)
	}
	if err := kcTCP(*local, *ks, *timeout); err != nil {
		log.Printf("admin TCP: %v", err)
	}
	if *shadow != "" {
		if err := kcUDP(*local, *shadow, 19315, 1); err != nil {
			log.Printf("shadow status: %v", err)
		}
	}
	// 3. Find Product Definitions: HTTPS 443 to prs.sassafras.com.
	if ip, err := lookup(*local, *dns, *prs, *v6); err != nil {
		log.Printf("prs: %v", err)
	} else if err := httpGet(*local, ip, *prs, 443, "/prs/search?q=office", true, *timeout); err != nil {
		log.Printf("prs search failed: %v", err)
	}
	log.Printf("done")
	return nil
}

func kcUDP(local, server string, port, n int) error {
	u, err := net.ListenUDP(ipNet("udp", server), &net.UDPAddr{IP: net.ParseIP(local)})
	if err != nil {
		return err
	}
	defer u.Close()
	to := &net.UDPAddr{IP: net.ParseIP(server), Port: port}
	buf := make([]byte, 2048)
	for i := 1; i <= n; i++ {
		if _, err := u.WriteToUDP([]byte(fmt.Sprintf("KC ADMIN seq=%d op=status\n", i)), to); err != nil {
			return err
		}
		_ = u.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, _, err := u.ReadFromUDP(buf); err != nil {
			return fmt.Errorf("%s: %w", to, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	log.Printf("admin UDP to %s: %d answered", to, n)
	return nil
}

func kcTCP(local, server string, timeout time.Duration) error {
	c, err := tcpDialer(local, timeout, 0).Dial("tcp", hostPort(server, 19283))
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	g, err := readLine(c, r, 5*time.Second)
	if err != nil || !strings.HasPrefix(g, "/0 0 ") {
		return fmt.Errorf("greeting %q: %v", g, err)
	}
	for _, q := range []string{"/0 0 list computers", "/0 0 list products"} {
		fmt.Fprintf(c, "%s\n", q)
		if _, err := readLine(c, r, 5*time.Second); err != nil {
			return err
		}
	}
	log.Printf("admin TCP to %s ok", c.RemoteAddr())
	return nil
}

// runKSPRS emulates ks-prs on the KeyServer host.
func runKSPRS(args []string) error {
	fs := flag.NewFlagSet("ks-prs", flag.ExitOnError)
	local := fs.String("local", "", "local address")
	dns := fs.String("dns", "203.0.113.53", "DNS resolver")
	prs := fs.String("prs", "prs.sassafras.com", "PRS host")
	httpFallback := fs.Bool("http-fallback", false, "try HTTP 80 when HTTPS fails")
	v6 := fs.Bool("6", false, "resolve AAAA instead of A")
	timeout := fs.Duration("connect-timeout", 6*time.Second, "TCP connect timeout")
	_ = fs.Parse(args)
	ip, err := lookup(*local, *dns, *prs, *v6)
	if err != nil {
		return err
	}
	if err := httpGet(*local, ip, *prs, 443, "/prs/update?since=2026-11-01", true, *timeout); err != nil {
		log.Printf("PRS over HTTPS failed: %v", err)
		if *httpFallback {
			if err := httpGet(*local, ip, *prs, 80, "/prs/update?since=2026-11-01", false, *timeout); err != nil {
				log.Printf("PRS over HTTP failed: %v", err)
			}
		}
	}
	log.Printf("done")
	return nil
}
