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
		Schema:   report.SchemaID,
		Settings: report.Settings{UDPTimeoutS: 60, TCPIdleTimeoutS: 3600, UDPTimeoutSource: "profile default", TCPTimeoutSource: "profile default"},
		Summary:  report.Summary{Verdict: "CRITICAL: 2 critical, 1 warning", Packets: 1234567, Start: start, End: start.Add(2 * time.Hour)},
	}
	r.Findings = []report.Finding{
		{ID: "F1", Kind: diagnose.SynUnanswered, Severity: diagnose.Critical, Service: "sw-binary", Transport: catalog.TCP,
			Client: v6Client, Server: v6Server, Port: 65535, Count: 100000,
			Summary: "100000 connections to port 65535 were never answered", Detail: "SYN after SYN, no SYN-ACK", Recommendation: "Open port 65535 on the perimeter firewall",
			Evidence: []report.Evidence{{Input: "../pcaps/captures/npa-blocked/client.pcap", Frames: []uint64{1, 2, 3}}}, WiresharkFilter: "ipv6.addr==" + v6Client + " && tcp.port==65535"},
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
	c, name, err := viewerCommand(f.Evidence[0].Input, f.WiresharkFilter)
	if err != nil || name != "termshark" || !slices.Equal(c.Args, []string{"/usr/bin/termshark", "-r", f.Evidence[0].Input, "-Y", f.WiresharkFilter}) {
		t.Errorf("termshark: %v %q %v", c, name, err)
	}
	m = newBigModel(120, 30)
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("w")})
	if cmd == nil || !strings.Contains(m.View(), "opened "+f.Evidence[0].Input+" in termshark") {
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
	m.Report().Findings[1].Evidence = []report.Evidence{{Input: "live:eth0", Frames: []uint64{4}}}
	press(m, "w")
	if v := m.View(); !strings.Contains(v, "live capture on eth0, not a file") {
		t.Errorf("w on live evidence:\n%s", v)
	}
	press(m, "2", "w")
	if v := m.View(); !strings.Contains(v, "w opens the evidence of a finding") {
		t.Errorf("w on a service:\n%s", v)
	}
}
