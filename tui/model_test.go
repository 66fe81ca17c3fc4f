package tui

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/fwdiag/fwdiag/report"
	"github.com/fwdiag/fwdiag/tui/common"
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
	press(m, "down", "down", "down", "down", "down", "down", "down", "down") // past the end stays on the last row
	if got, want := m.panes[paneFindings].table.Cursor(), len(m.Report().Findings)-1; got != want {
		t.Errorf("got cursor %d; want %d", got, want)
	}
	press(m, "k", "up", "up", "up", "up", "up", "up", "up")
	if got := m.panes[paneFindings].table.Cursor(); got != 0 {
		t.Errorf("got cursor %d; want 0", got)
	}
	press(m, "j", "enter")
	if m.mode != modeDetail {
		t.Fatalf("got mode %d after enter; want detail", m.mode)
	}
	f := m.Report().Findings[1]
	v := m.View()
	for _, want := range []string{f.ID, string(f.Kind), "Fix", "Evidence", "Wireshark"} {
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
	// A finding about one client: filtering by it shows some rows, not all.
	f := m.Report().Findings[0]
	for _, g := range m.Report().Findings {
		if g.Client != "" && g.Client != m.Report().Findings[0].Client {
			f = g
		}
	}
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
	if v := m.View(); !strings.Contains(v, "search \""+f.Client) {
		t.Errorf("status line does not show the search:\n%s", v)
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
	if v := m.View(); !strings.Contains(v, "search every field") {
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

// TestFilterWholeAndY checks the detail view shows a long Wireshark filter
// whole, wrapped, and that y writes it to the filter file, sends it with
// OSC 52 and says which of the two surely arrived.
func TestFilterWholeAndY(t *testing.T) {
	m := newTestModel(t, 80, 24)
	var clip bytes.Buffer
	file := filepath.Join(t.TempDir(), "filter.txt")
	m.opts.Clipboard, m.opts.FilterFile = &clip, file
	// The finding with the longest filter, so that it is wider than the screen.
	long := 0
	for i, f := range m.Report().Findings {
		if len(f.WiresharkFilter) > len(m.Report().Findings[long].WiresharkFilter) {
			long = i
		}
	}
	f := m.Report().Findings[long]
	if len(f.WiresharkFilter) <= 78 {
		t.Fatalf("lab findings have no filter wider than the screen (longest %d): the test needs one", len(f.WiresharkFilter))
	}
	for i := 0; i < long; i++ {
		press(m, "j")
	}
	press(m, "enter", "G")
	lines := strings.Split(m.View(), "\n")
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "Wireshark filter") {
			at = i
		}
	}
	if at < 0 || at+2 >= len(lines) {
		t.Fatalf("no Wireshark filter section:\n%s", strings.Join(lines, "\n"))
	}
	var shown []string
	for _, l := range lines[at+1 : len(lines)-2] {
		if strings.TrimSpace(l) == "" {
			break
		}
		shown = append(shown, strings.TrimSpace(l))
	}
	nospace := func(s string) string { return strings.ReplaceAll(s, " ", "") }
	if got := strings.Join(shown, " "); len(shown) < 2 || nospace(got) != nospace(f.WiresharkFilter) || strings.Contains(got, "…") {
		t.Errorf("filter shown as %q; want all of %q on several lines", shown, f.WiresharkFilter)
	}

	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	if cmd == nil {
		t.Fatal("y returned no command")
	}
	m.Update(cmd())
	if b, err := os.ReadFile(file); err != nil || string(b) != f.WiresharkFilter+"\n" {
		t.Errorf("filter file got %q (%v); want the filter", b, err)
	}
	want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(f.WiresharkFilter)) + "\a"
	if clip.String() != want {
		t.Errorf("clipboard got %q; want %q", clip.String(), want)
	}
	lines = strings.Split(m.View(), "\n")
	if status := lines[len(lines)-2]; status != common.Truncate("filter written to "+file, 80) {
		t.Errorf("status line %q; want where the filter was written", status)
	}
	if keys := lines[len(lines)-1]; !strings.Contains(keys, "sent via OSC 52") || !strings.Contains(keys, "arrives if") {
		t.Errorf("keys line %q does not say the clipboard is only asked", keys)
	}
	if c := m.Copied(); len(c) != 1 || c[0].Text != f.WiresharkFilter || !strings.Contains(c[0].What, string(f.Kind)) {
		t.Errorf("Copied() = %+v; want the filter once", c)
	}
	press(m, "esc")
	if v := m.View(); strings.Contains(v, "filter written") || strings.Contains(v, "OSC 52") {
		t.Errorf("the copy note outlived the detail view:\n%s", v)
	}

	// In the list, y takes the selected finding's filter; inside tmux the
	// sequence is sent a second time wrapped for tmux, and what arrives
	// depends on tmux's set-clipboard.
	orig := tmuxOption
	t.Cleanup(func() { tmuxOption = orig })
	first := m.Report().Findings[0].WiresharkFilter
	b64 := base64.StdEncoding.EncodeToString([]byte(first))
	for _, tc := range []struct {
		clip, pass string
		err        error
		note       string
	}{
		{"on", "off", nil, "filter copied to tmux's paste buffer"},
		{"external", "off", nil, "through tmux, arrives if the terminal accepts it"},
		{"off", "on", nil, "through tmux, arrives if the terminal accepts it"},
		{"off", "off", nil, "dropped by tmux (set-clipboard off), use the file"},
		{"", "", errors.New("no server"), "sent via OSC 52, may not arrive under tmux"},
	} {
		tmuxOption = func(name string) (string, error) {
			if name == "set-clipboard" {
				return tc.clip, tc.err
			}
			return tc.pass, tc.err
		}
		clip.Reset()
		m.opts.Tmux = true
		press(m, "g")
		_, cmd = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
		if cmd == nil {
			t.Fatal("y in the list returned no command")
		}
		m.Update(cmd())
		if strings.Count(clip.String(), b64) != 2 || !strings.HasPrefix(clip.String(), "\x1b]52;c;"+b64) || !strings.Contains(clip.String(), "\x1bPtmux;") {
			t.Errorf("clipboard in tmux got %q", clip.String())
		}
		if keys := lastLine(m.View()); !strings.Contains(keys, tc.note) {
			t.Errorf("set-clipboard %s: keys line %q; want %q", tc.clip, keys, tc.note)
		}
	}
	if c := m.Copied(); len(c) != 2 {
		t.Errorf("Copied() = %+v; want two filters", c)
	}
	// A pane without filters says so.
	press(m, "tab", "enter")
	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")}); cmd != nil || !strings.Contains(m.View(), "nothing to copy") {
		t.Errorf("y on a service: cmd %v, screen\n%s", cmd != nil, m.View())
	}
	press(m, "esc", "?")
	// All of the help fits 80x24, the bars' legend at its end included.
	if v := m.View(); !strings.Contains(v, "y, c") || !strings.Contains(v, "Wireshark filter") || !strings.Contains(v, "Bars:") {
		t.Errorf("help does not document y, or is cut at 80x24:\n%s", v)
	}
}

