package flows

import (
	"net/netip"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/dissect"
)

// TestServiceOfFollowsRolesAndNames: serviceOf's memo of its last answer
// never outlives what the answer was worked out from: a server learnt to
// run Supportworks (443 becomes sw-https), a DNS answer naming an
// address (443 becomes k2-prs), a KeyServer's mail server (25 becomes
// its status mail), each asked right before and right after.
func TestServiceOfFollowsRolesAndNames(t *testing.T) {
	a := New(Config{})
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	client := netip.MustParseAddr("192.0.2.50")
	name := func(s *catalog.Service) catalog.ServiceName {
		if s == nil {
			return "-"
		}
		return s.Name
	}
	ask := func(server string, port uint16) catalog.ServiceName {
		return name(a.serviceOf(client, netip.AddrPortFrom(netip.MustParseAddr(server), port), TCP, t0))
	}
	sw, prs, mail := "198.51.100.10", "203.0.113.10", "198.51.100.25"
	for i := 0; i < 2; i++ {
		if got := ask(sw, 443); got != "-" {
			t.Fatalf("%s:443 before any role: %s; want none", sw, got)
		}
	}
	a.noteRole(a.swHosts, netip.MustParseAddr(sw))
	if got := ask(sw, 443); got != "sw-https" {
		t.Errorf("%s:443 once it serves Supportworks: %s; want sw-https", sw, got)
	}
	if got := ask(prs, 443); got != "-" {
		t.Fatalf("%s:443 before a DNS answer: %s; want none", prs, got)
	}
	a.dns.answer(client, &dissect.DNSAnswer{Name: "prs.sassafras.com", Addr: netip.MustParseAddr(prs)}, t0)
	if got := ask(prs, 443); got != "k2-prs" {
		t.Errorf("%s:443 after the answer for prs.sassafras.com: %s; want k2-prs", prs, got)
	}
	before := ask(mail, 25)
	a.noteRole(a.k2Mail, netip.MustParseAddr(mail))
	if after := ask(mail, 25); before != "-" || after == "-" {
		t.Errorf("%s:25 before and after a KeyServer mailed it: %s, %s; want none, then the status mail", mail, before, after)
	}
}
