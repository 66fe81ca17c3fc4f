package diagnose_test

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

const (
	cli  = "192.0.2.10:40000"
	srv  = "198.51.100.10:5001"
	srvA = "198.51.100.10"
)

var ep = flowtest.EP

const (
	fS  = flowtest.S
	fA  = flowtest.A
	fF  = flowtest.F
	fR  = flowtest.R
	fPA = flowtest.PA
)

// run diagnoses the script's packets with the given timeouts.
func run(s *flowtest.Script, to catalog.Timeouts) *diagnose.Result {
	return runCfg(s, flows.Config{Timeouts: to}, nil)
}

// runCfg diagnoses the script's packets with cfg, as the pipeline does:
// evicted flows are handed to diagnosis too.
func runCfg(s *flowtest.Script, cfg flows.Config, inputs []*dissect.InputInfo) *diagnose.Result {
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	a := s.Feed(cfg)
	return diagnose.Run(a.View(), ev, inputs)
}

func kinds(r *diagnose.Result) map[diagnose.Kind]int {
	m := map[diagnose.Kind]int{}
	for _, f := range r.Findings {
		m[f.Kind]++
	}
	return m
}

func findKind(t *testing.T, r *diagnose.Result, kind diagnose.Kind) diagnose.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Kind == kind {
			return f
		}
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Kind))
	}
	t.Fatalf("no %s finding; got %s", kind, strings.Join(got, ", "))
	return diagnose.Finding{}
}

// aboveInfo lists findings worse than info.
func aboveInfo(r *diagnose.Result) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity != diagnose.Info {
			out = append(out, fmt.Sprintf("%s %s %s:%d", f.Kind, f.Client, f.Server, f.Port))
		}
	}
	return out
}

// svc names a finding's service ("" none).
func svc(f diagnose.Finding) string {
	if f.Service == nil {
		return ""
	}
	return string(f.Service.Name)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestHealthyTrafficHasNothingAboveInfo(t *testing.T) {
	s := flowtest.New()
	for i := 0; i < 5; i++ {
		client := fmt.Sprintf("192.0.2.%d:4%04d", 10+i, i)
		notif := fmt.Sprintf("192.0.2.%d:5%04d", 10+i, i)
		m := s.Open(client, srv)
		m.Send(false, 30) // greeting
		m.Send(true, 50)  // login
		s.Wait(100 * time.Millisecond)
		n := s.Open(notif, srv)
		n.Send(false, 30)
		n.Send(true, 40) // registration
		for j := 0; j < 3; j++ {
			s.Wait(2 * time.Second)
			m.Send(true, 80)
			m.Send(false, 400)
			n.Send(false, 60) // push, acknowledged
		}
	}
	r := run(s, flowtest.Defaults())
	if got := aboveInfo(r); len(got) != 0 {
		t.Fatalf("healthy traffic gave findings above info: %v", got)
	}
	if len(r.NPASessions) != 5 {
		t.Fatalf("got %d NPA sessions; want 5", len(r.NPASessions))
	}
	for _, n := range r.NPASessions {
		if n.Status != "paired" {
			t.Errorf("session %s: got status %s; want paired (reason %d)", n.Client, n.Status, n.Why)
		}
	}
}

func TestSynUnansweredGroupsAttempts(t *testing.T) {
	s := flowtest.New()
	// 1000 attempts from one client to sw-sql, each with two retransmissions.
	for i := 0; i < 1000; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(20000+i))
		for r := 0; r < 3; r++ {
			s.TCP(c, ep("198.51.100.10:5002"), fS, uint32(i*7), 0, 0)
			s.Wait(time.Second << r)
		}
	}
	r := run(s, flowtest.Defaults())
	if n := kinds(r)["syn_unanswered"]; n != 1 {
		t.Fatalf("got %d syn_unanswered findings; want 1 grouped", n)
	}
	f := findKind(t, r, "syn_unanswered")
	if f.Count != 1000 || svc(f) != "sw-sql" || f.Severity != diagnose.Critical || f.Port != 5002 {
		t.Errorf("got count %d service %s severity %s port %d; want 1000 sw-sql critical 5002", f.Count, svc(f), f.Severity, f.Port)
	}
	if x := f.Facts.(*diagnose.SynUnansweredFacts); x.SYNs != 3000 {
		t.Errorf("got %d SYNs; want 3000", x.SYNs)
	}
	if got := f.MaxSample(); got != 3*time.Second {
		t.Errorf("got SYN span %v; want 3s (retransmissions after 1 s and 2 s)", got)
	}
}

func TestSynUnansweredNeedsTime(t *testing.T) {
	// A single SYN at the very end of the capture proves nothing.
	s := flowtest.New()
	k := s.Open("192.0.2.10:40000", "198.51.100.10:5005")
	k.Send(true, 10)
	s.Wait(10 * time.Millisecond)
	s.TCP(ep("192.0.2.10:40001"), ep("198.51.100.10:5002"), fS, 1, 0, 0)
	r := run(s, flowtest.Defaults())
	if n := kinds(r)["syn_unanswered"]; n != 0 {
		t.Fatalf("got %d syn_unanswered for a SYN at the capture's end; want 0", n)
	}
}

func TestSynResetForgedByFirewall(t *testing.T) {
	s := flowtest.New()
	// The server answers on 5001 with TTL 63 (one hop away) ...
	k := s.Open(cli, srv)
	k.Send(true, 10)
	// ... but a SYN to 5005 is reset with TTL 64: made by the firewall.
	s.TCP(ep("192.0.2.10:40001"), ep("198.51.100.10:5005"), fS, 1, 0, 0)
	s.TTL[netip.MustParseAddr(srvA)] = 64
	s.TCP(ep("198.51.100.10:5005"), ep("192.0.2.10:40001"), fR|fA, 0, 2, 0)
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "syn_reset")
	if svc(f) != "sw-text" || f.Confidence != diagnose.High || f.TTLs != [2]uint8{64, 63} || f.Facts.(*diagnose.SynResetFacts).Forged != 1 {
		t.Errorf("got service %s confidence %s TTLs %v facts %+v; want sw-text, high, reset TTL 64 vs genuine 63, forged", svc(f), f.Confidence, f.TTLs, f.Facts)
	}
}

func TestSynICMPRejected(t *testing.T) {
	s := flowtest.New()
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5015")
	s.TCP(c, d, fS, 77, 0, 0)
	s.ICMPUnreach(netip.MustParseAddr("198.51.100.1"), c.Addr(), 13, 6, c, d, 77)
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "syn_icmp_rejected")
	x := f.Facts.(*diagnose.ICMPFacts)
	if x.Codes[diagnose.ICMPCode{Type: 3, Code: 13}] != 1 || x.From[addr("198.51.100.1")] != 1 || x.Filter != 1 {
		t.Errorf("got %+v; want one admin-prohibited from 198.51.100.1, a filter's code", x)
	}
	if len(f.Evidence) != 1 || len(f.Evidence[0].Frames) != 2 {
		t.Errorf("got evidence %+v; want the SYN and the ICMP frame", f.Evidence)
	}
	if len(r.Services) != 1 || r.Services[0].Status != "filtered" {
		t.Errorf("got services %+v; want 5015 filtered", r.Services)
	}
}

func TestHandshakeIncomplete(t *testing.T) {
	s := flowtest.New()
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5001")
	s.TCP(c, d, fS, 1, 0, 0)
	for i := 0; i < 3; i++ {
		s.Wait(time.Second)
		s.TCP(d, c, fS|fA, 9, 2, 0)
	}
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "handshake_incomplete")
	if x := f.Facts.(*diagnose.HandshakeFacts); f.Severity != diagnose.Critical || x.SynAcks != 3 || x.Acked != 0 {
		t.Errorf("got %s %+v; want critical with 3 SYN-ACKs, none acknowledged", f.Severity, x)
	}
}

