package report

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// TestChangeCountsClientsBeyondTheList: a finding merged from more clients
// than it lists asks for a change whose clients are said as "more than
// N", and the JSON says how many more at least, as the finding does.
func TestChangeCountsClientsBeyondTheList(t *testing.T) {
	server := netip.MustParseAddr("198.51.100.20")
	var clients []diagnose.ClientCount
	for i := 1; i <= 12; i++ {
		clients = append(clients, diagnose.ClientCount{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), N: 1})
	}
	res := &diagnose.Result{Timeouts: catalog.Timeouts{}, Findings: []diagnose.Finding{{
		Kind: diagnose.UDPUnanswered, Severity: diagnose.Critical, Transport: catalog.UDP, Port: 19283, Server: server,
		Clients: clients, MoreClients: 30, Rep: clients[0].Addr, Count: 42,
		Facts: &diagnose.UDPUnansweredFacts{Requests: 42}}}}
	r := Build(res, nil, "t")
	if len(r.Changes) != 1 {
		t.Fatalf("%d changes; want 1", len(r.Changes))
	}
	c := r.Changes[0]
	if len(c.From) != 12 || c.MoreClients != 30 {
		t.Errorf("change from %d clients, %d more; want 12 and 30 more", len(c.From), c.MoreClients)
	}
	if !strings.Contains(c.Where+" "+c.What, "more than 12 clients") {
		t.Errorf("change words %q / %q; want 'more than 12 clients'", c.Where, c.What)
	}
}

// TestPathChangeFoldsIntoTheDeviceThatRefused: behind a NAT the client's
// unanswered requests ask "every firewall between" for a longer UDP
// timeout, and the late answers the NAT refused ask it of the NAT: one
// cause, one change, on the NAT, whose own outside address is not one of
// the clients to write a rule for.
func TestPathChangeFoldsIntoTheDeviceThatRefused(t *testing.T) {
	client := netip.MustParseAddr("192.0.2.130")
	nat := netip.MustParseAddr("198.51.100.1")
	server := netip.MustParseAddr("198.51.100.20")
	k2 := catalogServices.ByName(catalog.K2KeyServer)
	res := &diagnose.Result{Findings: []diagnose.Finding{
		{Kind: diagnose.UDPUnanswered, Severity: diagnose.Warning, Transport: catalog.UDP, Port: 19283, Client: client, Server: server,
			Service: &k2[0], Count: 2, Facts: &diagnose.UDPUnansweredFacts{Requests: 6, SomeAnswered: 4}},
		{Kind: diagnose.UDPLateResponse, Severity: diagnose.Warning, Transport: catalog.UDP, Port: 19283, Client: nat, Server: server,
			Service: &k2[0], Count: 2, Samples: []time.Duration{7 * time.Second},
			Facts: &diagnose.UDPLateFacts{Late: 2, ICMPFacts: diagnose.ICMPFacts{From: map[netip.Addr]int{nat: 2}}}},
	}}
	r := Build(res, nil, "t")
	if len(r.Changes) != 1 {
		t.Fatalf("%d changes %+v; want 1", len(r.Changes), r.Changes)
	}
	c := r.Changes[0]
	if c.Device.Kind != "middlebox" || c.Device.Addr != nat.String() || len(c.Findings) != 2 || len(c.From) != 1 || c.From[0] != client.String() {
		t.Errorf("change %+v; want on the NAT %s, for client %s only, resolving both findings", c, nat, client)
	}
}

// TestScanNamesItsHosts: a syn_scan has no server of its own; its JSON
// lists the hosts it scanned, sorted, so a ticket shows whether the
// product's servers were among them.
func TestScanNamesItsHosts(t *testing.T) {
	a, b := netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.10")
	res := &diagnose.Result{Findings: []diagnose.Finding{{
		Kind: diagnose.SynScan, Severity: diagnose.Info, Transport: catalog.TCP, Client: netip.MustParseAddr("192.0.2.12"), Count: 30,
		Facts: &diagnose.ScanFacts{Kinds: map[diagnose.Kind]int{diagnose.SynReset: 30}, Hosts: map[netip.Addr]int{a: 20, b: 10}}}}}
	r := Build(res, nil, "t")
	if got := strings.Join(r.Findings[0].Servers, " "); got != "198.51.100.10 198.51.100.20" {
		t.Errorf("syn_scan servers %q; want the two scanned hosts, sorted", got)
	}
}
