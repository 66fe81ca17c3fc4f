package diagnose

import (
	"maps"
	"net/netip"
	"sort"

	"github.com/fwdiag/fwdiag/catalog"
)

// Facts are the numbers particular to one kind of finding. Members of a
// finding add theirs up (merge); a Result holds its own copy (clone).
type Facts interface {
	merge(Facts)
	clone() Facts
}

// factsOf returns g's facts of type *T, creating them.
func factsOf[T any, P interface {
	*T
	Facts
}](g *group) P {
	if g.facts == nil {
		g.facts = P(new(T))
	}
	return g.facts.(P)
}

// addCounts adds src's counts to *dst.
func addCounts[K comparable](dst *map[K]int, src map[K]int) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = make(map[K]int, len(src))
	}
	for k, v := range src {
		(*dst)[k] += v
	}
}

// ICMPCode is an ICMP or ICMPv6 error's type and code.
type ICMPCode struct {
	V6         bool
	Type, Code uint8
}

// ICMPFacts are the ICMP errors a finding's packets drew: by code and by
// sender, and how many came with a code that a filter sends; for UDP, the
// K2 symptoms of the same cause.
type ICMPFacts struct {
	Codes  map[ICMPCode]int
	From   map[netip.Addr]int
	Filter int // errors whose code says a filter refused the packet
	K2Symptoms
}

func (f *ICMPFacts) add(o *ICMPFacts) {
	addCounts(&f.Codes, o.Codes)
	addCounts(&f.From, o.From)
	f.Filter += o.Filter
	f.K2Symptoms.add(&o.K2Symptoms)
}

func (f *ICMPFacts) copyMaps() {
	f.Codes, f.From = maps.Clone(f.Codes), maps.Clone(f.From)
	f.Shadows = maps.Clone(f.Shadows)
}

// K2Symptoms are what KeyAccess clients do when their KeyServer's answers
// do not reach them: re-establish from new source ports (Rebinds), turn to
// a KeyShadow (Failovers, with the shadows and how many answered). They
// are evidence of the finding whose cause they share (a blocked, dropped
// or refused KeyServer), not findings of their own: one cause, one fix.
type K2Symptoms struct {
	Rebinds, Failovers int
	Shadows            map[netip.Addr]int
	ShadowAnswered     int
}

func (s *K2Symptoms) add(o *K2Symptoms) {
	s.Rebinds += o.Rebinds
	s.Failovers += o.Failovers
	addCounts(&s.Shadows, o.Shadows)
	s.ShadowAnswered += o.ShadowAnswered
}

// note records one error of code from sender, n times.
func (f *ICMPFacts) note(code ICMPCode, from netip.Addr, n int) {
	addCounts(&f.Codes, map[ICMPCode]int{code: n})
	addCounts(&f.From, map[netip.Addr]int{from: 1})
}

func (f *ICMPFacts) merge(o Facts) { f.add(o.(*ICMPFacts)) }
func (f *ICMPFacts) clone() Facts  { c := *f; c.copyMaps(); return &c }

// SynUnansweredFacts: the SYNs sent, retransmissions included, and those
// the capturing machine dropped itself, by component (pktmon verdicts).
type SynUnansweredFacts struct {
	SYNs      int
	DroppedAt map[string]int
}

func (f *SynUnansweredFacts) merge(o Facts) {
	x := o.(*SynUnansweredFacts)
	f.SYNs += x.SYNs
	addCounts(&f.DroppedAt, x.DroppedAt)
}
func (f *SynUnansweredFacts) clone() Facts {
	c := *f
	c.DroppedAt = maps.Clone(f.DroppedAt)
	return &c
}

// SynResetFacts: how many resets had a TTL unlike (Forged) or like
// (Genuine) the server's other packets; neither when nothing to compare.
type SynResetFacts struct{ Forged, Genuine int }

func (f *SynResetFacts) merge(o Facts) {
	x := o.(*SynResetFacts)
	f.Forged += x.Forged
	f.Genuine += x.Genuine
}
func (f *SynResetFacts) clone() Facts { c := *f; return &c }

// HandshakeFacts: the SYN-ACKs sent, and how many connections the client
// acknowledged while the server kept retransmitting (Acked).
type HandshakeFacts struct{ SynAcks, Acked int }

func (f *HandshakeFacts) merge(o Facts) {
	x := o.(*HandshakeFacts)
	f.SynAcks += x.SynAcks
	f.Acked += x.Acked
}
func (f *HandshakeFacts) clone() Facts { c := *f; return &c }

// RSTInjectedFacts: which side the forged resets claimed to come from.
type RSTInjectedFacts struct{ ClaimsClient, ClaimsServer int }

func (f *RSTInjectedFacts) merge(o Facts) {
	x := o.(*RSTInjectedFacts)
	f.ClaimsClient += x.ClaimsClient
	f.ClaimsServer += x.ClaimsServer
}
func (f *RSTInjectedFacts) clone() Facts { c := *f; return &c }

