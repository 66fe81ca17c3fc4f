package synth

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
// kind of traffic in it (IPv6, ICMP, DNS, the scan, a flood).
func smallVolume() Options {
	o := DefaultOptions()
	o.Packets, o.K2Clients, o.SWClients, o.Flows, o.SYNFlood = 60000, 200, 100, 600, 2000
	o.Duration = 20 * time.Minute
	return o
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
	for _, name := range append(smallScenarios, "volume") {
		o := DefaultOptions()
		if name == "volume" {
			o = smallVolume()
		}
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

// count returns how many frames of file match a display filter.
func count(t *testing.T, file, filter string, prefs ...string) int {
	t.Helper()
	args := []string{"-r", file, "-Y", filter}
	for _, p := range prefs {
		args = append(args, "-o", p)
	}
	out := strings.TrimSpace(tshark(t, args...))
	if out == "" {
		return 0
	}
	return len(strings.Split(out, "\n"))
}

func TestTsharkDecodes(t *testing.T) {
	files := map[string]string{}
	for _, name := range smallScenarios {
		files[name] = writeTemp(t, name, DefaultOptions())
	}
	files["volume"] = writeTemp(t, "volume", smallVolume())
	for name, f := range files {
		out := tshark(t, "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp")
		if !strings.Contains(out, "Conversations") {
			t.Errorf("%s: tshark conv output unexpected:\n%s", name, out)
		}
		// tshark labels UDP 54328 (an ephemeral port here) Elasticsearch
		// discovery; that heuristic is not a defect of the capture.
		if n := count(t, f, "_ws.malformed && !elasticsearch"); n != 0 {
			t.Errorf("%s: %d malformed frames", name, n)
		}
		bad := "tcp.checksum.status==0 || udp.checksum.status==0 || ip.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0"
		if n := count(t, f, bad, "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE", "ip.check_checksum:TRUE"); n != 0 {
			t.Errorf("%s: %d frames with bad checksums", name, n)
		}
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
		f := writeTemp(t, c.name, DefaultOptions())
		if n := count(t, f, "tcp.analysis.retransmission"); n != c.retrans {
			t.Errorf("%s: %d retransmissions, want %d", c.name, n, c.retrans)
		}
		if n := count(t, f, "tcp.analysis.keep_alive"); n != c.keepAlv {
			t.Errorf("%s: %d keep-alives, want %d", c.name, n, c.keepAlv)
		}
		if n := count(t, f, "tcp.flags.reset==1"); n != c.resets {
			t.Errorf("%s: %d resets, want %d", c.name, n, c.resets)
		}
		if n := count(t, f, "tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order"); n != 0 {
			t.Errorf("%s: %d seq/ack anomalies: sequence arithmetic is wrong", c.name, n)
		}
		if n := count(t, f, `tcp.payload contains "SW102: Hello["`); n != 2 {
			t.Errorf("%s: %d greetings, want 2 (main + notification)", c.name, n)
		}
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
	if n := count(t, f, "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission && tcp.port==5001"); n != 3 {
		t.Errorf("%d SYN retransmissions, want 3", n)
	}
	if n := count(t, f, "tcp.analysis.keep_alive"); n != 2 {
		t.Errorf("%d keep-alives, want 2", n)
	}
	if n := count(t, f, "tcp.analysis.keep_alive_ack"); n != 2 {
		t.Errorf("%d keep-alive ACKs, want 2", n)
	}
	if n := count(t, f, "icmp.type==3 && icmp.code==13 && tcp.dstport==5002"); n != 1 {
		t.Errorf("ICMP admin-prohibited quoting the SYN: %d, want 1", n)
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
	var n, flood int
	var prev time.Time
	srcs := map[[6]byte]bool{}
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
	}
	if n != o.Packets {
		t.Errorf("%d packets, want exactly %d", n, o.Packets)
	}
	if flood == 0 || len(srcs) != flood {
		t.Errorf("%d flood SYNs from %d distinct sources: want all distinct and some", flood, len(srcs))
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