func TestRSTInjected(t *testing.T) {
	s := flowtest.New()
	k := s.Open(cli, srv)
	k.Send(true, 10)
	k.Send(false, 10)
	s.TTL[netip.MustParseAddr(srvA)] = 250 // an IPS three hops out with a high initial TTL
	s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
	s.TTL[netip.MustParseAddr(srvA)] = 63
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "rst_injected")
	if x := f.Facts.(*diagnose.RSTInjectedFacts); f.TTLs != [2]uint8{250, 63} || x.ClaimsServer != 1 || x.ClaimsClient != 0 {
		t.Errorf("got TTLs %v facts %+v; want 250 vs 63, claiming the server", f.TTLs, x)
	}
	// A genuine reset (same TTL) is not injected.
	s2 := flowtest.New()
	k2 := s2.Open(cli, srv)
	k2.Send(true, 10)
	s2.TCP(k2.Srv, k2.C, fR, k2.SS, 0, 0)
	if n := kinds(run(s2, flowtest.Defaults()))["rst_injected"]; n != 0 {
		t.Errorf("got %d rst_injected for a genuine reset; want 0", n)
	}
}

// TestScannerOwnResetIsNoInjection: a SYN scan from a raw socket (nmap
// -sS) sends its SYNs with a TTL of its own (here 45), and the scanner's
// kernel resets each SYN-ACK of an open port at its default TTL (64):
// that is the scan answered, counted in its syn_scan, not a reset forged
// by a middlebox (on the real nmap capture it was a critical finding per
// open port). The same connection of a client that is no scanner is
// still judged an injection, and a reset that claims to come from the
// scanned host stays one too.
func TestScannerOwnResetIsNoInjection(t *testing.T) {
	scanner := netip.MustParseAddr("203.0.113.66")
	build := func(scan bool, hostReset bool) *flowtest.Script {
		s := flowtest.New()
		n := 1
		if scan {
			n = 60
		}
		for i := 0; i < n; i++ {
			c := netip.AddrPortFrom(scanner, 40000)
			d := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.9"), uint16(1000+i))
			s.TTL[scanner] = 45
			s.TCP(c, d, fS, 100, 0, 0)
			s.Wait(time.Millisecond)
			s.TCP(d, c, fR|fA, 0, 101, 0)
			s.Wait(time.Millisecond)
		}
		c := netip.AddrPortFrom(scanner, 40000)
		d := netip.MustParseAddrPort("198.51.100.9:22") // open
		s.TCP(c, d, fS, 100, 0, 0)
		s.Wait(time.Millisecond)
		s.TCP(d, c, fS|fA, 7000, 101, 0)
		if hostReset {
			s.TTL[d.Addr()] = 250
			s.TCP(d, c, fR, 7001, 0, 0)
		} else {
			s.TTL[scanner] = 64
			s.TCP(c, d, fR, 101, 0, 0)
		}
		// The capture goes on past the handshake's wait.
		s.Wait(2 * time.Second)
		s.TCP(netip.MustParseAddrPort("192.0.2.10:50000"), netip.MustParseAddrPort("198.51.100.9:80"), fS, 1, 0, 0)
		return s
	}
	r := run(build(true, false), flowtest.Defaults())
	if n := kinds(r)["rst_injected"]; n != 0 {
		t.Errorf("the scanner's own resets: %d rst_injected findings; want none (%v)", n, kinds(r))
	}
	if x := findKind(t, r, diagnose.SynScan).Facts.(*diagnose.ScanFacts); x.Answered != 1 {
		t.Errorf("syn_scan counts %d answered probes; want the open port's 1", x.Answered)
	}
	if n := kinds(run(build(false, false), flowtest.Defaults()))["rst_injected"]; n != 1 {
		t.Errorf("a client that is no scanner: %d rst_injected; want 1", n)
	}
	if n := kinds(run(build(true, true), flowtest.Defaults()))["rst_injected"]; n != 1 {
		t.Errorf("a reset claiming the scanned host: %d rst_injected; want 1", n)
	}
}

// TestRSTInjectedBeforeSynAck: a reset forged by an on-path box that races
// the server's SYN-ACK (Zeek's rst-inject-rae trace: TTL 46 where the
// server's packets have 49) is injected, though the connection then goes
// on and the server's own resets (TTL 49) come last.
func TestRSTInjectedBeforeSynAck(t *testing.T) {
	s := flowtest.New()
	c, sv, srvIP := ep(cli), ep(srv), netip.MustParseAddr(srvA)
	s.TTL[srvIP] = 49
	s.TCP(c, sv, fS, 1000, 0, 0)
	s.TTL[srvIP] = 46
	s.TCP(sv, c, fR|fA, 0, 1000, 0) // frame 2: forged
	s.TTL[srvIP] = 49
	s.TCP(sv, c, fS|fA, 5000, 1001, 0)
	s.TCP(c, sv, fA, 1001, 5001, 0)
	s.TCP(c, sv, fPA, 1001, 5001, 25)
	s.TCP(sv, c, fA, 5001, 1026, 0)
	s.TCP(sv, c, fR|fA, 5001, 1026, 0) // frame 7: the server's own
	s.TCP(c, sv, fPA, 1026, 5001, 150)
	s.TCP(sv, c, fR, 5001, 0, 0) // frame 9: the server's own
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "rst_injected")
	x := f.Facts.(*diagnose.RSTInjectedFacts)
	if f.TTLs != [2]uint8{46, 49} || x.ClaimsServer != 1 || x.ClaimsClient != 0 || len(f.Evidence) != 1 || fmt.Sprint(f.Evidence[0].Frames) != "[2]" {
		t.Errorf("got TTLs %v facts %+v evidence %+v; want 46 vs 49, claiming the server, frame 2", f.TTLs, x, f.Evidence)
	}
	if n := kinds(r)["syn_reset"]; n != 0 {
		t.Errorf("got %d syn_reset for a connection the server answered; want 0", n)
	}
}

// npaPair opens a main session and its notification socket.
func npaPair(s *flowtest.Script, client string, mainPort, notifPort int) (m, n *flowtest.Conn) {
	m = s.Open(fmt.Sprintf("%s:%d", client, mainPort), srv)
	m.Send(false, 30)
	m.Send(true, 60)
	s.Wait(200 * time.Millisecond)
	n = s.Open(fmt.Sprintf("%s:%d", client, notifPort), srv)
	n.Send(false, 30)
	n.Send(true, 40)
	return m, n
}

func TestNPAMissingBecauseSecondSYNBlocked(t *testing.T) {
	s := flowtest.New()
	m := s.Open("192.0.2.10:40000", srv)
	m.Send(false, 30)
	m.Send(true, 60)
	s.Wait(100 * time.Millisecond)
	for r := 0; r < 4; r++ {
		s.TCP(ep("192.0.2.10:40001"), ep(srv), fS, 555, 0, 0)
		s.Wait(time.Second << r)
	}
	m.Send(true, 60)
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "npa_notification_missing")
	if f.Severity != diagnose.Critical || f.Confidence != "high" {
		t.Errorf("got %s/%s; want critical/high", f.Severity, f.Confidence)
	}
	if n := kinds(r)["syn_unanswered"]; n != 0 {
		t.Errorf("the blocked notification SYN was reported again as syn_unanswered (%d)", n)
	}
	if len(r.NPASessions) != 1 || r.NPASessions[0].Status != "missing" {
		t.Fatalf("got sessions %+v; want one missing", r.NPASessions)
	}
}

