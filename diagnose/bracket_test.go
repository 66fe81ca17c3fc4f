package diagnose_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

// k2Exchange sends a request from c and, after delay, the answer.
func k2Exchange(s *flowtest.Script, c, ks netip.AddrPort, delay time.Duration) {
	s.UDP(c, ks, 40)
	s.Wait(delay)
	s.UDP(ks, c, 40)
	s.Wait(10 * time.Millisecond)
}

// bracketOf returns the result's one bracket for transport.
func bracketOf(t *testing.T, r *diagnose.Result, tr catalog.Transport) diagnose.Bracket {
	t.Helper()
	var out []diagnose.Bracket
	for _, b := range r.Brackets {
		if b.Transport == tr {
			out = append(out, b)
		}
	}
	if len(out) != 1 {
		t.Fatalf("got brackets %+v; want one for %s", r.Brackets, tr)
	}
	return out[0]
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// TestBracketBothBounds: a K2 answer after 4 s that the client followed on
// the same port, one after 7 s refused by the NAT: the NAT keeps UDP state
// longer than 4 s and less than 7 s, and the finding carries that.
func TestBracketBothBounds(t *testing.T) {
	s := flowtest.New()
	nat, ks := ep("198.51.100.1:61000"), ep("198.51.100.20:19283")
	k2Exchange(s, nat, ks, 10*time.Millisecond)
	k2Exchange(s, nat, ks, 4*time.Second)
	k2Exchange(s, nat, ks, 10*time.Millisecond)
	k2Exchange(s, nat, ks, 7*time.Second)
	s.ICMPUnreach(nat.Addr(), ks.Addr(), 3, 17, ks, nat, 0)
	s.Wait(2 * time.Second)
	s.UDP(nat, ks, 40) // the client goes on: it did not get the 7 s answer, nor an error
	r := run(s, flowtest.Defaults())
	b := bracketOf(t, r, catalog.UDP)
	if b.Device != nat.Addr() || round(b.Above) != 4*time.Second || round(b.Below) != 7*time.Second || b.Contradicts() {
		t.Errorf("got %+v; want the NAT, longer than 4 s, less than 7 s", b)
	}
	if !b.Contains(5*time.Second) || b.Contains(3*time.Second) || b.Contains(8*time.Second) {
		t.Errorf("bracket %+v: contains 5 s, not 3 s nor 8 s", b)
	}
	if p := b.Profiles(); len(p) != 0 {
		t.Errorf("profiles %v; want none (no profile has a timeout between 4 s and 7 s)", p)
	}
	if b.Need != 15*time.Minute || b.Product != catalog.K2 {
		t.Errorf("need %v of %s; want 15 min of k2", b.Need, b.Product)
	}
	f := findKind(t, r, "udp_late_response")
	if fb, ok := f.Bracket(); !ok || fb != b {
		t.Errorf("finding carries %+v; want %+v", fb, b)
	}
}

// TestBracketUpperOnly: answers at once bound nothing from below; a
// refused answer after 7 s bounds from above; a re-sent answer refused 2 s
// after the first refused one does not make the bound 2 s (the device had
// been idle since before the first).
func TestBracketUpperOnly(t *testing.T) {
	s := flowtest.New()
	nat, ks := ep("198.51.100.1:61000"), ep("198.51.100.20:19283")
	for i := 0; i < 3; i++ {
		k2Exchange(s, nat, ks, 10*time.Millisecond)
		s.Wait(2 * time.Second)
	}
	k2Exchange(s, nat, ks, 7*time.Second)
	s.ICMPUnreach(nat.Addr(), ks.Addr(), 3, 17, ks, nat, 0)
	s.Wait(2 * time.Second)
	s.UDP(ks, nat, 40)
	s.Wait(10 * time.Millisecond)
	s.ICMPUnreach(nat.Addr(), ks.Addr(), 3, 17, ks, nat, 0)
	r := run(s, flowtest.Defaults())
	b := bracketOf(t, r, catalog.UDP)
	if b.Above != 0 || round(b.Below) != 7*time.Second || b.Died != 1 {
		t.Errorf("got %+v; want only an upper bound of 7 s, from one datagram", b)
	}
	if !b.Contains(5 * time.Second) {
		t.Errorf("bracket %+v does not contain 5 s", b)
	}
}

// TestBracketLowerOnly: KeyServer tickles acknowledged after 40 s of
// silence: the path keeps UDP state longer than 40 s, which the 30 s and
// 40 s profiles do not.
func TestBracketLowerOnly(t *testing.T) {
	s := flowtest.New()
	c, ks := ep("192.0.2.60:50000"), ep("198.51.100.20:19283")
	k2Exchange(s, c, ks, 10*time.Millisecond)
	for i := 0; i < 2; i++ {
		s.Wait(40 * time.Second)
		s.UDP(ks, c, 20) // tickle
		s.Wait(5 * time.Millisecond)
		s.UDP(c, ks, 20) // its acknowledgement
	}
	r := run(s, flowtest.Defaults())
	b := bracketOf(t, r, catalog.UDP)
	if b.Device.IsValid() || round(b.Above) != 40*time.Second || b.Below != 0 {
		t.Errorf("got %+v; want the path, longer than 40 s", b)
	}
	want := []string{"asa", "aws-nat", "azure-nat", "fortigate", "openwrt", "pf", "rfc", "srx", "windows"}
	if got := b.Profiles(); !slices.Equal(got, want) {
		t.Errorf("profiles %v; want %v", got, want)
	}
}

// TestBracketContradictory: through the same NAT, one client's flow
// outlived 8 s and another's was gone after 7 s: no timeout fits, none is
// claimed. On one flow alone the refusal would not count: a flow that
// outlived a longer silence died of something else.
func TestBracketContradictory(t *testing.T) {
	s := flowtest.New()
	nat1, nat2, ks := ep("198.51.100.1:61000"), ep("198.51.100.1:61001"), ep("198.51.100.20:19283")
	k2Exchange(s, nat1, ks, 8*time.Second)
	k2Exchange(s, nat1, ks, 10*time.Millisecond)
	k2Exchange(s, nat2, ks, 7*time.Second)
	s.ICMPUnreach(nat2.Addr(), ks.Addr(), 3, 17, ks, nat2, 0)
	r := run(s, flowtest.Defaults())
	var b diagnose.Bracket
	for _, x := range r.Brackets {
		if x.Device == nat1.Addr() {
			b = x
		}
	}
	if !b.Contradicts() || round(b.Above) != 8*time.Second || round(b.Below) != 7*time.Second {
		t.Errorf("got %+v; want a contradiction: outlived 8 s, gone after 7 s", b)
	}
	if b.Contains(7500*time.Millisecond) || len(b.Profiles()) != 0 {
		t.Errorf("a contradictory bracket %+v contains a timeout or fits profiles %v", b, b.Profiles())
	}

	s = flowtest.New()
	k2Exchange(s, nat1, ks, 8*time.Second)
	k2Exchange(s, nat1, ks, 10*time.Millisecond)
	k2Exchange(s, nat1, ks, 7*time.Second)
	s.ICMPUnreach(nat1.Addr(), ks.Addr(), 3, 17, ks, nat1, 0)
	b = bracketOf(t, run(s, flowtest.Defaults()), catalog.UDP)
	if b.Contradicts() || b.Below != 0 || round(b.Above) != 8*time.Second {
		t.Errorf("one flow: got %+v; want only the 8 s it outlived", b)
	}
}

// TestBracketNPA: a notification socket whose push after 20 s of idle was
// acknowledged and whose push after 45 s was not: the path keeps idle TCP
// longer than 20 s and less than 45 s.
func TestBracketNPA(t *testing.T) {
	s := flowtest.New()
	m, n := npaPair(s, "192.0.2.10", 40000, 40001)
	keepMain := func(d time.Duration) {
		for end := s.Now.Add(d); s.Now.Before(end); {
			s.Wait(5 * time.Second)
			m.Send(false, 40)
		}
	}
	keepMain(20 * time.Second)
	n.Send(false, 60) // pushed after 20 s idle, acknowledged
	keepMain(45 * time.Second)
	n.PushLost(60, 5)
	m.Send(false, 40)
	r := run(s, catalog.TimeoutsFor(mustProfile(t, "default"), 0, time.Hour))
	b := bracketOf(t, r, catalog.TCP)
	if b.Device.IsValid() || b.Above < 19*time.Second || b.Above > 21*time.Second || b.Below < 44*time.Second || b.Below > 46*time.Second {
		t.Errorf("got %+v; want the path, longer than 20 s, less than 45 s", b)
	}
	if b.Need != 2*time.Hour {
		t.Errorf("need %v; want 2 h", b.Need)
	}
	f := findKind(t, r, "npa_notification_lost")
	if fb, ok := f.Bracket(); !ok || fb != b {
		t.Errorf("finding carries %+v; want %+v", fb, b)
	}
}
