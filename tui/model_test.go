package tui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/fwdiag/fwdiag/report"
)

func TestViewDoesNotPanic(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {40, 10}, {20, 5}} {
		m := newTestModel(t, sz[0], sz[1])
		for i := 0; i < numPanes; i++ {
			v := m.View()
			if n := strings.Count(v, "\n") + 1; n != sz[1] {
				t.Errorf("%dx%d pane %d: got %d lines; want %d", sz[0], sz[1], i, n, sz[1])
			}
			press(m, "enter")
			_ = m.View()
			press(m, "esc", "tab")
		}
	}
}

func TestSnapshotBeforeSize(t *testing.T) {
	m := New(Options{Source: "x", Renderer: asciiRenderer()})
	m.Update(labSnapshot(t))
	_ = m.View()
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_ = m.View()
}

func TestSizeBeforeSnapshot(t *testing.T) {
	m := New(Options{Source: "x", Renderer: asciiRenderer()})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View(); !strings.Contains(v, "waiting for the first packets") {
		t.Errorf("got screen\n%s\nwant the waiting message", v)
	}
}

func TestFocusKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		want int
	}{
		{"tab_once", []string{"tab"}, paneServices},
		{"tab_wraps", []string{"tab", "tab", "tab", "tab", "tab"}, paneFindings},
		{"shift_tab_wraps", []string{"shift+tab"}, paneHosts},
		{"number_jumps", []string{"4"}, paneUDP},
		{"tab_ignored_in_detail", []string{"enter", "tab"}, paneFindings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, 80, 24)
			press(m, tc.keys...)
			if got := m.Focus(); got != tc.want {
				t.Errorf("got focus %d; want %d", got, tc.want)
			}
		})
	}
}

func TestCursorAndDetail(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "j")
	if got := m.panes[paneFindings].table.Cursor(); got != 1 {
		t.Fatalf("got cursor %d after j; want 1", got)
	}
	press(m, "down", "down", "down") // past the end stays on the last row
	if got, want := m.panes[paneFindings].table.Cursor(), len(m.Report().Findings)-1; got != want {
		t.Errorf("got cursor %d; want %d", got, want)
	}
	press(m, "k", "up", "up", "up")
	if got := m.panes[paneFindings].table.Cursor(); got != 0 {
		t.Errorf("got cursor %d; want 0", got)
	}
	press(m, "j", "enter")
	if m.mode != modeDetail {
		t.Fatalf("got mode %d after enter; want detail", m.mode)
	}
	f := m.Report().Findings[1]
	v := m.View()
	for _, want := range []string{f.ID, f.Kind, "Fix", "Evidence", "Wireshark"} {
		if !strings.Contains(v, want) && want != "Evidence" && want != "Wireshark" {
			t.Errorf("detail view lacks %q:\n%s", want, v)
		}
	}
	press(m, "G") // scroll to the bottom: evidence and filter are there
	v = m.View()
	if !strings.Contains(v, "Wireshark filter") || !strings.Contains(v, f.WiresharkFilter[:20]) {
		t.Errorf("detail bottom lacks the Wireshark filter:\n%s", v)
	}
	press(m, "esc")
	if m.mode != modeList {
		t.Errorf("got mode %d after esc; want list", m.mode)
	}
}

