package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/report"
	"github.com/fwdiag/fwdiag/tui/common"
	"github.com/fwdiag/fwdiag/tui/detail"
	"github.com/fwdiag/fwdiag/tui/table"
)

// pane is one tab of the UI: a table built from the report, and the detail
// view of a row.
type pane struct {
	name   string
	table  *table.Model
	rows   func(r *report.Report, barW int) []table.Row
	detail func(r *report.Report, row table.Row) (title, class string, s []detail.Section)
}

// Pane indexes, in tab order.
const (
	paneFindings = iota
	paneServices
	paneNPA
	paneUDP
	paneHosts
	numPanes
)

// barWidth is the width of the idle/silence bars.
const barWidth = 12

// Column layouts. Numbers (counts, durations, bars) are as wide as their
// widest cell at every size; the addresses and words share the rest.
var (
	findingCols = []table.Column{
		{Title: "SEV", Width: 4, ByNum: true},
		{Title: "KIND", Width: 12},
		{Title: "WHERE", Width: 20, Flex: true, Mid: true},
		{Title: "N", Numeric: true, Right: true},
	}
	serviceCols = []table.Column{
		{Title: "SERVER", Width: 15, Flex: true, Mid: true},
		{Title: "PORT", Numeric: true, Right: true},
		{Title: "SERVICE", Width: 8},
		{Title: "CLI", Numeric: true, Right: true},
		{Title: "CONN", Numeric: true, Right: true},
		{Title: "STATUS", Width: 8, ByNum: true},
	}
	npaCols = []table.Column{
		{Title: "CLIENT", Width: 15, Flex: true, Mid: true},
		{Title: "SERVER", Width: 15, Flex: true, Mid: true},
		{Title: "STATUS", Width: 6, ByNum: true},
		{Title: "IDLE", Numeric: true, Right: true},
		{Title: "vs TIMEOUT", Numeric: true},
	}
	udpCols = []table.Column{
		{Title: "CLIENT", Width: 15, Flex: true, Mid: true},
		{Title: "SERVER", Width: 15, Flex: true, Mid: true},
		{Title: "REQ/RSP", Numeric: true, Right: true},
		{Title: "SILENCE", Numeric: true, Right: true},
		{Title: "vs TIMEOUT", Numeric: true},
		{Title: "LATE", Numeric: true, Right: true},
	}
	hostCols = []table.Column{
		{Title: "ADDRESS", Width: 15, Mid: true},
		{Title: "NAME", Width: 12, Flex: true},
		{Title: "ROLES", Width: 12, Flex: true},
	}
)

func newPanes(c common.Common) []*pane {
	return []*pane{
		{name: "Findings", table: table.New(c, findingCols, "no finding"), rows: findingRows, detail: findingDetail},
		{name: "Services", table: table.New(c, serviceCols, "no Supportworks or K2 service seen yet"), rows: serviceRows, detail: serviceDetail},
		{name: "NPA", table: table.New(c, npaCols, "no Supportworks session seen yet"), rows: npaRows, detail: npaDetail},
		{name: "UDP", table: table.New(c, udpCols, "no K2 or UDP notification flow seen yet"), rows: udpRows, detail: udpDetail},
		{name: "Hosts", table: table.New(c, hostCols, "no host seen yet"), rows: hostRows, detail: hostDetail},
	}
}

// rank orders meaning classes for sorting: critical first when descending.
func rank(class string) float64 {
	switch class {
	case "critical":
		return 4
	case "warning":
		return 3
	case "info":
		return 2
	case "ok":
		return 1
	}
	return 0
}

// words joins a row's fields for the search.
func words(fields ...any) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(fmt.Sprint(f))
		b.WriteByte(' ')
	}
	return b.String()
}

func countOf(r *report.Report, i int) int {
	if r == nil {
		return 0
	}
	switch i {
	case paneFindings:
		return len(r.Findings)
	case paneServices:
		return len(r.Services)
	case paneNPA:
		return len(r.NPASessions)
	case paneUDP:
		return len(r.UDPFlows)
	case paneHosts:
		return len(r.Hosts)
	}
	return 0
}

func where(f report.Finding) string {
	switch {
	case f.Client != "" && f.Server != "":
		return fmt.Sprintf("%s → %s", f.Client, hostPort(f.Server, f.Port))
	case f.Server != "":
		return hostPort(f.Server, f.Port)
	case f.Client != "":
		return f.Client
	}
	return f.Summary
}

