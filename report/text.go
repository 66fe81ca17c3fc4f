package report

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
)

// textWidth is where prose is wrapped.
const textWidth = 100

// TextOptions shape the text report.
type TextOptions struct {
	// All shows everything: every finding in full (with its own Fix), every
	// table row. By default the report stays human-sized on any capture:
	// problem rows first, healthy rows counted, each table capped.
	All bool
}

// Caps of the default text report, so that it stays about a hundred lines
// whatever the capture holds (--all lifts them).
const (
	maxFullFindings = 4  // findings above info shown in full
	maxFindingLines = 12 // findings listed at all (the rest counted)
	maxTableRows    = 6  // rows per table
	maxHosts        = 10 // hosts listed
)

// WriteText writes the human summary with the default options.
func WriteText(w io.Writer, r *Report) error { return WriteTextOpts(w, r, TextOptions{}) }

// WriteTextOpts writes the human summary: the verdict first, then the
// changes to make, then findings by severity (what was seen, why it
// matters, the evidence and a Wireshark filter), then the services, NPA
// sessions, UDP flows and hosts, problems first.
func WriteTextOpts(w io.Writer, r *Report, o TextOptions) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "fwdiag %s\n", r.Tool.Version)
	for _, in := range r.Inputs {
		span := in.Last.Sub(in.First)
		fmt.Fprintf(b, "Input:    %s (%s, %s, %d packets, %s from %s)\n", in.Path, in.Format, orDash(in.LinkType), in.Packets, fmtDur(span), fmtTime(in.First))
	}
	s := r.Settings
	fmt.Fprintf(b, "Timeouts: UDP %s, TCP idle %s (profile %s)\n", Seconds(s.UDPTimeoutS), Seconds(s.TCPIdleTimeoutS), s.Profile)
	for _, m := range r.Measured {
		// A lower bound alone that no finding uses (healthy traffic
		// outlived a few seconds) stays in the JSON.
		if m.ShorterThanS != nil || m.Contradictory || len(m.Findings) > 0 {
			wrap(b, "Measured: ", m.Words)
		}
	}
	for i, e := range r.Errors {
		if i == 3 && !o.All {
			fmt.Fprintf(b, "Input error: ... %d more in the JSON report\n", len(r.Errors)-i)
			break
		}
		fmt.Fprintf(b, "Input error: %s\n", e)
	}
	for _, bd := range r.Summary.Bounds {
		fmt.Fprintf(b, "Bounded:  %s\n", boundWords(bd))
	}
	fmt.Fprintf(b, "\nVERDICT: %s\n", r.Summary.Verdict)
	writeChanges(b, r)

	full, listed := 0, 0
	covered := map[string]bool{} // findings a change in CHANGES resolves
	for _, c := range r.Changes {
		for _, id := range c.Findings {
			covered[id] = true
		}
	}
	for _, sev := range []diagnose.Severity{diagnose.Critical, diagnose.Warning, diagnose.Info} {
		var fs []Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s (%d)\n", strings.ToUpper(string(sev)), len(fs))
		for i, f := range fs {
			switch {
			case o.All:
				writeFinding(b, r, f, true)
			case listed == maxFindingLines:
				fmt.Fprintf(b, "... %d more %s findings (--all, or the JSON report)\n", len(fs)-i, sev)
			case sev != diagnose.Info && full < maxFullFindings:
				// The Fix is in CHANGES when a change resolves the
				// finding; else here.
				writeFinding(b, r, f, !covered[f.ID])
				full++
			default:
				writeFindingLine(b, f)
			}
			if !o.All && listed == maxFindingLines {
				break
			}
			listed++
		}
	}

	limit := maxTableRows
	if o.All {
		limit = -1
	}
	writeTable(b, "SERVICES", r.Services, limit, "listening",
		func(sv ServiceRow) bool { return sv.Status != diagnose.Listening },
		"server\tport\tservice\tclients\tconns\tstatus",
		func(sv ServiceRow) string {
			return fmt.Sprintf("%s\t%d/%s\t%s\t%d\t%d\t%s", sv.Server, sv.Port, sv.Transport, sv.Service, sv.Clients, sv.Connections, strings.ToUpper(strings.ReplaceAll(string(sv.Status), "_", " ")))
		}, nil)
	writeTable(b, "NPA SESSIONS (Supportworks main session + notification channel)", r.NPASessions, limit, "paired",
		func(n NPASession) bool { return n.Status != diagnose.NPAPaired },
		"client\tserver\tstatus\tnotification\tpushes\tmax idle\tconfidence",
		func(n NPASession) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s\t%s", n.Client, n.Server, n.Status, orDash(n.Notification), n.Pushes, Seconds(n.MaxIdleS), n.Confidence)
		},
		func(n NPASession) string { return n.CapturePoint })
	writeTable(b, "UDP FLOWS", r.UDPFlows, limit, "answered",
		func(u UDPFlowRow) bool {
			return u.LateResponses > 0 || u.ICMPErrors > 0 || u.Requests > 0 && u.Responses == 0
		},
		"client\tserver\tservice\treq\tresp\tmax silence\tlate\ticmp",
		func(u UDPFlowRow) string {
			return fmt.Sprintf("%s:%d\t%s:%d\t%s\t%d\t%d\t%s\t%d\t%d", u.Client, u.ClientPort, u.Server, u.ServerPort, orDash(string(u.Service)), u.Requests, u.Responses, Seconds(u.MaxSilenceS), u.LateResponses, u.ICMPErrors)
		},
		func(u UDPFlowRow) string { return u.CapturePoint })
	if len(r.Hosts) > 0 {
		b.WriteString("\nHOSTS\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		named := r.findingHosts()
		rows := problemsFirst(r.Hosts, func(h HostRow) bool { return named[h.Addr] })
		shown := 0
		for _, h := range rows.items {
			if !o.All && shown == maxHosts {
				break
			}
			name := h.Name
			if len(h.Names) > 1 {
				name = strings.Join(h.Names, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Addr, orDash(name), orDash(strings.Join(h.Roles, ", ")))
			shown++
		}
		tw.Flush()
		if n := len(rows.items) - shown; n > 0 && !o.All {
			fmt.Fprintf(b, "  ... %d more hosts (--all, or the JSON report)\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rows are a table's rows: problem rows first, then the healthy ones; by
// default only the problem rows are listed and the healthy counted.
type rows[T any] struct {
	items   []T
	healthy int
}

// problemsFirst puts a table's problem rows first, keeping the order
// within each part; healthy rows are kept after them.
func problemsFirst[T any](all []T, problem func(T) bool) rows[T] {
	var r rows[T]
	var ok []T
	for _, x := range all {
		if problem(x) {
			r.items = append(r.items, x)
		} else {
			ok = append(ok, x)
		}
	}
	r.healthy = len(ok)
	r.items = append(r.items, ok...)
	return r
}

// rest says what a table leaves out.
func rest(b *strings.Builder, left, healthy int, word string) {
	if left > 0 {
		fmt.Fprintf(b, "  ... %d more rows (%d of them %s): --all, or the JSON report\n", left, min(left, healthy), word)
	}
}

// findingHosts are the addresses the findings name.
func (r *Report) findingHosts() map[string]bool {
	m := map[string]bool{}
	for _, f := range r.Findings {
		for _, a := range append(append([]string{}, f.Clients...), f.Servers...) {
			m[a] = true
		}
	}
	return m
}

// writeFindingLine writes a finding as its title and summary only.
func writeFindingLine(b *strings.Builder, f Finding) {
	fmt.Fprintf(b, "[%s] %s  %s: ", f.ID, f.Kind, orDash(string(f.Service)))
	b.WriteString(f.Summary + "\n")
}

// writeFinding writes a finding in full; fix adds its own Fix (the
// CHANGES list carries it otherwise).
func writeFinding(b *strings.Builder, r *Report, f Finding, fix bool) {
	svc := string(f.Service)
	if svc == "" {
		svc = "-"
	}
	fmt.Fprintf(b, "\n[%s] %s  %s  (%s confidence", f.ID, f.Kind, svc, orDash(string(f.Confidence)))
	if f.Count > 1 {
		fmt.Fprintf(b, ", %d occurrences", f.Count)
	}
	b.WriteString(")\n")
	wrap(b, "  ", f.Summary)
	if f.Detail != "" {
		wrap(b, "  Seen: ", f.Detail)
	}
	if f.Recommendation != "" && fix {
		wrap(b, "  Fix:  ", f.Recommendation)
	}
	for _, e := range f.Evidence {
		fmt.Fprintf(b, "  Evidence: %s frames %s\n", r.InputPath(e.Input), FrameList(e.Frames, 12))
	}
	if f.WiresharkFilter != "" {
		// With several inputs, say which files the filter is for: frame
		// numbers and addresses are those of the files the evidence is in.
		label := "Filter"
		if len(r.Inputs) > 1 && len(f.Evidence) > 0 {
			var on []string
			for _, e := range f.Evidence {
				on = append(on, filepath.Base(r.InputPath(e.Input)))
			}
			label = "Filter (on " + strings.Join(on, ", ") + ")"
		}
		// One line, however long, so that it pastes whole into Wireshark.
		fmt.Fprintf(b, "  %s: %s\n", label, f.WiresharkFilter)
	}
}

// wrap writes text after prefix, wrapped at textWidth, continuation lines
// indented to the prefix's width.
func wrap(b *strings.Builder, prefix, text string) {
	indent := strings.Repeat(" ", len(prefix))
	line, empty := prefix, true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > textWidth {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}

// FrameList renders evidence frame numbers for people, the first most of
// them and a count of the rest. The TUI uses it too.
func FrameList(fr []uint64, most int) string {
	var parts []string
	for i, f := range fr {
		if i == most {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(fr)-most))
			break
		}
		parts = append(parts, fmt.Sprint(f))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func fmtDur(d time.Duration) string {
	return Seconds(d.Seconds())
}

// Seconds formats a duration given in seconds for people: "none",
// "850 ms", "12.0 s", "4.5 min", "1.0 h". The TUI uses it too, so both
// outputs read alike.
func Seconds(s float64) string {
	switch {
	case s <= 0:
		return "none"
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 120:
		return fmt.Sprintf("%.1f min", s/60)
	case s >= 1:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

// boundWords says what a full table means for the reader.
func boundWords(b Bound) string {
	switch b.Table {
	case diagnose.BoundTCP:
		return fmt.Sprintf("%d TCP connections left the live table (cap %d): their findings and counts are kept; the TCP flows table does not list them", b.Summarised, b.Limit)
	case diagnose.BoundUDP:
		return fmt.Sprintf("%d UDP flows left the live table (cap %d): their findings and counts are kept; the UDP flows table does not list them", b.Summarised, b.Limit)
	case diagnose.BoundScan:
		return fmt.Sprintf("more than %d clients made failed attempts: the scan watch started afresh %d times (a scanner is still found; single attempts from a flood are counted, not watched)", b.Limit, b.Summarised)
	case diagnose.BoundK2:
		return fmt.Sprintf("more than %d K2 clients' flows were evicted: %d later flows were judged without their client's earlier ones (rebinds and failovers among them may be missed)", b.Limit, b.Summarised)
	case diagnose.BoundDNS:
		return fmt.Sprintf("%d DNS answers past the names' bounds (%d client lookups) were not kept", b.Summarised, b.Limit)
	case diagnose.BoundClients:
		return fmt.Sprintf("services with more than %d clients: %d further connections are counted, their clients not listed", b.Limit, b.Summarised)
	case diagnose.BoundMembers:
		return fmt.Sprintf("findings with more than %d connections: %d further ones were counted at every capture point that saw them (a connection seen on both sides may count twice in those findings' numbers)", b.Limit, b.Summarised)
	case diagnose.BoundScanAttempts:
		return fmt.Sprintf("scans on more than %d conversations (scanner port to target port): %d further attempts were counted at every capture point that saw them", b.Limit, b.Summarised)
	case diagnose.BoundServiceConvs:
		return fmt.Sprintf("more than %d conversations in the services table: %d further connections were counted at every capture point that saw them", b.Limit, b.Summarised)
	}
	return fmt.Sprintf("%s: %d summarised (limit %d)", b.Table, b.Summarised, b.Limit)
}

// writeTable writes one table of the text report: its problem rows first
// (problem), then the healthy ones, at most limit rows (-1 all) with a
// line counting the rest. point, when not nil, names each row's capture
// point: a "seen at" column is added when the rows come from several, as
// a flow seen at two capture points is a row for each.
func writeTable[T any](b *strings.Builder, title string, all []T, limit int, healthyWord string, problem func(T) bool, header string, row func(T) string, point func(T) string) {
	if len(all) == 0 {
		return
	}
	rows := problemsFirst(all, problem)
	fmt.Fprintf(b, "\n%s\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	points := point != nil && manyPoints(all, point)
	if points {
		header += "\tseen at"
	}
	fmt.Fprintf(tw, "  %s\n", header)
	shown := 0
	for _, x := range rows.items {
		if shown == limit {
			break
		}
		line := row(x)
		if points {
			line += "\t" + point(x)
		}
		fmt.Fprintf(tw, "  %s\n", line)
		shown++
	}
	tw.Flush()
	rest(b, len(rows.items)-shown, rows.healthy, healthyWord)
}

// manyPoints says whether a table's rows come from more than one capture
// point, so that it needs a column saying where each was seen.
func manyPoints[T any](rows []T, point func(T) string) bool {
	for _, r := range rows {
		if point(r) != point(rows[0]) {
			return true
		}
	}
	return false
}