func TestNPALostAfterIdle(t *testing.T) {
	s := flowtest.New()
	m, n := npaPair(s, "192.0.2.10", 40000, 40001)
	n.Send(false, 60)
	// Two hours idle on the notification socket while the main session is busy.
	for i := 0; i < 240; i++ {
		s.Wait(30 * time.Second)
		m.Send(true, 40)
		m.Send(false, 40)
	}
	n.PushLost(60, 5)
	m.Send(true, 40)
	r := run(s, catalog.TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))
	f := findKind(t, r, "npa_notification_lost")
	if idle := f.MaxSample(); f.Severity != diagnose.Critical || idle < 2*time.Hour || idle > 2*time.Hour+time.Minute || f.Facts.(*diagnose.NPALostFacts).Unacked != 1 {
		t.Errorf("got %s idle %v facts %+v; want critical, unacknowledged push after 2 h idle", f.Severity, idle, f.Facts)
	}
	if r.NPASessions[0].Status != "lost" {
		t.Errorf("got status %s; want lost", r.NPASessions[0].Status)
	}
}

func TestNPAIdleRiskWithoutLoss(t *testing.T) {
	s := flowtest.New()
	m, n := npaPair(s, "192.0.2.10", 40000, 40001)
	s.Wait(2 * time.Hour)
	n.Send(false, 60) // acknowledged: this site's firewall kept the state
	m.Send(true, 40)
	r := run(s, catalog.TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))
	f := findKind(t, r, "npa_idle_exceeds_timeout")
	if f.Severity != diagnose.Warning {
		t.Errorf("got %s; want warning", f.Severity)
	}
	if kinds(r)["npa_notification_lost"] != 0 {
		t.Errorf("an acknowledged push was reported lost")
	}
	// With keep-alives inside the window there is no risk.
	s2 := flowtest.New()
	m2, n2 := npaPair(s2, "192.0.2.10", 40000, 40001)
	for i := 0; i < 4; i++ {
		s2.Wait(30 * time.Minute)
		n2.KeepAlive()
	}
	n2.Send(false, 60)
	m2.Send(true, 40)
	if k := kinds(run(s2, catalog.TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))); k["npa_idle_exceeds_timeout"] != 0 {
		t.Errorf("keep-alives every 30 min still gave an idle risk")
	}
}

func TestNPANATSharedAddress(t *testing.T) {
	// Two clients behind one NAT address, sessions interleaved.
	s := flowtest.New()
	m1 := s.Open("198.51.100.1:30000", srv)
	m1.Send(false, 30)
	m1.Send(true, 60)
	m2 := s.Open("198.51.100.1:30002", srv)
	m2.Send(false, 30)
	m2.Send(true, 60)
	s.Wait(100 * time.Millisecond)
	n1 := s.Open("198.51.100.1:30001", srv)
	n1.Send(false, 30)
	n1.Send(true, 40)
	n2 := s.Open("198.51.100.1:30003", srv)
	n2.Send(false, 30)
	n2.Send(true, 40)
	for i := 0; i < 3; i++ {
		s.Wait(time.Second)
		m1.Send(true, 40)
		m2.Send(true, 40)
		n1.Send(false, 40)
		n2.Send(false, 40)
	}
	r := run(s, flowtest.Defaults())
	if len(r.NPASessions) != 2 {
		t.Fatalf("got %d sessions; want 2", len(r.NPASessions))
	}
	for _, n := range r.NPASessions {
		if n.Status != "paired" || n.Confidence != "medium" {
			t.Errorf("got %s/%s; want paired/medium for a shared address", n.Status, n.Confidence)
		}
	}
	if got := aboveInfo(r); len(got) != 0 {
		t.Errorf("got %v; want nothing above info", got)
	}
}

func TestNPAUDPModeThroughNAT(t *testing.T) {
	s := flowtest.New()
	m := s.Open("198.51.100.1:30000", srv)
	m.Send(false, 30)
	m.Send(true, 60)
	for i := 0; i < 3; i++ {
		s.Wait(time.Second)
		s.UDP(ep("198.51.100.10:5001"), ep("198.51.100.1:49152"), 80)
		s.ICMPUnreach(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr(srvA), 3, 17, ep("198.51.100.10:5001"), ep("198.51.100.1:49152"), 0)
		m.Send(true, 40)
	}
	r := run(s, flowtest.Defaults())
	k := kinds(r)
	if k["npa_udp_mode"] != 1 || k["npa_udp_unreachable"] != 1 {
		t.Fatalf("got %v; want npa_udp_mode and npa_udp_unreachable", k)
	}
	if k["udp_icmp_unreachable"] != 0 {
		t.Errorf("UDP notification errors were reported twice")
	}
	if r.NPASessions[0].Status != "udp" {
		t.Errorf("got %s; want udp", r.NPASessions[0].Status)
	}
	v := findKind(t, r, "sw_version_inferred")
	if x := v.Facts.(*diagnose.VersionFacts); x.Lo != -1 || x.Hi != 741 {
		t.Errorf("got version range %d-%d; want up to 741 (7.4.1)", x.Lo, x.Hi)
	}
}

func TestUDPLateResponseAgainstWindows(t *testing.T) {
	s := flowtest.New()
	c, k2 := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
	s.UDP(c, k2, 40)
	s.Wait(20 * time.Millisecond)
	s.UDP(k2, c, 40)
	s.Wait(7 * time.Minute)
	s.UDP(k2, c, 40) // tickle after 7 min
	s.Wait(15 * time.Minute)
	s.UDP(k2, c, 40) // 15 min
	r := run(s, catalog.TimeoutsFor(mustProfile(t, "windows"), 0, 0))
	f := findKind(t, r, "udp_late_response")
	x := f.Facts.(*diagnose.UDPLateFacts)
	if f.Count != 1 || x.Late != 2 || x.Tickles != 2 || len(f.Samples) != 2 || f.Samples[0].Round(time.Second) != 7*time.Minute || f.Samples[1] != 15*time.Minute {
		t.Errorf("got count %d facts %+v samples %v; want 2 late datagrams (tickles) at 7 and 15 min", f.Count, x, f.Samples)
	}
	if !strings.HasPrefix(r.Timeouts.UDPSource, "windows profile") {
		t.Errorf("the threshold's source is %q; want the windows profile", r.Timeouts.UDPSource)
	}
	if len(r.UDPFlows) != 1 || r.UDPFlows[0].LateResponses != 2 || r.UDPFlows[0].MaxSilence < 899*time.Second {
		t.Errorf("got %+v; want 2 late, max silence 900 s", r.UDPFlows)
	}
	// The same flow against an ASA (120 s) still late; against a 20 min timeout, not.
	if k := kinds(run(s, catalog.TimeoutsFor(mustProfile(t, "windows"), 20*time.Minute, 0))); k["udp_late_response"] != 0 {
		t.Errorf("20 min timeout still reported late answers")
	}
}

func TestK2RebindAndFailover(t *testing.T) {
	s := flowtest.New()
	ks, shadow := ep("198.51.100.20:19283"), ep("198.51.100.21:19315")
	for port := 50000; port < 50003; port++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.60"), uint16(port))
		for i := 0; i < 3; i++ {
			s.UDP(c, ks, 40)
			s.Wait(3 * time.Second)
		}
	}
	c := ep("192.0.2.60:50010")
	s.UDP(c, shadow, 40)
	s.Wait(10 * time.Millisecond)
	s.UDP(shadow, c, 40)
	s.Wait(10 * time.Second)
	r := run(s, flowtest.Defaults())
	// One cause (the KeyServer never answers), one finding: the rebinds
	// and the failover are its evidence, not findings with fixes of their
	// own that disagree.
	k := kinds(r)
	if k["k2_client_rebind"] != 0 || k["k2_shadow_failover"] != 0 || k["udp_unanswered"] != 1 {
		t.Fatalf("got %v; want one udp_unanswered holding the rebinds and the failover", k)
	}
	f := findKind(t, r, "udp_unanswered")
	x := f.Facts.(*diagnose.UDPUnansweredFacts)
	if x.Requests != 9 || x.Rebinds != 2 || x.Failovers != 1 || x.Shadows[addr("198.51.100.21")] != 1 || x.ShadowAnswered != 1 {
		t.Errorf("got %+v; want 9 requests, 2 rebinds, a failover to 198.51.100.21 that answered", x)
	}
	if f.Severity != diagnose.Critical || len(f.Evidence) != 1 || len(f.Evidence[0].Frames) < 9 {
		t.Errorf("got %s with evidence %+v; want critical with the rebinds' and failover's frames", f.Severity, f.Evidence)
	}
}

