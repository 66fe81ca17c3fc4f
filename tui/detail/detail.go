// Package detail is the scrolling full-screen view of one item: a finding
// with its explanation, fix, evidence frames and Wireshark filter, or a
// table row with every field. Its content is plain text built by the root
// model from the report; it keeps no reference to the report.
package detail

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/fwdiag/fwdiag/tui/common"
)

// Section is one titled block of the detail view.
type Section struct {
	Title string
	Body  string
	Class string // colours the body: "critical", "warning", ...
	// Whole wraps the body breaking words wider than the screen too, so
	// none of it is cut: a Wireshark filter is shown whole.
	Whole bool
	// Pre keeps the body's lines and their indentation (configuration
	// lines to paste); a line wider than the screen continues on the next
	// one, indented, rather than being cut.
	Pre bool
}

// Model is the detail view.
type Model struct {
	common.Common
	vp       viewport.Model
	title    string
	class    string
	sections []Section
}

// New returns an empty detail view.
func New(c common.Common) *Model {
	return &Model{Common: c, vp: viewport.New(c.Width, max(c.Height-1, 1))}
}

// SetSize resizes the view and rewraps its text.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	m.vp.Width, m.vp.Height = w, max(h-1, 1)
	m.render()
}

// SetContent shows a new item from its top.
func (m *Model) SetContent(title, class string, sections []Section) {
	m.title, m.class, m.sections = title, class, sections
	m.render()
	m.vp.GotoTop()
}

// Title returns the item's title.
func (m *Model) Title() string { return m.title }

func (m *Model) render() {
	st := m.Styles
	var b strings.Builder
	for i, s := range m.sections {
		if i > 0 {
			b.WriteString("\n\n")
		}
		if s.Title != "" {
			b.WriteString(st.Bold.Render(s.Title) + "\n")
		}
		var body string
		switch {
		case s.Pre:
			body = common.Hard(s.Body, m.Width, "  ")
		case s.Whole:
			body = common.WrapAll(s.Body, m.Width, "  ")
		default:
			body = common.Wrap(s.Body, m.Width, "  ")
		}
		if s.Class != "" {
			body = st.Class(s.Class).Render(body)
		}
		b.WriteString(body)
	}
	m.vp.SetContent(b.String())
}

// Update scrolls.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyMsg); ok {
		km := m.KeyMap
		switch {
		case key.Matches(k, km.Up):
			m.vp.ScrollUp(1)
		case key.Matches(k, km.Down):
			m.vp.ScrollDown(1)
		case key.Matches(k, km.PageUp):
			m.vp.HalfPageUp()
		case key.Matches(k, km.PageDown):
			m.vp.HalfPageDown()
		case key.Matches(k, km.Top):
			m.vp.GotoTop()
		case key.Matches(k, km.Bottom):
			m.vp.GotoBottom()
		}
	}
	return m, nil
}

// View draws the title line and the text.
func (m *Model) View() string {
	title := m.Styles.Class(m.class).Bold(true).Render(common.Truncate(m.title, m.Width))
	if m.class == "" {
		title = m.Styles.Bold.Render(common.Truncate(m.title, m.Width))
	}
	return title + "\n" + m.vp.View()
}

// Scrollable reports whether there is more text below.
func (m *Model) Scrollable() bool { return !m.vp.AtBottom() }
