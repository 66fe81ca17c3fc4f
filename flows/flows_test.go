package flows

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

const (
	cli  = "192.0.2.10:40000"
	srv  = "198.51.100.10:5001"
	srvA = "198.51.100.10"
)

func defaults() Timeouts {
	p, _ := LookupProfile(DefaultProfileName)
	return TimeoutsFor(p, 0, 0)
}

func TestConnStateAndHistory(t *testing.T) {
	cases := []struct {
		name    string
		build   func(s *script)
		state   string
		history string
	}{
		{"normal_close", func(s *script) {
			k := s.open(cli, srv)
			k.send(true, 100)
			k.send(false, 200)
			k.close()
		}, "SF", "ShADadFf"},
		{"no_answer", func(s *script) {
			s.tcp(ep(cli), ep(srv), fS, 1, 0, 0)
		}, "S0", "S"},
		{"rejected", func(s *script) {
			s.tcp(ep(cli), ep(srv), fS, 1, 0, 0)
			s.tcp(ep(srv), ep(cli), fR|fA, 0, 2, 0)
		}, "REJ", "Sr"},
		{"established", func(s *script) {
			k := s.open(cli, srv)
			k.send(true, 10)
		}, "S1", "ShADa"},
		{"client_reset", func(s *script) {
			k := s.open(cli, srv)
			s.tcp(k.c, k.srv, fR, k.cs, 0, 0)
		}, "RSTO", "ShAR"},
		{"midstream", func(s *script) {
			s.tcp(ep(srv), ep(cli), fPA, 100, 100, 10)
			s.tcp(ep(cli), ep(srv), fA, 100, 110, 0)
		}, "OTH", "dA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t)
			tc.build(s)
			r := s.run(defaults())
			if len(r.TCPFlows) != 1 {
				t.Fatalf("got %d flows; want 1", len(r.TCPFlows))
			}
			f := r.TCPFlows[0]
			if f.ConnState != tc.state || f.History != tc.history {
				t.Errorf("got %s %q; want %s %q", f.ConnState, f.History, tc.state, tc.history)
			}
		})
	}
}

func TestHealthyTrafficHasNothingAboveInfo(t *testing.T) {
	s := newScript(t)
	for i := 0; i < 5; i++ {
		client := fmt.Sprintf("192.0.2.%d:4%04d", 10+i, i)
		notif := fmt.Sprintf("192.0.2.%d:5%04d", 10+i, i)
		m := s.open(client, srv)
		m.send(false, 30) // greeting
		m.send(true, 50)  // login
		s.wait(100 * time.Millisecond)
		n := s.open(notif, srv)
		n.send(false, 30)
		n.send(true, 40) // registration
		for j := 0; j < 3; j++ {
			s.wait(2 * time.Second)
			m.send(true, 80)
			m.send(false, 400)
			n.send(false, 60) // push, acknowledged
		}
	}
	r := s.run(defaults())
	if got := aboveInfo(r); len(got) != 0 {
		t.Fatalf("healthy traffic gave findings above info: %v", got)
	}
	if len(r.NPASessions) != 5 {
		t.Fatalf("got %d NPA sessions; want 5", len(r.NPASessions))
	}
	for _, n := range r.NPASessions {
		if n.Status != "paired" {
			t.Errorf("session %s: got status %s; want paired (%s)", n.Client, n.Status, n.Why)
		}
	}
}

func TestSynUnansweredGroupsAttempts(t *testing.T) {
	s := newScript(t)
	// 1000 attempts from one client to sw-sql, each with two retransmissions.
	for i := 0; i < 1000; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(20000+i))
		for r := 0; r < 3; r++ {
			s.tcp(c, ep("198.51.100.10:5002"), fS, uint32(i*7), 0, 0)
			s.wait(time.Second << r)
		}
	}
	r := s.run(defaults())
	if n := kinds(r)["syn_unanswered"]; n != 1 {
		t.Fatalf("got %d syn_unanswered findings; want 1 grouped", n)
	}
	f := findKind(t, r, "syn_unanswered")
	if f.Count != 1000 || f.Service != "sw-sql" || f.Severity != Critical || f.Port != 5002 {
		t.Errorf("got count %d service %s severity %s port %d; want 1000 sw-sql critical 5002", f.Count, f.Service, f.Severity, f.Port)
	}
	if !strings.Contains(f.Detail, "3000 SYNs") {
		t.Errorf("detail does not count the SYNs: %s", f.Detail)
	}
}

func TestSynUnansweredNeedsTime(t *testing.T) {
	// A single SYN at the very end of the capture proves nothing.
	s := newScript(t)
	k := s.open("192.0.2.10:40000", "198.51.100.10:5005")
	k.send(true, 10)
	s.wait(10 * time.Millisecond)
	s.tcp(ep("192.0.2.10:40001"), ep("198.51.100.10:5002"), fS, 1, 0, 0)
	r := s.run(defaults())
	if n := kinds(r)["syn_unanswered"]; n != 0 {
		t.Fatalf("got %d syn_unanswered for a SYN at the capture's end; want 0", n)
	}
}

