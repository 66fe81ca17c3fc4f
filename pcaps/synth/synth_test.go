package synth

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var smallScenarios = []string{"npa-idle-2h", "npa-idle-risk", "k2-late-7m-15m", "k2-late-client-side"}

// gen generates a scenario into memory with the default options.
func gen(t testing.TB, name string, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Generate(&buf, name, "pcap", o); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return buf.Bytes()
}

// smallVolume is a volume run small enough for unit tests but with every
// kind of traffic in it (IPv6, ICMP, DNS, the scan, both floods).
func smallVolume() Options {
	o := DefaultOptions()
	o.Packets, o.K2Clients, o.SWClients, o.Flows, o.SYNFlood, o.UDPFlood = 60000, 200, 100, 600, 2000, 2000
	o.Duration = 20 * time.Minute
	return o
}

// testOptions are the options the tests generate scenario name with: the
// defaults for the small scenarios, small runs of the large ones.
func testOptions(name string) Options {
	switch name {
	case "volume":
		return smallVolume()
	case "busysite":
		return smallBusy()
	}
	return DefaultOptions()
}

// writeTemp generates a scenario into a temporary file for external tools.
func writeTemp(t *testing.T, name string, o Options) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".pcap")
	if err := os.WriteFile(p, gen(t, name, o), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeterministic(t *testing.T) {
	for _, name := range append(smallScenarios, "volume", "busysite") {
		o := testOptions(name)
		a, b := sha256.Sum256(gen(t, name, o)), sha256.Sum256(gen(t, name, o))
		if a != b {
			t.Errorf("%s: two runs differ: %x vs %x", name, a, b)
		}
		o.Seed++
		if c := sha256.Sum256(gen(t, name, o)); c == a {
			t.Errorf("%s: seed does not change the output", name)
		}
	}
}

// TestCommittedCaptures checks that the captures in pcaps/captures/synth-*
// are what the code generates now: SCENARIO.md frame numbers rely on it.
func TestCommittedCaptures(t *testing.T) {
	for _, name := range smallScenarios {
		want, err := os.ReadFile(filepath.Join("..", "captures", "synth-"+name, "capture.pcap"))
		if err != nil {
			t.Skipf("committed capture missing: %v", err)
		}
		if got := gen(t, name, DefaultOptions()); !bytes.Equal(got, want) {
			t.Errorf("%s: generator output differs from the committed capture; run pcaps/synth/regen.sh and update SCENARIO.md", name)
		}
	}
}

// tshark runs tshark and returns its stdout, skipping when it is missing.
func tshark(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: skipping the Wireshark cross-check")
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	return string(out)
}

// counts returns how many frames of file each display filter selects, from
// one tshark pass (tshark takes up to seconds to start): every filter is an
// io,phs tap, which selects exactly the frames -Y would. prefs are -o
// preferences for the pass.
func counts(t *testing.T, file string, prefs []string, filters ...string) []int {
	t.Helper()
	args := []string{"-r", file, "-q"}
	for _, p := range prefs {
		args = append(args, "-o", p)
	}
	for _, f := range filters {
		args = append(args, "-z", "io,phs,"+f)
	}
	return phsCounts(t, tshark(t, args...), filters)
}

// phsCounts reads each filter's frame count from tshark's "Protocol
// Hierarchy Statistics" sections: the section naming the filter on its
// "Filter: " line, the sum of its top-level protocol rows ("eth
// frames:38 bytes:3345"; none when nothing matched). A filter without its
// section fails the test. (pcaps/golden_test.go reads them the same way.)
func phsCounts(t *testing.T, out string, filters []string) []int {
	t.Helper()
	frames := map[string]int{}
	inPhs, filter := false, ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "====="):
			inPhs, filter = false, ""
		case line == "Protocol Hierarchy Statistics":
			inPhs = true
		case inPhs && strings.HasPrefix(line, "Filter: "):
			filter = strings.TrimPrefix(line, "Filter: ")
			frames[filter] += 0
		case inPhs && filter != "" && line != "" && line[0] != ' ':
			_, rest, _ := strings.Cut(line, " frames:")
			n, err := strconv.Atoi(strings.Fields(rest + " x")[0])
			if err != nil {
				t.Fatalf("unexpected protocol hierarchy row %q", line)
			}
			frames[filter] += n
		}
	}
	n := make([]int, len(filters))
	for i, f := range filters {
		c, ok := frames[f]
		if !ok {
			t.Fatalf("tshark gave no statistics for filter %q:\n%s", f, out)
		}
		n[i] = c
	}
	return n
}

