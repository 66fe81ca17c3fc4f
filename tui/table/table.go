// Package table is a scrolling, searchable, sortable list of rows with a
// cursor: every pane of the TUI is one. Rows are rebuilt from each report
// snapshot; the cursor follows its row's key across snapshots, so a live
// update never moves the selection under the user; a new sort puts it on
// the first row.
//
// Columns are laid out from their content: a number takes the width of its
// widest cell at every screen size and is never cut; the text columns share
// what is left and are the ones cut with "…".
package table

import (
	"cmp"
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/fwdiag/fwdiag/tui/common"
)

// Column is one column.
//
// A Numeric column (a count, a duration, a bar) is as wide as its widest
// cell and never cut. A Flex column is text that shares the width the
// others leave, up to its widest cell, and is cut first; Width is what it
// keeps before the other text columns are cut. Any other column is text as
// wide as its widest cell (a kind, a status), cut down to Width only when
// the flex columns are already at theirs.
type Column struct {
	Title   string
	Width   int
	Flex    bool
	Numeric bool
	// Right aligns the cells on their last character (numbers).
	Right bool
	// Mid cuts the cells in the middle rather than at the end: an address
	// keeps its last groups and its port.
	Mid bool
	// ByNum sorts the column by the row's Nums rather than by its text
	// (Numeric columns always do when the row has Nums).
	ByNum bool
}

// Row is one line. Key identifies it across snapshots; Class colours it
// ("critical", "warning", "info", "ok" or "") and puts its mark (✗ ! · ✓)
// in front of it; ClassCol, when >= 0, limits the colour to that column.
type Row struct {
	Key      string
	Cells    []string
	Class    string
	ClassCol int
	// Index is the row's position in the report's table it was built from.
	Index int
	// Nums are the values the columns sort by, one per column, for
	// Numeric and ByNum columns (a duration rather than its words).
	Nums []float64
	// Search is more text the search matches: every field of the row,
	// shown in a column or not.
	Search string
}

// NoSort is the sort column of the report's order.
const NoSort = -1

// Model is the table component.
type Model struct {
	common.Common
	cols     []Column
	rows     []Row
	hay      []string // each row's searchable text, lower case
	natural  []int    // each column's widest cell
	visible  []int    // indexes into rows passing the filters, in order
	cursor   int      // index into visible
	offset   int      // first visible row drawn
	filter   string
	only     func(Row) bool // a jump's selection; nil for all rows
	onlyName string
	sortCol  int
	sortDesc bool
	emptyMsg string
}

// New returns an empty table with the given columns. empty is shown when
// there is no row.
func New(c common.Common, cols []Column, empty string) *Model {
	return &Model{Common: c, cols: cols, emptyMsg: empty, sortCol: NoSort, natural: make([]int, len(cols))}
}

// SetSize sets the drawing area; the first line holds the column titles.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	m.clamp()
}

// Columns returns the columns.
func (m *Model) Columns() []Column { return m.cols }

// SetRows replaces the rows, keeping the cursor on the row with the same
// key when it still exists.
func (m *Model) SetRows(rows []Row) {
	m.keepCursor(func() {
		m.rows = rows
		m.hay = make([]string, len(rows))
		clear(m.natural)
		for i, r := range rows {
			m.hay[i] = strings.ToLower(strings.Join(r.Cells, " ") + " " + r.Search)
			for j, c := range r.Cells {
				if j < len(m.natural) {
					m.natural[j] = max(m.natural[j], ansi.StringWidth(c))
				}
			}
		}
	})
}