func TestSynResetForgedByFirewall(t *testing.T) {
	s := newScript(t)
	// The server answers on 5001 with TTL 63 (one hop away) ...
	k := s.open(cli, srv)
	k.send(true, 10)
	// ... but a SYN to 5005 is reset with TTL 64: made by the firewall.
	s.tcp(ep("192.0.2.10:40001"), ep("198.51.100.10:5005"), fS, 1, 0, 0)
	s.ttl[netip.MustParseAddr(srvA)] = 64
	s.tcp(ep("198.51.100.10:5005"), ep("192.0.2.10:40001"), fR|fA, 0, 2, 0)
	r := s.run(defaults())
	f := findKind(t, r, "syn_reset")
	if f.Service != "sw-text" || f.Confidence != "high" || !strings.Contains(f.Detail, "TTL 64") {
		t.Errorf("got service %s confidence %s detail %q; want sw-text, high, TTL 64 named", f.Service, f.Confidence, f.Detail)
	}
	if !strings.Contains(f.WiresharkFilter, "tcp.flags.reset==1") {
		t.Errorf("filter does not select the reset: %s", f.WiresharkFilter)
	}
}

func TestSynICMPRejected(t *testing.T) {
	s := newScript(t)
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5015")
	s.tcp(c, d, fS, 77, 0, 0)
	s.icmpUnreach(netip.MustParseAddr("198.51.100.1"), c.Addr(), 13, 6, c, d, 77)
	r := s.run(defaults())
	f := findKind(t, r, "syn_icmp_rejected")
	if !strings.Contains(f.Summary, "admin-prohibited") || !strings.Contains(f.Detail, "198.51.100.1") {
		t.Errorf("got %q / %q; want the code and the rejecting router named", f.Summary, f.Detail)
	}
	if len(f.Evidence) != 1 || len(f.Evidence[0].Frames) != 2 {
		t.Errorf("got evidence %+v; want the SYN and the ICMP frame", f.Evidence)
	}
	if len(r.Services) != 1 || r.Services[0].Status != "filtered" {
		t.Errorf("got services %+v; want 5015 filtered", r.Services)
	}
}

func TestHandshakeIncomplete(t *testing.T) {
	s := newScript(t)
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5001")
	s.tcp(c, d, fS, 1, 0, 0)
	for i := 0; i < 3; i++ {
		s.wait(time.Second)
		s.tcp(d, c, fS|fA, 9, 2, 0)
	}
	r := s.run(defaults())
	f := findKind(t, r, "handshake_incomplete")
	if f.Severity != Critical || !strings.Contains(f.Detail, "3 SYN-ACKs") {
		t.Errorf("got %s %q; want critical with 3 SYN-ACKs", f.Severity, f.Detail)
	}
}

func TestRSTInjected(t *testing.T) {
	s := newScript(t)
	k := s.open(cli, srv)
	k.send(true, 10)
	k.send(false, 10)
	s.ttl[netip.MustParseAddr(srvA)] = 250 // an IPS three hops out with a high initial TTL
	s.tcp(k.srv, k.c, fR, k.ss, 0, 0)
	s.ttl[netip.MustParseAddr(srvA)] = 63
	r := s.run(defaults())
	f := findKind(t, r, "rst_injected")
	if !strings.Contains(f.Detail, "TTL 250") || !strings.Contains(f.Detail, "TTL 63") {
		t.Errorf("got %q; want both TTLs named", f.Detail)
	}
	// A genuine reset (same TTL) is not injected.
	s2 := newScript(t)
	k2 := s2.open(cli, srv)
	k2.send(true, 10)
	s2.tcp(k2.srv, k2.c, fR, k2.ss, 0, 0)
	if n := kinds(s2.run(defaults()))["rst_injected"]; n != 0 {
		t.Errorf("got %d rst_injected for a genuine reset; want 0", n)
	}
}

func TestRetransmissionAndKeepAlive(t *testing.T) {
	s := newScript(t)
	k := s.open(cli, srv)
	k.send(true, 100)
	k.keepalive()
	k.keepalive()
	k.pushLost(50, 3)
	r := s.run(defaults())
	f := r.TCPFlows[0]
	if f.KeepAlives != 2 || f.Retrans != 3 {
		t.Errorf("got %d keep-alives %d retransmissions; want 2 and 3", f.KeepAlives, f.Retrans)
	}
}

// npaPair opens a main session and its notification socket.
func npaPair(s *script, client string, mainPort, notifPort int) (m, n *conn) {
	m = s.open(fmt.Sprintf("%s:%d", client, mainPort), srv)
	m.send(false, 30)
	m.send(true, 60)
	s.wait(200 * time.Millisecond)
	n = s.open(fmt.Sprintf("%s:%d", client, notifPort), srv)
	n.send(false, 30)
	n.send(true, 40)
	return m, n
}

