package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/fix"
)

// fixResult is a diagnosis with one change on the path (a late K2 answer
// refused by a NAT: raise its UDP timeout), one on the server host and
// one finding no change resolves.
func fixResult() *diagnose.Result {
	client := netip.MustParseAddr("192.0.2.130")
	server := netip.MustParseAddr("198.51.100.20")
	nat := netip.MustParseAddr("198.51.100.1")
	k2 := catalogServices.ByName(catalog.K2KeyServer)
	return &diagnose.Result{Timeouts: catalog.Timeouts{Profile: "asa"}, Findings: []diagnose.Finding{
		{Kind: diagnose.UDPLateResponse, Severity: diagnose.Warning, Transport: catalog.UDP, Port: 19283, Client: client, Server: server,
			Service: &k2[0], Samples: []time.Duration{7 * time.Second}, Count: 2,
			Facts: &diagnose.UDPLateFacts{Late: 2, ICMPFacts: diagnose.ICMPFacts{From: map[netip.Addr]int{nat: 2}}}},
		{Kind: diagnose.SynReset, Severity: diagnose.Critical, Transport: catalog.TCP, Port: 5002, Client: client, Server: server,
			Count: 1, Facts: &diagnose.SynResetFacts{}},
		{Kind: diagnose.CaptureTruncated, Severity: diagnose.Warning, Facts: &diagnose.CaptureFacts{}},
	}}
}

// TestFixesFollowTheProfileAndTheFlags: a report is written for the
// profile's device unless devices are named; each finding carries the
// snippets of the change that resolves it, exactly as package fix writes
// that change, and a finding no change resolves carries none.
func TestFixesFollowTheProfileAndTheFlags(t *testing.T) {
	r := Build(fixResult(), nil, "t")
	if !slices.Equal(r.Settings.Firewalls, []fix.Firewall{fix.ASA}) {
		t.Errorf("settings.firewalls %v under profile asa; want [asa]", r.Settings.Firewalls)
	}
	check := func(fws []fix.Firewall) {
		t.Helper()
		for _, c := range r.Changes {
			fc, err := ChangeOf(c)
			if err != nil {
				t.Fatal(err)
			}
			want := fix.For(fc, fws, fix.Options{})
			if len(want) == 0 {
				t.Errorf("change %d (%s on %s) has nothing to write for %v", c.N, c.Action, c.Device.Kind, fws)
			}
			for _, id := range c.Findings {
				var got []fix.Snippet
				for _, f := range r.Findings {
					if f.ID != id {
						continue
					}
					for _, x := range f.Fixes {
						if x.Change == c.N {
							got = append(got, fix.Snippet{Firewall: x.Firewall, Device: x.Device, Lang: x.Lang, Text: x.Text, Source: x.Source, Note: x.Note})
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("finding %s, change %d (%s) for %v: fixes %+v; want %+v", id, c.N, c.Action, fws, got, want)
				}
			}
		}
		for _, f := range r.Findings {
			if f.Kind == diagnose.CaptureTruncated && len(f.Fixes) != 0 {
				t.Errorf("capture_truncated carries fixes %+v; no change resolves it", f.Fixes)
			}
		}
	}
	check([]fix.Firewall{fix.ASA})
	if err := r.SetFirewalls([]fix.Firewall{fix.NFTables, fix.PANOS}, fix.Options{}); err != nil {
		t.Fatal(err)
	}
	check([]fix.Firewall{fix.NFTables, fix.PANOS})
	// A redaction rebuilds the report: the devices asked for stay.
	NewRedactor([]byte("k")).Apply(r)
	if !slices.Equal(r.Settings.Firewalls, []fix.Firewall{fix.NFTables, fix.PANOS}) {
		t.Errorf("after redaction settings.firewalls %v; want [nftables panos]", r.Settings.Firewalls)
	}
	check([]fix.Firewall{fix.NFTables, fix.PANOS})
	for _, f := range r.Findings {
		for _, x := range f.Fixes {
			for _, a := range []string{"192.0.2.130", "198.51.100.20", "198.51.100.1"} {
				if strings.Contains(x.Text+x.Note, a) {
					t.Errorf("redacted report's %s fix names %s:\n%s", x.Firewall, a, x.Text)
				}
			}
		}
	}
}

// TestFixesFromASavedReport: a report read back from its JSON gives the
// same changes to write; written for other devices it gives what a report
// built for them would.
func TestFixesFromASavedReport(t *testing.T) {
	built := BuildWith(fixResult(), nil, Options{Version: "t", Firewalls: fix.Firewalls()})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, Build(fixResult(), nil, "t")); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := RenderFixes(back, fix.Firewalls(), fix.Options{}); err != nil {
		t.Fatal(err)
	}
	for i := range built.Findings {
		if !reflect.DeepEqual(back.Findings[i].Fixes, built.Findings[i].Fixes) {
			t.Errorf("finding %s: fixes from the saved report %+v; built %+v", built.Findings[i].ID, back.Findings[i].Fixes, built.Findings[i].Fixes)
		}
	}
	var text bytes.Buffer
	if err := WriteFixText(&text, back); err != nil {
		t.Fatal(err)
	}
	for _, f := range back.Findings {
		for _, x := range f.Fixes {
			for _, l := range strings.Split(x.Text, "\n") {
				if l != "" && !strings.Contains(text.String(), l) {
					t.Errorf("fix text lacks %s line %q", x.Firewall, l)
				}
			}
		}
	}
	if _, err := ReadJSON(strings.NewReader(`{"schema":"other/v9"}`)); err == nil || !strings.Contains(err.Error(), "other/v9") {
		t.Errorf("a report of another schema: err %v; want it named", err)
	}
	bad := Change{N: 3, Action: "allow", To: "not-an-address"}
	if _, err := ChangeOf(bad); err == nil || !strings.Contains(err.Error(), "change 3") {
		t.Errorf("ChangeOf(bad address): err %v; want one naming change 3", err)
	}
}

// TestSchemaListsEveryFirewall: the schema's firewall enum is exactly the
// devices package fix writes for.
func TestSchemaListsEveryFirewall(t *testing.T) {
	var s struct {
		Defs struct {
			Firewall struct {
				Enum []string `json:"enum"`
			} `json:"firewall"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema, &s); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range fix.Firewalls() {
		want = append(want, string(f))
	}
	if !slices.Equal(s.Defs.Firewall.Enum, want) {
		t.Errorf("schema firewalls %v; fix.Firewalls %v", s.Defs.Firewall.Enum, want)
	}
}