func mustProfile(t *testing.T, name string) catalog.Profile {
	t.Helper()
	p, err := catalog.LookupProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSupportworksInternalBlocked(t *testing.T) {
	s := flowtest.New()
	// The server's own services: 5001 answers on loopback, 5002 is rejected.
	k := s.Open("127.0.0.1:40000", "127.0.0.1:5001")
	k.Send(true, 10)
	s.TCP(ep("127.0.0.1:40001"), ep("127.0.0.1:5002"), fS, 1, 0, 0)
	s.TCP(ep("127.0.0.1:5002"), ep("127.0.0.1:40001"), fR|fA, 0, 2, 0)
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "sw_internal_blocked")
	if svc(f) != "sw-sql" || f.Severity != diagnose.Critical || f.Facts.(*diagnose.StatesFacts).States["REJ"] != 1 {
		t.Errorf("got %s %s %+v; want sw-sql critical, one REJ", svc(f), f.Severity, f.Facts)
	}
	if k := kinds(r); k["syn_reset"] != 0 {
		t.Errorf("internal block also reported as syn_reset")
	}
}

func TestScanAndManyClientsAreFolded(t *testing.T) {
	s := flowtest.New()
	// A scanner: resets from 100 ports of one host.
	for port := 1; port <= 100; port++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.66"), uint16(30000+port))
		d := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.10"), uint16(port))
		s.TCP(c, d, fS, 1, 0, 0)
		s.TCP(d, c, fR|fA, 0, 2, 0)
	}
	// 30 KeyAccess clients whose requests all go unanswered.
	for i := 0; i < 30; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 100+i)), 50000)
		for j := 0; j < 2; j++ {
			s.UDP(c, ep("198.51.100.20:19283"), 40)
			s.Wait(3 * time.Second)
		}
	}
	s.Wait(10 * time.Second)
	r := run(s, flowtest.Defaults())
	k := kinds(r)
	if k["syn_scan"] != 1 || k["syn_reset"] != 0 {
		t.Fatalf("got %v; want one syn_scan and no syn_reset", k)
	}
	scan := findKind(t, r, "syn_scan")
	if x := scan.Facts.(*diagnose.ScanFacts); scan.Count != 100 || scan.Severity != diagnose.Info || scan.Service != nil || scan.Client != addr("203.0.113.66") || len(x.Hosts) != 1 || x.Kinds["syn_reset"] != 100 {
		t.Errorf("got %+v", scan)
	}
	if k["udp_unanswered"] != 1 {
		t.Fatalf("got %d udp_unanswered; want 1 for all 30 clients", k["udp_unanswered"])
	}
	u := findKind(t, r, "udp_unanswered")
	if u.Client.IsValid() || u.Count != 30 || len(u.Clients) != 30 || u.Who().N != 30 || u.Facts.(*diagnose.UDPUnansweredFacts).Requests != 60 {
		t.Errorf("got client %v count %d clients %d facts %+v; want 30 clients merged, 60 requests", u.Client, u.Count, len(u.Clients), u.Facts)
	}
}

func TestEvictionKeepsFindings(t *testing.T) {
	build := func() *flowtest.Script {
		s := flowtest.New()
		// Real traffic: healthy NPA pairs, one blocked notification socket,
		// one rejected service port.
		for i := 0; i < 3; i++ {
			m, n := npaPair(s, fmt.Sprintf("192.0.2.%d", 10+i), 40000, 40001)
			m.Send(true, 40)
			n.Send(false, 40)
		}
		m := s.Open("192.0.2.20:40000", srv)
		m.Send(false, 30)
		m.Send(true, 60)
		s.TCP(ep("192.0.2.20:40001"), ep(srv), fS, 9, 0, 0)
		s.Wait(time.Second)
		s.TCP(ep("192.0.2.20:40001"), ep(srv), fS, 9, 0, 0)
		s.TCP(ep("192.0.2.21:40002"), ep("198.51.100.10:5005"), fS, 1, 0, 0)
		s.TCP(ep("198.51.100.10:5005"), ep("192.0.2.21:40002"), fR|fA, 0, 2, 0)
		// A flood: 2000 sources, one SYN each, 10 ms apart, to HTTPS.
		for i := 0; i < 2000; i++ {
			c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 1024)
			s.TCP(c, ep("198.51.100.10:443"), fS, uint32(i), 0, 0)
			s.Wait(10 * time.Millisecond)
		}
		s.Wait(2 * time.Second)
		m.Send(true, 60)
		return s
	}
	a, small := withAndWithoutEviction(t, build(), flows.Config{MaxConns: 100})
	if tcpLive(small) > 400 {
		t.Errorf("live table grew to %d connections with a cap of 100", tcpLive(small))
	}
	if !strings.Contains(a, "syn_unanswered critical  198.51.100.10 443 x2000") || !strings.Contains(a, "npa_notification_missing") {
		t.Errorf("flood or NPA finding missing:\n%s", a)
	}
}

func TestUDPEvictionKeepsFindings(t *testing.T) {
	s := flowtest.New()
	// Real traffic: a K2 client answered, one whose requests draw ICMP.
	k2 := ep("198.51.100.20:19283")
	for i := 0; i < 3; i++ {
		s.UDP(ep("192.0.2.60:50000"), k2, 40)
		s.UDP(k2, ep("192.0.2.60:50000"), 40)
		s.UDP(ep("192.0.2.61:50000"), ep("198.51.100.30:9999"), 40)
		s.ICMPUnreach(netip.MustParseAddr("198.51.100.30"), netip.MustParseAddr("192.0.2.61"), 3, 17, ep("192.0.2.61:50000"), ep("198.51.100.30:9999"), 0)
		s.Wait(time.Second)
	}
	// Noise: 3000 one-datagram flows from distinct sources, 10 ms apart,
	// some drawing ICMP errors.
	for i := 0; i < 3000; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 2000)
		s.UDP(c, ep("198.51.100.40:7777"), 30)
		if i%100 == 0 {
			s.ICMPUnreach(netip.MustParseAddr("198.51.100.1"), c.Addr(), 13, 17, c, ep("198.51.100.40:7777"), 0)
		}
		s.Wait(10 * time.Millisecond)
	}
	s.UDP(ep("192.0.2.60:50000"), k2, 40)
	s.UDP(k2, ep("192.0.2.60:50000"), 40)
	a, small := withAndWithoutEviction(t, s, flows.Config{MaxUDPFlows: 100})
	if udpLive(small) > 400 {
		t.Errorf("live UDP table grew to %d with a cap of 100", udpLive(small))
	}
	if !strings.Contains(a, "udp_icmp_unreachable warning  198.51.100.40 7777 x30") || !strings.Contains(a, "udp_icmp_unreachable warning 192.0.2.61 198.51.100.30 9999 x1") {
		t.Errorf("findings missing:\n%s", a)
	}
}