func TestNPAMissingBecauseSecondSYNBlocked(t *testing.T) {
	s := newScript(t)
	m := s.open("192.0.2.10:40000", srv)
	m.send(false, 30)
	m.send(true, 60)
	s.wait(100 * time.Millisecond)
	for r := 0; r < 4; r++ {
		s.tcp(ep("192.0.2.10:40001"), ep(srv), fS, 555, 0, 0)
		s.wait(time.Second << r)
	}
	m.send(true, 60)
	r := s.run(defaults())
	f := findKind(t, r, "npa_notification_missing")
	if f.Severity != Critical || f.Confidence != "high" {
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
	s := newScript(t)
	m, n := npaPair(s, "192.0.2.10", 40000, 40001)
	n.send(false, 60)
	// Two hours idle on the notification socket while the main session is busy.
	for i := 0; i < 240; i++ {
		s.wait(30 * time.Second)
		m.send(true, 40)
		m.send(false, 40)
	}
	n.pushLost(60, 5)
	m.send(true, 40)
	r := s.run(TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))
	f := findKind(t, r, "npa_notification_lost")
	if f.Severity != Critical || !strings.Contains(f.Detail, "2.0 h") {
		t.Errorf("got %s %q; want critical naming the 2 h idle", f.Severity, f.Detail)
	}
	if r.NPASessions[0].Status != "lost" {
		t.Errorf("got status %s; want lost", r.NPASessions[0].Status)
	}
}

func TestNPAIdleRiskWithoutLoss(t *testing.T) {
	s := newScript(t)
	m, n := npaPair(s, "192.0.2.10", 40000, 40001)
	s.wait(2 * time.Hour)
	n.send(false, 60) // acknowledged: this site's firewall kept the state
	m.send(true, 40)
	r := s.run(TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))
	f := findKind(t, r, "npa_idle_exceeds_timeout")
	if f.Severity != Warning {
		t.Errorf("got %s; want warning", f.Severity)
	}
	if kinds(r)["npa_notification_lost"] != 0 {
		t.Errorf("an acknowledged push was reported lost")
	}
	// With keep-alives inside the window there is no risk.
	s2 := newScript(t)
	m2, n2 := npaPair(s2, "192.0.2.10", 40000, 40001)
	for i := 0; i < 4; i++ {
		s2.wait(30 * time.Minute)
		n2.keepalive()
	}
	n2.send(false, 60)
	m2.send(true, 40)
	if k := kinds(s2.run(TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))); k["npa_idle_exceeds_timeout"] != 0 {
		t.Errorf("keep-alives every 30 min still gave an idle risk")
	}
}

func TestNPANATSharedAddress(t *testing.T) {
	// Two clients behind one NAT address, sessions interleaved.
	s := newScript(t)
	m1 := s.open("198.51.100.1:30000", srv)
	m1.send(false, 30)
	m1.send(true, 60)
	m2 := s.open("198.51.100.1:30002", srv)
	m2.send(false, 30)
	m2.send(true, 60)
	s.wait(100 * time.Millisecond)
	n1 := s.open("198.51.100.1:30001", srv)
	n1.send(false, 30)
	n1.send(true, 40)
	n2 := s.open("198.51.100.1:30003", srv)
	n2.send(false, 30)
	n2.send(true, 40)
	for i := 0; i < 3; i++ {
		s.wait(time.Second)
		m1.send(true, 40)
		m2.send(true, 40)
		n1.send(false, 40)
		n2.send(false, 40)
	}
	r := s.run(defaults())
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
	s := newScript(t)
	m := s.open("198.51.100.1:30000", srv)
	m.send(false, 30)
	m.send(true, 60)
	for i := 0; i < 3; i++ {
		s.wait(time.Second)
		s.udp(ep("198.51.100.10:5001"), ep("198.51.100.1:49152"), 80)
		s.icmpUnreach(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr(srvA), 3, 17, ep("198.51.100.10:5001"), ep("198.51.100.1:49152"), 0)
		m.send(true, 40)
	}
	r := s.run(defaults())
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
	if !strings.Contains(v.Summary, "up to 7.4.1") {
		t.Errorf("got %q; want version up to 7.4.1", v.Summary)
	}
}

func TestUDPLateResponseAgainstWindows(t *testing.T) {
	s := newScript(t)
	c, k2 := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
	s.udp(c, k2, 40)
	s.wait(20 * time.Millisecond)
	s.udp(k2, c, 40)
	s.wait(7 * time.Minute)
	s.udp(k2, c, 40) // tickle after 7 min
	s.wait(15 * time.Minute)
	s.udp(k2, c, 40) // 15 min
	r := s.run(TimeoutsFor(mustProfile(t, "windows"), 0, 0))
	f := findKind(t, r, "udp_late_response")
	if f.Count != 1 || !strings.Contains(f.Summary, "2 datagrams") || !strings.Contains(f.Detail, "7.0 min") || !strings.Contains(f.Detail, "15.0 min") {
		t.Errorf("got %q / %q; want 2 late datagrams at 7 and 15 min", f.Summary, f.Detail)
	}
	if !strings.Contains(f.Detail, "windows profile") || !strings.Contains(f.Recommendation, "15 minutes") {
		t.Errorf("finding must name the threshold's source and the 15 minute rule: %q / %q", f.Detail, f.Recommendation)
	}
	if len(r.UDPFlows) != 1 || r.UDPFlows[0].LateResponses != 2 || r.UDPFlows[0].MaxSilenceS < 899 {
		t.Errorf("got %+v; want 2 late, max silence 900 s", r.UDPFlows)
	}
	// The same flow against an ASA (120 s) still late; against a 20 min timeout, not.
	if k := kinds(s.run(TimeoutsFor(mustProfile(t, "windows"), 20*time.Minute, 0))); k["udp_late_response"] != 0 {
		t.Errorf("20 min timeout still reported late answers")
	}
}

