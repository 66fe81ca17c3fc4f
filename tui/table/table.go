// Package table is a scrolling, filterable list of rows with a cursor: every
// pane of the TUI is one. Rows are rebuilt from each report snapshot; the
// cursor follows its row's key across snapshots, so a live update never
// moves the selection under the user.
package table

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/fwdiag/fwdiag/tui/common"
)

// Column is one column: a fixed width, or Flex to share what is left.
type Column struct {
	Title string
	Width int  // cells; the minimum for a Flex column
	Flex  bool // takes the remaining width (shared equally among Flex columns)
}

// Row is one line. Key identifies it across snapshots; Class colours it
// ("critical", "warning", "info", "ok" or ""); ClassCol, when >= 0, limits
// the colour to that column.
type Row struct {
	Key      string
	Cells    []string
	Class    string
	ClassCol int
	// Index is the row's position in the report's table it was built from.
	Index int
}

// Model is the table component.
type Model struct {
	common.Common
	cols     []Column
	rows     []Row
	visible  []int // indexes into rows passing the filter
	cursor   int   // index into visible
	offset   int   // first visible row drawn
	filter   string
	emptyMsg string
}

// New returns an empty table with the given columns. empty is shown when
// there is no row.
func New(c common.Common, cols []Column, empty string) *Model {
	return &Model{Common: c, cols: cols, emptyMsg: empty}
}

// SetSize sets the drawing area; the first line holds the column titles.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	m.clamp()
}

// SetRows replaces the rows, keeping the cursor on the row with the same
// key when it still exists.
func (m *Model) SetRows(rows []Row) {
	cur := ""
	if r, ok := m.Selected(); ok {
		cur = r.Key
	}
	m.rows = rows
	m.apply()
	if cur != "" {
		for i, vi := range m.visible {
			if m.rows[vi].Key == cur {
				m.cursor = i
				break
			}
		}
	}
	m.clamp()
}

// SetFilter keeps only the rows whose text contains f (case-insensitive).
func (m *Model) SetFilter(f string) {
	m.filter = f
	m.apply()
	m.clamp()
}

// Filter returns the current filter text.
func (m *Model) Filter() string { return m.filter }

// Len is the number of rows; Shown the number passing the filter.
func (m *Model) Len() int   { return len(m.rows) }
func (m *Model) Shown() int { return len(m.visible) }

// Cursor returns the cursor's position among the shown rows.
func (m *Model) Cursor() int { return m.cursor }

func (m *Model) apply() {
	m.visible = m.visible[:0]
	f := strings.ToLower(m.filter)
	for i, r := range m.rows {
		if f == "" || strings.Contains(strings.ToLower(strings.Join(r.Cells, " ")), f) {
			m.visible = append(m.visible, i)
		}
	}
}

// Selected returns the row under the cursor.
func (m *Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.visible) {
		return Row{}, false
	}
	return m.rows[m.visible[m.cursor]], true
}

func (m *Model) bodyHeight() int { return max(m.Height-1, 1) }

func (m *Model) clamp() {
	if m.cursor >= len(m.visible) {
		m.cursor = len(m.visible) - 1
	}
	if m.cursor < 0 {
		m.cursor = 0
	}
	h := m.bodyHeight()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+h {
		m.offset = m.cursor - h + 1
	}
	if m.offset > max(len(m.visible)-h, 0) {
		m.offset = max(len(m.visible)-h, 0)
	}
}

// Update moves the cursor.
func (m *Model) Update(msg tea.Msg) (*Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	km := m.KeyMap
	switch {
	case key.Matches(k, km.Up):
		m.cursor--
	case key.Matches(k, km.Down):
		m.cursor++
	case key.Matches(k, km.PageUp):
		m.cursor -= m.bodyHeight()
	case key.Matches(k, km.PageDown):
		m.cursor += m.bodyHeight()
	case key.Matches(k, km.Top):
		m.cursor = 0
	case key.Matches(k, km.Bottom):
		m.cursor = len(m.visible) - 1
	}
	m.clamp()
	return m, nil
}

// widths lays the columns out in w cells, one space between columns and
// two cells for the cursor mark.
func (m *Model) widths(w int) []int {
	ws := make([]int, len(m.cols))
	used, flex := 2, 0
	for i, c := range m.cols {
		ws[i] = c.Width
		used += c.Width
		if i > 0 {
			used++
		}
		if c.Flex {
			flex++
		}
	}
	if flex > 0 && w > used {
		extra := (w - used) / flex
		for i, c := range m.cols {
			if c.Flex {
				ws[i] += extra
			}
		}
	}
	return ws
}

func (m *Model) line(cells []string, ws []int) []string {
	out := make([]string, len(ws))
	for i := range ws {
		s := ""
		if i < len(cells) {
			s = cells[i]
		}
		out[i] = common.Pad(s, ws[i])
	}
	return out
}

// View draws the title line and the visible rows, padded to the height.
func (m *Model) View() string {
	st := m.Styles
	ws := m.widths(m.Width)
	var b strings.Builder
	titles := make([]string, len(m.cols))
	for i, c := range m.cols {
		titles[i] = c.Title
	}
	b.WriteString(common.Truncate(st.Dim.Render("  "+strings.Join(m.line(titles, ws), " ")), m.Width))
	lines := 1
	if len(m.visible) == 0 {
		msg := m.emptyMsg
		if m.filter != "" && len(m.rows) > 0 {
			msg = "no row matches the filter \"" + m.filter + "\""
		}
		b.WriteString("\n" + st.Dim.Render(common.Truncate("  "+msg, m.Width)))
		lines++
	}
	h := m.bodyHeight()
	for i := m.offset; i < len(m.visible) && i < m.offset+h; i++ {
		r := m.rows[m.visible[i]]
		cells := m.line(r.Cells, ws)
		if r.Class != "" {
			style := st.Class(r.Class)
			if r.ClassCol >= 0 && r.ClassCol < len(cells) {
				cells[r.ClassCol] = style.Render(cells[r.ClassCol])
			} else {
				for j := range cells {
					cells[j] = style.Render(cells[j])
				}
			}
		}
		mark := "  "
		text := strings.Join(cells, " ")
		if i == m.cursor {
			mark = "▸ "
			text = st.Selected.Render(strings.Join(m.line(r.Cells, ws), " "))
		}
		b.WriteString("\n" + common.Truncate(mark+text, m.Width))
		lines++
	}
	for ; lines < m.Height; lines++ {
		b.WriteString("\n")
	}
	return b.String()
}
