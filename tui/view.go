package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/fwdiag/fwdiag/tui/common"
)

// View draws the screen: exactly Height lines of at most Width cells.
func (m *Model) View() string {
	if m.Width == 0 || m.Height == 0 {
		return "starting…"
	}
	lines := []string{m.headerLine(), m.verdictLine(), m.tabsLine()}
	switch m.mode {
	case modeDetail:
		lines = append(lines, m.detail.View())
	case modeHelp:
		lines = append(lines, m.helpView())
	default:
		lines = append(lines, m.panes[m.focus].table.View())
		if m.focus == paneFindings && m.previewLines() > 0 {
			lines = append(lines, m.preview())
		}
	}
	lines = append(lines, m.statusLine(), m.keysLine())
	return fit(strings.Join(lines, "\n"), m.Width, m.Height)
}

// fit makes the screen exactly w x h, so the renderer never scrolls.
func fit(s string, w, h int) string {
	ls := strings.Split(s, "\n")
	body := ls[:len(ls)-2]
	foot := ls[len(ls)-2:]
	for len(body) < h-2 {
		body = append(body, "")
	}
	if len(body) > h-2 {
		body = body[:max(h-2, 0)]
	}
	out := append(body, foot...)
	for i, l := range out {
		if ansi.StringWidth(l) > w {
			out[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(out, "\n")
}

func (m *Model) headerLine() string {
	st := m.Styles
	s := m.snap
	state := ""
	switch {
	case m.linkDown && !s.Done:
		// Said before anything else: nothing arrives while it lasts.
		down := "IFACE DOWN"
		if m.paused {
			down += ", PAUSED"
		}
		state = st.Warning.Render(down)
	case m.paused:
		state = st.Warning.Render("PAUSED")
	case s.Done:
		state = "DONE"
	case m.opts.Live:
		state = st.OK.Render("LIVE")
	default:
		state = "READING"
	}
	drops := "drops n/a"
	if s.Drops >= 0 {
		drops = fmt.Sprintf("drops %d", s.Drops)
		if s.Drops > 0 {
			drops = st.Warning.Render(drops)
		}
	}
	var stats string
	if m.opts.Live {
		stats = fmt.Sprintf(" │ %d pkts │ %.0f/s │ %s │ %s │ %s", s.Packets, s.Rate, drops, common.Clock(s.Elapsed), state)
	} else {
		// A file's read rate says nothing; the time it spans does.
		span := "-"
		if r := s.Report; r != nil && !r.Summary.Start.IsZero() {
			span = common.Seconds(r.Summary.End.Sub(r.Summary.Start).Seconds())
		}
		stats = fmt.Sprintf(" │ %d pkts │ %s captured │ %s │ %s", s.Packets, span, drops, state)
	}
	room := m.Width - ansi.StringWidth(stats) - len("fwdiag ")
	return st.Header.Render("fwdiag ") + common.Truncate(m.opts.Source, max(room, 8)) + stats
}

func (m *Model) verdictLine() string {
	st := m.Styles
	r := m.snap.Report
	if r == nil {
		return st.Dim.Render(common.Truncate("waiting for the first packets…", m.Width))
	}
	v := r.Summary.Verdict
	cls := ""
	switch {
	case strings.HasPrefix(v, "CRITICAL"):
		cls = "critical"
	case strings.HasPrefix(v, "WARNING"):
		cls = "warning"
	case strings.HasPrefix(v, "OK"):
		cls = "ok"
	}
	return st.Class(cls).Bold(true).Render(common.Truncate(v, m.Width))
}

func (m *Model) tabsLine() string {
	st := m.Styles
	var parts []string
	for i, p := range m.panes {
		label := fmt.Sprintf("%d %s %d", i+1, p.name, countOf(m.snap.Report, i))
		if p.table.Filter() != "" || p.table.Only() != "" {
			label = fmt.Sprintf("%d %s %d/%d", i+1, p.name, p.table.Shown(), p.table.Len())
		}
		if i == m.focus {
			parts = append(parts, st.TabActive.Render("["+label+"]"))
		} else {
			parts = append(parts, st.Tab.Render(" "+label+" "))
		}
	}
	return strings.Join(parts, " ")
}

// preview shows the selected finding's summary under the findings list.
func (m *Model) preview() string {
	n := m.previewLines()
	r := m.snap.Report
	row, ok := m.panes[paneFindings].table.Selected()
	sep := m.Styles.Dim.Render(strings.Repeat("─", m.Width))
	if n <= 0 {
		return ""
	}
	if !ok || r == nil || row.Index >= len(r.Findings) {
		return sep + strings.Repeat("\n", n-1)
	}
	f := r.Findings[row.Index]
	text := strings.Split(common.Wrap(f.Summary, m.Width, "  "), "\n")
	sev := len(text)
	if f.Detail != "" {
		text = append(text, "")
		text = append(text, strings.Split(common.Wrap(f.Detail, m.Width, "  "), "\n")...)
	}
	if f.Recommendation != "" && len(text)+4 < n {
		// Tall terminals have room for the fix too.
		text = append(text, "")
		text = append(text, strings.Split(common.Wrap("Fix: "+f.Recommendation, m.Width, "  "), "\n")...)
	}
	text = append(text, "", m.Styles.Dim.Render("  enter: the fix, evidence frames and Wireshark filter; enter again: its rows"))
	if len(text) > n-1 {
		text = text[:max(n-1, 0)]
		if n >= 2 {
			text[n-2] = common.Truncate(text[n-2], m.Width-2) + " …"
		}
	}
	for i := range text {
		if i < sev {
			text[i] = m.Styles.Class(string(f.Severity)).Render(text[i])
		}
	}
	for len(text) < n-1 {
		text = append(text, "")
	}
	return sep + "\n" + strings.Join(text, "\n")
}

func (m *Model) statusLine() string {
	st := m.Styles
	t := m.panes[m.focus].table
	switch {
	case m.filtering:
		return common.Truncate("/"+m.input+"█  (search every field; enter keep, esc clear)", m.Width)
	case m.status != "":
		return st.Class(m.statusCls).Render(common.Truncate(m.status, m.Width))
	case m.mode == modeList && t.Only() != "":
		msg := fmt.Sprintf("%s: %d of %d rows (esc shows every row)", t.Only(), t.Shown(), t.Len())
		if t.Filter() != "" {
			msg = fmt.Sprintf("%s matching %q: %d of %d rows (esc shows every row)", t.Only(), t.Filter(), t.Shown(), t.Len())
		}
		return st.Dim.Render(common.Truncate(msg, m.Width))
	case m.mode == modeList && t.Filter() != "":
		return st.Dim.Render(common.Truncate(fmt.Sprintf("search %q: %d of %d rows (/ edit, esc clear)", t.Filter(), t.Shown(), t.Len()), m.Width))
	case m.mode == modeList && m.paused && m.pending != nil:
		return st.Warning.Render(common.Truncate("paused: newer data waiting (p resumes)", m.Width))
	}
	return ""
}

// keyHint is one key of the keys line; the least important (highest
// drop) go first when the line is too narrow.
type keyHint struct {
	text string
	drop int
}

// fitKeys joins the hints that fit in w cells, dropping the least
// important first and keeping the order.
func fitKeys(hints []keyHint, w int) string {
	for {
		parts := make([]string, 0, len(hints))
		worst := -1
		for i, h := range hints {
			parts = append(parts, h.text)
			if worst < 0 || h.drop > hints[worst].drop {
				worst = i
			}
		}
		s := strings.Join(parts, "  ")
		if ansi.StringWidth(s) <= w || len(hints) <= 1 || hints[worst].drop == 0 {
			return common.Truncate(s, w)
		}
		hints = append(hints[:worst:worst], hints[worst+1:]...)
	}
}

func (m *Model) keysLine() string {
	if m.clipNote != "" {
		// What became of the clipboard, under the file's path.
		st := m.Styles.Warning
		if m.clipOK {
			st = m.Styles.OK
		}
		note := m.clipNote + "  esc back"
		if ansi.StringWidth(note) > m.Width {
			note = m.clipNote
		}
		return st.Render(common.Truncate(note, m.Width))
	}
	pause := 6
	if m.opts.Live {
		pause = 3
	}
	var hints []keyHint
	switch {
	case m.mode == modeDetail:
		scroll := "j/k scroll"
		if m.detail.Scrollable() {
			scroll = "j/k more below"
		}
		hints = []keyHint{{"esc back", 0}}
		if m.detailF != nil {
			hints = append(hints, keyHint{"enter its rows", 0})
		}
		hints = append(hints, keyHint{scroll, 1})
		if m.detailF != nil {
			hints = append(hints, keyHint{"y filter", 2}, keyHint{"w open", 2}, keyHint{"f fix", 3})
		}
		hints = append(hints, keyHint{"s save", 5}, keyHint{"p pause", pause}, keyHint{"? help", 0}, keyHint{"q quit", 0})
	case m.mode == modeHelp:
		hints = []keyHint{{"esc back", 0}, {"q quit", 0}}
	default:
		hints = []keyHint{{"tab pane", 1}, {"j/k move", 4}, {"enter detail", 0}, {"/ search", 1}, {"o/O sort", 2}}
		if m.focus == paneFindings {
			hints = append(hints, keyHint{"y filter", 3}, keyHint{"w open", 3}, keyHint{"f fix", 4})
		}
		hints = append(hints, keyHint{"p pause", pause}, keyHint{"s save", 5}, keyHint{"? help", 0}, keyHint{"q quit", 0})
	}
	return m.Styles.Dim.Render(fitKeys(hints, m.Width))
}

func (m *Model) helpView() string {
	km := m.KeyMap
	var b strings.Builder
	b.WriteString(m.Styles.Bold.Render("Keys") + "\n")
	for _, k := range []struct{ keys, what string }{
		{"tab / shift+tab, 1-5", "next / previous pane, or jump to a pane"},
		{km.Down.Help().Key + " " + km.Up.Help().Key + " pgdn pgup g G", "move, page, top / bottom"},
		{"enter", "details of the row; in a finding's: the finding's rows"},
		{"esc", "back; in a list, every row again (after a jump or /)"},
		{"/", "search every field of the rows, shown or not"},
		{"o / O", "sort by the next column / reverse (↑↓ in the titles)"},
		{"y, c", "write a finding's Wireshark filter to a file, copy it"},
		{"w / f", "open its evidence (termshark, Wireshark) / its fix"},
		{"p", "pause: hold the screen still while data keeps coming"},
		{"s", "save the report to " + m.SavePath()},
		{"?  q, ctrl+c", "this help;  quit (live: stops, writes --json)"},
	} {
		b.WriteString("  " + common.Pad(k.keys, 22) + k.what + "\n")
	}
	b.WriteString("\n" + m.Styles.Bold.Render("Marks and colours") + "\n")
	b.WriteString("  " + m.Styles.Critical.Render("✗ critical") + "  blocked, missing or dropped traffic\n")
	b.WriteString("  " + m.Styles.Warning.Render("! warning") + "   at risk, or only partly working\n")
	b.WriteString("  " + m.Styles.OK.Render("✓ ok") + "        working as the products need\n")
	b.WriteString("  " + m.Styles.Info.Render("· info") + "      for the record\n")
	b.WriteString("Bars: idle time (NPA) or silence (UDP) against the timeout; \"!\" past it.")
	return b.String()
}