func TestK2RebindAndFailover(t *testing.T) {
	s := newScript(t)
	ks, shadow := ep("198.51.100.20:19283"), ep("198.51.100.21:19315")
	for port := 50000; port < 50003; port++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.60"), uint16(port))
		for i := 0; i < 3; i++ {
			s.udp(c, ks, 40)
			s.wait(3 * time.Second)
		}
	}
	c := ep("192.0.2.60:50010")
	s.udp(c, shadow, 40)
	s.wait(10 * time.Millisecond)
	s.udp(shadow, c, 40)
	s.wait(10 * time.Second)
	r := s.run(defaults())
	k := kinds(r)
	if k["k2_client_rebind"] != 1 || k["k2_shadow_failover"] != 1 || k["udp_unanswered"] != 1 {
		t.Fatalf("got %v; want one each of rebind, failover, unanswered", k)
	}
	if f := findKind(t, r, "k2_client_rebind"); f.Count != 2 {
		t.Errorf("got %d rebinds; want 2", f.Count)
	}
	if f := findKind(t, r, "udp_unanswered"); !strings.Contains(f.Summary, "9 requests") {
		t.Errorf("got %q; want 9 requests", f.Summary)
	}
}

func TestServiceOverrideMovesPort(t *testing.T) {
	svcs, err := WithOverrides(DefaultServices(), []string{"sw-binary=6001"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCatalog(svcs)
	if s, ok := c.Lookup(6001, TCP, ""); !ok || s.Name != "sw-binary" {
		t.Errorf("got %v %v; want sw-binary on 6001", s, ok)
	}
	if s, ok := c.Lookup(5001, TCP, ""); ok {
		t.Errorf("5001 still maps to %s after the move", s.Name)
	}
	for _, bad := range []string{"sw-binary", "x=0", "x=70000", "x=80/sctp", "=80"} {
		if _, err := WithOverrides(DefaultServices(), []string{bad}); err == nil {
			t.Errorf("%q: got no error; want one", bad)
		}
	}
}

func TestCatalogNamesSharedPorts(t *testing.T) {
	c := NewCatalog(DefaultServices())
	cases := []struct {
		port uint16
		name string
		want string
	}{
		{443, "prs.sassafras.com", "k2-prs"},
		{80, "www.sassafras.com", "k2-version-check"},
		{80, "", "sw-http"},
		{25, "mail.example", "k2-smtp"},
		{19315, "", "k2-shadow"},
	}
	for _, tc := range cases {
		tr := TCP
		if tc.port == 19315 {
			tr = UDP
		}
		s, ok := c.Lookup(tc.port, tr, tc.name)
		if !ok || s.Name != tc.want {
			t.Errorf("port %d name %q: got %v; want %s", tc.port, tc.name, s, tc.want)
		}
	}
}

func mustProfile(t *testing.T, name string) Profile {
	t.Helper()
	p, err := LookupProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSupportworksInternalBlocked(t *testing.T) {
	s := newScript(t)
	// The server's own services: 5001 answers on loopback, 5002 is rejected.
	k := s.open("127.0.0.1:40000", "127.0.0.1:5001")
	k.send(true, 10)
	s.tcp(ep("127.0.0.1:40001"), ep("127.0.0.1:5002"), fS, 1, 0, 0)
	s.tcp(ep("127.0.0.1:5002"), ep("127.0.0.1:40001"), fR|fA, 0, 2, 0)
	r := s.run(defaults())
	f := findKind(t, r, "sw_internal_blocked")
	if f.Service != "sw-sql" || f.Severity != Critical || !strings.Contains(f.Recommendation, "do not try to secure the local computer") {
		t.Errorf("got %s %s %q", f.Service, f.Severity, f.Recommendation)
	}
	if k := kinds(r); k["syn_reset"] != 0 {
		t.Errorf("internal block also reported as syn_reset")
	}
}

func TestScanAndManyClientsAreFolded(t *testing.T) {
	s := newScript(t)
	// A scanner: resets from 100 ports of one host.
	for port := 1; port <= 100; port++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("203.0.113.66"), uint16(30000+port))
		d := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.10"), uint16(port))
		s.tcp(c, d, fS, 1, 0, 0)
		s.tcp(d, c, fR|fA, 0, 2, 0)
	}
	// 30 KeyAccess clients whose requests all go unanswered.
	for i := 0; i < 30; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 100+i)), 50000)
		for j := 0; j < 2; j++ {
			s.udp(c, ep("198.51.100.20:19283"), 40)
			s.wait(3 * time.Second)
		}
	}
	s.wait(10 * time.Second)
	r := s.run(defaults())
	k := kinds(r)
	if k["syn_scan"] != 1 || k["syn_reset"] != 0 {
		t.Fatalf("got %v; want one syn_scan and no syn_reset", k)
	}
	scan := findKind(t, r, "syn_scan")
	if scan.Count != 100 || scan.Severity != Info || scan.Service != "" || scan.Client != "203.0.113.66" {
		t.Errorf("got %+v", scan)
	}
	if k["udp_unanswered"] != 1 {
		t.Fatalf("got %d udp_unanswered; want 1 for all 30 clients", k["udp_unanswered"])
	}
	u := findKind(t, r, "udp_unanswered")
	if u.Client != "" || u.Count != 30 || !strings.Contains(u.Summary, "30 clients") || !strings.Contains(u.Detail, "Clients (30)") {
		t.Errorf("got client %q count %d summary %q", u.Client, u.Count, u.Summary)
	}
	if !strings.Contains(u.WiresharkFilter, "udp.port==19283") || strings.Contains(u.WiresharkFilter, "clients") {
		t.Errorf("bad filter for a merged finding: %s", u.WiresharkFilter)
	}
}