func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	return lines[len(lines)-1]
}

func TestLinkDownAndBack(t *testing.T) {
	m := New(Options{Source: "live veth0", Live: true, Renderer: asciiRenderer()})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	s := labSnapshot(t)
	s.Done = false
	m.Update(s)
	header := func() string { return strings.Split(m.View(), "\n")[0] }
	if h := header(); !strings.Contains(h, "LIVE") || strings.Contains(h, "IFACE DOWN") {
		t.Fatalf("header before: %q", h)
	}
	at := time.Date(2026, 11, 21, 10, 0, 5, 0, time.Local)
	m.Update(LinkMsg{Iface: "veth0", Down: true, At: at})
	if h := header(); !strings.HasSuffix(h, "IFACE DOWN") || !m.LinkDown() {
		t.Errorf("header while down: %q; want it to end with IFACE DOWN", h)
	}
	if v := m.View(); !strings.Contains(v, "interface veth0 went down at 10:00:05") {
		t.Errorf("status while down:\n%s", v)
	}
	// A snapshot while down keeps the state.
	m.Update(s)
	press(m, "p")
	if h := header(); !strings.Contains(h, "IFACE DOWN, PAUSED") {
		t.Errorf("header down and paused: %q", h)
	}
	press(m, "p")
	m.Update(LinkMsg{Iface: "veth0", Down: false, At: at.Add(3 * time.Second), DownFor: 3 * time.Second})
	if h := header(); strings.Contains(h, "IFACE DOWN") || !strings.HasSuffix(h, "LIVE") || m.LinkDown() {
		t.Errorf("header after: %q; want LIVE again", h)
	}
	if v := m.View(); !strings.Contains(v, "interface veth0 back up at 10:00:08 after 3.0 s down") {
		t.Errorf("status after coming back:\n%s", v)
	}
	// The end of the capture wins over a down interface.
	m.Update(LinkMsg{Iface: "veth0", Down: true, At: at})
	s.Done = true
	m.Update(s)
	if h := header(); !strings.HasSuffix(h, "DONE") {
		t.Errorf("header at the end: %q", h)
	}
}

func TestSavePreparesACopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	redact := report.NewRedactor([]byte("k"))
	m := New(Options{Source: "x", SavePath: path, Renderer: asciiRenderer(),
		Prepare: func(r *report.Report) *report.Report { redact.Apply(r); return r }})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	snap := labSnapshot(t)
	m.Update(snap)
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("s")})
	m.Update(cmd())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "198.51.100.10") {
		t.Error("the saved report kept a real address")
	}
	if v := m.View(); !strings.Contains(v, "198.51.100.10") {
		t.Errorf("the screen lost the real address (the snapshot itself was changed):\n%s", v)
	}
}

// TestKeysOfOneRead: Bubble Tea hands the printable keys of one terminal
// read over as one message ("jj" while j is held down, or over a slow
// link); each must act as if typed alone, and after "/" the rest is the
// search text.
func TestKeysOfOneRead(t *testing.T) {
	m := newTestModel(t, 80, 24)
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jj")})
	if got := m.panes[paneFindings].table.Cursor(); got != 2 {
		t.Errorf("got cursor %d after \"jj\" in one message; want 2", got)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("k3")})
	if got := m.Focus(); got != paneNPA || m.panes[paneFindings].table.Cursor() != 1 {
		t.Errorf("after \"k3\": focus %d, findings cursor %d; want the NPA pane and 1", got, m.panes[paneFindings].table.Cursor())
	}
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("1/syn")})
	if !m.filtering || m.input != "syn" || m.Focus() != paneFindings {
		t.Errorf("after \"1/syn\": searching %v for %q in pane %d; want a search for \"syn\" in the findings", m.filtering, m.input, m.Focus())
	}
}
