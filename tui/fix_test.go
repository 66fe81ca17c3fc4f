package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/report"
)

// TestFixKeyShowsTheDeviceLines: f on a finding shows the change that
// resolves it and, for each device the report was written for, its
// lines kept as they are (indentation, no reflow); on a finding that no
// change resolves it says so and stays in the list.
func TestFixKeyShowsTheDeviceLines(t *testing.T) {
	snap := labSnapshot(t)
	r := report.Clone(snap.Report)
	if err := r.SetFirewalls([]fix.Firewall{fix.NFTables}, fix.Options{}); err != nil {
		t.Fatal(err)
	}
	snap.Report = r
	m := New(Options{Source: "client.pcap", Renderer: asciiRenderer(), Now: fixedNow})
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 200})
	m.Update(snap)
	withFix, without := -1, -1
	for i, f := range r.Findings {
		if len(f.Fixes) > 0 && withFix < 0 {
			withFix = i
		}
		if len(f.Fixes) == 0 && without < 0 {
			without = i
		}
	}
	if withFix < 0 {
		t.Fatal("no finding of mixed-rejects/client.pcap carries a fix for nftables")
	}
	moveTo(m, withFix)
	press(m, "f")
	v := m.View()
	f := r.Findings[withFix]
	if !strings.Contains(v, "Fix for "+f.ID) {
		t.Fatalf("f on %s: screen\n%s", f.ID, v)
	}
	for _, x := range f.Fixes {
		for _, l := range strings.Split(strings.TrimRight(x.Text, "\n"), "\n") {
			if l != "" && !strings.Contains(v, "  "+l) {
				t.Errorf("fix screen lacks the %s line %q as written:\n%s", x.Firewall, l, v)
			}
		}
	}
	press(m, "esc")
	if without >= 0 {
		moveTo(m, without)
		press(m, "f")
		if v := m.View(); !strings.Contains(v, "no configuration change resolves "+r.Findings[without].ID) {
			t.Errorf("f on %s (no change): screen\n%s", r.Findings[without].ID, v)
		}
	}
}

// moveTo selects the i-th finding in the report's order (the list's
// default order).
func moveTo(m *Model, i int) {
	press(m, "g")
	for range i {
		press(m, "j")
	}
}
