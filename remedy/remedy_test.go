package remedy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

var (
	client    = netip.MustParseAddr("192.0.2.130")
	server    = netip.MustParseAddr("198.51.100.20")
	middlebox = netip.MustParseAddr("198.51.100.1")
)

func k2() *catalog.Service {
	s := catalog.NewCatalog(catalog.DefaultServices()).ByName(catalog.K2KeyServer)
	return &s[0]
}

// TestForNamesActionDeviceAndTimeout: each finding asks for the change
// its facts prove, on the device they point at.
func TestForNamesActionDeviceAndTimeout(t *testing.T) {
	late := &diagnose.Finding{Kind: diagnose.UDPLateResponse, Severity: diagnose.Warning, Transport: catalog.UDP, Port: 19283,
		Client: client, Server: server, Service: k2(), Samples: []time.Duration{7 * time.Second},
		Facts: &diagnose.UDPLateFacts{Late: 2, ICMPFacts: diagnose.ICMPFacts{From: map[netip.Addr]int{middlebox: 2}}}}
	refused := &diagnose.Finding{Kind: diagnose.SynReset, Severity: diagnose.Critical, Transport: catalog.TCP, Port: 5002,
		Client: client, Server: server, Facts: &diagnose.SynResetFacts{}}
	unreachable := &diagnose.Finding{Kind: diagnose.UDPICMPUnreachable, Severity: diagnose.Critical, Transport: catalog.UDP, Port: 19283,
		Client: client, Server: server, Facts: &diagnose.ICMPFacts{From: map[netip.Addr]int{server: 4}}}
	for _, tc := range []struct {
		name   string
		f      *diagnose.Finding
		action Action
		device Device
		min    time.Duration
	}{
		// The NAT that refused the late answer said so itself; K2 needs
		// 15 minutes, more than the 7 s seen (K2 seed, rule 1).
		{"late answer refused by a NAT", late, ActRaiseUDPTimeout, Device{Kind: DevMiddlebox, Addr: middlebox}, 15 * time.Minute},
		{"SYN refused by the server", refused, ActCheckService, Device{Kind: DevServer}, 0},
		{"datagrams refused by the server itself", unreachable, ActCheckService, Device{Kind: DevServer}, 0},
	} {
		rs := For(tc.f)
		if len(rs) != 1 {
			t.Errorf("%s: %d remedies; want 1", tc.name, len(rs))
			continue
		}
		r := rs[0]
		if r.Action != tc.action || r.Device != tc.device || r.Min != tc.min || r.Dst != server || r.Port != tc.f.Port {
			t.Errorf("%s: got %+v; want %s on %+v, min %v, to %s:%d", tc.name, r, tc.action, tc.device, tc.min, server, tc.f.Port)
		}
	}
	capture := &diagnose.Finding{Kind: diagnose.CaptureTruncated, Severity: diagnose.Warning, Facts: &diagnose.CaptureFacts{}}
	if rs := For(capture); rs != nil {
		t.Errorf("a finding about the capture asks for %+v; want no change", rs)
	}
}

// TestAdminComputersNeedOneMinute: the K2 seed asks 15 minutes of UDP
// state for KeyAccess clients (rule 1) and 1 minute for KeyConfigure
// (rule 3); a change for admin computers only asks 1 minute, one that
// also names a KeyAccess client keeps 15.
func TestAdminComputersNeedOneMinute(t *testing.T) {
	admin := netip.MustParseAddr("192.0.2.50")
	isAdmin := func(a netip.Addr) bool { return a == admin }
	f := func(clients ...netip.Addr) *diagnose.Finding {
		x := &diagnose.Finding{Kind: diagnose.UDPUnanswered, Severity: diagnose.Critical, Transport: catalog.UDP, Port: 19283,
			Server: server, Service: k2(), Samples: []time.Duration{3 * time.Second},
			Facts: &diagnose.UDPUnansweredFacts{Requests: 4, SomeAnswered: 2}}
		for _, c := range clients {
			x.Clients = append(x.Clients, diagnose.ClientCount{Addr: c, N: 2})
		}
		return x
	}
	for _, tc := range []struct {
		name    string
		f       *diagnose.Finding
		wantMin time.Duration
	}{
		{"KeyConfigure only", f(admin), time.Minute},
		{"KeyConfigure and a KeyAccess client", f(admin, client), 15 * time.Minute},
		{"a KeyAccess client", f(client), 15 * time.Minute},
	} {
		rs := ForHosts(tc.f, isAdmin)
		if len(rs) != 1 || rs[0].Action != ActRaiseUDPTimeout || rs[0].Min != tc.wantMin {
			t.Errorf("%s: %+v; want raise_udp_timeout above %v", tc.name, rs, tc.wantMin)
		}
	}
}

