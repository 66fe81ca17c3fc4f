package explain_test

import (
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/explain"
	"github.com/fwdiag/fwdiag/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	t0     = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	client = netip.MustParseAddr("192.0.2.10")
	server = netip.MustParseAddr("198.51.100.10")
	router = netip.MustParseAddr("198.51.100.1")
	cat    = catalog.NewCatalog(catalog.DefaultServices())
)

func service(port uint16, tr catalog.Transport) *catalog.Service {
	s, _ := cat.Lookup(port, tr, "")
	return s
}

// finding is a fixture: one client, one server, the given kind and facts.
func finding(kind diagnose.Kind, sev diagnose.Severity, port uint16, tr catalog.Transport, facts diagnose.Facts) diagnose.Finding {
	return diagnose.Finding{Kind: kind, Severity: sev, Confidence: diagnose.High, Service: service(port, tr), Transport: tr,
		Client: client, Server: server, Port: port, First: t0, Last: t0.Add(time.Minute), Count: 3,
		ClientPorts: []uint16{40001, 40002}, NClientPorts: 2, Inputs: 1,
		Evidence: []diagnose.Evidence{{Input: 0, Frames: []uint64{4, 9, 12}}}, Facts: facts}
}

// fixtures holds, per golden name, a finding that shows its kind's words.
func fixtures() map[string]diagnose.Finding {
	admin := diagnose.ICMPCode{Type: 3, Code: 13}
	portUnreach := diagnose.ICMPCode{Type: 3, Code: 3}
	m := map[string]diagnose.Finding{}
	f := finding(diagnose.SynUnanswered, diagnose.Critical, 5002, catalog.TCP, &diagnose.SynUnansweredFacts{SYNs: 9})
	f.Samples = []time.Duration{3 * time.Second, 7 * time.Second}
	m["syn_unanswered"] = f
	f = finding(diagnose.SynReset, diagnose.Critical, 5005, catalog.TCP, &diagnose.SynResetFacts{Forged: 3})
	f.TTLs = [2]uint8{64, 63}
	m["syn_reset"] = f
	f = finding(diagnose.SynReset, diagnose.Critical, 5005, catalog.TCP, &diagnose.SynResetFacts{Genuine: 3})
	f.TTLs = [2]uint8{63, 63}
	m["syn_reset-genuine"] = f
	m["syn_reset-unknown"] = finding(diagnose.SynReset, diagnose.Critical, 5005, catalog.TCP, &diagnose.SynResetFacts{})
	m["syn_icmp_rejected"] = finding(diagnose.SynICMPRejected, diagnose.Critical, 5015, catalog.TCP,
		&diagnose.ICMPFacts{Codes: map[diagnose.ICMPCode]int{admin: 3}, From: map[netip.Addr]int{router: 3}, Filter: 3})
	m["handshake_incomplete"] = finding(diagnose.HandshakeIncomplete, diagnose.Critical, 5001, catalog.TCP, &diagnose.HandshakeFacts{SynAcks: 9})
	m["handshake_incomplete-acked"] = finding(diagnose.HandshakeIncomplete, diagnose.Critical, 5001, catalog.TCP, &diagnose.HandshakeFacts{SynAcks: 9, Acked: 3})
	f = finding(diagnose.RSTInjected, diagnose.Critical, 5001, catalog.TCP, &diagnose.RSTInjectedFacts{ClaimsServer: 1})
	f.TTLs = [2]uint8{250, 63}
	m["rst_injected"] = f
	f = finding(diagnose.SWInternalBlocked, diagnose.Critical, 5002, catalog.TCP, &diagnose.StatesFacts{States: map[string]int{"REJ": 2, "S0": 1}})
	f.Client, f.Server = netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.1")
	m["sw_internal_blocked"] = f
	f = finding(diagnose.SynScan, diagnose.Info, 0, catalog.TCP, &diagnose.ScanFacts{Kinds: map[diagnose.Kind]int{diagnose.SynReset: 90, diagnose.SynUnanswered: 10},
		Hosts: map[netip.Addr]int{server: 100}, Services: map[catalog.ServiceName]int{"sw-binary": 1}})
	f.Service, f.Server, f.Count = nil, netip.Addr{}, 100
	m["syn_scan"] = f
	m["npa_notification_missing"] = finding(diagnose.NPANotificationMissing, diagnose.Critical, 5001, catalog.TCP,
		&diagnose.NPAMissingFacts{Blocked: 1, SYNs: 4, States: map[string]int{"S0": 1}})
	m["npa_notification_missing-midstream"] = finding(diagnose.NPANotificationMissing, diagnose.Info, 5001, catalog.TCP, &diagnose.NPAMissingFacts{Midstream: 1})
	m["npa_notification_missing-never"] = finding(diagnose.NPANotificationMissing, diagnose.Warning, 5001, catalog.TCP, &diagnose.NPAMissingFacts{Never: 1})
	f = finding(diagnose.NPANotificationLost, diagnose.Critical, 5001, catalog.TCP, &diagnose.NPALostFacts{Unacked: 1})
	f.Samples = []time.Duration{2 * time.Hour}
	m["npa_notification_lost"] = f
	f = finding(diagnose.NPANotificationLost, diagnose.Critical, 5001, catalog.TCP, &diagnose.NPALostFacts{Reset: 1})
	f.Samples = []time.Duration{31 * time.Second}
	m["npa_notification_lost-reset"] = f
	f = finding(diagnose.NPANotificationLost, diagnose.Critical, 5001, catalog.TCP, &diagnose.NPALostFacts{ClientUnacked: 1})
	f.Samples = []time.Duration{45 * time.Second}
	m["npa_notification_lost-client"] = f
	f = finding(diagnose.NPAIdleExceedsTimeout, diagnose.Warning, 5001, catalog.TCP, nil)
	f.Samples = []time.Duration{2 * time.Hour}
	m["npa_idle_exceeds_timeout"] = f
	m["npa_orphan_notification"] = finding(diagnose.NPAOrphanNotification, diagnose.Warning, 5001, catalog.TCP, &diagnose.NPAOrphanFacts{Why: diagnose.WhyOrphanMainEnded})
	m["npa_udp_mode"] = finding(diagnose.NPAUDPMode, diagnose.Info, 5001, catalog.UDP, &diagnose.NPAUDPFacts{Datagrams: 12})
	m["npa_udp_unreachable"] = finding(diagnose.NPAUDPUnreachable, diagnose.Critical, 5001, catalog.UDP, &diagnose.NPAUDPFacts{Datagrams: 3,
		ICMPFacts: diagnose.ICMPFacts{Codes: map[diagnose.ICMPCode]int{portUnreach: 3}, From: map[netip.Addr]int{router: 1}}})
	m["npa_udp_unreachable-none"] = finding(diagnose.NPAUDPUnreachable, diagnose.Critical, 5001, catalog.UDP, &diagnose.NPAUDPFacts{NoneArrived: 1})
	m["udp_unanswered"] = finding(diagnose.UDPUnanswered, diagnose.Critical, 19283, catalog.UDP, &diagnose.UDPUnansweredFacts{Requests: 9, Unanswered: 9})
	m["udp_unanswered-symptoms"] = finding(diagnose.UDPUnanswered, diagnose.Critical, 19283, catalog.UDP, &diagnose.UDPUnansweredFacts{Requests: 9, Unanswered: 9,
		K2Symptoms: diagnose.K2Symptoms{Rebinds: 2, Failovers: 1, Shadows: map[netip.Addr]int{netip.MustParseAddr("198.51.100.21"): 1}, ShadowAnswered: 1}})
	m["udp_unanswered-some"] = finding(diagnose.UDPUnanswered, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPUnansweredFacts{Requests: 9, Unanswered: 2, SomeAnswered: 1})
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 2, Tickles: 2, Delivered: 1})
	f.Samples = []time.Duration{7 * time.Minute, 15 * time.Minute}
	m["udp_late_response"] = f
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 1, Refused: 1,
		ICMPFacts: diagnose.ICMPFacts{Codes: map[diagnose.ICMPCode]int{portUnreach: 1}, From: map[netip.Addr]int{client: 1}}})
	f.Samples = []time.Duration{7 * time.Second}
	m["udp_late_response-refused"] = f
	// A K2 answer after 4 s arrived, one after 7 s drew an ICMP error
	// from the NAT: the bracket, with no profile inside it.
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 1, Refused: 1,
		ICMPFacts: diagnose.ICMPFacts{Codes: map[diagnose.ICMPCode]int{portUnreach: 1}, From: map[netip.Addr]int{router: 1}},
		Bracket:   diagnose.Bracket{Transport: catalog.UDP, Device: router, Above: 4 * time.Second, Survived: 3, Below: 7 * time.Second, Died: 1, Need: 15 * time.Minute, Product: catalog.K2}})
	f.Samples = []time.Duration{7 * time.Second}
	m["udp_late_response-bracket"] = f
	// Tickles after 40 s got through, others after 7.5 min did not: the
	// profiles between fit.
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 2, Tickles: 2,
		Bracket: diagnose.Bracket{Transport: catalog.UDP, Above: 40 * time.Second, Survived: 2, Below: 450 * time.Second, Died: 2, Need: 15 * time.Minute, Product: catalog.K2}})
	f.Samples = []time.Duration{450 * time.Second}
	m["udp_late_response-bracket-profiles"] = f
	// One flow outlived 7.2 s, another died after 7.0 s (per-flow ct
	// timeout): no bracket, the contradiction said.
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 3, Tickles: 3,
		Bracket: diagnose.Bracket{Transport: catalog.UDP, Above: 7200 * time.Millisecond, Survived: 3, Below: 7 * time.Second, Died: 3, Need: 15 * time.Minute, Product: catalog.K2}})
	f.Samples = []time.Duration{7 * time.Second}
	m["udp_late_response-contradictory"] = f
	f = finding(diagnose.UDPUnanswered, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPUnansweredFacts{Requests: 9, Unanswered: 2, SomeAnswered: 1,
		Bracket: diagnose.Bracket{Transport: catalog.UDP, Below: 8 * time.Second, Died: 2, Need: 15 * time.Minute, Product: catalog.K2}})
	m["udp_unanswered-some-bracket"] = f
	// The NPA socket lived through 20 s of idle and died after 45 s.
	f = finding(diagnose.NPANotificationLost, diagnose.Critical, 5001, catalog.TCP, &diagnose.NPALostFacts{Unacked: 1,
		Bracket: diagnose.Bracket{Transport: catalog.TCP, Above: 20 * time.Second, Survived: 4, Below: 45 * time.Second, Died: 1, Need: 2 * time.Hour, Product: catalog.Supportworks}})
	f.Samples = []time.Duration{45 * time.Second}
	m["npa_notification_lost-bracket"] = f
	f = finding(diagnose.UDPLateResponse, diagnose.Warning, 19283, catalog.UDP, &diagnose.UDPLateFacts{Late: 2, Refused: 2,
		DroppedAt: map[string]int{"WFP Native MAC Layer LightWeight Filter": 2}})
	f.Samples = []time.Duration{7 * time.Minute, 9 * time.Minute}
	m["udp_late_response-dropped-locally"] = f
	f = finding(diagnose.SynUnanswered, diagnose.Critical, 5001, catalog.TCP, &diagnose.SynUnansweredFacts{SYNs: 3,
		DroppedAt: map[string]int{"WFP Native MAC Layer LightWeight Filter": 3}})
	m["syn_unanswered-dropped-locally"] = f
	m["capture_duplicates-pktmon"] = diagnose.Finding{Kind: diagnose.CaptureDuplicates, Severity: diagnose.Info, Confidence: diagnose.High,
		First: t0, Last: t0, Count: 240, Facts: &diagnose.CaptureFacts{Input: -1, Folded: 240}}
	m["udp_icmp_unreachable"] = finding(diagnose.UDPICMPUnreachable, diagnose.Critical, 19283, catalog.UDP,
		&diagnose.ICMPFacts{Codes: map[diagnose.ICMPCode]int{portUnreach: 3}, From: map[netip.Addr]int{server: 1}})
	m["k2_shadow_failover"] = finding(diagnose.K2ShadowFailover, diagnose.Warning, 19283, catalog.UDP,
		&diagnose.FailoverFacts{Shadows: map[netip.Addr]int{netip.MustParseAddr("198.51.100.21"): 1}, ShadowAnswered: 1})
	m["k2_client_rebind"] = finding(diagnose.K2ClientRebind, diagnose.Warning, 19283, catalog.UDP, nil)
	f = finding(diagnose.DroppedBetweenCaptures, diagnose.Warning, 19283, catalog.UDP,
		&diagnose.BetweenFacts{ToClient: 2, SeenAt: map[uint16]int{0: 1}, MissingAt: map[uint16]int{1: 1}})
	f.Count = 2
	m["dropped_between_captures"] = f
	f = finding(diagnose.ResetBetweenCaptures, diagnose.Warning, 5001, catalog.TCP,
		&diagnose.BetweenFacts{ToServer: 1, SeenAt: map[uint16]int{1: 1}, MissingAt: map[uint16]int{0: 1}})
	f.Count, f.Evidence = 1, []diagnose.Evidence{{Input: 0, Frames: []uint64{7}}, {Input: 1, Frames: []uint64{8}}}
	m["reset_between_captures"] = f
	f = finding(diagnose.SWVersionInferred, diagnose.Info, 0, catalog.TCP, &diagnose.VersionFacts{Lo: -1, Hi: 741, Ports: []diagnose.VersionPort{
		{Service: "sw-kbindex", Transport: catalog.TCP, Port: 5003, Lo: -1, Hi: 741}, {Service: "sw-sql", Transport: catalog.TCP, Port: 5002, Lo: -1, Hi: 759}}})
	f.Client, f.Service = netip.Addr{}, nil
	m["sw_version_inferred"] = f
	f = finding(diagnose.SWVersionInferred, diagnose.Info, 0, catalog.TCP, &diagnose.VersionFacts{Lo: 740, Hi: 739, Ports: []diagnose.VersionPort{
		{Service: "sw-ftp", Transport: catalog.TCP, Port: 21, Lo: -1, Hi: 739}, {Service: "sw-xmlmc", Transport: catalog.TCP, Port: 5015, Lo: 740, Hi: -1}}})
	f.Client, f.Service = netip.Addr{}, nil
	m["sw_version_inferred-contradiction"] = f
	capture := func(kind diagnose.Kind, sev diagnose.Severity, count int, x *diagnose.CaptureFacts) diagnose.Finding {
		return diagnose.Finding{Kind: kind, Severity: sev, Confidence: diagnose.High, First: t0, Last: t0, Count: count, Facts: x}
	}
	m["capture_truncated"] = capture(diagnose.CaptureTruncated, diagnose.Warning, 3, &diagnose.CaptureFacts{Damaged: 1, Truncated: 2, Problems: 1, Messages: []string{"client.pcap: frame 7: truncated record: 64 of 74 bytes"}})
	m["capture_truncated-snaplen"] = capture(diagnose.CaptureTruncated, diagnose.Info, 20, &diagnose.CaptureFacts{Truncated: 20})
	m["capture_interrupted"] = capture(diagnose.CaptureInterrupted, diagnose.Warning, 1, &diagnose.CaptureFacts{Messages: []string{"eth0 went down (link lost)"}})
	m["capture_drops"] = capture(diagnose.CaptureDrops, diagnose.Warning, 7, &diagnose.CaptureFacts{Drops: 7})
	m["capture_duplicates"] = capture(diagnose.CaptureDuplicates, diagnose.Info, 12, &diagnose.CaptureFacts{Input: -1})
	m["capture_one_sided"] = capture(diagnose.CaptureOneSided, diagnose.Warning, 5, &diagnose.CaptureFacts{Connections: 5})
	m["capture_link_unsupported"] = capture(diagnose.CaptureLinkUnsupported, diagnose.Warning, 1333, &diagnose.CaptureFacts{LinkType: 10, Skipped: 1333})
	m["capture_undecoded"] = capture(diagnose.CaptureUndecoded, diagnose.Warning, 20000, &diagnose.CaptureFacts{Skipped: 20000,
		Undecoded: []diagnose.UndecodedCount{{Encap: "gre", Cause: "protocol not followed", Frames: 19990}, {Encap: "vxlan", Cause: "cut short", Frames: 10}}})
	m["capture_link_unsupported-some"] = capture(diagnose.CaptureLinkUnsupported, diagnose.Info, 12, &diagnose.CaptureFacts{Input: 1, LinkType: 187, Skipped: 12})
	// A finding merged from many clients names them and filters the service.
	f = finding(diagnose.UDPUnanswered, diagnose.Critical, 19283, catalog.UDP, &diagnose.UDPUnansweredFacts{Requests: 60, Unanswered: 60})
	f.Client, f.Rep, f.ClientPorts = netip.Addr{}, client, nil
	for i := 0; i < 30; i++ {
		f.Clients = append(f.Clients, diagnose.ClientCount{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)}), N: 1})
	}
	m["udp_unanswered-merged"] = f
	return m
}

