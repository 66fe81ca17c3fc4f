package dissect

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tsharkFields are compared with the decoder's, in this order.
var tsharkFields = []string{
	"frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.ttl", "ipv6.hlim", "ip.id",
	"tcp.srcport", "udp.srcport", "tcp.dstport", "udp.dstport", "tcp.flags", "tcp.seq_raw",
	"tcp.ack_raw", "tcp.window_size_value", "tcp.options.mss_val", "tcp.options.wscale.shift",
	"tcp.len", "udp.length", "icmp.type", "icmpv6.type", "icmp.code", "icmpv6.code",
}

// TestTsharkCrossCheck decodes the real captures with tshark and compares
// every frame's fields with ours.
func TestTsharkCrossCheck(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: skipping the cross-check (apt-get install tshark)")
	}
	files := []string{"eth.pcap", "eth_nano.pcap", "eth.pcapng", "dumpcap.pcapng", "multi.pcapng",
		"sll.pcap", "sll2.pcap", "vlan.pcap", "qinq.pcap", "raw.pcap", "null.pcap", "loop.pcap"}
	for _, file := range files {
		t.Run(strings.ReplaceAll(file, ".", "_"), func(t *testing.T) {
			path := filepath.Join("testdata", file)
			args := []string{"-r", path, "-n", "-E", "occurrence=f", "-T", "fields"}
			for _, f := range tsharkFields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			s, err := Open(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			pkts, _ := readAll(t, s)
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != len(pkts) {
				t.Fatalf("got %d packets; tshark has %d", len(pkts), len(lines))
			}
			for i, line := range lines {
				compareTshark(t, &pkts[i], strings.Split(line, "\t"))
			}
		})
	}
}

func compareTshark(t *testing.T, p *Packet, f []string) {
	t.Helper()
	v := map[string]string{}
	for i, name := range tsharkFields {
		if i < len(f) {
			v[name] = f[i]
		}
	}
	num := func(name string) string {
		s := v[name]
		if strings.HasPrefix(s, "0x") {
			n, _ := strconv.ParseUint(s[2:], 16, 64)
			return strconv.FormatUint(n, 10)
		}
		return s
	}
	either := func(a, b string) string { return v[a] + v[b] }
	opt := func(n uint64, present bool) string {
		if !present {
			return ""
		}
		return strconv.FormatUint(n, 10)
	}
	tcp, udp := p.Proto == ProtoTCP && !p.Fragment, p.Proto == ProtoUDP && !p.Fragment
	srcPort, dstPort := p.SrcPort, p.DstPort
	qtcp, qudp := false, false
	if p.HasQuoted {
		// tshark's first TCP/UDP occurrence in an ICMP error is the quote's.
		srcPort, dstPort = p.Quoted.SrcPort, p.Quoted.DstPort
		qtcp, qudp = p.Quoted.Proto == ProtoTCP, p.Quoted.Proto == ProtoUDP
	}
	type check struct{ name, got, want string }
	checks := []check{
		{"frame", strconv.FormatUint(p.Frame, 10), v["frame.number"]},
		{"src", addrStr(p), either("ip.src", "ipv6.src")},
		{"dst", dstStr(p), either("ip.dst", "ipv6.dst")},
		{"ttl", opt(uint64(p.TTL), p.IPVersion != 0), either("ip.ttl", "ipv6.hlim")},
		{"ipid", opt(uint64(p.IPID), p.IPVersion == 4), num("ip.id")},
		{"src port", opt(uint64(srcPort), tcp || udp || qtcp || qudp), either("tcp.srcport", "udp.srcport")},
		{"dst port", opt(uint64(dstPort), tcp || udp || qtcp || qudp), either("tcp.dstport", "udp.dstport")},
		{"icmp type", opt(uint64(p.ICMPType), p.Proto == ProtoICMP || p.Proto == ProtoICMPv6), either("icmp.type", "icmpv6.type")},
		{"icmp code", opt(uint64(p.ICMPCode), p.Proto == ProtoICMP || p.Proto == ProtoICMPv6), either("icmp.code", "icmpv6.code")},
	}
	if tcp {
		flags, _ := strconv.ParseUint(num("tcp.flags"), 10, 16)
		checks = append(checks,
			check{"flags", opt(uint64(p.TCPFlags), true), strconv.FormatUint(flags&0xFF, 10)},
			check{"seq", opt(uint64(p.Seq), true), v["tcp.seq_raw"]},
			check{"window", opt(uint64(p.Window), true), v["tcp.window_size_value"]},
			check{"payload", opt(uint64(p.PayloadLen), true), v["tcp.len"]},
			check{"mss", opt(uint64(p.MSS), p.MSS != 0), v["tcp.options.mss_val"]},
			check{"wscale", opt(uint64(p.WScale), p.WScale >= 0), v["tcp.options.wscale.shift"]},
		)
		if p.HasFlag(FlagACK) {
			checks = append(checks, check{"ack", opt(uint64(p.Ack), true), v["tcp.ack_raw"]})
		}
	}
	if udp {
		checks = append(checks, check{"udp payload", opt(uint64(p.PayloadLen+8), true), v["udp.length"]})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("frame %d %s: got %q; want %q (tshark)", p.Frame, c.name, c.got, c.want)
		}
	}
}

func addrStr(p *Packet) string {
	if !p.Src.IsValid() {
		return ""
	}
	return p.Src.String()
}

func dstStr(p *Packet) string {
	if !p.Dst.IsValid() {
		return ""
	}
	return p.Dst.String()
}
