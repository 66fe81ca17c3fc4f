package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

const (
	dnsTypeA    = 1
	dnsTypeAAAA = 28
)

// runDNS answers A/AAAA queries for fixed names (hand-encoded DNS, RFC 1035).
func runDNS(args []string) error {
	fs := flag.NewFlagSet("dns", flag.ExitOnError)
	addrs := fs.String("addrs", "203.0.113.53", "comma-separated listen addresses (UDP 53)")
	var rrs multiFlag
	fs.Var(&rrs, "rr", "NAME=ADDR[,ADDR...] (repeatable)")
	dur := fs.Duration("dur", 60*time.Second, "run time")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*dur)

	zone := map[string][]net.IP{}
	for _, rr := range rrs {
		name, list, ok := strings.Cut(rr, "=")
		if !ok {
			return fmt.Errorf("bad -rr %q", rr)
		}
		for _, a := range splitList(list) {
			ip := net.ParseIP(a)
			if ip == nil {
				return fmt.Errorf("bad address %q", a)
			}
			zone[strings.ToLower(strings.TrimSuffix(name, "."))] = append(zone[strings.ToLower(strings.TrimSuffix(name, "."))], ip)
		}
	}
	var wg sync.WaitGroup
	for _, a := range splitList(*addrs) {
		u, err := net.ListenUDP(ipNet("udp", a), &net.UDPAddr{IP: net.ParseIP(a), Port: 53})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer u.Close()
			_ = u.SetReadDeadline(deadline)
			buf := make([]byte, 1500)
			for i := 0; i < 10000; i++ {
				n, ra, err := u.ReadFromUDP(buf)
				if err != nil {
					return
				}
				resp, q, err := dnsAnswer(buf[:n], zone)
				if err != nil {
					log.Printf("bad query from %s: %v", ra, err)
					continue
				}
				log.Printf("%s asked %s", ra, q)
				_, _ = u.WriteToUDP(resp, ra)
			}
		}()
	}
	log.Printf("serving %d names on %s for %s", len(zone), *addrs, *dur)
	wg.Wait()
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// dnsName encodes a domain name as labels.
func dnsName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// parseQName reads an uncompressed name at off; returns name and next offset.
func parseQName(m []byte, off int) (string, int, error) {
	var labels []string
	for i := 0; i < 64; i++ {
		if off >= len(m) {
			return "", 0, errors.New("short name")
		}
		l := int(m[off])
		off++
		if l == 0 {
			return strings.Join(labels, "."), off, nil
		}
		if l&0xc0 != 0 || off+l > len(m) {
			return "", 0, errors.New("bad label")
		}
		labels = append(labels, string(m[off:off+l]))
		off += l
	}
	return "", 0, errors.New("name too long")
}

func dnsAnswer(q []byte, zone map[string][]net.IP) ([]byte, string, error) {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil, "", errors.New("not a single-question query")
	}
	name, off, err := parseQName(q, 12)
	if err != nil || off+4 > len(q) {
		return nil, "", errors.New("bad question")
	}
	qtype := binary.BigEndian.Uint16(q[off:])
	question := q[12 : off+4]
	var answers [][]byte
	ips, known := zone[strings.ToLower(name)]
	for _, ip := range ips {
		var rdata []byte
		switch {
		case qtype == dnsTypeA && ip.To4() != nil:
			rdata = ip.To4()
		case qtype == dnsTypeAAAA && ip.To4() == nil:
			rdata = ip.To16()
		default:
			continue
		}
		rr := []byte{0xc0, 12} // pointer to the question name
		rr = binary.BigEndian.AppendUint16(rr, qtype)
		rr = binary.BigEndian.AppendUint16(rr, 1) // IN
		rr = binary.BigEndian.AppendUint32(rr, 300)
		rr = binary.BigEndian.AppendUint16(rr, uint16(len(rdata)))
		answers = append(answers, append(rr, rdata...))
	}
	flags := uint16(0x8180) | uint16(q[2]&0x01)<<8 // QR, RD copied, RA
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp := append([]byte{}, q[0:2]...)
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = append(resp, 0, 0, 0, 0)
	resp = append(resp, question...)
	for _, a := range answers {
		resp = append(resp, a...)
	}
	t := "A"
	if qtype == dnsTypeAAAA {
		t = "AAAA"
	}
	return resp, fmt.Sprintf("%s %s (%d answers)", name, t, len(answers)), nil
}

// dnsLookup sends one query for name/qtype to server and returns the first
// address of that type in the answer.
func dnsLookup(local, server, name string, qtype uint16, timeout time.Duration) (net.IP, error) {
	u, err := net.ListenUDP(ipNet("udp", server), &net.UDPAddr{IP: net.ParseIP(local)})
	if err != nil {
		return nil, err
	}
	defer u.Close()
	id := uint16(rand.IntN(65536))
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0) // RD, 1 question
	q = append(q, dnsName(name)...)
	q = binary.BigEndian.AppendUint16(q, qtype)
	q = binary.BigEndian.AppendUint16(q, 1)
	to := &net.UDPAddr{IP: net.ParseIP(server), Port: 53}
	buf := make([]byte, 1500)
	for try := 0; try < 2; try++ {
		if _, err := u.WriteToUDP(q, to); err != nil {
			return nil, err
		}
		_ = u.SetReadDeadline(time.Now().Add(timeout))
		n, _, err := u.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		m := buf[:n]
		if n < 12 || binary.BigEndian.Uint16(m) != id {
			continue
		}
		if m[3]&0x0f != 0 {
			return nil, fmt.Errorf("%s: rcode %d", name, m[3]&0x0f)
		}
		an := int(binary.BigEndian.Uint16(m[6:]))
		_, off, err := parseQName(m, 12)
		if err != nil {
			return nil, err
		}
		off += 4
		for i := 0; i < an; i++ {
			// skip name (pointer or labels)
			if off < len(m) && m[off]&0xc0 == 0xc0 {
				off += 2
			} else if _, off, err = parseQName(m, off); err != nil {
				return nil, err
			}
			if off+10 > len(m) {
				return nil, errors.New("short answer")
			}
			t := binary.BigEndian.Uint16(m[off:])
			rdlen := int(binary.BigEndian.Uint16(m[off+8:]))
			off += 10
			if off+rdlen > len(m) {
				return nil, errors.New("short rdata")
			}
			if t == qtype {
				return net.IP(append([]byte{}, m[off:off+rdlen]...)), nil
			}
			off += rdlen
		}
		return nil, fmt.Errorf("%s: no answer of type %d", name, qtype)
	}
	return nil, fmt.Errorf("%s: DNS timeout", name)
}