// StatesFacts: the Zeek conn_state of failed connections, counted
// (sw_internal_blocked).
type StatesFacts struct{ States map[string]int }

func (f *StatesFacts) merge(o Facts) { addCounts(&f.States, o.(*StatesFacts).States) }
func (f *StatesFacts) clone() Facts  { return &StatesFacts{States: maps.Clone(f.States)} }

// NPAMissingFacts: why a main session has no notification channel: its
// attempts were blocked (with their SYNs and states), the capture began
// midstream, or nothing was tried.
type NPAMissingFacts struct {
	Blocked, Midstream, Never int
	SYNs                      int
	States                    map[string]int
}

func (f *NPAMissingFacts) merge(o Facts) {
	x := o.(*NPAMissingFacts)
	f.Blocked += x.Blocked
	f.Midstream += x.Midstream
	f.Never += x.Never
	f.SYNs += x.SYNs
	addCounts(&f.States, x.States)
}
func (f *NPAMissingFacts) clone() Facts { c := *f; c.States = maps.Clone(f.States); return &c }

// NPALostFacts: how the notifications were lost: server pushes never
// acknowledged, the socket reset, or the client's data never acknowledged.
// Bracket is the path's TCP idle timeout as the capture measured it.
type NPALostFacts struct {
	Unacked, Reset, ClientUnacked int
	Bracket                       Bracket
}

func (f *NPALostFacts) merge(o Facts) {
	x := o.(*NPALostFacts)
	f.Unacked += x.Unacked
	f.Reset += x.Reset
	f.ClientUnacked += x.ClientUnacked
	f.Bracket.merge(x.Bracket)
}
func (f *NPALostFacts) clone() Facts { c := *f; return &c }

// NPAOrphanFacts: why the notification socket has no main session.
type NPAOrphanFacts struct{ Why NPAReason }

func (f *NPAOrphanFacts) merge(Facts)  {} // the first member's reason stands
func (f *NPAOrphanFacts) clone() Facts { c := *f; return &c }

// NPAUDPFacts: the UDP notification datagrams, the ICMP errors they drew,
// and sessions to which none arrived.
type NPAUDPFacts struct {
	ICMPFacts
	Datagrams   int
	NoneArrived int
}

func (f *NPAUDPFacts) merge(o Facts) {
	x := o.(*NPAUDPFacts)
	f.ICMPFacts.add(&x.ICMPFacts)
	f.Datagrams += x.Datagrams
	f.NoneArrived += x.NoneArrived
}
func (f *NPAUDPFacts) clone() Facts { c := *f; c.copyMaps(); return &c }

// UDPUnansweredFacts: requests sent and left unanswered, how many flows
// got answers to others (SomeAnswered), and the K2 symptoms. Bracket is
// the path's UDP timeout as the capture measured it (when some answers
// came).
type UDPUnansweredFacts struct {
	Requests, Unanswered, SomeAnswered int
	K2Symptoms
	Bracket Bracket
}

func (f *UDPUnansweredFacts) merge(o Facts) {
	x := o.(*UDPUnansweredFacts)
	f.Requests += x.Requests
	f.Unanswered += x.Unanswered
	f.SomeAnswered += x.SomeAnswered
	f.K2Symptoms.add(&x.K2Symptoms)
	f.Bracket.merge(x.Bracket)
}
func (f *UDPUnansweredFacts) clone() Facts { c := *f; c.Shadows = maps.Clone(f.Shadows); return &c }

// UDPLateFacts: late datagrams, those the client acknowledged at once
// (Delivered), those the server sent unasked (Tickles), and those an ICMP
// error proved refused on their way to the client (Refused, with the
// errors' codes and senders): a device between them had forgotten the
// flow, whatever timeout was assumed.
//
// DroppedAt counts refused datagrams the capturing machine dropped itself,
// by the component that did (pktmon: the client's own Windows Firewall).
// Bracket is the UDP timeout the capture measured for the device the fix
// goes to: the one that sent the errors, else the path.
type UDPLateFacts struct {
	Late, Delivered, Tickles int
	Refused                  int
	ICMPFacts
	DroppedAt map[string]int
	Bracket   Bracket
}

func (f *UDPLateFacts) symptoms() *K2Symptoms { return &f.K2Symptoms }

func (f *UDPLateFacts) merge(o Facts) {
	x := o.(*UDPLateFacts)
	f.Late += x.Late
	f.Delivered += x.Delivered
	f.Tickles += x.Tickles
	f.Refused += x.Refused
	f.ICMPFacts.add(&x.ICMPFacts)
	addCounts(&f.DroppedAt, x.DroppedAt)
	f.Bracket.merge(x.Bracket)
}
func (f *UDPLateFacts) clone() Facts {
	c := *f
	c.copyMaps()
	c.DroppedAt = maps.Clone(f.DroppedAt)
	return &c
}

