package pcaps_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/remedy"
	"github.com/fwdiag/fwdiag/report"
)

// fixLoopScenario is a lab scenario whose fault is a setting of the lab's
// own firewall (the nftables table inet lab in fwl-fw and its conntrack
// timeouts), so that fwdiag's nftables fix, loaded there, must remove it.
//
// The other scenarios are not in the loop: healthy, healthy-midstream and
// ipv6-healthy have no fault; sw-host-firewall's fault is the Supportworks
// server's own host firewall (fwl-srv), whose fix is for the Windows
// server, not the lab firewall; return-blocked emulates an asymmetric
// path (remedy: symmetric_path, a routing change, no rule); npa-udp-nat's
// fault is legacy UDP notifications through NAT (remedy: TCP
// notifications on the server).
type fixLoopScenario struct {
	name string
	// fault are the finding kinds the firewall setting causes (from
	// SCENARIO.md): each must get an nftables fix and be gone after it.
	fault []diagnose.Kind
	// stays are kinds of the same captures whose cause is not the
	// firewall: fwdiag offers no firewall fix for them, and the rerun must
	// still show them (the fix did not simply stop the traffic).
	stays []diagnose.Kind
	// fallback is traffic ("tcp 203.0.113.10:80") that is only tried when
	// other traffic fails: once the fix lets that through, the fallback
	// is not used and cannot be shown answered.
	fallback []string
	// subset: run in `go test ./pcaps` (root, not -short); the others only
	// with FWDIAG_FIXLOOP=all (make fixloop).
	subset bool
}

// between are the kinds that compare two capture points: their remedy is
// to inspect the device between them (no rule), but they are the
// empirical proof that a packet was lost there, so on the traffic of a
// fixed finding they must be gone too.
var between = []diagnose.Kind{diagnose.DroppedBetweenCaptures, diagnose.ResetBetweenCaptures}

var fixLoopScenarios = []fixLoopScenario{
	// TCP connection limit: ct count over 1 per client on 5001.
	{name: "npa-blocked", fault: []diagnose.Kind{diagnose.NPANotificationMissing}, subset: true},
	// TCP established timeout 8 s < the notification socket's 12 s idle.
	{name: "npa-idle-kill", fault: []diagnose.Kind{diagnose.NPANotificationLost, diagnose.DroppedBetweenCaptures}},
	// An IPS rule of the firewall forges a RST on a push.
	{name: "npa-reset", fault: []diagnose.Kind{diagnose.RSTInjected, diagnose.NPANotificationLost, diagnose.DroppedBetweenCaptures, diagnose.ResetBetweenCaptures}},
	// UDP timeout 5 s < the KeyServer's 8 s late answers.
	{name: "k2-late-udp", fault: []diagnose.Kind{diagnose.UDPUnanswered, diagnose.UDPLateResponse, diagnose.DroppedBetweenCaptures}},
	// The same through masquerade: the late answer meets an expired NAT
	// mapping.
	{name: "k2-nat-late", fault: []diagnose.Kind{diagnose.UDPUnanswered, diagnose.UDPLateResponse, diagnose.DroppedBetweenCaptures}, subset: true},
	// UDP timeout 5 s < the KeyServer's 7 s tickle (one client only: the
	// other already has the seed's ct timeout).
	{name: "k2-tickle", fault: []diagnose.Kind{diagnose.UDPLateResponse, diagnose.DroppedBetweenCaptures}},
	// UDP 19283 dropped.
	{name: "k2-failover", fault: []diagnose.Kind{diagnose.UDPUnanswered}},
	// TCP 19283 dropped.
	{name: "k2-admin-blocked", fault: []diagnose.Kind{diagnose.SynUnanswered}, subset: true},
	// 5002 drop, 5005 reject with tcp reset, 5015 icmpx admin-prohibited,
	// a forged RST on an EXPORT request; the stopped KeyServer's port
	// unreachable is not the firewall's (check_service on the server).
	{name: "mixed-rejects", fault: []diagnose.Kind{diagnose.SynUnanswered, diagnose.SynReset, diagnose.SynICMPRejected,
		diagnose.RSTInjected, diagnose.DroppedBetweenCaptures, diagnose.ResetBetweenCaptures},
		stays: []diagnose.Kind{diagnose.UDPICMPUnreachable}},
	// Outbound 80/443 to prs/www.sassafras.com dropped.
	// ks-prs falls back to HTTP 80 only when HTTPS 443 fails.
	{name: "prs-blocked", fault: []diagnose.Kind{diagnose.SynUnanswered}, fallback: []string{"tcp 203.0.113.10:80"}},
	// ICMPv6 admin-prohibited for the 2nd 5001 connection, 5015, UDP 19283.
	{name: "ipv6-rejects", fault: []diagnose.Kind{diagnose.NPANotificationMissing, diagnose.SynICMPRejected, diagnose.UDPICMPUnreachable}},
}