func context() *explain.Context {
	p, _ := catalog.LookupProfile("windows")
	return &explain.Context{Timeouts: catalog.TimeoutsFor(p, 0, time.Hour), Inputs: []string{"client.pcap", "server.pcap"},
		CapturePoints: []diagnose.CapturePoint{{Input: 0}, {Input: 1}}}
}

func render(t explain.Text) string {
	return fmt.Sprintf("summary: %s\ndetail: %s\nfix: %s\nfilter: %s\n", t.Summary, t.Detail, t.Fix, t.Filter)
}

// TestGoldenWords words every fixture and compares with its golden file
// (go test ./explain -update rewrites them after a reviewed change).
func TestGoldenWords(t *testing.T) {
	for name, f := range fixtures() {
		t.Run(name, func(t *testing.T) {
			got := render(explain.Finding(context(), &f))
			path := filepath.Join("testdata", name+".golden")
			golden.Check(t, path, got, *update, "words", "./explain")
		})
	}
}

// TestEveryKindHasWordsAndAGolden: a kind added to diagnose without its
// explanation, or without a golden that shows it, fails here.
func TestEveryKindHasWordsAndAGolden(t *testing.T) {
	have := map[diagnose.Kind]bool{}
	for _, k := range explain.Kinds() {
		have[k] = true
	}
	fx := fixtures()
	for _, k := range diagnose.Kinds {
		if !have[k] {
			t.Errorf("kind %s has no words in explain", k)
		}
		if _, ok := fx[string(k)]; !ok {
			t.Errorf("kind %s has no golden fixture", k)
		}
	}
}