func TestEvictionKeepsFindings(t *testing.T) {
	build := func() *script {
		s := newScript(t)
		// Real traffic: healthy NPA pairs, one blocked notification socket,
		// one rejected service port.
		for i := 0; i < 3; i++ {
			m, n := npaPair(s, fmt.Sprintf("192.0.2.%d", 10+i), 40000, 40001)
			m.send(true, 40)
			n.send(false, 40)
		}
		m := s.open("192.0.2.20:40000", srv)
		m.send(false, 30)
		m.send(true, 60)
		s.tcp(ep("192.0.2.20:40001"), ep(srv), fS, 9, 0, 0)
		s.wait(time.Second)
		s.tcp(ep("192.0.2.20:40001"), ep(srv), fS, 9, 0, 0)
		s.tcp(ep("192.0.2.21:40002"), ep("198.51.100.10:5005"), fS, 1, 0, 0)
		s.tcp(ep("198.51.100.10:5005"), ep("192.0.2.21:40002"), fR|fA, 0, 2, 0)
		// A flood: 2000 sources, one SYN each, 10 ms apart, to HTTPS.
		for i := 0; i < 2000; i++ {
			c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 1024)
			s.tcp(c, ep("198.51.100.10:443"), fS, uint32(i), 0, 0)
			s.wait(10 * time.Millisecond)
		}
		s.wait(2 * time.Second)
		m.send(true, 60)
		return s
	}
	a, small := withAndWithoutEviction(t, build(), Config{MaxConns: 100})
	if small.tcp.len() > 400 {
		t.Errorf("live table grew to %d connections with a cap of 100", small.tcp.len())
	}
	if !strings.Contains(a, "syn_unanswered critical  198.51.100.10 443 x2000") || !strings.Contains(a, "npa_notification_missing") {
		t.Errorf("flood or NPA finding missing:\n%s", a)
	}
}

func TestUDPEvictionKeepsFindings(t *testing.T) {
	s := newScript(t)
	// Real traffic: a K2 client answered, one whose requests draw ICMP.
	k2 := ep("198.51.100.20:19283")
	for i := 0; i < 3; i++ {
		s.udp(ep("192.0.2.60:50000"), k2, 40)
		s.udp(k2, ep("192.0.2.60:50000"), 40)
		s.udp(ep("192.0.2.61:50000"), ep("198.51.100.30:9999"), 40)
		s.icmpUnreach(netip.MustParseAddr("198.51.100.30"), netip.MustParseAddr("192.0.2.61"), 3, 17, ep("192.0.2.61:50000"), ep("198.51.100.30:9999"), 0)
		s.wait(time.Second)
	}
	// Noise: 3000 one-datagram flows from distinct sources, 10 ms apart,
	// some drawing ICMP errors.
	for i := 0; i < 3000; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 2000)
		s.udp(c, ep("198.51.100.40:7777"), 30)
		if i%100 == 0 {
			s.icmpUnreach(netip.MustParseAddr("198.51.100.1"), c.Addr(), 13, 17, c, ep("198.51.100.40:7777"), 0)
		}
		s.wait(10 * time.Millisecond)
	}
	s.udp(ep("192.0.2.60:50000"), k2, 40)
	s.udp(k2, ep("192.0.2.60:50000"), 40)
	a, small := withAndWithoutEviction(t, s, Config{MaxUDPFlows: 100})
	if small.udp.len() > 400 {
		t.Errorf("live UDP table grew to %d with a cap of 100", small.udp.len())
	}
	if !strings.Contains(a, "udp_icmp_unreachable warning  198.51.100.40 7777 x30") || !strings.Contains(a, "udp_icmp_unreachable warning 192.0.2.61 198.51.100.30 9999 x1") {
		t.Errorf("findings missing:\n%s", a)
	}
}