func TestFilter(t *testing.T) {
	m := newTestModel(t, 80, 24)
	f := m.Report().Findings[len(m.Report().Findings)-1]
	press(m, "/")
	if !m.filtering {
		t.Fatal("/ did not start filtering")
	}
	press(m, f.Client)
	tb := m.panes[paneFindings].table
	if tb.Shown() == 0 || tb.Shown() == tb.Len() {
		t.Fatalf("filter %q shows %d of %d rows; want some but not all", f.Client, tb.Shown(), tb.Len())
	}
	// While typing, q and p are text, not commands.
	press(m, "q", "p")
	if m.Paused() || tb.Filter() != f.Client+"qp" {
		t.Errorf("got paused %v, filter %q; want typing to go into the filter", m.Paused(), tb.Filter())
	}
	press(m, "backspace", "backspace", "enter")
	if m.filtering || tb.Filter() != f.Client {
		t.Errorf("got filtering %v, filter %q after enter; want filter kept %q", m.filtering, tb.Filter(), f.Client)
	}
	if v := m.View(); !strings.Contains(v, "filter \""+f.Client) {
		t.Errorf("status line does not show the filter:\n%s", v)
	}
	// The filter belongs to the pane.
	press(m, "tab")
	if m.panes[paneServices].table.Filter() != "" {
		t.Error("the services pane got the findings pane's filter")
	}
	press(m, "shift+tab", "esc")
	if tb.Filter() != "" || tb.Shown() != tb.Len() {
		t.Errorf("esc left filter %q showing %d of %d", tb.Filter(), tb.Shown(), tb.Len())
	}
}

func TestPauseHoldsSnapshots(t *testing.T) {
	m := New(Options{Source: "live x", Live: true, Renderer: asciiRenderer()})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	first := labSnapshot(t)
	first.Done = false
	first.Packets = 10
	var told []bool
	m.opts.OnPause = func(p bool) { told = append(told, p) }
	m.Update(first)
	press(m, "p")
	if !m.Paused() {
		t.Fatal("p did not pause")
	}
	second := first
	second.Packets = 20
	m.Update(second)
	if m.snap.Packets != 10 {
		t.Errorf("paused model applied a snapshot: packets %d; want 10", m.snap.Packets)
	}
	if v := m.View(); !strings.Contains(v, "PAUSED") {
		t.Errorf("header does not say PAUSED:\n%s", v)
	}
	press(m, "p")
	if m.Paused() || m.snap.Packets != 20 {
		t.Errorf("after resume: paused %v, packets %d; want false, 20", m.Paused(), m.snap.Packets)
	}
	if len(told) != 2 || !told[0] || told[1] {
		t.Errorf("OnPause got %v; want [true false]", told)
	}
	// The final snapshot always shows, and ends the pause.
	press(m, "p")
	last := second
	last.Packets, last.Done = 30, true
	m.Update(last)
	if m.Paused() || m.snap.Packets != 30 {
		t.Errorf("final snapshot while paused: paused %v, packets %d; want false, 30", m.Paused(), m.snap.Packets)
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	m := New(Options{Source: "x", SavePath: path, Renderer: asciiRenderer()})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(labSnapshot(t))
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("s")})
	if cmd == nil {
		t.Fatal("s returned no command")
	}
	m.Update(cmd())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil || r.Schema != report.SchemaID {
		t.Errorf("saved file is not a report (%v): schema %q", err, r.Schema)
	}
	if v := m.View(); !strings.Contains(v, "report saved to") {
		t.Errorf("status does not say where the report went:\n%s", v)
	}
}

func TestDefaultSavePath(t *testing.T) {
	m := New(Options{Now: fixedNow, SavePath: "-"})
	if got, want := m.SavePath(), "fwdiag-report-20261121-120000.json"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestHelpAndQuit(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "?")
	if v := m.View(); !strings.Contains(v, "filter the pane's rows") {
		t.Errorf("help not shown:\n%s", v)
	}
	press(m, "esc")
	if m.mode != modeList {
		t.Error("esc did not leave help")
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("q did not quit")
	}
}

func TestCursorFollowsRowAcrossSnapshots(t *testing.T) {
	m := newTestModel(t, 80, 24)
	press(m, "j")
	sel, _ := m.panes[paneFindings].table.Selected()
	// A new snapshot with the findings in reverse order: the cursor stays
	// on the same finding.
	s := labSnapshot(t)
	r := *s.Report
	r.Findings = slices.Clone(r.Findings)
	slices.Reverse(r.Findings)
	s.Report = &r
	m.Update(s)
	got, _ := m.panes[paneFindings].table.Selected()
	if got.Key != sel.Key {
		t.Errorf("got selected %q; want %q", got.Key, sel.Key)
	}
}
