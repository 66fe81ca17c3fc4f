package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// hostPort joins an address and a port, bracketing IPv6 literals.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, fmt.Sprint(port))
}

// tcpDialer returns a dialer bound to local (may be empty). keepalive <= 0
// disables TCP keepalives (Go enables them by default: the lab must not).
func tcpDialer(local string, timeout, keepalive time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if keepalive > 0 {
		d.KeepAlive = keepalive
		d.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: keepalive, Interval: keepalive, Count: 5}
	}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	return d
}

// listenTCP listens without Go's default TCP keepalive on accepted sockets.
func listenTCP(addr string) (*net.TCPListener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return l.(*net.TCPListener), nil
}

// acceptLoop accepts connections until the deadline and hands each to h.
func acceptLoop(l *net.TCPListener, deadline time.Time, h func(net.Conn)) {
	_ = l.SetDeadline(deadline)
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go h(c)
	}
}

// readLine reads one line with a timeout.
func readLine(c net.Conn, r *bufio.Reader, timeout time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	s, err := r.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

// udpNetwork returns "udp4" or "udp6" for an address literal.
func ipNet(proto, ip string) string {
	if strings.Contains(ip, ":") {
		return proto + "6"
	}
	return proto + "4"
}

// sleepUntil sleeps until t or the deadline, whichever is first; false when
// the deadline was reached.
func sleepUntil(t, deadline time.Time) bool {
	if t.After(deadline) {
		time.Sleep(time.Until(deadline))
		return false
	}
	time.Sleep(time.Until(t))
	return true
}
