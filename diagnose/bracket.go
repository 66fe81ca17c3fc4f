package diagnose

import (
	"maps"
	"net/netip"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// Bracket is what a capture proves about one stateful device's idle
// timeout for one transport: the longest silence after which a server
// packet still got through (Above) and the shortest after which one was
// refused or lost (Below). The device's timeout lies between them: its
// state lasts longer than Above and less than Below. Either bound may be
// missing (0); both missing, nothing was measured.
//
// Only packets from the server count, the way answers, tickles and
// notification pushes go: they need the state the client's packets made,
// while a client's packet may make new state (a NAT mapping, a firewall
// picking up a connection mid-stream) after the old expired.
//
// A silence is counted as survived when
//   - UDP: a server datagram that no ICMP error or local drop refused was
//     followed by a client datagram from the same port (from a server
//     side capture this is the only sign it arrived: a KeyAccess client
//     whose answers stop coming moves to a new port, so an answer that
//     was lost and is followed on the same port would count wrongly);
//   - TCP: the client acknowledged server data or a FIN that came after
//     the silence on a Supportworks notification socket;
//   - across capture points: a server packet seen on both sides of the
//     device between them.
//
// A silence is counted as fatal when
//   - UDP: an ICMP error quoting the server's datagram came back (the
//     device is the error's sender), or the capturing machine dropped it
//     (pktmon), the capture point having seen the datagram leave after
//     a datagram that itself got through;
//   - TCP: a notification socket was lost (notifications retransmitted
//     unacknowledged, the client's FIN unanswered, a reset) while its main
//     session lived: the silence before the first segment never
//     acknowledged;
//   - across capture points: a server packet seen on the server's side and
//     missing on the client's, after a packet seen on both.
//
// A fatal silence no longer than one the same flow outlived is not
// counted: something other than idle time killed that packet (an IPS rule,
// a reset), or the flow's state changed kind; other flows' evidence may
// still contradict it, and the words say so.
//
// Silences under a second are not counted either way: every device keeps
// state that long, so a request answered at once bounds nothing, and a
// packet lost that soon was lost to a rule or a queue, not a timeout.
type Bracket struct {
	Transport catalog.Transport
	// Device is the middlebox that named itself by sending the ICMP
	// errors; zero for the path: every stateful device between the flows'
	// ends, unnamed (the capture cannot tell them apart).
	Device netip.Addr
	// Above is the longest silence state outlived (0: none proven);
	// Survived counts the packets that showed a silence of a second or
	// more outlived.
	Above    time.Duration
	Survived int
	// Below is the shortest silence after which state was gone (0: none
	// proven); Died counts the packets that showed it.
	Below time.Duration
	Died  int
	// Need is the longest silence the products whose flows gave the
	// evidence need the device to outlive (catalog.IdleNeed; 0 none known),
	// Product the one that needs it.
	Need    time.Duration
	Product catalog.Product
}

// minBracketSilence is the shortest silence a bracket counts.
const minBracketSilence = time.Second

// Measured reports whether the bracket has a bound.
func (b Bracket) Measured() bool { return b.Above > 0 || b.Below > 0 }

// Contradicts reports whether the bounds cannot both hold: state outlived
// a silence at least as long as one after which it was gone. Different
// flows then get different timeouts (a per-flow or per-rule policy), or
// several devices stand in the way.
func (b Bracket) Contradicts() bool { return b.Above > 0 && b.Below > 0 && b.Above >= b.Below }

// Contains reports whether a timeout d fits the bracket (false when it
// contradicts itself).
func (b Bracket) Contains(d time.Duration) bool {
	return !b.Contradicts() && d > b.Above && (b.Below == 0 || d <= b.Below)
}

// Profiles lists the timeout profiles consistent with the bracket.
func (b Bracket) Profiles() []string {
	return catalog.ProfilesWithin(b.Transport, b.Above, b.Below)
}

// merge keeps b, or o when b has no bound: a bracket is the run's, not a
// member's, so members of one finding carry the same one.
func (b *Bracket) merge(o Bracket) {
	if !b.Measured() {
		*b = o
	}
}

// bracketKey is a device's bracket for one transport.
type bracketKey struct {
	transport catalog.Transport
	device    netip.Addr
}

// timeouts gathers the evidence of the devices' timeouts across flows (a
// run's own, or what evicted flows left): one bracket per device and
// transport, so its size is bounded by the devices that sent errors.
type timeouts struct {
	m map[bracketKey]*Bracket
	// fromClient holds the UDP silences outlived on flows no device
	// named itself on, by the client's address as seen: a NAT refuses
	// with its own address, which is its clients' address on the server
	// side, so list adds them to that device's bracket (at most
	// maxBrackets addresses).
	fromClient map[netip.Addr]time.Duration
}

// maxBrackets bounds the devices evidence is kept for (a flood of forged
// ICMP errors names many); evidence of further ones is not counted.
const maxBrackets = 256

func (t *timeouts) at(tr catalog.Transport, dev netip.Addr, svc *catalog.Service) *Bracket {
	k := bracketKey{tr, dev}
	b := t.m[k]
	if b == nil {
		if len(t.m) >= maxBrackets {
			return &Bracket{}
		}
		if t.m == nil {
			t.m = map[bracketKey]*Bracket{}
		}
		b = &Bracket{Transport: tr, Device: dev}
		t.m[k] = b
	}
	if svc != nil {
		if n := catalog.IdleNeed(svc.Product, tr); n > b.Need {
			b.Need, b.Product = n, svc.Product
		}
	}
	return b
}

// survived notes that a server packet got through after silence s.
func (t *timeouts) survived(tr catalog.Transport, dev netip.Addr, svc *catalog.Service, s time.Duration) {
	if t == nil || s < minBracketSilence {
		return
	}
	b := t.at(tr, dev, svc)
	b.Above = max(b.Above, s)
	b.Survived++
}

// died notes that a server packet was refused or lost after silence s.
func (t *timeouts) died(tr catalog.Transport, dev netip.Addr, svc *catalog.Service, s time.Duration) {
	if t == nil || s < minBracketSilence {
		return
	}
	b := t.at(tr, dev, svc)
	if b.Below == 0 || s < b.Below {
		b.Below = s
	}
	b.Died++
}

// clone returns a copy that may be added to without changing t.
func (t *timeouts) clone() *timeouts {
	c := &timeouts{m: make(map[bracketKey]*Bracket, len(t.m)), fromClient: maps.Clone(t.fromClient)}
	for k, b := range t.m {
		x := *b
		c.m[k] = &x
	}
	return c
}

// list returns the brackets with a bound, by transport, then the named
// devices by address, the path last.
func (t *timeouts) list() []Bracket {
	for k, b := range t.m {
		if s := t.fromClient[k.device]; k.transport == UDP && k.device.IsValid() && s > b.Above {
			b.Above = s
			b.Survived++
		}
	}
	t.fromClient = nil // added once
	var out []Bracket
	for _, b := range t.m {
		if b.Measured() {
			out = append(out, *b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := &out[i], &out[j]
		if x.Transport != y.Transport {
			return x.Transport < y.Transport
		}
		if x.Device.IsValid() != y.Device.IsValid() {
			return x.Device.IsValid()
		}
		return x.Device.Less(y.Device)
	})
	return out
}

// udpDevice is the device a UDP flow's evidence goes to: the one sender of
// the ICMP errors that refused its server's datagrams, or the path (zero)
// when none or several named themselves.
func udpDevice(f *flows.UDPFlow) netip.Addr {
	var dev netip.Addr
	for _, r := range f.Refused {
		if r.Local != nil {
			continue
		}
		from := r.ICMP.From.Addr()
		if dev.IsValid() && from != dev {
			return netip.Addr{}
		}
		dev = from
	}
	return dev
}

// udpFlow notes what a UDP service flow proves about the devices' UDP
// timeouts (see Bracket for what counts): its survived silences go to the
// device that refused its other datagrams (the path when none did), each
// refusal to the error's sender, a local drop to the path (the client's
// own firewall is part of it).
func (t *timeouts) udpFlow(f *flows.UDPFlow) {
	if t == nil || f.Service == nil {
		return
	}
	dev := udpDevice(f)
	t.survived(UDP, dev, f.Service, f.MaxFollowed)
	if c := f.Client.Addr(); !dev.IsValid() && f.MaxFollowed >= minBracketSilence && (len(t.fromClient) < maxBrackets || t.fromClient[c] > 0) {
		if t.fromClient == nil {
			t.fromClient = map[netip.Addr]time.Duration{}
		}
		t.fromClient[c] = max(t.fromClient[c], f.MaxFollowed)
	}
	for _, r := range f.Refused {
		// The capture point must have seen the datagram leave (else its
		// silence is a guess from below), after one that got through.
		if r.Frame == 0 || r.AfterRefused || r.Silence <= f.MaxFollowed {
			continue
		}
		var dev netip.Addr
		if r.Local == nil {
			dev = r.ICMP.From.Addr()
		}
		t.died(UDP, dev, f.Service, r.Silence)
	}
}

// npaSocket notes what a Supportworks notification socket proves about
// the path's TCP idle timeout: pushes acknowledged after a silence, and,
// when the socket was lost (lost true), the silence before the first
// segment never acknowledged.
func (t *timeouts) npaSocket(n *flows.Conn, lost bool) {
	if t == nil {
		return
	}
	t.survived(TCP, netip.Addr{}, n.Service, n.Dir[1].AnsweredGap)
	if !lost {
		return
	}
	gap := n.Dir[1].UnansweredGap()
	if c := n.Dir[0].UnansweredGap(); gap == 0 || c > 0 && c < gap {
		// The shorter: the first to go unanswered came after the
		// shorter silence (a later segment waited longer).
		gap = c
	}
	if gap == 0 {
		// A reset with nothing left unanswered: the silence before it.
		gap = n.MaxGap
	}
	if gap <= n.Dir[1].AnsweredGap {
		return // it had outlived longer: something else killed it
	}
	t.died(TCP, netip.Addr{}, n.Service, gap)
}

// between notes what a flow's packets, as capture point x saw them and y
// did or did not (seen holds y's), prove about the device between the two:
// each server packet x saw after a packet both saw, by the silence before
// it at x. compared says whether y was recording when x saw packet i;
// upstream whether x is on the server's side of the device (a packet x saw
// and y missed was then lost in between, not made there; one both saw
// then crossed it).
func (t *timeouts) between(x *flowView, seen map[uint64]int64, compared func(i int) bool, upstream bool) {
	if t == nil || x.svc == nil {
		return
	}
	var lived time.Duration
	var died []time.Duration
	for i := 1; i < len(x.Prints); i++ {
		p, prev := x.Prints[i], x.Prints[i-1]
		if p.Dir != 1 || p.RST || !compared(i) || !compared(i-1) {
			continue
		}
		if _, ok := seen[prev.Hash]; !ok {
			continue // the silence at the device began earlier
		}
		s := time.Duration(p.T - prev.T)
		if _, ok := seen[p.Hash]; ok {
			// Seen at both proves a crossing only when a router stands
			// between them: a capture on the device itself (tcpdump -i
			// any on the firewall) sees a packet arrive before its rules
			// drop it, with the TTL it had at the server's side.
			if upstream {
				t.survived(x.transport, x.device, x.svc, s)
			}
			lived = max(lived, s)
		} else if upstream {
			died = append(died, s)
		}
	}
	for _, s := range died {
		if s > lived { // else the flow had outlived longer: not its idle time
			t.died(x.transport, x.device, x.svc, s)
		}
	}
}

// Bracket returns the measured timeout a finding's facts carry, if any.
func (f *Finding) Bracket() (Bracket, bool) {
	var b Bracket
	switch x := f.Facts.(type) {
	case *UDPLateFacts:
		b = x.Bracket
	case *UDPUnansweredFacts:
		b = x.Bracket
	case *NPALostFacts:
		b = x.Bracket
	}
	return b, b.Measured()
}

// bracketFacts hands each finding that asks for a longer timeout the
// bracket of the device its fix goes to: the one middlebox that sent its
// ICMP errors, else the path.
func bracketFacts(fs *findingSet, t *timeouts) {
	if len(t.m) == 0 {
		return
	}
	for _, g := range fs.order {
		dev := netip.Addr{}
		var dst *Bracket
		switch x := g.facts.(type) {
		case *UDPLateFacts:
			if len(x.From) == 1 {
				for m := range x.From {
					if m != g.key.server {
						dev = m
					}
				}
			}
			dst = &x.Bracket
		case *UDPUnansweredFacts:
			if x.SomeAnswered == 0 {
				continue
			}
			dst = &x.Bracket
		case *NPALostFacts:
			dst = &x.Bracket
		default:
			continue
		}
		if b := t.m[bracketKey{g.key.transport, dev}]; b != nil && b.Measured() {
			*dst = *b
		}
	}
}
