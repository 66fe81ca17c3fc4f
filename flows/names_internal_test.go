package flows

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// TestLookupsKeepTheNewestPerClient: a client's lookups of an address
// keep the newest maxLookupsPerKey, a name repeated at once (a refresh)
// does not push an older one out, and the likeliest name for a connection
// is the client's latest lookup before it.
func TestLookupsKeepTheNewestPerClient(t *testing.T) {
	d := newDNSNames()
	client, addr := netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("203.0.113.10")
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	names := []string{"www.sassafras.com", "prs.sassafras.com"}
	for i := 0; i < 3*maxLookupsPerKey; i++ {
		n := names[i%2]
		d.answer(client, &dissect.DNSAnswer{Name: n, Addr: addr}, t0.Add(time.Duration(i)*time.Second))
		d.answer(client, &dissect.DNSAnswer{Name: n, Addr: addr}, t0.Add(time.Duration(i)*time.Second+time.Millisecond)) // refresh
	}
	l := d.lookups[lookupKey{client, addr}]
	if len(l) != maxLookupsPerKey {
		t.Fatalf("%d lookups kept; want %d", len(l), maxLookupsPerKey)
	}
	last := 3*maxLookupsPerKey - 1
	if l[len(l)-1].at != t0.Add(time.Duration(last)*time.Second).UnixNano() {
		t.Errorf("the newest lookup kept is at %d; want the last answer's time", l[len(l)-1].at)
	}
	// Just after the last answer the likeliest name is the last looked up.
	at := t0.Add(time.Duration(last)*time.Second + time.Second)
	if got := d.candidates(client, addr, at); len(got) != 2 || got[0] != names[last%2] || !slices.Contains(got, names[(last+1)%2]) {
		t.Errorf("candidates %v; want %s first", got, names[last%2])
	}
}

// TestCandidatesSeeEveryAnswer: the names of an address looked up before
// an answer (kept for the next lookup) never hide a name an answer added
// after.
func TestCandidatesSeeEveryAnswer(t *testing.T) {
	d := newDNSNames()
	client, addr := netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("203.0.113.10")
	other := netip.MustParseAddr("192.0.2.51")
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	if got := d.candidates(client, addr, t0); len(got) != 0 {
		t.Fatalf("candidates %v before any answer", got)
	}
	d.answer(other, &dissect.DNSAnswer{Name: "www.sassafras.com", Addr: addr}, t0)
	if got := d.candidates(client, addr, t0.Add(time.Second)); !slices.Equal(got, []string{"www.sassafras.com"}) {
		t.Fatalf("candidates %v; want [www.sassafras.com]", got)
	}
	d.answer(other, &dissect.DNSAnswer{Name: "prs.sassafras.com", Addr: addr}, t0.Add(2*time.Second))
	if got := d.candidates(client, addr, t0.Add(3*time.Second)); !slices.Equal(got, []string{"www.sassafras.com", "prs.sassafras.com"}) {
		t.Errorf("candidates %v after a second answer; want both names, first seen first", got)
	}
}