// FailoverFacts: the KeyShadows turned to, and how many answered.
type FailoverFacts struct {
	Shadows        map[netip.Addr]int
	ShadowAnswered int
}

func (f *FailoverFacts) merge(o Facts) {
	x := o.(*FailoverFacts)
	addCounts(&f.Shadows, x.Shadows)
	f.ShadowAnswered += x.ShadowAnswered
}
func (f *FailoverFacts) clone() Facts { c := *f; c.Shadows = maps.Clone(f.Shadows); return &c }

// ScanFacts: a scan's failed attempts by kind, the hosts it touched (one
// by one up to maxScanHosts; MoreHosts counts probes to hosts beyond), the
// product services among its ports, and the probes that were answered.
type ScanFacts struct {
	Kinds     map[Kind]int
	Hosts     map[netip.Addr]int
	MoreHosts int
	Services  map[catalog.ServiceName]int
	Answered  int
	// hosts counts the attempts of a scanner on its hosts before they
	// reach Hosts (noteHost; flushHosts moves them).
	hosts *hostTable
}

func (f *ScanFacts) merge(o Facts) {
	x := o.(*ScanFacts)
	f.flushHosts()
	f.hosts = nil
	x.flushHosts()
	addCounts(&f.Kinds, x.Kinds)
	addCounts(&f.Hosts, x.Hosts)
	addCounts(&f.Services, x.Services)
	f.MoreHosts += x.MoreHosts
	f.Answered += x.Answered
}
func (f *ScanFacts) clone() Facts {
	f.flushHosts()
	return &ScanFacts{Kinds: maps.Clone(f.Kinds), Hosts: maps.Clone(f.Hosts), Services: maps.Clone(f.Services),
		MoreHosts: f.MoreHosts, Answered: f.Answered}
}

// BetweenFacts: packets one capture point saw and another, recording the
// same flow, did not: how many each way, and at which capture points
// (indexes into Result.CapturePoints) they were seen and missed.
type BetweenFacts struct {
	ToServer, ToClient int
	SeenAt, MissingAt  map[uint16]int
	// Ways counts the packets by direction and by the capture points that
	// saw and missed them, so the words can say which side saw what.
	Ways   map[BetweenWay]int
	hashes map[uint64]bool // the packets counted, once each
}

// BetweenWay is a direction (0 client to server, 1 back) with the capture
// point that saw packets going that way and the one that did not.
type BetweenWay struct {
	Dir           uint8
	Seen, Missing uint16
}

func (f *BetweenFacts) merge(o Facts) {
	x := o.(*BetweenFacts)
	f.ToServer += x.ToServer
	f.ToClient += x.ToClient
	addCounts(&f.SeenAt, x.SeenAt)
	addCounts(&f.MissingAt, x.MissingAt)
	addCounts(&f.Ways, x.Ways)
}
func (f *BetweenFacts) clone() Facts {
	return &BetweenFacts{ToServer: f.ToServer, ToClient: f.ToClient, SeenAt: maps.Clone(f.SeenAt),
		MissingAt: maps.Clone(f.MissingAt), Ways: maps.Clone(f.Ways), hashes: maps.Clone(f.hashes)}
}

// VersionPort is one port in use and the versions that use it (version
// numbers as versionNum gives them; -1 unbounded).
type VersionPort struct {
	Service   catalog.ServiceName
	Transport catalog.Transport
	Port      uint16
	Lo, Hi    int
}

// VersionFacts: the ports in use on a Supportworks server and the version
// range they imply (Lo > Hi when they contradict each other).
type VersionFacts struct {
	Ports  []VersionPort
	Lo, Hi int
	// Midstream: some evidence is a connection caught mid-stream, whose
	// first packet is no SYN.
	Midstream bool
}

func (f *VersionFacts) merge(Facts) {}
func (f *VersionFacts) clone() Facts {
	c := *f
	c.Ports = append([]VersionPort(nil), f.Ports...)
	return &c
}

// symptomHolder is a finding's facts that can take K2 symptoms.
type symptomHolder interface{ symptoms() *K2Symptoms }

// Components lists the components of the capturing machine in a
// DroppedAt map, the one that dropped most first (then by name): the
// order the words name them in, and the first is where a change goes.
func Components(at map[string]int) []string {
	names := make([]string, 0, len(at))
	for n := range at {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if at[names[i]] != at[names[j]] {
			return at[names[i]] > at[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}

// Symptoms returns the K2 rebinds and failovers folded into the finding
// as evidence of its cause; nil when its kind holds none.
func (f *Finding) Symptoms() *K2Symptoms {
	if h, ok := f.Facts.(symptomHolder); ok {
		return h.symptoms()
	}
	return nil
}

func (f *ICMPFacts) symptoms() *K2Symptoms          { return &f.K2Symptoms }
func (f *UDPUnansweredFacts) symptoms() *K2Symptoms { return &f.K2Symptoms }
