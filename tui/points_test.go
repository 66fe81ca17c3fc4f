package tui

import (
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/pipeline"
)

// TestRowsSeenAtTwoCapturePointsStayApart: a firewall's capture records a
// flow on both its interfaces: the UDP and NPA panes keep one row per
// capture point, with distinct keys (the selection follows a row by its
// key), and the detail says where the row was seen.
func TestRowsSeenAtTwoCapturePointsStayApart(t *testing.T) {
	r, err := pipeline.AnalyzeFiles([]string{"../pcaps/captures/mixed-rejects/firewall.pcap"}, pipeline.Options{}, "test")
	if err != nil {
		t.Skipf("lab capture: %v", err)
	}
	for name, rows := range map[string]func() []string{
		"udp": func() []string {
			var keys []string
			for _, row := range udpRows(r, 10) {
				keys = append(keys, row.Key)
				_, _, secs := udpDetail(r, row)
				if !strings.Contains(secs[0].Body, "seen at: firewall.pcap interface ") {
					t.Errorf("udp detail does not say where: %q", secs[0].Body)
				}
			}
			return keys
		},
		"npa": func() []string {
			var keys []string
			for _, row := range npaRows(r, 10) {
				keys = append(keys, row.Key)
				_, _, secs := npaDetail(r, row)
				if !strings.Contains(secs[0].Body, "seen at: firewall.pcap interface ") {
					t.Errorf("npa detail does not say where: %q", secs[0].Body)
				}
			}
			return keys
		},
	} {
		keys := rows()
		if len(keys) < 2 {
			t.Fatalf("%s: %d rows; want the flows at both interfaces", name, len(keys))
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("%s: two rows share the key %q", name, k)
			}
			seen[k] = true
		}
	}
}
