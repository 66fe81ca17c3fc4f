package pktmon_test

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/pcaps/pktmon"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// convert writes a lab capture as pktmon would have logged it.
func convert(t *testing.T, in string, o pktmon.Options) (string, pktmon.Stats) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), "pktmon.pcapng")
	var b bytes.Buffer
	st, err := pktmon.Convert(f, &b, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out, st
}

func analyze(t *testing.T, path string, opts pipeline.Options) *report.Report {
	t.Helper()
	r, err := pipeline.AnalyzeFiles([]string{path}, opts, "test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCopiesCountOnce: the healthy lab capture logged at four components
// reports what the capture itself reports - the same connections, NPA
// sessions, retransmissions and findings - plus one capture_duplicates
// info for the folded copies. (Before, every connection was counted at
// each component: 3-4 times the sessions, SYN retransmissions doubled.)
func TestCopiesCountOnce(t *testing.T) {
	in := "../captures/healthy/client.pcap"
	path, st := convert(t, in, pktmon.Options{Host: mustAddr("192.0.2.10")})
	if st.Appearances < 3*st.Packets {
		t.Fatalf("converter wrote %d appearances of %d packets; want each at 4 components", st.Appearances, st.Packets)
	}
	plain, mon := analyze(t, in, pipeline.Options{}), analyze(t, path, pipeline.Options{})
	if a, b := plain.Summary.Stats, mon.Summary.Stats; a.TCPConnections != b.TCPConnections || a.TCPRetransmissions != b.TCPRetransmissions ||
		a.SYNRetransmissions != b.SYNRetransmissions || a.TCPResets != b.TCPResets || a.UDPFlows != b.UDPFlows {
		t.Errorf("stats differ:\nplain:  %+v\npktmon: %+v", a, b)
	}
	if len(plain.NPASessions) != len(mon.NPASessions) {
		t.Errorf("got %d NPA sessions from pktmon; the capture has %d", len(mon.NPASessions), len(plain.NPASessions))
	}
	var kinds []string
	folded := 0
	for _, f := range mon.Findings {
		if f.Kind == "capture_duplicates" {
			folded = f.Count
			continue
		}
		kinds = append(kinds, string(f.Kind))
	}
	var want []string
	for _, f := range plain.Findings {
		want = append(want, string(f.Kind))
	}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("findings %v; the capture itself gives %v", kinds, want)
	}
	if want := 3 * ipPackets(t, in); folded != want {
		t.Errorf("capture_duplicates counts %d folded copies; want %d, 3 further appearances of every IP packet", folded, want)
	}
}

// TestDropVerdictIsEvidence: K2 tickles that reached a Windows client
// after 7 s of silence and were dropped by its firewall (WFP) give a
// udp_late_response that names the component, whatever timeout is assumed
// (here the default 60 s), with the drop frames as evidence; tshark reads
// the same verdicts.
func TestDropVerdictIsEvidence(t *testing.T) {
	path, st := convert(t, "../captures/k2-tickle/client.pcap", pktmon.Options{Host: mustAddr("192.0.2.61"), DropLateUDP: 5 * time.Second})
	if st.Dropped != 3 {
		t.Fatalf("converter dropped %d tickles; the capture has 3 to 192.0.2.61", st.Dropped)
	}
	r := analyze(t, path, pipeline.Options{})
	var late *report.Finding
	for i, f := range r.Findings {
		if f.Kind == "udp_late_response" && f.Client == "192.0.2.61" {
			late = &r.Findings[i]
		}
	}
	if late == nil {
		t.Fatalf("no udp_late_response for 192.0.2.61: %v", r.Summary.Verdict)
	}
	if !strings.Contains(late.Summary, pktmon.Components[pktmon.WFP].Name) || late.Severity != "warning" {
		t.Errorf("summary %q (%s) does not name the dropping component", late.Summary, late.Severity)
	}
	dropped := droppedFrames(t, path)
	if len(dropped) != 3 || len(late.Evidence) != 1 {
		t.Fatalf("dropped frames %v, evidence %+v", dropped, late.Evidence)
	}
	for _, fr := range dropped {
		if !slices.Contains(late.Evidence[0].Frames, fr) {
			t.Errorf("drop frame %d not in the evidence %v", fr, late.Evidence[0].Frames)
		}
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		out, err := exec.Command("tshark", "-n", "-r", path, "-Y", "frame.verdict", "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fr := range dropped {
			got = append(got, itoa(fr))
		}
		if strings.Join(strings.Fields(string(out)), ",") != strings.Join(got, ",") {
			t.Errorf("tshark sees verdicts on frames %q; fwdiag on %v", out, got)
		}
	}
}

// ipPackets counts the frames of a capture that carry IP.
func ipPackets(t *testing.T, path string) int {
	t.Helper()
	src, err := dissect.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	var p dissect.Packet
	for src.Next(&p) == nil {
		if p.IPVersion != 0 {
			n++
		}
	}
	return n
}

// droppedFrames reads the frames whose EPB verdict says dropped.
func droppedFrames(t *testing.T, path string) []uint64 {
	t.Helper()
	src, err := dissect.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []uint64
	var p dissect.Packet
	for src.Next(&p) == nil {
		if p.Dropped {
			out = append(out, p.Frame)
		}
	}
	return out
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