func TestWebPortsBelongToProductHostsOnly(t *testing.T) {
	s := flowtest.New()
	// A Supportworks server: 5001 and 443 answered.
	k := s.Open("192.0.2.10:40000", srv)
	k.Send(true, 20)
	h := s.Open("192.0.2.10:40001", "198.51.100.10:443")
	h.Send(true, 20)
	// Any other web server is no product's.
	w := s.Open("192.0.2.10:40002", "203.0.113.80:443")
	w.Send(true, 20)
	// A KeyReporter: queries the KeyServer over TCP 19283 and serves 80.
	q := s.Open("198.51.100.30:41000", "198.51.100.20:19283")
	q.Send(true, 20)
	r := s.Open("192.0.2.11:42000", "198.51.100.30:80")
	r.Send(true, 20)
	res := run(s, flowtest.Defaults())
	got := map[string]string{}
	for _, f := range res.TCPFlows {
		got[f.Server.String()] = string(f.Service)
	}
	want := map[string]string{"198.51.100.10:5001": "sw-binary", "198.51.100.10:443": "sw-https", "203.0.113.80:443": "", "198.51.100.20:19283": "k2-keyserver", "198.51.100.30:80": "k2-reporter"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got service %q; want %q", k, got[k], v)
		}
	}
	for _, h := range res.Hosts {
		if h.Addr == addr("203.0.113.80") {
			t.Errorf("a plain web server got roles %v", h.Roles)
		}
	}
}

func TestSameConnectionAtTwoCapturePointsCountsOnce(t *testing.T) {
	s := flowtest.New()
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5002")
	for r := 0; r < 3; r++ {
		s.TCP(c, d, fS, 7, 0, 0)
		s.Wait(time.Second)
	}
	// The same packets as a second capture (the other side of a firewall).
	n := len(s.Pkts)
	for i := 0; i < n; i++ {
		p := s.Pkts[i]
		p.Input = 1
		s.Pkts = append(s.Pkts, p)
	}
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "syn_unanswered")
	if f.Count != 1 || len(f.Evidence) != 2 {
		t.Errorf("got count %d with evidence from %d inputs; want 1 connection shown by both captures", f.Count, len(f.Evidence))
	}
}

func TestCompareCapturePoints(t *testing.T) {
	build := func(drop bool, skew time.Duration) *diagnose.Result {
		s := flowtest.New()
		c, k2 := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
		for i := 0; i < 5; i++ {
			req := s.UDP(c, k2, 40)
			req.Payload = []byte(fmt.Sprintf("KA REQ seq=%d", i))
			s.Wait(5 * time.Millisecond)
			ans := s.UDP(k2, c, 40)
			ans.Payload = []byte(fmt.Sprintf("KS ACK %d", i))
			s.Wait(3 * time.Second)
		}
		// Both captures go on recording other traffic afterwards.
		s.Wait(10 * time.Second)
		s.UDP(ep("192.0.2.99:1000"), ep("198.51.100.99:2000"), 10)
		// The client side saw the same packets (other clock), except the
		// last two answers when the firewall dropped them.
		n := len(s.Pkts)
		for i := 0; i < n; i++ {
			p := s.Pkts[i]
			if drop && p.Src == k2.Addr() && i >= n-4 {
				continue
			}
			p.Input = 1
			p.Time = p.Time.Add(skew)
			p.Payload = append([]byte(nil), p.Payload...)
			s.Pkts = append(s.Pkts, p)
		}
		sort.SliceStable(s.Pkts, func(i, j int) bool { return s.Pkts[i].Time.Before(s.Pkts[j].Time) })
		return runCfg(s, flows.Config{ComparePoints: true}, nil)
	}
	if k := kinds(build(false, 0)); k["dropped_between_captures"]+k["reset_between_captures"] != 0 {
		t.Errorf("identical captures: got %v; want no comparison finding", k)
	}
	for _, skew := range []time.Duration{0, time.Hour, -7 * time.Minute} {
		r := build(true, skew)
		f := findKind(t, r, "dropped_between_captures")
		if f.Count != 2 || len(f.Evidence) != 1 || f.Evidence[0].Input != 0 || len(f.Evidence[0].Frames) != 2 {
			t.Errorf("skew %v: got count %d evidence %+v; want the 2 answers, from input 0", skew, f.Count, f.Evidence)
		}
		x := f.Facts.(*diagnose.BetweenFacts)
		inputAt := func(m map[uint16]int) []int {
			var ins []int
			for v := range m {
				ins = append(ins, r.CapturePoints[v].Input)
			}
			return ins
		}
		if seen, miss := inputAt(x.SeenAt), inputAt(x.MissingAt); x.ToClient != 2 || x.ToServer != 0 || len(seen) != 1 || seen[0] != 0 || len(miss) != 1 || miss[0] != 1 || f.Server != addr("198.51.100.20") || f.Client != addr("192.0.2.60") {
			t.Errorf("skew %v: got %+v between %v and %v; want 2 answers to the client, seen at point 0 and missing at 1", skew, x, f.Client, f.Server)
		}
	}
}

func TestStatusMailOnlyFromK2Servers(t *testing.T) {
	s := flowtest.New()
	ks := ep("198.51.100.20:19283")
	s.UDP(ep("192.0.2.60:50000"), ks, 40)
	s.UDP(ks, ep("192.0.2.60:50000"), 40)
	// The KeyServer's status mail is refused; another host's mail too.
	s.TCP(ep("198.51.100.20:41000"), ep("203.0.113.25:25"), fS, 1, 0, 0)
	s.TCP(ep("203.0.113.25:25"), ep("198.51.100.20:41000"), fR|fA, 0, 2, 0)
	s.TCP(ep("192.0.2.70:41000"), ep("203.0.113.26:25"), fS, 1, 0, 0)
	s.TCP(ep("203.0.113.26:25"), ep("192.0.2.70:41000"), fR|fA, 0, 2, 0)
	r := run(s, flowtest.Defaults())
	seen := 0
	for _, f := range r.Findings {
		switch f.Server.String() {
		case "203.0.113.25":
			seen++
			if svc(f) != "k2-smtp" || f.Severity != diagnose.Warning {
				t.Errorf("KeyServer mail: got %s %s; want k2-smtp warning", svc(f), f.Severity)
			}
		case "203.0.113.26":
			seen++
			if f.Service != nil {
				t.Errorf("a non-K2 host's mail was labelled %s", svc(f))
			}
		}
	}
	if seen != 2 {
		t.Errorf("got %d findings about the two refused mails; want 2", seen)
	}
}

func TestGreetingNamesAMovedPort(t *testing.T) {
	s := flowtest.New()
	c, d := ep("192.0.2.10:40000"), ep("198.51.100.10:6001")
	s.TCP(c, d, fS, 100, 0, 0)
	s.TCP(d, c, fS|fA, 500, 101, 0)
	s.TCP(c, d, fA, 101, 501, 0)
	s.TCP(d, c, fPA, 501, 101, 20).Payload = []byte("SW102: Hello[srv]\n")
	s.TCP(c, d, fPA, 101, 521, 10).Payload = []byte("LOGIN u=1\n")
	// A flow whose first data is not a greeting is not named by later data.
	e := ep("198.51.100.10:6002")
	s.TCP(c, e, fS, 100, 0, 0)
	s.TCP(e, c, fS|fA, 500, 101, 0)
	s.TCP(c, e, fA, 101, 501, 0)
	s.TCP(e, c, fPA, 501, 101, 5).Payload = []byte("hello")
	s.TCP(e, c, fPA, 506, 101, 20).Payload = []byte("SW102: Hello[srv]\n")
	r := run(s, flowtest.Defaults())
	got := map[uint16]string{}
	for _, f := range r.TCPFlows {
		got[f.Server.Port()] = string(f.Service)
	}
	if got[6001] != "sw-binary" || got[6002] != "" {
		t.Errorf("got services %v; want 6001 sw-binary (greeting) and 6002 none", got)
	}
}

// withAndWithoutEviction analyzes s with the default state caps and with
// the small caps of capped, fails when the two reports differ, and returns
// the report summary and the capped analyzer.
func withAndWithoutEviction(t *testing.T, s *flowtest.Script, capped flows.Config) (string, *flows.Analyzer) {
	t.Helper()
	full := runCfg(s, flows.Config{}, nil)
	ev := diagnose.NewEvictions()
	capped.OnEvict = ev
	small := s.Feed(capped)
	a, b := summarize(full), summarize(diagnose.Run(small.View(), ev, nil))
	if a != b {
		t.Errorf("eviction changed the report:\nwithout:\n%s\nwith:\n%s", a, b)
	}
	return a, small
}