var addrLiteral = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b|[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}`)

// TestAddrWritesEveryAddress: with an Addr function every address in the
// words (summary, detail, fix and filter) goes through it, so redaction
// needs no search of the text.
func TestAddrWritesEveryAddress(t *testing.T) {
	c := context()
	c.Addr = func(a netip.Addr) string { return "HOST" }
	for name, f := range fixtures() {
		txt := explain.Finding(c, &f)
		all := strings.Join([]string{txt.Summary, txt.Detail, txt.Fix, txt.Filter}, "\n")
		if m := addrLiteral.FindString(all); m != "" {
			t.Errorf("%s: address %s was written without Context.Addr:\n%s", name, m, all)
		}
	}
}

// TestFilters checks what each filter must select, beyond the goldens.
func TestFilters(t *testing.T) {
	fx := fixtures()
	cases := []struct {
		name string
		want []string
	}{
		{"syn_reset", []string{"tcp.flags.reset==1", "tcp.srcport==5005", "tcp.dstport in {40001, 40002}"}},
		{"syn_icmp_rejected", []string{"icmp && ip.dst==192.0.2.10 && tcp.dstport==5015"}},
		{"rst_injected", []string{"ip.ttl==250"}},
		{"udp_unanswered-merged", []string{"ip.addr==198.51.100.10 && udp.port==19283"}},
		{"dropped_between_captures", []string{"frame.number in {4, 9, 12}"}},
		{"reset_between_captures", []string{"ip.addr==198.51.100.10 && tcp.port==5001"}},
	}
	for _, tc := range cases {
		f := fx[tc.name]
		got := explain.Finding(context(), &f).Filter
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: filter %q lacks %q", tc.name, got, w)
			}
		}
	}
}

// TestDropsFixNamesTheCapturingTool: the fix for a capture's drops names
// the knob of the tool that captured: fwdiag live's ring for its own
// capture, tcpdump's buffer for a file.
func TestDropsFixNamesTheCapturingTool(t *testing.T) {
	f := diagnose.Finding{Kind: diagnose.CaptureDrops, Severity: diagnose.Warning, Confidence: diagnose.High, Count: 7, Facts: &diagnose.CaptureFacts{Drops: 7}}
	for _, c := range []struct{ input, want, not string }{
		{"live:eth0", "fwdiag live --buffer", "tcpdump -B"},
		{"client.pcap", "tcpdump -B", "--buffer"},
	} {
		ctx := &explain.Context{Inputs: []string{c.input}, CapturePoints: []diagnose.CapturePoint{{Input: 0}}}
		fix := explain.Finding(ctx, &f).Fix
		if !strings.Contains(fix, c.want) || strings.Contains(fix, c.not) {
			t.Errorf("%s: fix %q; want it to name %q and not %q", c.input, fix, c.want, c.not)
		}
	}
}