// keepCursor runs change and puts the cursor back on the row it was on.
func (m *Model) keepCursor(change func()) {
	cur := ""
	if r, ok := m.Selected(); ok {
		cur = r.Key
	}
	change()
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

// SetFilter keeps only the rows whose text contains f (case-insensitive):
// any field of the row, not only the columns shown.
func (m *Model) SetFilter(f string) {
	m.filter = f
	m.apply()
	m.clamp()
}

// Filter returns the current filter text.
func (m *Model) Filter() string { return m.filter }

// SetOnly keeps only the rows match accepts, under a name for the status
// line ("the rows of F2"), and puts the cursor on the first; a nil match
// shows every row again.
func (m *Model) SetOnly(name string, match func(Row) bool) {
	m.only, m.onlyName = match, name
	if match == nil {
		m.onlyName = ""
	}
	m.cursor, m.offset = 0, 0
	m.apply()
	m.clamp()
}

// Only names the selection SetOnly made; "" when every row shows.
func (m *Model) Only() string { return m.onlyName }

// Count returns how many rows match would keep.
func (m *Model) Count(match func(Row) bool) int {
	n := 0
	for _, r := range m.rows {
		if match(r) {
			n++
		}
	}
	return n
}

// CycleSort sorts by the next column, and after the last one goes back to
// the report's order. Numbers sort largest first, text from A. The cursor
// goes to the top, where the sort puts what it was asked for.
func (m *Model) CycleSort() {
	m.sortCol++
	if m.sortCol >= len(m.cols) {
		m.sortCol = NoSort
	}
	m.sortDesc = false
	if m.sortCol != NoSort {
		c := m.cols[m.sortCol]
		m.sortDesc = c.Numeric || c.ByNum
	}
	m.toTop()
}

// ReverseSort reverses the sort, the cursor at the top; it reports false
// when the rows are in the report's order, which has no reverse.
func (m *Model) ReverseSort() bool {
	if m.sortCol == NoSort {
		return false
	}
	m.sortDesc = !m.sortDesc
	m.toTop()
	return true
}

func (m *Model) toTop() {
	m.apply()
	m.cursor, m.offset = 0, 0
	m.clamp()
}

// Sort returns the sort column (NoSort for the report's order) and whether
// it is descending.
func (m *Model) Sort() (col int, desc bool) { return m.sortCol, m.sortDesc }

// SortName says how the rows are sorted: "CONN ↓" or "report order".
func (m *Model) SortName() string {
	if m.sortCol == NoSort {
		return "report order"
	}
	return m.cols[m.sortCol].Title + " " + m.arrow()
}

func (m *Model) arrow() string {
	if m.sortDesc {
		return "↓"
	}
	return "↑"
}

// Len is the number of rows; Shown the number passing the filters.
func (m *Model) Len() int   { return len(m.rows) }
func (m *Model) Shown() int { return len(m.visible) }

// Cursor returns the cursor's position among the shown rows.
func (m *Model) Cursor() int { return m.cursor }

func (m *Model) apply() {
	m.visible = m.visible[:0]
	f := strings.ToLower(m.filter)
	for i, r := range m.rows {
		if (f == "" || strings.Contains(m.hay[i], f)) && (m.only == nil || m.only(r)) {
			m.visible = append(m.visible, i)
		}
	}
	if c := m.sortCol; c != NoSort {
		byNum := m.cols[c].Numeric || m.cols[c].ByNum
		slices.SortStableFunc(m.visible, func(a, b int) int {
			ra, rb := &m.rows[a], &m.rows[b]
			var o int
			if byNum && c < len(ra.Nums) && c < len(rb.Nums) {
				o = cmp.Compare(ra.Nums[c], rb.Nums[c])
			} else {
				o = Natural(cell(ra, c), cell(rb, c))
			}
			if m.sortDesc {
				o = -o
			}
			return o
		})
	}
}

func cell(r *Row, i int) string {
	if i < len(r.Cells) {
		return r.Cells[i]
	}
	return ""
}

// Natural compares text the way people read it: runs of digits by their
// value, so 192.0.2.9 comes before 192.0.2.10; letters regardless of case.
func Natural(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na := strings.TrimLeft(a[:da], "0")
			nb := strings.TrimLeft(b[:db], "0")
			if o := cmp.Compare(len(na), len(nb)); o != 0 {
				return o
			}
			if o := strings.Compare(na, nb); o != 0 {
				return o
			}
			a, b = a[da:], b[db:]
			continue
		}
		ca, cb := lower(a[0]), lower(b[0])
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Selected returns the row under the cursor.
func (m *Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.visible) {
		return Row{}, false
	}
	return m.rows[m.visible[m.cursor]], true
}