// fixLoopOptions name the lab's ruleset (run.sh: table inet lab, its
// filter chain "forward"), so the snippets load into it as they are.
var fixLoopOptions = fix.Options{NFTFamily: "inet", NFTTable: "lab", NFTChain: "forward"}

// TestFixLoop is issue 17's acceptance test, the closed loop: for each lab
// scenario whose fault is a firewall setting, fwdiag analyses the
// committed captures, each finding's remedies are written for nftables
// by package fix, and the scenario runs again in the lab with those
// snippets loaded into its firewall namespace (run.sh's LAB_FW_FIX hook):
// the findings the fix is for must be gone, while the fixed traffic is
// still there and answered.
//
// `go test ./pcaps` (root, not -short) runs a representative subset: one
// allow (k2-admin-blocked), one UDP timeout (k2-nat-late, through NAT) and
// one TCP connection limit (npa-blocked), about 1.5 minutes.
// FWDIAG_FIXLOOP=all (make fixloop) runs every scenario of the loop,
// FWDIAG_FIXLOOP=a,b the named ones; FWDIAG_FIXLOOP_INPUTS=server.pcap
// writes the fix from that capture alone. A timeout fix is loaded in its
// rule-scoped nft form (ct timeout), or with FWDIAG_FIXLOOP_FORM=sysctl
// in its global sysctl form (run.sh's LAB_FW_SYSCTL hook). One lab runs
// at a time machine-wide: each run waits for the lab lock
// (LAB_LOCK_WAIT), as TestLiveOnLabScenario does.
func TestFixLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: each lab scenario takes 20-40 s")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: the lab needs network namespaces and nftables")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s command: the lab cannot run", tool)
		}
	}
	run := fixLoopSelection(t)
	// The lab mostly waits on the scenarios' timers: beside the CPU-bound
	// tests of this package, not after them.
	t.Parallel()
	for _, sc := range run {
		t.Run(sc.name, func(t *testing.T) { fixLoop(t, sc) })
	}
}