func TestTsharkDecodes(t *testing.T) {
	for _, name := range append(smallScenarios, "volume", "busysite") {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := writeTemp(t, name, testOptions(name))
			// tshark labels UDP 54328 (an ephemeral port here) Elasticsearch
			// discovery; that heuristic is not a defect of the capture.
			malformed := "_ws.malformed && !elasticsearch"
			out := tshark(t, "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp", "-z", "io,phs,"+malformed)
			if !strings.Contains(out, "TCP Conversations") || !strings.Contains(out, "UDP Conversations") {
				t.Errorf("%s: tshark conv output unexpected:\n%s", name, out)
			}
			if n := phsCounts(t, out, []string{malformed})[0]; n != 0 {
				t.Errorf("%s: %d malformed frames", name, n)
			}
			bad := "tcp.checksum.status==0 || udp.checksum.status==0 || ip.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0"
			if n := counts(t, f, []string{"tcp.check_checksum:TRUE", "udp.check_checksum:TRUE", "ip.check_checksum:TRUE"}, bad)[0]; n != 0 {
				t.Errorf("%s: %d frames with bad checksums", name, n)
			}
		})
	}
}

func TestTsharkNPAAnalysis(t *testing.T) {
	for _, c := range []struct {
		name             string
		retrans, keepAlv int
		resets           int
	}{
		{"npa-idle-2h", npaRetries, 0, 1},
		{"npa-idle-risk", 0, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := writeTemp(t, c.name, DefaultOptions())
			n := counts(t, f, nil,
				"tcp.analysis.retransmission",
				"tcp.analysis.keep_alive",
				"tcp.flags.reset==1",
				"tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order",
				`tcp.payload contains "SW102: Hello["`)
			if n[0] != c.retrans {
				t.Errorf("%s: %d retransmissions, want %d", c.name, n[0], c.retrans)
			}
			if n[1] != c.keepAlv {
				t.Errorf("%s: %d keep-alives, want %d", c.name, n[1], c.keepAlv)
			}
			if n[2] != c.resets {
				t.Errorf("%s: %d resets, want %d", c.name, n[2], c.resets)
			}
			if n[3] != 0 {
				t.Errorf("%s: %d seq/ack anomalies: sequence arithmetic is wrong", c.name, n[3])
			}
			if n[4] != 2 {
				t.Errorf("%s: %d greetings, want 2 (main + notification)", c.name, n[4])
			}
		})
	}
}

// TestConnPrimitives cross-checks the TCP building blocks the small
// scenarios do not all use: SYN retransmissions, keep-alives, ICMP quotes.
func TestConnPrimitives(t *testing.T) {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(w, 7)
	cli := NewHost(b.Rand, "c", addr("192.0.2.1"), MAC(OUIIntel, 1), 128)
	srv := NewHost(b.Rand, "s", addr("198.51.100.1"), MAC(OUIVMware, 2), 63)
	c := NewConn(b, cli, 50000, srv, 5001, Client, 10*time.Millisecond)
	at := c.SYNs(0, 2)
	at = c.Open(at)
	at = c.Exchange(at+time.Second, Client, []byte("hello"), time.Millisecond, bytes.Repeat([]byte("x"), 4000))
	at = c.KeepAlive(at+time.Minute, Client, true)
	at = c.KeepAlive(at+time.Minute, Client, true)
	c.Close(at+time.Second, Client)
	blocked := NewConn(b, cli, 50001, srv, 5002, Client, 10*time.Millisecond)
	blocked.SYNs(10*time.Minute, 0)
	b.ICMPUnreachable(10*time.Minute+time.Millisecond, srv, cli, CodeAdminProhibited, b.QuoteLast())
	if err := finish(b); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "prim.pcap")
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	n := counts(t, f, nil,
		"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission && tcp.port==5001",
		"tcp.analysis.keep_alive",
		"tcp.analysis.keep_alive_ack",
		"icmp.type==3 && icmp.code==13 && tcp.dstport==5002")
	if n[0] != 3 {
		t.Errorf("%d SYN retransmissions, want 3", n[0])
	}
	if n[1] != 2 {
		t.Errorf("%d keep-alives, want 2", n[1])
	}
	if n[2] != 2 {
		t.Errorf("%d keep-alive ACKs, want 2", n[2])
	}
	if n[3] != 1 {
		t.Errorf("ICMP admin-prohibited quoting the SYN: %d, want 1", n[3])
	}
}