// Drawn returns the rows on screen, top to bottom.
func (m *Model) Drawn() []Row {
	var out []Row
	for i := m.offset; i < len(m.visible) && i < m.offset+m.bodyHeight(); i++ {
		out = append(out, m.rows[m.visible[i]])
	}
	return out
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

// gutter is the cells before the first column: the cursor, the row's mark
// and a space.
const gutter = 3

// titles returns the column titles, the sort column's with its arrow.
func (m *Model) titles() []string {
	t := make([]string, len(m.cols))
	for i, c := range m.cols {
		t[i] = c.Title
		if i == m.sortCol {
			t[i] += m.arrow()
		}
	}
	return t
}

// Widths lays the columns out in w cells, one space between columns.
// Numeric columns get their widest cell whatever w is; the flex columns
// share what is left, none wider than its widest cell; when that is less
// than their Width, the other text columns give up room down to their
// Width, then the flex columns go below theirs.
func (m *Model) Widths(w int) []int {
	titles := m.titles()
	n := len(m.cols)
	ws := make([]int, n)
	want := make([]int, n)
	for i := range m.cols {
		want[i] = max(m.natural[i], ansi.StringWidth(titles[i]))
	}
	room := w - gutter - max(n-1, 0)
	var flex []int
	for i, c := range m.cols {
		if c.Flex {
			flex = append(flex, i)
			continue
		}
		ws[i] = want[i]
		room -= ws[i]
	}
	floor := func(i int) int { return min(max(m.cols[i].Width, 1), want[i]) }
	need := 0
	for _, i := range flex {
		need += floor(i)
	}
	// Text columns of fixed content give up room for the flex columns'
	// least widths.
	for i, c := range m.cols {
		if room >= need {
			break
		}
		if c.Flex || c.Numeric {
			continue
		}
		give := min(ws[i]-floor(i), need-room)
		if give > 0 {
			ws[i] -= give
			room += give
		}
	}
	// Share the room among the flex columns, the narrowest wants first so
	// what one does not use goes to the others.
	slices.SortStableFunc(flex, func(a, b int) int { return cmp.Compare(want[a], want[b]) })
	for k, i := range flex {
		share := room / (len(flex) - k)
		ws[i] = max(min(want[i], share), 1)
		room -= ws[i]
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
		switch {
		case m.cols[i].Right:
			out[i] = common.PadLeft(s, ws[i])
		case m.cols[i].Mid:
			out[i] = common.Pad(common.TruncateMiddle(s, ws[i]), ws[i])
		default:
			out[i] = common.Pad(s, ws[i])
		}
	}
	return out
}

// View draws the title line and the visible rows, padded to the height.
func (m *Model) View() string {
	st := m.Styles
	ws := m.Widths(m.Width)
	var b strings.Builder
	b.WriteString(st.Dim.Render(common.Truncate(strings.Repeat(" ", gutter)+strings.TrimRight(strings.Join(m.line(m.titles(), ws), " "), " "), m.Width)))
	lines := 1
	if len(m.visible) == 0 {
		msg := m.emptyMsg
		switch {
		case m.only != nil && len(m.rows) > 0:
			msg = "none of " + m.onlyName + " in this pane (esc shows every row)"
		case m.filter != "" && len(m.rows) > 0:
			msg = "no row matches the search \"" + m.filter + "\""
		}
		b.WriteString("\n" + st.Dim.Render(common.Truncate(strings.Repeat(" ", gutter)+msg, m.Width)))
		lines++
	}
	h := m.bodyHeight()
	for i := m.offset; i < len(m.visible) && i < m.offset+h; i++ {
		r := m.rows[m.visible[i]]
		cells := m.line(r.Cells, ws)
		mark := common.Mark(r.Class)
		if r.Class != "" {
			style := st.Class(r.Class)
			mark = style.Render(mark)
			if r.ClassCol >= 0 && r.ClassCol < len(cells) {
				cells[r.ClassCol] = style.Render(cells[r.ClassCol])
			} else {
				for j := range cells {
					cells[j] = style.Render(cells[j])
				}
			}
		}
		cur := " "
		text := strings.Join(cells, " ")
		if i == m.cursor {
			cur = "▸"
			text = st.Selected.Render(strings.Join(m.line(r.Cells, ws), " "))
		}
		b.WriteString("\n" + common.Truncate(cur+mark+" "+text, m.Width))
		lines++
	}
	for ; lines < m.Height; lines++ {
		b.WriteString("\n")
	}
	return b.String()
}
