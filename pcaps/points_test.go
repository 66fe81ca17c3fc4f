package pcaps

import (
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestConnectionSeenTwiceCountsOnce: the firewall's capture records each
// connection on both its interfaces; the services table still counts it
// once, as the client's own capture does, and the NPA and UDP tables say
// where each row was seen. (Through NAT a connection is two conversations
// to this count: the scenarios here have no NAT between the clients and
// the server.)
func TestConnectionSeenTwiceCountsOnce(t *testing.T) {
	for _, dir := range []string{"npa-idle-kill", "k2-tickle", "mixed-rejects"} {
		client := analyzeOrSkip(t, "captures/"+dir+"/client.pcap")
		fw := analyzeOrSkip(t, "captures/"+dir+"/firewall.pcap")
		conns := func(r *report.Report) map[string]int {
			m := map[string]int{}
			for _, s := range r.Services {
				m[string(s.Service)] += s.Connections
			}
			return m
		}
		c, f := conns(client), conns(fw)
		if len(c) == 0 {
			t.Fatalf("%s: no services in the client's capture", dir)
		}
		for svc, n := range c {
			if f[svc] != n {
				t.Errorf("%s %s: firewall capture counts %d connections, the client's %d", dir, svc, f[svc], n)
			}
		}
		points := map[string]bool{}
		for _, n := range fw.NPASessions {
			points[n.CapturePoint] = true
		}
		for _, u := range fw.UDPFlows {
			points[u.CapturePoint] = true
		}
		if len(points) != 2 {
			t.Errorf("%s: firewall rows name capture points %v; want its two interfaces", dir, points)
		}
		for p := range points {
			if !strings.HasPrefix(p, "firewall.pcap interface ") {
				t.Errorf("%s: capture point %q; want the file and its interface", dir, p)
			}
		}
	}
}

// TestBetweenFindingSaysWhichSideSawWhat: in the firewall's capture of an
// NPA socket killed while idle, the packets lost one way were seen on one
// interface and missed on the other, and the packets lost the other way
// the reverse; the finding keeps each way apart.
func TestBetweenFindingSaysWhichSideSawWhat(t *testing.T) {
	path := "captures/npa-idle-kill/firewall.pcap"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("lab capture: %v", err)
	}
	res, _, err := pipeline.DiagnoseFiles([]string{path}, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var x *diagnose.BetweenFacts
	for i := range res.Findings {
		if res.Findings[i].Kind == diagnose.DroppedBetweenCaptures {
			x = res.Findings[i].Facts.(*diagnose.BetweenFacts)
		}
	}
	if x == nil {
		t.Fatal("no dropped_between_captures finding")
	}
	total := 0
	for w, n := range x.Ways {
		total += n
		if w.Seen == w.Missing {
			t.Errorf("way %+v: seen and missed at the same capture point", w)
		}
		for v, m := range x.Ways {
			if v.Dir != w.Dir && v.Seen == w.Seen && m > 0 {
				t.Errorf("both directions' lost packets seen at capture point %d: %v", w.Seen, x.Ways)
			}
		}
	}
	if total != x.ToServer+x.ToClient || x.ToServer == 0 || x.ToClient == 0 {
		t.Errorf("ways %v add up to %d; want %d to the server and %d back, both", x.Ways, total, x.ToServer, x.ToClient)
	}
}

func analyzeOrSkip(t *testing.T, path string) *report.Report {
	t.Helper()
	r, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "test")
	if err != nil {
		t.Skipf("lab capture: %v", err)
	}
	return r
}

