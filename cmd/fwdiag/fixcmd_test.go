package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/report"
)

// TestFixFromASavedReport: `fwdiag fix` writes a saved report's changes
// for the device asked; the lines are those analyze writes for the same
// device; --json writes the report with them; a file that is not a
// report is refused naming it.
func TestFixFromASavedReport(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "r.json")
	if code, _, errOut := runCLI(t, "demo", "--json", saved); code != 2 && code != 0 && code != 1 {
		t.Fatalf("demo --json: exit %d: %s", code, errOut)
	}
	direct := filepath.Join(dir, "asa.json")
	runCLI(t, "demo", "--firewall", "asa", "--json", direct)
	code, out, errOut := runCLI(t, "fix", saved, "--firewall", "asa", "--json", filepath.Join(dir, "fixed.json"))
	if code != 0 {
		t.Fatalf("fix: exit %d: %s", code, errOut)
	}
	read := func(p string) *report.Report {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := report.ReadJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want, got := read(direct), read(filepath.Join(dir, "fixed.json"))
	n := 0
	for i := range want.Findings {
		w, _ := json.Marshal(want.Findings[i].Fixes)
		g, _ := json.Marshal(got.Findings[i].Fixes)
		if string(w) != string(g) {
			t.Errorf("finding %s: fix gives %s; analyze --firewall asa gives %s", want.Findings[i].ID, g, w)
		}
		for _, x := range want.Findings[i].Fixes {
			n++
			for _, l := range strings.Split(x.Text, "\n") {
				if l != "" && !strings.Contains(out, l) {
					t.Errorf("fix's text lacks the %s line %q", x.Firewall, l)
				}
			}
		}
	}
	if n == 0 {
		t.Error("the demo's findings carry no ASA fix")
	}
	if !strings.Contains(out, "FIX (") || !strings.Contains(out, "CHANGES") {
		t.Errorf("fix's text has no CHANGES/FIX sections:\n%s", out)
	}
	bad := filepath.Join(dir, "not.json")
	os.WriteFile(bad, []byte("pcap?"), 0o644)
	if code, _, errOut := runCLI(t, "fix", bad); code != 2 || !strings.Contains(errOut, bad) {
		t.Errorf("fix on a non-report: exit %d, %q; want 2 naming %s", code, errOut, bad)
	}
	if code, _, errOut := runCLI(t, "fix", saved, "--firewall", "cisco"); code != 2 || !strings.Contains(errOut, "asa") {
		t.Errorf("unknown firewall: exit %d, %q; want 2 listing the known ones", code, errOut)
	}
}