// TestRaiseExceedsTheProductsNeed: a measured bracket travels with the
// change, but the new value is what the product needs, not the silence
// measured: K2 clients 15 min, a notification socket more than 2 h.
func TestRaiseExceedsTheProductsNeed(t *testing.T) {
	sw := catalog.NewCatalog(catalog.DefaultServices()).ByName(catalog.SWBinary)
	b := diagnose.Bracket{Transport: catalog.TCP, Above: 20 * time.Second, Below: 45 * time.Second}
	f := &diagnose.Finding{Kind: diagnose.NPANotificationLost, Severity: diagnose.Critical, Service: &sw[0], Transport: catalog.TCP,
		Port: 5001, Client: client, Server: server, Samples: []time.Duration{45 * time.Second}, Facts: &diagnose.NPALostFacts{Unacked: 1, Bracket: b}}
	if r := For(f); len(r) != 1 || r[0].Min != 2*time.Hour || r[0].Measured != b {
		t.Errorf("npa lost: got %+v; want above 2 h with the bracket", r)
	}
	ub := diagnose.Bracket{Transport: catalog.UDP, Device: middlebox, Below: 7 * time.Second}
	u := &diagnose.Finding{Kind: diagnose.UDPLateResponse, Severity: diagnose.Warning, Service: k2(), Transport: catalog.UDP, Port: 19283,
		Client: client, Server: server, Samples: []time.Duration{7 * time.Second},
		Facts: &diagnose.UDPLateFacts{Late: 1, Refused: 1, Bracket: ub, ICMPFacts: diagnose.ICMPFacts{From: map[netip.Addr]int{middlebox: 1}}}}
	if r := For(u); len(r) != 1 || r[0].Min != 15*time.Minute || r[0].Measured != ub || r[0].Device.Addr != middlebox {
		t.Errorf("k2 late: got %+v; want above 15 min at the middlebox with the bracket", r)
	}
}

// TestNPALostToAResetAsksTheResetsToStop: a notification socket torn
// down by a reset (an IPS, a session limit) is not helped by a longer idle
// timeout (the lab's npa-reset: the fix loop showed the ct timeout rule
// matching and the finding staying); pushes lost into a forgotten
// connection are.
func TestNPALostToAResetAsksTheResetsToStop(t *testing.T) {
	sw := catalog.NewCatalog(catalog.DefaultServices()).ByName(catalog.SWBinary)
	lost := func(x diagnose.NPALostFacts) []Action {
		f := &diagnose.Finding{Kind: diagnose.NPANotificationLost, Severity: diagnose.Critical, Service: &sw[0], Transport: catalog.TCP,
			Port: 5001, Client: client, Server: server, Samples: []time.Duration{12 * time.Second}, Facts: &x}
		var out []Action
		for _, r := range For(f) {
			out = append(out, r.Action)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		facts diagnose.NPALostFacts
		want  []Action
	}{
		{"reset", diagnose.NPALostFacts{Reset: 1}, []Action{ActExemptFromReset}},
		{"idle", diagnose.NPALostFacts{Unacked: 1}, []Action{ActRaiseTCPIdle}},
		{"both, merged from two clients", diagnose.NPALostFacts{Unacked: 1, Reset: 1}, []Action{ActRaiseTCPIdle, ActExemptFromReset}},
	} {
		if got := lost(tc.facts); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
}
