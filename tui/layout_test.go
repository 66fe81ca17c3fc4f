package tui

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/report"
)

// Long IPv6 addresses, as wide as addresses get.
const (
	v6Client = "2001:db8:ffff:ffff:ffff:ffff:ffff:1001"
	v6Server = "2001:db8:ffff:ffff:ffff:ffff:ffff:2002"
)

// bigReport is a report with the widest values the panes show: 100000
// connections and requests, 15-minute and 2-hour silences, IPv6
// addresses and a port of 65535.
func bigReport() *report.Report {
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r := &report.Report{
		Inputs:   []report.Input{{Path: "../pcaps/captures/npa-blocked/client.pcap"}, {Path: "live:eth0"}},
		Schema:   report.SchemaID,
		Settings: report.Settings{UDPTimeoutS: 60, TCPIdleTimeoutS: 3600, UDPTimeoutSource: "profile default", TCPTimeoutSource: "profile default"},
		Summary:  report.Summary{Verdict: "CRITICAL: 2 critical, 1 warning", Packets: 1234567, Start: start, End: start.Add(2 * time.Hour)},
	}
	r.Findings = []report.Finding{
		{ID: "F1", Kind: diagnose.SynUnanswered, Severity: diagnose.Critical, Service: "sw-binary", Transport: catalog.TCP,
			Client: v6Client, Server: v6Server, Port: 65535, Count: 100000,
			Summary: "100000 connections to port 65535 were never answered", Detail: "SYN after SYN, no SYN-ACK", Recommendation: "Open port 65535 on the perimeter firewall",
			Evidence: []report.Evidence{{Input: 0, Frames: []uint64{1, 2, 3}}}, WiresharkFilter: "ipv6.addr==" + v6Client + " && tcp.port==65535"},
		{ID: "F2", Kind: diagnose.UDPLateResponse, Severity: diagnose.Critical, Service: "k2-keyserver", Transport: catalog.UDP,
			Client: v6Client, Server: v6Server, Port: 19283, Count: 12345,
			Summary: "late answers after 15 minutes", Recommendation: "Raise the UDP timeout to 20 minutes (zanzibar)",
			WiresharkFilter: "udp.port==19283"},
		{ID: "F3", Kind: diagnose.NPAIdleExceedsTimeout, Severity: diagnose.Warning, Transport: catalog.TCP,
			Client: v6Client, Server: v6Server, Port: 5001, Count: 99999, Summary: "idle for 2 hours"},
		{ID: "F4", Kind: diagnose.UDPUnanswered, Severity: diagnose.Critical, Service: "k2-keyserver", Transport: catalog.UDP,
			Server: "198.51.100.20", Port: 19283, Count: 2000, Summary: "2000 requests, none answered"},
		{ID: "F5", Kind: diagnose.CaptureDrops, Severity: diagnose.Info, Count: 100000,
			Summary: "the capture dropped 100000 packets: the host could not keep up with the link, so some conclusions rest on part of the traffic"},
	}
	r.Services = []report.ServiceRow{
		{Server: v6Server, Port: 65535, Transport: catalog.TCP, Service: "sw-binary", Clients: 100000, Connections: 100000, Status: diagnose.NotListening},
		{Server: "192.0.2.1", Port: 5001, Transport: catalog.TCP, Service: "sw-binary", Clients: 3, Connections: 7, Status: diagnose.Listening},
		{Server: v6Server, Port: 19283, Transport: catalog.UDP, Service: "k2-keyserver", Clients: 99999, Connections: 88888, Status: diagnose.Partial},
	}
	r.NPASessions = []report.NPASession{
		{Client: v6Client, Server: v6Server, Main: "[" + v6Client + "]:50000 -> [" + v6Server + "]:5001", Status: diagnose.NPAIdleRisk, MaxIdleS: 900, Pushes: 100000},
		{Client: v6Client, Server: v6Server, Main: "[" + v6Client + "]:50001 -> [" + v6Server + "]:5001", Status: diagnose.NPALost, MaxIdleS: 7300, Why: "reset by a middlebox"},
		{Client: "192.0.2.10", Server: "198.51.100.10", Main: "192.0.2.10:50002 -> 198.51.100.10:5001", Status: diagnose.NPAPaired, MaxIdleS: 12},
	}
	r.UDPFlows = []report.UDPFlowRow{
		{Client: v6Client, ClientPort: 65535, Server: v6Server, ServerPort: 19283, Service: "k2-keyserver", Requests: 100000, Responses: 99999, MaxSilenceS: 900, LateResponses: 12345},
		{Client: "192.0.2.31", ClientPort: 59462, Server: "198.51.100.20", ServerPort: 19283, Service: "k2-keyserver", Requests: 2000, Responses: 0, MaxSilenceS: 0.25, ICMPErrors: 3},
		{Client: "192.0.2.32", ClientPort: 53411, Server: "198.51.100.20", ServerPort: 19283, Service: "k2-keyserver", Requests: 22, Responses: 25, MaxSilenceS: 45},
	}
	r.Hosts = []report.HostRow{
		{Addr: v6Client, Name: "a-very-long-workstation-name.branch-office.corp.example", Roles: []string{"client"}},
		{Addr: v6Server, Name: "supportworks.example", Names: []string{"supportworks.example", "sw-backup.example"}, Roles: []string{"server", "k2-keyserver", "sw-binary"}},
	}
	return r
}

