package pcaps_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// TestBracketContainsLabTimeout: on the lab captures, whose firewall's
// conntrack timeouts are known (SCENARIO.md), the timeout the capture
// measures contains the configured one wherever the capture shows
// evidence, names the device that said so, and lists the profiles whose
// timeout fits; where the evidence contradicts itself (k2-tickle: one
// client's flows get a 60 s ct timeout, the other's 5 s) it says so.
func TestBracketContainsLabTimeout(t *testing.T) {
	const (
		none        = iota // no bracket for the transport
		fits               // a bracket that contains the configured timeout
		contradicts        // a contradiction
	)
	allUDP := []string{"asa", "aws-nat", "azure-nat", "checkpoint", "fortigate", "gcp-nat", "linux", "openwrt", "panos", "pf", "rfc", "srx", "windows"}
	for _, tc := range []struct {
		scenario, input string
		tr              catalog.Transport
		want            int
		timeout         time.Duration // the lab's (fits)
		device          string
		profiles        []string
	}{
		// Late answers dropped silently: only a capture on both sides of
		// the firewall shows them lost.
		{"k2-late-udp", "client.pcap", catalog.UDP, none, 0, "", nil},
		{"k2-late-udp", "server.pcap", catalog.UDP, none, 0, "", nil},
		{"k2-late-udp", "firewall.pcap", catalog.UDP, fits, 5 * time.Second, "", nil},
		{"k2-late-udp", "client.pcap+server.pcap", catalog.UDP, fits, 5 * time.Second, "", nil},
		// The NAT refuses the late answers with ICMP, seen on its server side.
		{"k2-nat-late", "client.pcap", catalog.UDP, none, 0, "", nil},
		{"k2-nat-late", "server.pcap", catalog.UDP, fits, 5 * time.Second, "198.51.100.1", nil},
		{"k2-nat-late", "firewall.pcap", catalog.UDP, fits, 5 * time.Second, "198.51.100.1", nil},
		{"k2-nat-late", "client.pcap+server.pcap", catalog.UDP, fits, 5 * time.Second, "198.51.100.1", nil},
		// The firewall's own capture sees the late answers arrive before
		// the NAT refuses them, with the TTL they had at the server: seen
		// there too is no proof they crossed (it once made a
		// contradiction of the server's and the firewall's captures).
		{"k2-nat-late", "firewall.pcap+server.pcap", catalog.UDP, fits, 5 * time.Second, "198.51.100.1", nil},
		{"k2-nat-late", "client.pcap+firewall.pcap+server.pcap", catalog.UDP, fits, 5 * time.Second, "198.51.100.1", nil},
		// One side alone sees only the tickles to .61 acknowledged (its
		// flows have the 60 s ct timeout); both sides see .60's lost too.
		{"k2-tickle", "client.pcap", catalog.UDP, fits, 60 * time.Second, "", allUDP},
		{"k2-tickle", "server.pcap", catalog.UDP, fits, 60 * time.Second, "", allUDP},
		{"k2-tickle", "firewall.pcap", catalog.UDP, contradicts, 0, "", nil},
		{"k2-tickle", "client.pcap+server.pcap", catalog.UDP, contradicts, 0, "", nil},
		// The notification socket idle 12 s dies, the keepalive one lives.
		{"npa-idle-kill", "client.pcap", catalog.TCP, fits, 8 * time.Second, "", nil},
		{"npa-idle-kill", "server.pcap", catalog.TCP, fits, 8 * time.Second, "", nil},
		{"npa-idle-kill", "firewall.pcap", catalog.TCP, fits, 8 * time.Second, "", nil},
		{"npa-idle-kill", "client.pcap+server.pcap", catalog.TCP, fits, 8 * time.Second, "", nil},
		{"npa-idle-kill", "client.pcap+firewall.pcap+server.pcap", catalog.TCP, fits, 8 * time.Second, "", nil},
		{"npa-idle-kill", "server.pcap", catalog.UDP, none, 0, "", nil},
	} {
		t.Run(tc.scenario+"/"+tc.input+"/"+string(tc.tr), func(t *testing.T) {
			dir := filepath.Join("captures", tc.scenario)
			exp := readExpect(t, filepath.Join(dir, "expect.txt"))
			var paths []string
			for _, p := range strings.Split(tc.input, "+") {
				paths = append(paths, filepath.Join(dir, p))
			}
			r, err := pipeline.AnalyzeFiles(paths, options(t, exp.flags), "test")
			if err != nil {
				t.Fatal(err)
			}
			var got []report.MeasuredTimeout
			for _, m := range r.Measured {
				if m.Transport == tc.tr {
					got = append(got, m)
				}
			}
			if tc.want == none {
				if len(got) != 0 {
					t.Errorf("got %+v; want nothing measured", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %+v; want one measured %s timeout", got, tc.tr)
			}
			m := got[0]
			t.Logf("%s", m.Words)
			if m.Device != tc.device {
				t.Errorf("device %q; want %q", m.Device, tc.device)
			}
			if tc.want == contradicts {
				if !m.Contradictory || len(m.Profiles) != 0 || !strings.Contains(m.Words, "No single timeout") {
					t.Errorf("got %+v; want a contradiction said as such", m)
				}
				return
			}
			lo, hi := 0.0, 0.0
			if m.LongerThanS != nil {
				lo = *m.LongerThanS
			}
			if m.ShorterThanS != nil {
				hi = *m.ShorterThanS
			}
			if s := tc.timeout.Seconds(); m.Contradictory || s <= lo || hi != 0 && s > hi {
				t.Errorf("bracket (%v s, %v s] does not contain the lab's %v", lo, hi, tc.timeout)
			}
			if !slices.Equal(m.Profiles, tc.profiles) && !(len(m.Profiles) == 0 && tc.profiles == nil) {
				t.Errorf("profiles %v; want %v", m.Profiles, tc.profiles)
			}
		})
	}
}