// summarize renders what eviction must not change: findings with counts,
// NPA sessions, the services table and the statistics.
func summarize(r *diagnose.Result) string {
	var out []string
	for _, f := range r.Findings {
		line := fmt.Sprintf("%s %s %s %s %d x%d", f.Kind, f.Severity, orNone(f.Client), orNone(f.Server), f.Port, f.Count)
		if x, ok := f.Facts.(*diagnose.UDPUnansweredFacts); ok && x.Rebinds+x.Failovers > 0 {
			line += fmt.Sprintf(" rebinds %d failovers %d", x.Rebinds, x.Failovers)
		}
		out = append(out, line)
	}
	for _, n := range r.NPASessions {
		out = append(out, n.Client.String()+" "+string(n.Status))
	}
	for _, s := range r.Services {
		out = append(out, fmt.Sprintf("%s:%d %s %d %d", s.Server, s.Port, s.Status, s.Clients, s.Connections))
	}
	out = append(out, fmt.Sprintf("%+v", r.Stats))
	return strings.Join(out, "\n")
}

func TestOneSidedCaptureIsNotABlockedClient(t *testing.T) {
	// A one-way mirror of a working client: its half of an established
	// session (ACKs for data the capture never saw) and SYNs "unanswered".
	mirror := flowtest.New()
	for i := 0; i < 3; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(40000+i))
		mirror.TCP(c, ep(srv), fS, 1, 0, 0)
		mirror.Wait(time.Millisecond)
		mirror.TCP(c, ep(srv), fA, 2, 501, 0)
		mirror.TCP(c, ep(srv), fPA, 2, 531, 40)
		mirror.Wait(2 * time.Second)
	}
	k := kinds(run(mirror, flowtest.Defaults()))
	if k["capture_one_sided"] != 1 || k["syn_unanswered"] != 0 {
		t.Errorf("one-way mirror: got %v; want capture_one_sided and no syn_unanswered", k)
	}
	// A client whose every SYN is dropped: only SYNs, which is a finding.
	blocked := flowtest.New()
	for i := 0; i < 3; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(40000+i))
		blocked.TCP(c, ep(srv), fS, 1, 0, 0)
		blocked.Wait(2 * time.Second)
	}
	k = kinds(run(blocked, flowtest.Defaults()))
	if k["capture_one_sided"] != 0 || k["syn_unanswered"] != 1 {
		t.Errorf("blocked client: got %v; want syn_unanswered and no capture_one_sided", k)
	}
}

func TestNPAOrphanNotification(t *testing.T) {
	// A notification socket whose main session ended minutes before it
	// opened: the client lost its session while the server keeps pushing.
	s := flowtest.New()
	m := s.Open("192.0.2.10:40000", srv)
	m.Send(false, 30)
	m.Send(true, 60)
	m.Send(true, 60)
	m.Close()
	s.Wait(3 * time.Minute)
	n := s.Open("192.0.2.10:40001", srv)
	n.Send(false, 30)
	n.Send(true, 40)
	for i := 0; i < 3; i++ {
		s.Wait(time.Second)
		n.Send(false, 50)
	}
	r := run(s, flowtest.Defaults())
	f := findKind(t, r, "npa_orphan_notification")
	if f.Severity != diagnose.Warning || f.Facts.(*diagnose.NPAOrphanFacts).Why != diagnose.WhyOrphanMainEnded {
		t.Errorf("got %s %+v; want a warning: the main session ended", f.Severity, f.Facts)
	}
	var statuses []string
	for _, ss := range r.NPASessions {
		statuses = append(statuses, string(ss.Status))
	}
	if strings.Join(statuses, ",") != "missing,orphan" && strings.Join(statuses, ",") != "orphan,missing" {
		t.Errorf("got sessions %v; want the ended main (missing) and the orphan", statuses)
	}
}

func TestCaptureDrops(t *testing.T) {
	s := flowtest.New()
	k := s.Open(cli, srv)
	k.Send(true, 10)
	r := runCfg(s, flows.Config{}, []*dissect.InputInfo{{Path: "live eth0", Drops: 7}})
	f := findKind(t, r, "capture_drops")
	if x := f.Facts.(*diagnose.CaptureFacts); f.Count != 7 || f.Severity != diagnose.Warning || x.Input != 0 || x.Drops != 7 {
		t.Errorf("got %+v", f)
	}
	if k := kinds(runCfg(s, flows.Config{}, []*dissect.InputInfo{{Path: "x", Drops: -1}})); k["capture_drops"] != 0 {
		t.Errorf("unknown drops (-1) reported as drops")
	}
}

// TestSubMatchesTimeSub: the engine's fast gap equals time.Time.Sub, at
// nanosecond precision, across signs, and where Sub saturates.
// FlowHead order, and none that a sweep evicted.
func tcpLive(a *flows.Analyzer) int { n, _ := a.Live(); return n }
func udpLive(a *flows.Analyzer) int { _, n := a.Live(); return n }