func bigSnapshot() SnapshotMsg {
	r := bigReport()
	return SnapshotMsg{Report: r, Packets: r.Summary.Packets, Drops: -1, Done: true}
}

func newBigModel(w, h int) *Model {
	m := New(Options{Source: "big.pcap", Renderer: asciiRenderer(), Now: fixedNow})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(bigSnapshot())
	return m
}

// checkNumbers fails if a numeric cell of a drawn row, or the title of a
// numeric column, is not on the screen whole, in its column.
func checkNumbers(t *testing.T, m *Model, what string) {
	t.Helper()
	lines := strings.Split(m.View(), "\n")
	tb := m.panes[m.focus].table
	ws := tb.Widths(m.Width)
	cols := tb.Columns()
	const top = 3 // header, verdict, tabs: the column titles follow
	span := func(line string, c int) string {
		x := 3 // the cursor, the mark and a space
		for i := 0; i < c; i++ {
			x += ws[i] + 1
		}
		return strings.TrimSpace(ansi.Cut(line, x, x+ws[c]))
	}
	for c, col := range cols {
		if !col.Numeric {
			continue
		}
		if got := span(lines[top], c); !strings.HasPrefix(got, col.Title) {
			t.Errorf("%s: title of column %s shows as %q:\n%s", what, col.Title, got, lines[top])
		}
	}
	drawn := tb.Drawn()
	if len(drawn) == 0 {
		t.Errorf("%s: no row drawn", what)
	}
	for k, r := range drawn {
		line := lines[top+1+k]
		if w := ansi.StringWidth(line); w > m.Width {
			t.Errorf("%s: line %q is %d cells wide", what, line, w)
		}
		for c, col := range cols {
			if !col.Numeric {
				continue
			}
			if got := span(line, c); got != r.Cells[c] || strings.Contains(got, "…") {
				t.Errorf("%s: %s cell shows as %q; want %q:\n%s", what, col.Title, got, r.Cells[c], line)
			}
		}
	}
}

// TestNumbersNeverCut renders every pane at every size from 80x24 to
// 250x60 over a report of big numbers: no numeric cell may be cut.
func TestNumbersNeverCut(t *testing.T) {
	for w := 80; w <= 250; w += 10 {
		for h := 24; h <= 60; h += 6 {
			m := newBigModel(w, h)
			for p := 0; p < numPanes; p++ {
				m.setFocus(p)
				checkNumbers(t, m, fmt.Sprintf("%dx%d %s", w, h, m.panes[p].name))
			}
		}
	}
	// Text columns are the ones cut: at 80 columns the IPv6 addresses are.
	m := newBigModel(80, 24)
	press(m, "4")
	if v := m.View(); !strings.Contains(v, "100000/99999") || !strings.Contains(v, "15.0 min") || !strings.Contains(v, "12345") || !strings.Contains(v, "[2001:db…1]:65535") {
		t.Errorf("UDP pane at 80x24:\n%s", v)
	}
	// At 200 columns the addresses are whole and no wider than they are.
	m = newBigModel(200, 50)
	press(m, "3")
	v := m.View()
	if !strings.Contains(v, v6Client+" "+v6Server+" ") || strings.Contains(v, "…") {
		t.Errorf("NPA pane at 200x50:\n%s", v)
	}
}

func TestMarks(t *testing.T) {
	m := newBigModel(120, 30)
	v := m.View()
	for _, want := range []string{"▸✗ CRIT", " ! WARN", " · INFO"} {
		if !strings.Contains(v, want) {
			t.Errorf("findings lack %q:\n%s", want, v)
		}
	}
	press(m, "2")
	v = m.View()
	for _, want := range []string{"✗ " + v6Server, "✓ 192.0.2.1", "! " + v6Server} {
		if !strings.Contains(v, want) {
			t.Errorf("services lack %q:\n%s", want, v)
		}
	}
}

