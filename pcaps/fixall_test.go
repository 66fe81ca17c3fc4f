package pcaps_test

import (
	"path/filepath"
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
