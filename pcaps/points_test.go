package pcaps

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
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