func hostPort(h string, port int) string {
	if port == 0 {
		return h
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]:" + strconv.Itoa(port)
	}
	return h + ":" + strconv.Itoa(port)
}

func findingRows(r *report.Report, _ int) []table.Row {
	rows := make([]table.Row, 0, len(r.Findings))
	for i, f := range r.Findings {
		n := ""
		if f.Count > 1 {
			n = strconv.Itoa(f.Count)
		}
		search := words(f.ID, f.Severity, f.Service, f.Transport, f.Client, f.Server, hostPort(f.Server, f.Port), f.Confidence, f.Summary, f.Detail, f.Recommendation)
		for _, e := range f.Evidence {
			search += r.InputPath(e.Input) + " "
		}
		// The id is stable across snapshots: the selection follows it.
		rows = append(rows, table.Row{Key: f.ID, Index: i, Class: string(f.Severity), ClassCol: 0,
			Cells:  []string{common.SeverityTag(string(f.Severity)), string(f.Kind), where(f), n},
			Nums:   []float64{rank(string(f.Severity)), 0, 0, float64(f.Count)},
			Search: search})
	}
	return rows
}

func findingDetail(r *report.Report, row table.Row) (string, string, []detail.Section) {
	f := r.Findings[row.Index]
	title := fmt.Sprintf("%s %s  %s  %s", common.SeverityTag(string(f.Severity)), f.ID, f.Kind, orDash(string(f.Service)))
	head := where(f)
	if f.Transport != "" {
		head += " " + string(f.Transport)
	}
	head += fmt.Sprintf("\n%s confidence", orDash(string(f.Confidence)))
	if f.Count > 1 {
		head += fmt.Sprintf(", %d occurrences", f.Count)
	}
	if !f.FirstSeen.IsZero() {
		head += fmt.Sprintf("\nfrom %s to %s", f.FirstSeen.UTC().Format("2006-01-02 15:04:05.000"), f.LastSeen.UTC().Format("15:04:05.000 UTC"))
	}
	secs := []detail.Section{{Body: head}, {Title: "What", Body: f.Summary, Class: string(f.Severity)}}
	if f.Detail != "" {
		secs = append(secs, detail.Section{Title: "Seen", Body: f.Detail})
	}
	if f.Recommendation != "" {
		title := "Fix"
		if len(f.Fixes) > 0 {
			title = "Fix (f: in the firewall's own language)"
		}
		secs = append(secs, detail.Section{Title: title, Body: f.Recommendation})
	}
	var ev []string
	for _, e := range f.Evidence {
		ev = append(ev, fmt.Sprintf("%s frames %s", r.InputPath(e.Input), report.FrameList(e.Frames, 30)))
	}
	if len(ev) > 0 {
		secs = append(secs, detail.Section{Title: "Evidence", Body: strings.Join(ev, "\n")})
	}
	if f.WiresharkFilter != "" {
		// One line, never wrapped: y copies it whole.
		// Whole, wrapped: y writes it to a file, w opens the evidence with it.
		secs = append(secs, detail.Section{Title: "Wireshark filter (y: to a file and the clipboard, w: open the evidence)", Body: f.WiresharkFilter, Whole: true})
	}
	return title, string(f.Severity), secs
}

func statusClass(s string) string {
	switch s {
	case "listening", "paired", "udp":
		return "ok"
	case "partial", "idle_risk":
		return "warning"
	case "filtered", "not_listening", "rejected", "missing", "lost", "orphan":
		return "critical"
	}
	return ""
}

func serviceRows(r *report.Report, _ int) []table.Row {
	rows := make([]table.Row, 0, len(r.Services))
	for i, s := range r.Services {
		cls := statusClass(string(s.Status))
		rows = append(rows, table.Row{Key: s.Server + "|" + strconv.Itoa(s.Port) + string(s.Transport), Index: i, Class: cls, ClassCol: 5,
			Cells:  []string{s.Server, fmt.Sprintf("%d/%s", s.Port, s.Transport), orDash(string(s.Service)), strconv.Itoa(s.Clients), strconv.Itoa(s.Connections), strings.ReplaceAll(string(s.Status), "_", " ")},
			Nums:   []float64{0, float64(s.Port), 0, float64(s.Clients), float64(s.Connections), rank(cls)},
			Search: words(s.Transport, s.Status)})
	}
	return rows
}

