package tui

import (
	"slices"
	"strings"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/report"
	"github.com/fwdiag/fwdiag/tui/table"
)

// Enter in a finding's detail jumps to its rows: the pane that shows what
// the finding is about (NPA sessions for npa_*, UDP flows for UDP, the
// services otherwise, the hosts as a last resort), showing only the rows
// of the finding's client, server and port, and of those, when the kind
// says which, the ones that show it (the unanswered flows of
// udp_unanswered, the lost sessions of npa_notification_lost). Esc shows
// every row again.

// rowsOf lists the panes that can show the finding's rows, best first,
// each with the test of a row.
func (m *Model) rowsOf(f report.Finding) []struct {
	pane  int
	match func(table.Row) bool
} {
	// An empty field of the finding matches any row: a finding about a
	// server covers all its clients.
	same := func(want, got string) bool { return want == "" || want == got }
	// A finding merged from several clients names them in Clients (and
	// none in Client): only their rows are its rows.
	client := func(got string) bool {
		if len(f.Clients) > 0 {
			return slices.Contains(f.Clients, got)
		}
		return same(f.Client, got)
	}
	port := func(got int) bool { return f.Port == 0 || f.Port == got }
	rep := func() *report.Report { return m.snap.Report }
	npa := func(row table.Row) bool {
		n := rep().NPASessions[row.Index]
		return client(n.Client) && same(f.Server, n.Server)
	}
	npaShows := func(row table.Row) bool {
		st := rep().NPASessions[row.Index].Status
		switch f.Kind {
		case diagnose.NPANotificationMissing:
			return st == diagnose.NPAMissing
		case diagnose.NPANotificationLost:
			return st == diagnose.NPALost
		case diagnose.NPAIdleExceedsTimeout:
			return st == diagnose.NPAIdleRisk
		case diagnose.NPAOrphanNotification:
			return st == diagnose.NPAOrphan
		case diagnose.NPAUDPMode:
			return st == diagnose.NPAUDP
		}
		return true
	}
	udp := func(row table.Row) bool {
		u := rep().UDPFlows[row.Index]
		return client(u.Client) && same(f.Server, u.Server) && port(u.ServerPort)
	}
	udpShows := func(row table.Row) bool {
		u := rep().UDPFlows[row.Index]
		switch f.Kind {
		case diagnose.UDPUnanswered:
			return u.Requests > 0 && u.Responses == 0
		case diagnose.UDPLateResponse:
			return u.LateResponses > 0
		case diagnose.UDPICMPUnreachable, diagnose.NPAUDPUnreachable:
			return u.ICMPErrors > 0
		}
		return true
	}
	both := func(a, b func(table.Row) bool) func(table.Row) bool {
		return func(r table.Row) bool { return a(r) && b(r) }
	}
	svc := func(row table.Row) bool {
		s := rep().Services[row.Index]
		return same(f.Server, s.Server) && port(s.Port) && (f.Transport == "" || f.Transport == s.Transport)
	}
	host := func(row table.Row) bool {
		a := rep().Hosts[row.Index].Addr
		return a == f.Client || a == f.Server || slices.Contains(f.Clients, a)
	}
	type cand = struct {
		pane  int
		match func(table.Row) bool
	}
	switch {
	case strings.HasPrefix(string(f.Kind), "npa_"):
		return []cand{{paneNPA, both(npa, npaShows)}, {paneNPA, npa}, {paneUDP, both(udp, udpShows)}, {paneUDP, udp}, {paneServices, svc}, {paneHosts, host}}
	case f.Transport == catalog.UDP:
		return []cand{{paneUDP, both(udp, udpShows)}, {paneUDP, udp}, {paneServices, svc}, {paneHosts, host}}
	}
	return []cand{{paneServices, svc}, {paneHosts, host}}
}

// jumpToRows shows the rows of finding f in the first pane that has some.
func (m *Model) jumpToRows(f report.Finding) {
	name := f.ID + " " + string(f.Kind)
	if f.Client == "" && f.Server == "" {
		m.setStatus(name+" is about the whole capture: it has no rows of its own", "warning")
		return
	}
	for _, c := range m.rowsOf(f) {
		t := m.panes[c.pane].table
		if t.Count(c.match) == 0 {
			continue
		}
		m.mode = modeList
		m.setFocus(c.pane)
		t.SetFilter("")
		t.SetOnly("the rows of "+name, c.match)
		return
	}
	m.setStatus("no pane has rows of "+name+" yet", "warning")
}