func TestWebPortsBelongToProductHostsOnly(t *testing.T) {
	s := newScript(t)
	// A Supportworks server: 5001 and 443 answered.
	k := s.open("192.0.2.10:40000", srv)
	k.send(true, 20)
	h := s.open("192.0.2.10:40001", "198.51.100.10:443")
	h.send(true, 20)
	// Any other web server is no product's.
	w := s.open("192.0.2.10:40002", "203.0.113.80:443")
	w.send(true, 20)
	// A KeyReporter: queries the KeyServer over TCP 19283 and serves 80.
	q := s.open("198.51.100.30:41000", "198.51.100.20:19283")
	q.send(true, 20)
	r := s.open("192.0.2.11:42000", "198.51.100.30:80")
	r.send(true, 20)
	res := s.run(defaults())
	got := map[string]string{}
	for _, f := range res.TCPFlows {
		got[fmt.Sprintf("%s:%d", f.Server, f.ServerPort)] = f.Service
	}
	want := map[string]string{"198.51.100.10:5001": "sw-binary", "198.51.100.10:443": "sw-https", "203.0.113.80:443": "", "198.51.100.20:19283": "k2-keyserver", "198.51.100.30:80": "k2-reporter"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got service %q; want %q", k, got[k], v)
		}
	}
	for _, h := range res.Hosts {
		if h.Addr == "203.0.113.80" {
			t.Errorf("a plain web server got roles %v", h.Roles)
		}
	}
}

func TestSameConnectionAtTwoCapturePointsCountsOnce(t *testing.T) {
	s := newScript(t)
	c, d := ep("192.0.2.10:40001"), ep("198.51.100.10:5002")
	for r := 0; r < 3; r++ {
		s.tcp(c, d, fS, 7, 0, 0)
		s.wait(time.Second)
	}
	// The same packets as a second capture (the other side of a firewall).
	n := len(s.pkts)
	for i := 0; i < n; i++ {
		p := s.pkts[i]
		p.Input = 1
		s.pkts = append(s.pkts, p)
	}
	r := s.run(defaults())
	f := findKind(t, r, "syn_unanswered")
	if f.Count != 1 || len(f.Evidence) != 2 {
		t.Errorf("got count %d with evidence from %d inputs; want 1 connection shown by both captures", f.Count, len(f.Evidence))
	}
}

func TestCompareCapturePoints(t *testing.T) {
	build := func(drop bool, skew time.Duration) *Result {
		s := newScript(t)
		c, k2 := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
		for i := 0; i < 5; i++ {
			req := s.udp(c, k2, 40)
			req.Payload = []byte(fmt.Sprintf("KA REQ seq=%d", i))
			s.wait(5 * time.Millisecond)
			ans := s.udp(k2, c, 40)
			ans.Payload = []byte(fmt.Sprintf("KS ACK %d", i))
			s.wait(3 * time.Second)
		}
		// Both captures go on recording other traffic afterwards.
		s.wait(10 * time.Second)
		s.udp(ep("192.0.2.99:1000"), ep("198.51.100.99:2000"), 10)
		// The client side saw the same packets (other clock), except the
		// last two answers when the firewall dropped them.
		n := len(s.pkts)
		for i := 0; i < n; i++ {
			p := s.pkts[i]
			if drop && p.Src == k2.Addr() && i >= n-4 {
				continue
			}
			p.Input = 1
			p.Time = p.Time.Add(skew)
			p.Payload = append([]byte(nil), p.Payload...)
			s.pkts = append(s.pkts, p)
		}
		sort.SliceStable(s.pkts, func(i, j int) bool { return s.pkts[i].Time.Before(s.pkts[j].Time) })
		return s.feed(Config{ComparePoints: true}).Result(nil)
	}
	if k := kinds(build(false, 0)); k["dropped_between_captures"]+k["reset_between_captures"] != 0 {
		t.Errorf("identical captures: got %v; want no comparison finding", k)
	}
	for _, skew := range []time.Duration{0, time.Hour, -7 * time.Minute} {
		r := build(true, skew)
		f := findKind(t, r, "dropped_between_captures")
		if f.Count != 2 || len(f.Evidence) != 1 || f.Evidence[0].InputIndex != 0 || len(f.Evidence[0].Frames) != 2 {
			t.Errorf("skew %v: got count %d evidence %+v; want the 2 answers, from input 0", skew, f.Count, f.Evidence)
		}
		if !strings.Contains(f.Summary, "from 198.51.100.20 to 192.0.2.60") {
			t.Errorf("skew %v: summary %q does not say which way", skew, f.Summary)
		}
	}
}