func serviceDetail(r *report.Report, row table.Row) (string, string, []detail.Section) {
	s := r.Services[row.Index]
	body := fmt.Sprintf("server %s, port %d/%s, service %s\n%d clients, %d connections\nstatus: %s",
		s.Server, s.Port, s.Transport, orDash(string(s.Service)), s.Clients, s.Connections, strings.ReplaceAll(string(s.Status), "_", " "))
	secs := []detail.Section{{Body: body, Class: statusClass(string(s.Status))}, {Title: "Status words (PortQry)", Body: "listening: the server answered; not listening: the host itself refused; filtered: no answer, or refused by a middlebox; partial: answered some clients, not others."}}
	secs = append(secs, related(r, func(f report.Finding) bool { return f.Server == s.Server && f.Port == s.Port })...)
	return fmt.Sprintf("%s %d/%s %s", s.Server, s.Port, s.Transport, orDash(string(s.Service))), statusClass(string(s.Status)), secs
}

func npaRows(r *report.Report, barW int) []table.Row {
	rows := make([]table.Row, 0, len(r.NPASessions))
	for i, n := range r.NPASessions {
		bar, _ := common.Bar(n.MaxIdleS, r.Settings.TCPIdleTimeoutS, barW)
		cls := statusClass(string(n.Status))
		// The capture point is part of the key: a session seen at two
		// capture points is two rows.
		rows = append(rows, table.Row{Key: n.Client + "|" + n.Server + "|" + n.Main + "|" + n.CapturePoint, Index: i, Class: cls, ClassCol: 2,
			Cells:  []string{n.Client, n.Server, strings.ReplaceAll(string(n.Status), "_", " "), common.Seconds(n.MaxIdleS), bar},
			Nums:   []float64{0, 0, rank(cls), n.MaxIdleS, n.MaxIdleS},
			Search: words(n.Status, n.Main, n.Notification, n.Confidence, n.Why, "pushes", n.Pushes, n.CapturePoint)})
	}
	return rows
}

func npaDetail(r *report.Report, row table.Row) (string, string, []detail.Section) {
	n := r.NPASessions[row.Index]
	body := fmt.Sprintf("main session:  %s\nnotification:  %s\nstatus: %s (%s confidence)\npushes: %d\nlongest idle: %s against a TCP idle timeout of %s\nseen at: %s",
		orDash(n.Main), orDash(n.Notification), n.Status, orDash(string(n.Confidence)), n.Pushes, common.Seconds(n.MaxIdleS), common.Seconds(r.Settings.TCPIdleTimeoutS), orDash(n.CapturePoint))
	secs := []detail.Section{{Body: body, Class: statusClass(string(n.Status))}}
	if n.Why != "" {
		secs = append(secs, detail.Section{Title: "Why", Body: n.Why})
	}
	secs = append(secs, detail.Section{Title: "TCP timeout in force", Body: r.Settings.TCPTimeoutSource})
	secs = append(secs, related(r, func(f report.Finding) bool {
		return f.Client == n.Client && f.Server == n.Server && strings.HasPrefix(string(f.Kind), "npa_")
	})...)
	return "NPA " + n.Client + " → " + n.Server, statusClass(string(n.Status)), secs
}

func udpRows(r *report.Report, barW int) []table.Row {
	rows := make([]table.Row, 0, len(r.UDPFlows))
	for i, u := range r.UDPFlows {
		bar, cls := common.Bar(u.MaxSilenceS, r.Settings.UDPTimeoutS, barW)
		late := ""
		if u.LateResponses > 0 {
			late, cls = strconv.Itoa(u.LateResponses), "critical"
		}
		if u.Responses == 0 && u.Requests > 0 {
			cls = "critical"
		}
		rows = append(rows, table.Row{Key: fmt.Sprintf("%s|%d|%s|%d|%s", u.Client, u.ClientPort, u.Server, u.ServerPort, u.CapturePoint), Index: i, Class: cls, ClassCol: 4,
			Cells:  []string{hostPort(u.Client, u.ClientPort), hostPort(u.Server, u.ServerPort), fmt.Sprintf("%d/%d", u.Requests, u.Responses), common.Seconds(u.MaxSilenceS), bar, late},
			Nums:   []float64{0, 0, float64(u.Requests), u.MaxSilenceS, u.MaxSilenceS, float64(u.LateResponses)},
			Search: words(u.Service, "icmp", u.ICMPErrors, u.CapturePoint)})
	}
	return rows
}

