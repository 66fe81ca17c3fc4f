package report

import (
	"net/netip"
	"strings"
	"testing"

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