func TestStatusMailOnlyFromK2Servers(t *testing.T) {
	s := newScript(t)
	ks := ep("198.51.100.20:19283")
	s.udp(ep("192.0.2.60:50000"), ks, 40)
	s.udp(ks, ep("192.0.2.60:50000"), 40)
	// The KeyServer's status mail is refused; another host's mail too.
	s.tcp(ep("198.51.100.20:41000"), ep("203.0.113.25:25"), fS, 1, 0, 0)
	s.tcp(ep("203.0.113.25:25"), ep("198.51.100.20:41000"), fR|fA, 0, 2, 0)
	s.tcp(ep("192.0.2.70:41000"), ep("203.0.113.26:25"), fS, 1, 0, 0)
	s.tcp(ep("203.0.113.26:25"), ep("192.0.2.70:41000"), fR|fA, 0, 2, 0)
	r := s.run(defaults())
	seen := 0
	for _, f := range r.Findings {
		switch f.Server {
		case "203.0.113.25":
			seen++
			if f.Service != "k2-smtp" || !strings.Contains(f.Recommendation, "status and warning mail") {
				t.Errorf("KeyServer mail: got %s %q", f.Service, f.Recommendation)
			}
		case "203.0.113.26":
			seen++
			if f.Service != "" {
				t.Errorf("a non-K2 host's mail was labelled %s", f.Service)
			}
		}
	}
	if seen != 2 {
		t.Errorf("got %d findings about the two refused mails; want 2", seen)
	}
}

func TestGreetingNamesAMovedPort(t *testing.T) {
	s := newScript(t)
	c, d := ep("192.0.2.10:40000"), ep("198.51.100.10:6001")
	s.tcp(c, d, fS, 100, 0, 0)
	s.tcp(d, c, fS|fA, 500, 101, 0)
	s.tcp(c, d, fA, 101, 501, 0)
	s.tcp(d, c, fPA, 501, 101, 20).Payload = []byte("SW102: Hello[srv]\n")
	s.tcp(c, d, fPA, 101, 521, 10).Payload = []byte("LOGIN u=1\n")
	// A flow whose first data is not a greeting is not named by later data.
	e := ep("198.51.100.10:6002")
	s.tcp(c, e, fS, 100, 0, 0)
	s.tcp(e, c, fS|fA, 500, 101, 0)
	s.tcp(c, e, fA, 101, 501, 0)
	s.tcp(e, c, fPA, 501, 101, 5).Payload = []byte("hello")
	s.tcp(e, c, fPA, 506, 101, 20).Payload = []byte("SW102: Hello[srv]\n")
	r := s.run(defaults())
	got := map[int]string{}
	for _, f := range r.TCPFlows {
		got[f.ServerPort] = f.Service
	}
	if got[6001] != "sw-binary" || got[6002] != "" {
		t.Errorf("got services %v; want 6001 sw-binary (greeting) and 6002 none", got)
	}
}

// withAndWithoutEviction analyzes s with the default state caps and with
// the small caps of capped, fails when the two reports differ, and returns
// the report summary and the capped analyzer.
func withAndWithoutEviction(t *testing.T, s *script, capped Config) (string, *Analyzer) {
	t.Helper()
	full, small := s.feed(Config{}), s.feed(capped)
	a, b := summarize(full.Result(nil)), summarize(small.Result(nil))
	if a != b {
		t.Errorf("eviction changed the report:\nwithout:\n%s\nwith:\n%s", a, b)
	}
	return a, small
}

// summarize renders what eviction must not change: findings with counts,
// NPA sessions, the services table and the statistics.
func summarize(r *Result) string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("%s %s %s %s %d x%d", f.Kind, f.Severity, f.Client, f.Server, f.Port, f.Count))
	}
	for _, n := range r.NPASessions {
		out = append(out, n.Client+" "+n.Status)
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
	mirror := newScript(t)
	for i := 0; i < 3; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(40000+i))
		mirror.tcp(c, ep(srv), fS, 1, 0, 0)
		mirror.wait(time.Millisecond)
		mirror.tcp(c, ep(srv), fA, 2, 501, 0)
		mirror.tcp(c, ep(srv), fPA, 2, 531, 40)
		mirror.wait(2 * time.Second)
	}
	k := kinds(mirror.run(defaults()))
	if k["capture_one_sided"] != 1 || k["syn_unanswered"] != 0 {
		t.Errorf("one-way mirror: got %v; want capture_one_sided and no syn_unanswered", k)
	}
	// A client whose every SYN is dropped: only SYNs, which is a finding.
	blocked := newScript(t)
	for i := 0; i < 3; i++ {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), uint16(40000+i))
		blocked.tcp(c, ep(srv), fS, 1, 0, 0)
		blocked.wait(2 * time.Second)
	}
	k = kinds(blocked.run(defaults()))
	if k["capture_one_sided"] != 0 || k["syn_unanswered"] != 1 {
		t.Errorf("blocked client: got %v; want syn_unanswered and no capture_one_sided", k)
	}
}