// TestScanEvictedAtTwoPointsCountsOnce: the real nmap scan beside healthy
// traffic, seen by the client's and the server's captures together and by
// the firewall's two interfaces, makes the same syn_scan whether the live
// table holds the whole scan or evicts it as it goes (a table of 64 or 256
// connections: most attempts leave it at one point while their copies are
// live at the other, or go before the scanner is known): each attempt
// counted once, as one capture point counts it.
func TestScanEvictedAtTwoPointsCountsOnce(t *testing.T) {
	dir := "captures/scan-beside-healthy/"
	scan := func(paths []string, maxConns int) (*diagnose.Finding, *diagnose.ScanFacts) {
		t.Helper()
		cfg, err := pipeline.Options{UDPTimeout: 5 * time.Second, TCPIdle: 10 * time.Second}.Config()
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns, cfg.ComparePoints = maxConns, len(paths) > 1
		src, err := pipeline.OpenFiles(paths)
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := pipeline.DiagnoseSource(src, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range res.Findings {
			if f := &res.Findings[i]; f.Kind == diagnose.SynScan {
				return f, f.Facts.(*diagnose.ScanFacts)
			}
		}
		t.Fatalf("%v, table of %d: no syn_scan", paths, maxConns)
		return nil, nil
	}
	one, x1 := scan([]string{dir + "client.pcap"}, 100_000)
	if one.Count != 4240 || x1.Answered != 4 {
		t.Fatalf("client.pcap: %d failed attempts, %d answered; want SCENARIO.md's 4240 and 4", one.Count, x1.Answered)
	}
	for _, paths := range [][]string{{dir + "client.pcap", dir + "server.pcap"}, {dir + "firewall.pcap"}} {
		for _, maxConns := range []int{100_000, 256, 64} {
			f, x := scan(paths, maxConns)
			if f.Count != one.Count || x.Answered != x1.Answered || !maps.Equal(x.Kinds, x1.Kinds) || len(x.Hosts) != len(x1.Hosts) {
				t.Errorf("%v, table of %d: %d failed attempts %v on %d hosts, %d answered; client.pcap alone: %d %v on %d, %d",
					paths, maxConns, f.Count, x.Kinds, len(x.Hosts), x.Answered, one.Count, x1.Kinds, len(x1.Hosts), x1.Answered)
			}
		}
	}
}

// TestScanAnsweredOnOneSideOnly: the real nmap scan beside healthy
// traffic, its client-side capture with every packet to the scanner taken
// out (a return path that bypasses that capture point, or a firewall that
// drops the targets' answers after the server side saw them), given with
// the server-side capture: the server side saw the resets and SYN-ACKs
// the client side did not, so each attempt takes the outcome the server
// side saw. The syn_scan is the one the whole client capture gives (4240
// failed: 2240 reset, 2000 filtered; 4 answered), not 2240 attempts more
// nor the open ports lost; and the resets the client side missed are the
// scan's, not a reset_between_captures finding per probe.
func TestScanAnsweredOnOneSideOnly(t *testing.T) {
	dir := "captures/scan-beside-healthy/"
	noReply := filepath.Join(t.TempDir(), "client-noreply.pcap")
	in, err := os.Open(dir + "client.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(noReply)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	scanner := netip.MustParseAddr("192.0.2.12").As4()
	kept, dropped := 0, 0
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// Ethernet, IPv4, TCP, to the scanner: left out.
		if len(data) >= 34 && data[12] == 0x08 && data[13] == 0x00 && data[23] == 6 && [4]byte(data[30:34]) == scanner {
			dropped++
			continue
		}
		kept++
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if dropped < 2244 {
		t.Fatalf("took %d packets to the scanner out of client.pcap; want its 2240 resets and 4 SYN-ACKs at least", dropped)
	}
	res, _, err := pipeline.DiagnoseFiles([]string{noReply, dir + "server.pcap"}, pipeline.Options{UDPTimeout: 5 * time.Second, TCPIdle: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Kind != diagnose.SynScan {
		var kinds []diagnose.Kind
		for _, f := range res.Findings {
			kinds = append(kinds, f.Kind)
		}
		t.Fatalf("findings %v; want the scan's syn_scan alone", kinds)
	}
	f := res.Findings[0]
	x := f.Facts.(*diagnose.ScanFacts)
	want := map[diagnose.Kind]int{diagnose.SynReset: 2240, diagnose.SynUnanswered: 2000}
	if f.Count != 4240 || !maps.Equal(x.Kinds, want) || x.Answered != 4 {
		t.Errorf("syn_scan: %d failed %v, %d answered; want 4240 %v, 4 (client.pcap alone; %d packets kept, %d taken out)", f.Count, x.Kinds, x.Answered, want, kept, dropped)
	}
}