func TestSortKeys(t *testing.T) {
	m := newBigModel(120, 30)
	press(m, "2")
	tb := m.panes[paneServices].table
	conns := func() []int {
		var out []int
		for _, r := range tb.Drawn() {
			out = append(out, m.Report().Services[r.Index].Connections)
		}
		return out
	}
	if got := conns(); !slices.Equal(got, []int{100000, 7, 88888}) {
		t.Fatalf("report order: %v", got)
	}
	press(m, "o", "o", "o", "o", "o") // SERVER, PORT, SERVICE, CLI, CONN
	if col, desc := tb.Sort(); col != 4 || !desc {
		t.Fatalf("sort after five o: column %d desc %v; want CONN descending", col, desc)
	}
	if got := conns(); !slices.Equal(got, []int{100000, 88888, 7}) {
		t.Errorf("by CONN ↓: %v", got)
	}
	v := m.View()
	if !strings.Contains(v, "CONN↓") || !strings.Contains(v, "sorted by CONN ↓") {
		t.Errorf("the sort is not shown:\n%s", v)
	}
	press(m, "O")
	if got := conns(); !slices.Equal(got, []int{7, 88888, 100000}) || !strings.Contains(m.View(), "CONN↑") {
		t.Errorf("by CONN ↑: %v\n%s", got, m.View())
	}
	// A sort puts the cursor on its first row; a new snapshot keeps it on
	// its row.
	press(m, "j", "O")
	if tb.Cursor() != 0 {
		t.Errorf("after O the cursor is on row %d; want 0", tb.Cursor())
	}
	press(m, "j")
	sel, _ := tb.Selected()
	m.Update(bigSnapshot())
	if got, _ := tb.Selected(); got.Key != sel.Key {
		t.Errorf("a snapshot moved the cursor from %q to %q", sel.Key, got.Key)
	}
	press(m, "o") // STATUS: worst first
	if tb.Drawn()[0].Class != "critical" || tb.Cursor() != 0 {
		t.Errorf("by STATUS: first row %+v, cursor %d", tb.Drawn()[0], tb.Cursor())
	}
	press(m, "o") // back to the report's order
	if col, _ := tb.Sort(); col != -1 || !slices.Equal(conns(), []int{100000, 7, 88888}) || strings.ContainsAny(strings.Split(m.View(), "\n")[3], "↑↓") {
		t.Errorf("after the last column: sort %d, %v", col, conns())
	}
	press(m, "O")
	if !strings.Contains(m.View(), "o sorts by a column") {
		t.Errorf("O in the report's order says nothing:\n%s", m.View())
	}
	// Addresses sort by value, not as text.
	press(m, "3", "o")
	var clients []string
	for _, r := range m.panes[paneNPA].table.Drawn() {
		clients = append(clients, r.Cells[0])
	}
	if clients[0] != "192.0.2.10" {
		t.Errorf("NPA by CLIENT: %v", clients)
	}
}

// TestSearchEveryField finds rows by fields no column shows.
func TestSearchEveryField(t *testing.T) {
	m := newBigModel(120, 30)
	for _, tc := range []struct {
		pane  string
		query string
		want  int
	}{
		{"1", "zanzibar", 1},     // a recommendation
		{"1", "SYN-ACK", 1},      // a detail
		{"1", "k2-keyserver", 2}, // a service
		{"1", "perimeter", 1},
		{"2", "not_listening", 1}, // the status as the report spells it
		{"3", "middlebox", 1},     // why
		{"3", "50001", 1},         // the main connection
		{"4", "icmp 3", 1},        // ICMP errors
		{"5", "sw-backup", 1},     // another name
	} {
		press(m, tc.pane, "/", tc.query, "enter")
		if got := m.panes[m.focus].table.Shown(); got != tc.want {
			t.Errorf("pane %s, search %q: %d rows; want %d", tc.pane, tc.query, got, tc.want)
		}
		press(m, "esc")
	}
}