// orNone writes an address, "" for none.
func orNone(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// TestScannerDoesNotDescribeServices: a scanner sweeping ports 1-300 of a
// healthy Supportworks server (some answered, most reset) gives its
// syn_scan finding and the role "scanner", and nothing else: no services
// rows for the ports it touched, no version contradiction (it touched 21,
// which only versions before 7.4.0 use), no NPA orphan for its 5001 probe.
func TestScannerDoesNotDescribeServices(t *testing.T) {
	s := flowtest.New()
	for i := 0; i < 3; i++ {
		m, n := npaPair(s, fmt.Sprintf("192.0.2.%d", 10+i), 40000, 40001)
		m.Send(true, 40)
		n.Send(false, 40)
	}
	k := s.Open("192.0.2.10:40010", "198.51.100.10:5015") // XMLMC: 7.4.0 or later
	k.Send(true, 100)
	scanner := addr("203.0.113.66")
	open := map[uint16]bool{21: true, 80: true, 443: true, 5001: true, 5015: true}
	for port := uint16(1); port <= 300; port++ {
		c := netip.AddrPortFrom(scanner, 30000+port)
		d := netip.AddrPortFrom(addr(srvA), port)
		s.TCP(c, d, fS, 1, 0, 0)
		if open[port] {
			s.TCP(d, c, fS|fA, 100, 2, 0)
			s.TCP(c, d, fR, 2, 0, 0)
		} else {
			s.TCP(d, c, fR|fA, 0, 2, 0)
		}
		s.Wait(time.Millisecond)
	}
	for _, port := range []uint16{5001, 5015} {
		c := netip.AddrPortFrom(scanner, 31000+port)
		k := s.Open(c.String(), netip.AddrPortFrom(addr(srvA), port).String())
		k.Close()
	}
	r := run(s, flowtest.Defaults())
	if k := kinds(r); k["syn_scan"] != 1 || k["syn_reset"] != 0 || k["npa_orphan_notification"] != 0 || k["npa_notification_missing"] != 0 {
		t.Errorf("got %v; want one syn_scan and no syn_reset or NPA finding", k)
	}
	var rows []string
	for _, sv := range r.Services {
		rows = append(rows, fmt.Sprintf("%s:%d %s %d", sv.Server, sv.Port, sv.Status, sv.Clients))
	}
	if want := "198.51.100.10:5001 listening 3,198.51.100.10:5015 listening 1"; strings.Join(rows, ",") != want {
		t.Errorf("got services %v; want only the real clients' rows %s", rows, want)
	}
	v := findKind(t, r, "sw_version_inferred").Facts.(*diagnose.VersionFacts)
	if v.Lo != 740 || v.Hi != -1 {
		t.Errorf("got version range %d..%d; want 7.4.0 or later (the scanner's probe of 21 must not count)", v.Lo, v.Hi)
	}
	for _, h := range r.Hosts {
		if h.Addr == scanner && strings.Join(h.Roles, ",") != "scanner" {
			t.Errorf("scanner roles %v; want only scanner", h.Roles)
		}
	}
}

// TestSharedAddressNamesEachConnection: prs.sassafras.com and
// www.sassafras.com resolve to one address. A blocked 443 to it is k2-prs
// (the address answered for prs, whatever else shares it), a blocked 80
// after a lookup of www is the version check, and the hosts table keeps
// both names.
func TestSharedAddressNamesEachConnection(t *testing.T) {
	s := flowtest.New()
	ks, k2c, dns := addr("198.51.100.20"), "192.0.2.60:50000", ep("198.51.100.53:53")
	shared := addr("203.0.113.50")
	// The KeyServer answers its clients: it is a K2 server.
	s.UDP(ep(k2c), netip.AddrPortFrom(ks, 19283), 40)
	s.UDP(netip.AddrPortFrom(ks, 19283), ep(k2c), 40)
	// KeyConfigure on 192.0.2.61 looks up www, then prs; the KeyServer
	// looks up www only.
	admin := addr("192.0.2.61")
	s.DNSAnswer(dns, netip.AddrPortFrom(admin, 5353), "www.sassafras.com", shared)
	s.DNSAnswer(dns, netip.AddrPortFrom(ks, 5353), "www.sassafras.com", shared)
	s.Wait(time.Second)
	s.DNSAnswer(dns, netip.AddrPortFrom(admin, 5353), "prs.sassafras.com", shared)
	attempt := func(c netip.Addr, port uint16) {
		for r := 0; r < 3; r++ {
			s.TCP(netip.AddrPortFrom(c, 41000+port), netip.AddrPortFrom(shared, port), fS, uint32(port), 0, 0)
			s.Wait(time.Second << r)
		}
	}
	attempt(ks, 443)   // looked up www only, but the address answered for prs
	attempt(admin, 80) // its latest lookup is prs: PRS over HTTP
	attempt(ks, 80)    // its latest lookup is www: the version check
	r := run(s, flowtest.Defaults())
	got := map[string]string{}
	for _, f := range r.Findings {
		if f.Kind == diagnose.SynUnanswered {
			got[fmt.Sprintf("%s:%d", f.Client, f.Port)] = svc(f)
		}
	}
	want := map[string]string{"198.51.100.20:443": "k2-prs", "192.0.2.61:80": "k2-prs", "198.51.100.20:80": "k2-version-check"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got service %q; want %q (all: %v)", k, got[k], v, got)
		}
	}
	v := s.Feed(flows.Config{}).View()
	if names := v.Names[shared]; strings.Join(names, ",") != "www.sassafras.com,prs.sassafras.com" {
		t.Errorf("got names %v; want both, first seen first", names)
	}
}

// TestICMPQuotingTheAnswerProvesTheFlowWasForgotten: seen at a KeyServer
// whose client is behind a NAT (198.51.100.1), an answer 7 s late draws
// ICMP port-unreachable from the NAT, quoting the answer. That is a
// udp_late_response naming the NAT and the 7 s silence, although 7 s is
// below the 60 s default; not a udp_icmp_unreachable "from the client".
func TestICMPQuotingTheAnswerProvesTheFlowWasForgotten(t *testing.T) {
	s := flowtest.New()
	nat, ks := ep("198.51.100.1:61000"), ep("198.51.100.20:19283")
	for i := 0; i < 3; i++ {
		s.UDP(nat, ks, 40)
		s.Wait(10 * time.Millisecond)
		s.UDP(ks, nat, 40)
		s.Wait(2 * time.Second)
	}
	s.UDP(nat, ks, 40)
	s.Wait(7 * time.Second)
	s.UDP(ks, nat, 40)
	late := s.Frame
	s.Wait(time.Millisecond)
	s.ICMPUnreach(nat.Addr(), ks.Addr(), 3, 17, ks, nat, 0)
	icmp := s.Frame
	r := run(s, flowtest.Defaults())
	if k := kinds(r); k["udp_icmp_unreachable"] != 0 || k["udp_late_response"] != 1 {
		t.Fatalf("got %v; want one udp_late_response and no udp_icmp_unreachable", k)
	}
	f := findKind(t, r, "udp_late_response")
	x := f.Facts.(*diagnose.UDPLateFacts)
	if x.Refused != 1 || x.Late != 1 || x.From[nat.Addr()] != 1 || len(f.Samples) != 1 || f.Samples[0].Round(time.Second) != 7*time.Second {
		t.Errorf("got facts %+v samples %v; want 1 refused datagram after 7 s, refused by the NAT", x, f.Samples)
	}
	ev := f.Evidence[0].Frames
	if !slices.Contains(ev, late) || !slices.Contains(ev, icmp) {
		t.Errorf("evidence %v lacks the late answer %d or the ICMP error %d", ev, late, icmp)
	}
	if len(r.UDPFlows) != 1 || r.UDPFlows[0].ICMPErrors != 1 {
		t.Errorf("got UDP flows %+v; want the one flow with its ICMP error", r.UDPFlows)
	}
}

// TestScannerProbesCostNothingOnceKnown: once a client's failed attempts
// fan out past the threshold as they leave the analyzer, each further
// probe only adds to its syn_scan aggregate: no allocation, no finding or
// services row per target.
func TestScannerProbesCostNothingOnceKnown(t *testing.T) {
	ev := diagnose.NewEvictions()
	scanner := addr("203.0.113.66")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	probe := func(i int) *flows.Conn {
		c := &flows.Conn{FirstSyn: t0, LastSyn: t0, Frames: []uint64{uint64(i)}}
		c.Client = netip.AddrPortFrom(scanner, uint16(20000+i%30000))
		c.Server = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 50)}), uint16(1+i%200))
		c.First, c.Last, c.Dir[0].SYN, c.Dir[1].RST = t0, t0, 1, 1
		return c
	}
	for i := 0; i < 1000; i++ {
		ev.EvictConn(probe(i), t0, nil)
	}
	probes := make([]*flows.Conn, 5000)
	for i := range probes {
		probes[i] = probe(1000 + i)
	}
	i := 0
	allocs := testing.AllocsPerRun(len(probes)-1, func() {
		ev.EvictConn(probes[i], t0, nil)
		i++
	})
	if allocs != 0 {
		t.Errorf("got %.2f allocations per known scanner's probe; want 0", allocs)
	}
	a := flows.New(flows.Config{Timeouts: flowtest.Defaults(), OnEvict: ev})
	r := diagnose.Run(a.View(), ev, nil)
	if len(r.Findings) != 1 || r.Findings[0].Kind != diagnose.SynScan || len(r.Services) != 0 {
		t.Fatalf("got %d findings (%v) and %d service rows; want one syn_scan and no rows", len(r.Findings), kinds(r), len(r.Services))
	}
	f := r.Findings[0]
	if x := f.Facts.(*diagnose.ScanFacts); f.Count != 1000+len(probes) || x.Kinds[diagnose.SynReset] != f.Count || len(x.Hosts) != 50 || f.Client != scanner {
		t.Errorf("got count %d facts %+v; want every probe counted as a reset, 50 hosts", f.Count, x)
	}
}