func TestNPAOrphanNotification(t *testing.T) {
	// A notification socket whose main session ended minutes before it
	// opened: the client lost its session while the server keeps pushing.
	s := newScript(t)
	m := s.open("192.0.2.10:40000", srv)
	m.send(false, 30)
	m.send(true, 60)
	m.send(true, 60)
	m.close()
	s.wait(3 * time.Minute)
	n := s.open("192.0.2.10:40001", srv)
	n.send(false, 30)
	n.send(true, 40)
	for i := 0; i < 3; i++ {
		s.wait(time.Second)
		n.send(false, 50)
	}
	r := s.run(defaults())
	f := findKind(t, r, "npa_orphan_notification")
	if f.Severity != Warning || !strings.Contains(f.Detail, "main session from the same client ended") {
		t.Errorf("got %s %q; want a warning naming the ended main session", f.Severity, f.Detail)
	}
	var statuses []string
	for _, ss := range r.NPASessions {
		statuses = append(statuses, ss.Status)
	}
	if strings.Join(statuses, ",") != "missing,orphan" && strings.Join(statuses, ",") != "orphan,missing" {
		t.Errorf("got sessions %v; want the ended main (missing) and the orphan", statuses)
	}
}

func TestCaptureDrops(t *testing.T) {
	s := newScript(t)
	k := s.open(cli, srv)
	k.send(true, 10)
	a := s.feed(Config{})
	r := a.Result([]*dissect.InputInfo{{Path: "live eth0", Drops: 7}})
	f := findKind(t, r, "capture_drops")
	if f.Count != 7 || f.Severity != Warning || !strings.Contains(f.Summary, "live eth0") {
		t.Errorf("got %+v", f)
	}
	if k := kinds(a.Result([]*dissect.InputInfo{{Path: "x", Drops: -1}})); k["capture_drops"] != 0 {
		t.Errorf("unknown drops (-1) reported as drops")
	}
}

// TestSubMatchesTimeSub: the engine's fast gap equals time.Time.Sub, at
// nanosecond precision, across signs, and where Sub saturates.
func TestSubMatchesTimeSub(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 999_999_999, time.UTC)
	for _, u := range []time.Time{
		base, base.Add(1), base.Add(-1), base.Add(15 * time.Minute), base.Add(-2 * time.Hour),
		base.Add(-999_999_999), time.Unix(0, 0), time.Unix(1<<40, 7), time.Unix(-1<<40, 0), {},
	} {
		if got, want := sub(base, u), base.Sub(u); got != want {
			t.Errorf("sub(%v, %v) = %v; time.Sub says %v", base, u, got, want)
		}
		if got, want := sub(u, base), u.Sub(base); got != want {
			t.Errorf("sub(%v, %v) = %v; time.Sub says %v", u, base, got, want)
		}
	}
}

// TestConnsListsEachConnectionOnce: the report's connection list (kept in
// creation order beside the hash table) holds every live connection and
// every one replaced by a new connection on the same ports, once each, in
// flowHead order, and none that a sweep evicted.
func TestConnsListsEachConnectionOnce(t *testing.T) {
	s := newScript(t)
	// Port reuse: the same ports twice, a fresh SYN after the first closed.
	k := s.open("192.0.2.30:40000", srv)
	k.send(true, 10)
	k.close()
	s.wait(time.Second)
	c, sv := ep("192.0.2.30:40000"), ep(srv)
	s.tcp(c, sv, fS, 7000, 0, 0) // a new initial sequence number
	s.tcp(sv, c, fS|fA, 9000, 7001, 0)
	s.tcp(c, sv, fA, 7001, 9001, 0)
	// Enough refused attempts to make the capped analyzer sweep.
	for i := 0; i < 300; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 1024)
		s.tcp(c, ep("198.51.100.10:5005"), fS, uint32(i), 0, 0)
		s.tcp(ep("198.51.100.10:5005"), c, fR|fA, 0, uint32(i)+1, 0)
		s.wait(10 * time.Millisecond)
	}
	for _, limit := range []int{0, 50} {
		a := s.feed(Config{MaxConns: limit})
		got := a.conns()
		want := 0
		evicted := 0
		seen := map[*Conn]bool{}
		a.tcp.each(func(c *Conn) { want++; seen[c] = false })
		for _, c := range got {
			if c.evicted {
				evicted++
			}
			if done, live := seen[c]; live && done {
				t.Errorf("MaxConns %d: connection %v listed twice", limit, c.Client)
			}
			seen[c] = true
		}
		for c, listed := range seen {
			if !listed {
				t.Errorf("MaxConns %d: live connection %v not listed", limit, c.Client)
			}
		}
		// The first connection on the reused ports is no longer in the
		// table but must still be listed.
		if len(got) != want+1 || evicted != 0 {
			t.Errorf("MaxConns %d: %d listed, want %d live + 1 replaced; %d evicted listed", limit, len(got), want, evicted)
		}
		if !slices.IsSortedFunc(got, func(x, y *Conn) int { return x.compare(&y.flowHead) }) {
			t.Errorf("MaxConns %d: not in flowHead order", limit)
		}
		if limit > 0 && want >= 300 {
			t.Errorf("MaxConns %d: no sweep happened (%d live)", limit, want)
		}
	}
}