// TestJumpToRows: enter in a finding's detail shows its rows.
func TestJumpToRows(t *testing.T) {
	m := newBigModel(120, 30)
	for _, tc := range []struct {
		finding int
		pane    int
		rows    int
	}{
		{0, paneServices, 1}, // syn_unanswered on [v6]:65535/tcp
		{1, paneUDP, 1},      // udp_late_response: the flow with late answers
		{2, paneNPA, 1},      // npa_idle_exceeds_timeout: the idle_risk session of the pair
		{3, paneUDP, 1},      // udp_unanswered of a server: its flows with no answer
	} {
		press(m, "1", "g")
		for i := 0; i < tc.finding; i++ {
			press(m, "j")
		}
		press(m, "enter")
		if !strings.Contains(m.View(), "enter its rows") {
			t.Errorf("the finding's detail does not offer its rows:\n%s", m.View())
		}
		press(m, "enter")
		tb := m.panes[tc.pane].table
		if m.mode != modeList || m.Focus() != tc.pane || tb.Shown() != tc.rows {
			t.Errorf("finding %d: mode %d focus %d shown %d; want pane %d with %d rows", tc.finding, m.mode, m.Focus(), tb.Shown(), tc.pane, tc.rows)
		}
		f := m.Report().Findings[tc.finding]
		if v := m.View(); !strings.Contains(v, "the rows of "+f.ID) || !strings.Contains(v, fmt.Sprintf("%d/%d", tc.rows, tb.Len())) {
			t.Errorf("the jump is not said:\n%s", v)
		}
		// It holds across snapshots, and esc shows every row again.
		m.Update(bigSnapshot())
		if tb.Shown() != tc.rows {
			t.Errorf("a new snapshot lost the jump: %d rows", tb.Shown())
		}
		press(m, "esc")
		if tb.Shown() != tb.Len() || tb.Only() != "" {
			t.Errorf("esc left %d of %d rows", tb.Shown(), tb.Len())
		}
	}
	// A capture-wide finding has no rows.
	press(m, "1", "G", "enter", "enter")
	if v := m.View(); m.mode != modeDetail || !strings.Contains(v, "whole capture") {
		t.Errorf("capture-wide finding:\n%s", v)
	}
}

// TestOpenEvidence: w opens the evidence in termshark or Wireshark with
// the filter, or says why not.
func TestOpenEvidence(t *testing.T) {
	orig := lookPath
	t.Cleanup(func() { lookPath = orig })
	installed := map[string]bool{}
	lookPath = func(name string) (string, error) {
		if installed[name] {
			return "/usr/bin/" + name, nil
		}
		return "", exec.ErrNotFound
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	m := newBigModel(120, 30)
	press(m, "w")
	if v := m.View(); !strings.Contains(v, "neither termshark nor wireshark is installed") {
		t.Errorf("w with no viewer:\n%s", v)
	}
	installed["wireshark"] = true
	if _, _, err := viewerCommand("x.pcap", "tcp"); err == nil || !strings.Contains(err.Error(), "wireshark has no display") {
		t.Errorf("wireshark without a display: %v", err)
	}
	t.Setenv("DISPLAY", ":0")
	if c, name, err := viewerCommand("x.pcap", "tcp"); err != nil || name != "wireshark" || !slices.Equal(c.Args, []string{"/usr/bin/wireshark", "-r", "x.pcap", "-Y", "tcp"}) {
		t.Errorf("wireshark: %v %q %v", c, name, err)
	}
	installed["termshark"] = true
	f := m.Report().Findings[0]
	c, name, err := viewerCommand(m.Report().InputPath(f.Evidence[0].Input), f.WiresharkFilter)
	if err != nil || name != "termshark" || !slices.Equal(c.Args, []string{"/usr/bin/termshark", "-r", m.Report().InputPath(f.Evidence[0].Input), "-Y", f.WiresharkFilter}) {
		t.Errorf("termshark: %v %q %v", c, name, err)
	}
	m = newBigModel(120, 30)
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("w")})
	if cmd == nil || !strings.Contains(m.View(), "opened "+m.Report().InputPath(f.Evidence[0].Input)+" in termshark") {
		t.Errorf("w on F1: cmd %v\n%s", cmd != nil, m.View())
	}
	m.Update(viewerDoneMsg{name: "termshark"})
	if !strings.Contains(m.View(), "back from termshark") {
		t.Errorf("after termshark:\n%s", m.View())
	}
	// Evidence that is not a file.
	press(m, "j")
	if _, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("w")}); cmd != nil || !strings.Contains(m.View(), "F2 names no evidence frames") {
		t.Errorf("w on F2:\n%s", m.View())
	}
	m.Report().Findings[1].Evidence = []report.Evidence{{Input: 1, Frames: []uint64{4}}}
	press(m, "w")
	if v := m.View(); !strings.Contains(v, "live capture on eth0, not a file") {
		t.Errorf("w on live evidence:\n%s", v)
	}
	press(m, "2", "w")
	if v := m.View(); !strings.Contains(v, "w opens the evidence of a finding") {
		t.Errorf("w on a service:\n%s", v)
	}
}