// TestK2FloodIsEvictedAndTheStoryKept: 2997 one-datagram sources flooding
// the KeyServer's UDP 19283 beside a real client whose requests go
// unanswered and who rebinds twice. With the UDP table capped at 1000 flows
// (service flows evicted too) the report is the same as without a cap: the
// flood's one merged udp_unanswered, the client's rebinds across evicted
// flows, the services row, the counts.
func TestK2FloodIsEvictedAndTheStoryKept(t *testing.T) {
	s := flowtest.New()
	ks := ep("198.51.100.20:19283")
	for port := 50000; port < 50003; port++ {
		c := netip.AddrPortFrom(addr("192.0.2.60"), uint16(port))
		for i := 0; i < 3; i++ {
			s.UDP(c, ks, 40)
			for j := 0; j < 333; j++ {
				n := (port-50000)*1000 + i*333 + j
				s.UDP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(n >> 8), byte(n)}), 3000), ks, 40)
				s.Wait(50 * time.Millisecond)
			}
		}
	}
	s.Wait(10 * time.Second)
	s.UDP(ep("192.0.2.99:1000"), ep("198.51.100.99:2000"), 10) // the capture goes on
	a, small := withAndWithoutEviction(t, s, flows.Config{MaxUDPFlows: 1000})
	if udpLive(small) > 2000 || small.View().Evicted.ServiceUDPFlows < 1000 {
		t.Errorf("live UDP table grew to %d with a cap of 1000 (%d service flows evicted)", udpLive(small), small.View().Evicted.ServiceUDPFlows)
	}
	for _, want := range []string{"udp_unanswered critical  198.51.100.20 19283 x3000 rebinds 2 failovers 0", "198.51.100.20:19283 filtered 2998 3000"} {
		if !strings.Contains(a, want) {
			t.Errorf("report lacks %q:\n%s", want, a)
		}
	}
}

// TestFactsCountEachMemberOnce: a finding's facts add up over the members
// its count counts: the same connections and flows seen at two capture
// points (every packet at both) give the counts and the facts of one
// point (requests, SYNs, SYN-ACKs: not twice as many).
func TestFactsCountEachMemberOnce(t *testing.T) {
	s := flowtest.New()
	k2c, k2s := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
	for i := 0; i < 5; i++ {
		s.UDP(k2c, k2s, 40)
		s.Wait(2 * time.Second)
	}
	c1, sw := ep("192.0.2.10:40001"), ep("198.51.100.10:5005")
	s.TCP(c1, sw, fS, 100, 0, 0)
	for i := 0; i < 3; i++ {
		s.TCP(sw, c1, fS|fA, 900, 101, 0)
		s.TCP(c1, sw, fA, 101, 901, 0)
		s.Wait(time.Second)
	}
	c2 := ep("192.0.2.11:40002")
	s.TCP(c2, ep("198.51.100.10:5002"), fS, 7, 0, 0)
	s.Wait(time.Second)
	s.TCP(c2, ep("198.51.100.10:5002"), fS, 7, 0, 0)
	s.Wait(30 * time.Second)
	two := s.AtTwoPoints()
	to := catalog.TimeoutsFor(mustProfile(t, "default"), 0, 0)
	r1, r2 := run(s, to), run(two, to)
	want := map[diagnose.Kind]bool{diagnose.UDPUnanswered: true, diagnose.HandshakeIncomplete: true, diagnose.SynUnanswered: true}
	for k := range want {
		f1, f2 := findKind(t, r1, k), findKind(t, r2, k)
		if f1.Count != f2.Count || fmt.Sprint(f1.Facts) != fmt.Sprint(f2.Facts) {
			t.Errorf("%s at two points: count %d, facts %+v; at one: %d, %+v", k, f2.Count, f2.Facts, f1.Count, f1.Facts)
		}
	}
	if x := findKind(t, r1, diagnose.UDPUnanswered).Facts.(*diagnose.UDPUnansweredFacts); x.Requests != 5 {
		t.Errorf("udp_unanswered: %d requests; want 5", x.Requests)
	}
}

// TestMembersPastTheBoundAreReported: with two capture points, a finding
// remembers the connections it counted up to its bound (4,096) and counts
// each of them once; past it, a connection is counted at every point
// that saw it, and the report says so (BoundMembers) with how many. With
// one capture point the bound changes nothing and is not reported.
func TestMembersPastTheBoundAreReported(t *testing.T) {
	s := flowtest.New()
	const n = 5000
	for i := 0; i < n; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000)
		s.TCP(c, ep("198.51.100.10:443"), fS, 1, 0, 0)
		s.Wait(time.Millisecond)
	}
	s.Wait(30 * time.Second)
	s.UDP(ep("192.0.2.1:5353"), ep("192.0.2.2:5353"), 10) // the capture goes on: every attempt is due
	two := s.AtTwoPoints()
	to := catalog.TimeoutsFor(mustProfile(t, "default"), 0, 0)
	bound := func(r *diagnose.Result) (b diagnose.Bound) {
		for _, x := range r.Bounds {
			if x.Table == diagnose.BoundMembers {
				b = x
			}
		}
		return b
	}
	r1, r2 := run(s, to), run(two, to)
	if f := findKind(t, r1, diagnose.SynUnanswered); f.Count != n || bound(r1).Summarised != 0 {
		t.Errorf("one point: %d attempts, %d past the bound reported; want %d, none", f.Count, bound(r1).Summarised, n)
	}
	f, b := findKind(t, r2, diagnose.SynUnanswered), bound(r2)
	if want := 2 * (n - 4096); b.Summarised != want || b.Limit != 4096 || f.Count != n+want/2 {
		t.Errorf("two points: %d attempts, %d past the bound (limit %d) reported; want %d, %d (4096)", f.Count, b.Summarised, b.Limit, n+want/2, want)
	}
}

// TestRSTInjectedBothWaysIsOneConnection: an IPS that resets both ends
// of one connection (both resets forged) makes one rst_injected member
// whose facts hold both claims, at one capture point and at two.
func TestRSTInjectedBothWaysIsOneConnection(t *testing.T) {
	s := flowtest.New()
	k := s.Open(cli, srv)
	k.Send(true, 10)
	k.Send(false, 10)
	s.TTL[netip.MustParseAddr(srvA)] = 250
	s.TTL[k.C.Addr()] = 250
	s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
	s.TCP(k.C, k.Srv, fR, k.CS, 0, 0)
	s.TTL[netip.MustParseAddr(srvA)] = 63
	s.TTL[k.C.Addr()] = 63
	for points, sc := range []*flowtest.Script{s, s.AtTwoPoints()} {
		f := findKind(t, run(sc, flowtest.Defaults()), "rst_injected")
		if x := f.Facts.(*diagnose.RSTInjectedFacts); f.Count != 1 || x.ClaimsServer != 1 || x.ClaimsClient != 1 {
			t.Errorf("%d point(s): count %d, facts %+v; want 1 connection claiming both ends once", points+1, f.Count, x)
		}
	}
}

// TestNPAUDPOthersOnlyAtTwoPoints: a client whose server sends UDP
// notifications to another client, and none to it, is npa_udp_unreachable
// once, at one capture point and at two (its main session seen at both).
func TestNPAUDPOthersOnlyAtTwoPoints(t *testing.T) {
	s := flowtest.New()
	a := s.Open("192.0.2.10:40000", srv)
	b := s.Open("192.0.2.11:40001", srv)
	a.Send(false, 30)
	b.Send(false, 30)
	for i := 0; i < 3; i++ {
		s.Wait(time.Second)
		s.UDP(ep("198.51.100.10:5001"), ep("192.0.2.11:49152"), 80)
		a.Send(true, 40)
		b.Send(true, 40)
	}
	for points, sc := range []*flowtest.Script{s, s.AtTwoPoints()} {
		f := findKind(t, run(sc, flowtest.Defaults()), "npa_udp_unreachable")
		if x := f.Facts.(*diagnose.NPAUDPFacts); f.Count != 1 || x.NoneArrived != 1 || f.Client != netip.MustParseAddr("192.0.2.10") {
			t.Errorf("%d point(s): %s count %d, facts %+v; want 192.0.2.10 once, none arrived once", points+1, f.Client, f.Count, x)
		}
	}
}