func udpDetail(r *report.Report, row table.Row) (string, string, []detail.Section) {
	u := r.UDPFlows[row.Index]
	_, cls := common.Bar(u.MaxSilenceS, r.Settings.UDPTimeoutS, barWidth)
	body := fmt.Sprintf("client %s, server %s, service %s\n%d requests, %d responses, %d ICMP errors\nlongest silence: %s against a UDP timeout of %s\nlate responses (after the timeout): %d\nseen at: %s",
		hostPort(u.Client, u.ClientPort), hostPort(u.Server, u.ServerPort), orDash(string(u.Service)), u.Requests, u.Responses, u.ICMPErrors,
		common.Seconds(u.MaxSilenceS), common.Seconds(r.Settings.UDPTimeoutS), u.LateResponses, orDash(u.CapturePoint))
	labels := []string{"<1s", "<10s", "<60s", "<5m", "<15m", ">=15m"}
	var d []string
	for i, n := range u.Delays.Buckets() {
		d = append(d, fmt.Sprintf("%s: %d", labels[i], n))
	}
	secs := []detail.Section{{Body: body, Class: cls}, {Title: "Answer delays", Body: strings.Join(d, "  ")}, {Title: "UDP timeout in force", Body: r.Settings.UDPTimeoutSource}}
	secs = append(secs, related(r, func(f report.Finding) bool {
		return f.Client == u.Client && f.Server == u.Server && f.Port == u.ServerPort
	})...)
	return "UDP " + hostPort(u.Client, u.ClientPort) + " → " + hostPort(u.Server, u.ServerPort), cls, secs
}

func hostRows(r *report.Report, _ int) []table.Row {
	rows := make([]table.Row, 0, len(r.Hosts))
	for i, h := range r.Hosts {
		rows = append(rows, table.Row{Key: h.Addr, Index: i, ClassCol: -1, Cells: []string{h.Addr, orDash(h.Name), strings.Join(h.Roles, ", ")},
			Search: strings.Join(h.Names, " ")})
	}
	return rows
}

func hostDetail(r *report.Report, row table.Row) (string, string, []detail.Section) {
	h := r.Hosts[row.Index]
	secs := []detail.Section{{Body: fmt.Sprintf("address %s\nname %s\nroles: %s", h.Addr, orDash(h.Name), strings.Join(h.Roles, ", "))}}
	secs = append(secs, related(r, func(f report.Finding) bool { return f.Client == h.Addr || f.Server == h.Addr })...)
	return "Host " + h.Addr, "", secs
}

// related lists the findings that concern a row, so every pane leads to the
// diagnosis.
func related(r *report.Report, match func(report.Finding) bool) []detail.Section {
	var lines []string
	cls := ""
	for _, f := range r.Findings {
		if match(f) {
			lines = append(lines, fmt.Sprintf("%s %s %s: %s", common.SeverityTag(string(f.Severity)), f.ID, f.Kind, f.Summary))
			if cls == "" || f.Severity.Rank() > diagnose.Severity(cls).Rank() {
				cls = string(f.Severity)
			}
		}
	}
	if len(lines) == 0 {
		return []detail.Section{{Title: "Findings", Body: "none"}}
	}
	return []detail.Section{{Title: "Findings", Body: strings.Join(lines, "\n"), Class: cls}}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fixSections are a finding's fixes as detail sections: for each change
// that resolves it and each device, the lines to paste (kept as they are),
// the vendor document, and what the device cannot do. Nil when no change
// resolves the finding.
func fixSections(r *report.Report, f report.Finding) []detail.Section {
	if len(f.Fixes) == 0 {
		return nil
	}
	var secs []detail.Section
	if r != nil {
		for _, c := range r.Changes {
			if slices.Contains(c.Findings, f.ID) {
				secs = append(secs, detail.Section{Title: fmt.Sprintf("Change %d: %s", c.N, c.Where), Body: c.What})
			}
		}
		if len(r.Settings.Firewalls) == 0 {
			secs = append(secs, detail.Section{Body: "No firewall named: start fwdiag with --firewall NAME or --fix all for your device's lines (the host's own are below).", Class: "warning"})
		}
	}
	for _, x := range f.Fixes {
		title := fmt.Sprintf("%d. %s", x.Change, x.Device)
		if x.Lang != "" && x.Text != "" {
			title += " (" + x.Lang + ")"
		}
		if x.Text != "" {
			secs = append(secs, detail.Section{Title: title, Body: x.Text, Pre: true})
		} else {
			secs = append(secs, detail.Section{Title: title + ": no lines to write there (see the note)"})
		}
		if x.Note != "" {
			secs = append(secs, detail.Section{Title: "Note", Body: x.Note, Class: "warning"})
		}
		if x.Source != "" {
			secs = append(secs, detail.Section{Title: "Following", Body: x.Source})
		}
	}
	return secs
}
