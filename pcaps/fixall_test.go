package pcaps_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/remedy"
	"github.com/fwdiag/fwdiag/report"
)

// TestEveryFirewallFaultHasItsFixForEveryDevice: for each lab scenario
// whose fault is a firewall setting (the fix loop's list), from each
// capture point and from both, every change on the path or on a middlebox
// is written for every device fwdiag knows: lines to paste, or a note
// saying what that device cannot do and what to do instead (a per-client
// connection limit, say, lives where a snippet cannot reach); nftables,
// the lab's own firewall, always has lines.
func TestEveryFirewallFaultHasItsFixForEveryDevice(t *testing.T) {
	for _, sc := range fixLoopScenarios {
		dir := filepath.Join("captures", sc.name)
		exp := readExpect(t, filepath.Join(dir, "expect.txt"))
		opts := options(t, exp.flags)
		for _, inputs := range [][]string{{"client.pcap"}, {"server.pcap"}, {"client.pcap", "server.pcap"}} {
			res := analyzeResult(t, dir, inputs, opts)
			r := report.BuildWith(res, nil, report.Options{Version: "t", Firewalls: fix.Firewalls()})
			name := sc.name + "/" + filepath.Join(inputs...)
			byChange := r.ChangeFixes()
			onPath, written := 0, map[fix.Firewall]bool{}
			for _, c := range r.Changes {
				if c.Device.Kind != remedy.DevPath && c.Device.Kind != remedy.DevMiddlebox {
					continue
				}
				onPath++
				got := map[fix.Firewall]bool{}
				for _, x := range byChange[c.N] {
					if x.Text == "" && x.Note == "" {
						t.Errorf("%s: change %d (%s) for %s has neither lines nor a note", name, c.N, c.Action, x.Firewall)
					}
					got[x.Firewall] = true
					if x.Text != "" {
						written[x.Firewall] = true
					}
				}
				for _, fw := range fix.Firewalls() {
					if !got[fw] {
						t.Errorf("%s: change %d (%s %s/%d) is not written for %s", name, c.N, c.Action, c.Transport, c.Port, fw)
					}
				}
			}
			t.Logf("%s: %d changes on the path or a middlebox", name, onPath)
			if onPath > 0 && !written[fix.NFTables] {
				t.Errorf("%s: no change on the path has nftables lines", name)
			}
		}
	}
}

// TestResetKilledNotificationAsksResetsToStop: in npa-reset the firewall
// forges a RST into the notification socket. From the server's capture
// the lost socket and the forged reset are one change, stop the resets,
// and no change asks for a longer idle timeout (the fix loop showed a ct
// timeout rule matching and the finding staying).
func TestResetKilledNotificationAsksResetsToStop(t *testing.T) {
	dir := filepath.Join("captures", "npa-reset")
	exp := readExpect(t, filepath.Join(dir, "expect.txt"))
	res := analyzeResult(t, dir, []string{"server.pcap"}, options(t, exp.flags))
	r := report.Build(res, nil, "t")
	lost := ""
	for _, f := range r.Findings {
		if f.Kind == "npa_notification_lost" {
			lost = f.ID
		}
	}
	if lost == "" {
		t.Fatalf("npa-reset/server.pcap: no npa_notification_lost finding")
	}
	for _, c := range r.Changes {
		if c.Action == remedy.ActRaiseTCPIdle {
			t.Errorf("change %d asks for a longer idle timeout: %s", c.N, c.What)
		}
		if c.Action == remedy.ActExemptFromReset && !slices.Contains(c.Findings, lost) {
			t.Errorf("change %d (exempt from reset) does not resolve the lost socket %s: %v", c.N, lost, c.Findings)
		}
	}
}