// readUDP returns the UDP datagrams of a capture with their times.
func readUDP(t *testing.T, data []byte, fn func(ts time.Time, ip *layers.IPv4, u *layers.UDP)) {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip != nil && u != nil && u.SrcPort != 53 && u.DstPort != 53 {
			fn(ci.Timestamp, ip, u)
		}
	}
}

// lateDatagrams returns the silences (rounded to ms) before every
// server-to-client datagram longer than limit, per SPEC's definition: time
// since the flow's previous packet in either direction.
func lateDatagrams(t *testing.T, data []byte, limit time.Duration) []time.Duration {
	last := map[string]time.Time{}
	var late []time.Duration
	readUDP(t, data, func(ts time.Time, ip *layers.IPv4, u *layers.UDP) {
		fromServer := u.SrcPort == portKeyServer || u.SrcPort == portKeyShadow
		key := ip.SrcIP.String() + ":" + u.SrcPort.String() + "-" + ip.DstIP.String() + ":" + u.DstPort.String()
		if fromServer {
			key = ip.DstIP.String() + ":" + u.DstPort.String() + "-" + ip.SrcIP.String() + ":" + u.SrcPort.String()
		}
		if prev, ok := last[key]; ok && fromServer && ts.Sub(prev) > limit {
			late = append(late, ts.Sub(prev).Round(time.Millisecond))
		}
		last[key] = ts
	})
	return late
}

func TestK2Silences(t *testing.T) {
	got := lateDatagrams(t, gen(t, "k2-late-7m-15m", DefaultOptions()), 60*time.Second)
	want := []time.Duration{k2TickleAfter, k2Late7, k2LateC, k2Late15}
	if len(got) != len(want) {
		t.Fatalf("late datagrams %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("late datagram %d: silence %v, want %v", i, got[i], want[i])
		}
	}
	if got := lateDatagrams(t, gen(t, "k2-late-client-side", DefaultOptions()), time.Second); len(got) != 0 {
		t.Errorf("client side must show no late datagram, got %v", got)
	}
}

func TestVolumeStreams(t *testing.T) {
	o := smallVolume()
	data := gen(t, "volume", o)
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var n, flood, udpFlood int
	var prev time.Time
	srcs, udpSrcs := map[[6]byte]bool{}, map[[4]byte]bool{}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(prev) {
			t.Fatalf("packet %d goes back in time: %v < %v", n+1, ci.Timestamp, prev)
		}
		prev = ci.Timestamp
		n++
		// Flood SYNs: to 203.0.113.100:443 with window 1024.
		if len(d) >= 54 && d[23] == 6 && bytes.Equal(d[30:34], []byte{203, 0, 113, 100}) && d[47] == 0x02 && d[48] == 4 && d[49] == 0 {
			var k [6]byte
			copy(k[:4], d[26:30])
			copy(k[4:], d[34:36])
			srcs[k] = true
			flood++
		}
		// UDP flood datagrams: from 10.0.0.0/8 to the KeyServer's 19283.
		if len(d) >= 42 && d[23] == 17 && d[26] == 10 && bytes.Equal(d[30:34], []byte{198, 51, 100, 20}) && d[36] == 19283>>8 && d[37] == 19283&0xff {
			udpSrcs[[4]byte(d[26:30])] = true
			udpFlood++
		}
	}
	if n != o.Packets {
		t.Errorf("%d packets, want exactly %d", n, o.Packets)
	}
	if flood == 0 || len(srcs) != flood {
		t.Errorf("%d flood SYNs from %d distinct sources: want all distinct and some", flood, len(srcs))
	}
	if udpFlood == 0 || len(udpSrcs) != udpFlood {
		t.Errorf("%d flood datagrams from %d distinct addresses: want all distinct and some", udpFlood, len(udpSrcs))
	}
}

// BenchmarkVolume measures the streaming writer: serialization, reorder
// queue and pcap output to io.Discard (no disk in the loop).
func BenchmarkVolume(b *testing.B) {
	o := DefaultOptions()
	o.Packets = 500000
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for i := 0; i < b.N; i++ {
		n, err := Generate(io.Discard, "volume", "pcap", o)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "packets/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/packet")
}