func fixLoopSelection(t *testing.T) []fixLoopScenario {
	sel := os.Getenv("FWDIAG_FIXLOOP")
	var out []fixLoopScenario
	for _, sc := range fixLoopScenarios {
		if sel == "all" || (sel == "" && sc.subset) || slices.Contains(strings.Split(sel, ","), sc.name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		t.Fatalf("FWDIAG_FIXLOOP=%q names no scenario of the fix loop", sel)
	}
	return out
}

// loopChange is one change of the report (what a user is told to
// change), read back as package fix writes it, with the findings it is
// for.
type loopChange struct {
	fix.Change
	findings []*diagnose.Finding
}

// gatherChanges builds the report of res and reads its changes back, so
// the loop loads exactly the lines fwdiag prints (changes folded and
// sources chosen as the report does). The report's findings are res's,
// in the same order.
func gatherChanges(t *testing.T, res *diagnose.Result) []*loopChange {
	t.Helper()
	r := report.Build(res, nil, "fixloop")
	byID := map[string]*diagnose.Finding{}
	for i := range r.Findings {
		byID[r.Findings[i].ID] = &res.Findings[i]
	}
	var out []*loopChange
	for _, c := range r.Changes {
		fc, err := report.ChangeOf(c)
		if err != nil {
			t.Fatal(err)
		}
		lc := &loopChange{Change: fc}
		for _, id := range c.Findings {
			lc.findings = append(lc.findings, byID[id])
		}
		out = append(out, lc)
	}
	return out
}

// endpoint is what "the same finding" means across two runs of a
// scenario: its kind and its traffic (client ports and, behind NAT, the
// client's address differ from run to run).
type endpoint struct {
	kind      diagnose.Kind
	transport catalog.Transport
	server    netip.Addr
	port      uint16
}

func (e endpoint) String() string {
	return fmt.Sprintf("%s %s %s:%d", e.kind, e.transport, e.server, e.port)
}

func endpointOf(f *diagnose.Finding) endpoint {
	return endpoint{f.Kind, f.Transport, f.Server, f.Port}
}

func findingLine(f *diagnose.Finding) string {
	who := f.Client.String()
	if !f.Client.IsValid() {
		var cs []string
		for _, c := range f.Clients {
			cs = append(cs, c.Addr.String())
		}
		who = strings.Join(cs, ",")
	}
	return fmt.Sprintf("%s %s %s -> %s %s:%d", f.Kind, f.Severity, who, f.Transport, f.Server, f.Port)
}

func fixLoop(t *testing.T, sc fixLoopScenario) {
	dir := filepath.Join("captures", sc.name)
	exp := readExpect(t, filepath.Join(dir, "expect.txt"))
	opts := options(t, exp.flags)
	// Both capture points: the client's view (what was refused, unanswered)
	// and the server's (late answers, forged resets), and what was lost
	// between them. FWDIAG_FIXLOOP_INPUTS=server.pcap (say) runs the loop
	// on the fix written from one capture point's view instead; sc.fault
	// lists what the two together give, so it is not checked then.
	inputs := []string{"client.pcap", "server.pcap"}
	bothPoints := true
	if in := os.Getenv("FWDIAG_FIXLOOP_INPUTS"); in != "" && in != "client.pcap,server.pcap" {
		inputs, bothPoints = strings.Split(in, ","), false
	}
	before := analyzeResult(t, dir, inputs, opts)

	// Render every change for nftables, the lab firewall's language.
	var nft, sysctl bytes.Buffer
	form := os.Getenv("FWDIAG_FIXLOOP_FORM")
	if form != "" && form != "nft" && form != "sysctl" {
		t.Fatalf("FWDIAG_FIXLOOP_FORM=%q: nft (default) or sysctl", form)
	}
	fmt.Fprintf(&nft, "# fwdiag's nftables fix for lab scenario %s (TestFixLoop)\n", sc.name)
	fixed := map[*diagnose.Finding]bool{}
	rerun := opts
	for i, c := range gatherChanges(t, before) {
		snips := fix.For(c.Change, []fix.Firewall{fix.NFTables}, fixLoopOptions)
		var kinds []string
		for _, f := range c.findings {
			kinds = append(kinds, findingLine(f))
		}
		applied := false
		for _, s := range snips {
			if s.Firewall != fix.NFTables {
				// A change on a host (client_host, server_host) is
				// written for that host, not for the lab firewall.
				t.Logf("change %d (%s on %s): for %s, not the lab firewall", i+1, c.Action, c.Device.Kind, s.Device)
				continue
			}
			if strings.TrimSpace(s.Text) == "" {
				t.Logf("change %d (%s on %s): no nftables text; note: %s", i+1, c.Action, c.Device.Kind, s.Note)
				continue
			}
			// A timeout is written twice for Linux: scoped to the
			// traffic (nft ct timeout) and as the global sysctl
			// alternative. One of them is loaded, else the loop could
			// not tell which one worked: the nft form unless
			// FWDIAG_FIXLOOP_FORM=sysctl.
			var w *bytes.Buffer
			switch s.Lang {
			case "nft":
				w = &nft
				if form == "sysctl" && timeoutAction(c.Action) {
					w = nil
				}
			case "sysctl":
				w = &sysctl
				if form != "sysctl" {
					w = nil
				}
			default:
				t.Errorf("change %d (%s): nftables snippet in language %q; the lab loads nft and sysctl only:\n%s", i+1, c.Action, s.Lang, s.Text)
				continue
			}
			if w == nil {
				t.Logf("change %d (%s): its %s alternative is not loaded (FWDIAG_FIXLOOP_FORM=%s)", i+1, c.Action, s.Lang, cmp.Or(form, "nft"))
				continue
			}
			fmt.Fprintf(w, "\n# change %d: %s on %s %s/%d to %s from %v (+%d more), min %v\n#   for: %s\n",
				i+1, c.Action, c.Device.Kind, c.Transport, c.Port, c.Dst, c.From, c.More, c.Min, strings.Join(kinds, "\n#        "))
			if s.Note != "" {
				fmt.Fprintf(w, "#   note: %s\n", strings.ReplaceAll(s.Note, "\n", "\n#   "))
			}
			w.WriteString(strings.TrimRight(s.Text, "\n") + "\n")
			applied = true
		}
		if !applied {
			continue
		}
		for _, f := range c.findings {
			fixed[f] = true
		}
		// A timeout fix: the rerun is analysed with the timeout the fix
		// sets as the one in force (fix.Value of the remedy's Min), as a
		// user would after making the change. (A Linux snippet sets the
		// kernel's default instead when that is longer, e.g. 432000 s for
		// TCP established: fix.Value is the lower bound, the stricter
		// assumption.) Against that timeout no
		// answer is late any more, so udp_late_response and
		// npa_idle_exceeds_timeout going away proves nothing by itself:
		// the proof is in the empirical findings, which do not depend on
		// the timeout assumed: udp_unanswered (the client got no answer),
		// npa_notification_lost (pushes retransmitted into a dead flow),
		// dropped_between_captures (sent at the server, never at the
		// client) and ICMP refusals.
		switch c.Action {
		case remedy.ActRaiseUDPTimeout:
			rerun.UDPTimeout = max(rerun.UDPTimeout, fix.Value(c.Min))
		case remedy.ActRaiseTCPIdle:
			rerun.TCPIdle = max(rerun.TCPIdle, fix.Value(c.Min))
		}
	}
	// The between-capture findings of fixed traffic are the empirical side
	// of the same loss: expected gone with it.
	traffic := func(f *diagnose.Finding) endpoint { return endpoint{"", f.Transport, f.Server, f.Port} }
	fixedTraffic := map[endpoint]bool{}
	for f := range fixed {
		fixedTraffic[traffic(f)] = true
	}
	for i := range before.Findings {
		if f := &before.Findings[i]; slices.Contains(between, f.Kind) && fixedTraffic[traffic(f)] {
			fixed[f] = true
		}
	}
	gone := map[endpoint]bool{}
	for f := range fixed {
		gone[endpointOf(f)] = true
	}
	for _, k := range sc.fault {
		if !bothPoints {
			break
		}
		found, fixedOne := false, false
		for i := range before.Findings {
			if f := &before.Findings[i]; f.Kind == k {
				found = true
				fixedOne = fixedOne || fixed[f]
			}
		}
		switch {
		case !found:
			t.Errorf("the committed captures give no %s: SCENARIO.md says they must (or this table is stale)", k)
		case !fixedOne:
			t.Errorf("%s is the firewall's doing, but fwdiag writes no nftables fix for it", k)
		}
	}
	if len(fixed) == 0 {
		t.Fatalf("fwdiag writes no nftables fix for any finding of %s (fix.For gave no nft text)", sc.name)
	}
	t.Logf("fix (%d findings):\n%s", len(fixed), nft.String())
	if sysctl.Len() > 0 {
		t.Logf("sysctl fix:\n%s", sysctl.String())
	}

	// Run the scenario again with the fix loaded into the lab's firewall.
	tmp := t.TempDir()
	fixFile := filepath.Join(tmp, "fix.nft")
	if err := os.WriteFile(fixFile, nft.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"LAB_OUT=" + filepath.Join(tmp, "captures"), "LAB_LOCK_WAIT=300", "LAB_KEEP_LOGS=1", "LAB_FW_FIX=" + fixFile}
	if sysctl.Len() > 0 {
		f := filepath.Join(tmp, "fix.sysctl")
		if err := os.WriteFile(f, sysctl.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		env = append(env, "LAB_FW_SYSCTL="+f)
	}
	out := filepath.Join(tmp, "captures", sc.name)
	runLab(t, sc.name, env)
	labLog := func() string {
		b, err := os.ReadFile(filepath.Join(out, "lab.log"))
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	after := analyzeResult(t, out, inputs, rerun)

	// Sanity: the rerun is not empty, and the fixed traffic is there and
	// answered (a fix that stopped the traffic would also remove the
	// findings).
	if after.Packets == 0 || after.Packets < before.Packets/3 {
		t.Errorf("rerun holds %d packets, the committed captures %d: the scenario did not run as before", after.Packets, before.Packets)
	}
	for e := range gone {
		if !answered(after, e) && !slices.Contains(sc.fallback, fmt.Sprintf("%s %s", e.transport, netip.AddrPortFrom(e.server, e.port))) {
			t.Errorf("rerun: no answered %s traffic to %s:%d: the fix cannot be judged on it", e.transport, e.server, e.port)
		}
	}
	// The findings the fix is for must be gone; what the firewall did not
	// cause must stay.
	var lines []string
	for i := range after.Findings {
		f := &after.Findings[i]
		lines = append(lines, findingLine(f))
		if gone[endpointOf(f)] {
			t.Errorf("after fwdiag's fix, still %s", findingLine(f))
		}
	}
	for _, k := range sc.stays {
		if !slices.ContainsFunc(after.Findings, func(f diagnose.Finding) bool { return f.Kind == k }) {
			t.Errorf("rerun lost %s, which the fix is not for: did the scenario run as before?", k)
		}
	}
	var was []string
	for f := range fixed {
		was = append(was, findingLine(f))
	}
	sort.Strings(was)
	t.Logf("fixed (must be gone): %s", strings.Join(was, "; "))
	t.Logf("rerun findings (analysed with UDP timeout %v, TCP idle %v): %s", rerun.UDPTimeout, rerun.TCPIdle, strings.Join(lines, "; "))
	// A fix must not cause a problem of its own.
	for i := range after.Findings {
		f := &after.Findings[i]
		if f.Severity == diagnose.Info || gone[endpointOf(f)] {
			continue
		}
		if !slices.ContainsFunc(before.Findings, func(g diagnose.Finding) bool { return endpointOf(&g) == endpointOf(f) }) {
			t.Errorf("new after the fix: %s", findingLine(f))
		}
	}
	if t.Failed() {
		t.Logf("lab.log of the rerun (emulators, the fix, nft ruleset with counters):\n%s", labLog())
	}
}

func timeoutAction(a remedy.Action) bool {
	return a == remedy.ActRaiseUDPTimeout || a == remedy.ActRaiseTCPIdle
}

// answered says whether a result holds traffic of e's service that its
// server answered, at any capture point.
func answered(r *diagnose.Result, e endpoint) bool {
	if e.transport == catalog.UDP {
		for _, u := range r.UDPFlows {
			if u.Server.Addr() == e.server && u.Server.Port() == e.port && u.Responses > 0 {
				return true
			}
		}
		return false
	}
	for _, c := range r.TCPFlows {
		if c.Server.Addr() == e.server && c.Server.Port() == e.port && c.ServerPkts > 0 && c.Handshake > 0 {
			return true
		}
	}
	return false
}

// analyzeResult runs the pipeline as pipeline.AnalyzeFiles does, to the
// typed findings that remedy.For reads.
func analyzeResult(t *testing.T, dir string, inputs []string, o pipeline.Options) *diagnose.Result {
	t.Helper()
	var paths []string
	for _, in := range inputs {
		paths = append(paths, filepath.Join(dir, in))
	}
	res, _, err := pipeline.DiagnoseFiles(paths, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runLab runs one lab scenario with extra environment, waiting for the
// machine-wide lab lock; SIGTERM (run.sh's trap tears the namespaces down)
// after 6 minutes.
func runLab(t *testing.T, scenario string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "lab/run.sh", scenario)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("lab run of %s failed after %v: %v\n%s", scenario, time.Since(start).Round(time.Second), err, tail(buf.Bytes(), 4000))
	}
	t.Logf("lab run of %s with the fix: %v\n%s", scenario, time.Since(start).Round(time.Second), tail(buf.Bytes(), 3000))
}
