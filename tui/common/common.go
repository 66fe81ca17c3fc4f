// Package common holds what every TUI component shares: the terminal size,
// the styles and the key map. The root model owns one Common and hands each
// component a copy of it; the styles and key map are read-only after New.
package common

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// Common is the shared context of the components.
type Common struct {
	Width, Height int
	Styles        *Styles
	KeyMap        *KeyMap
}

// New returns a Common whose styles are rendered by r (tests pass a
// renderer pinned to plain ASCII so screens are stable).
func New(r *lipgloss.Renderer) Common {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	return Common{Styles: NewStyles(r), KeyMap: DefaultKeyMap()}
}

// SetSize records the space a component may draw in.
func (c *Common) SetSize(w, h int) { c.Width, c.Height = w, h }

// Styles are the few styles the UI uses. Colour always means something:
// red critical, yellow warning, green healthy, dim for info and chrome.
type Styles struct {
	Critical, Warning, Info, OK lipgloss.Style
	Title, Dim, Bold            lipgloss.Style
	Selected                    lipgloss.Style
	TabActive, Tab              lipgloss.Style
	Header                      lipgloss.Style
	Error                       lipgloss.Style
}

// NewStyles builds the styles for renderer r.
func NewStyles(r *lipgloss.Renderer) *Styles {
	return &Styles{
		Critical:  r.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		Warning:   r.NewStyle().Foreground(lipgloss.Color("11")),
		Info:      r.NewStyle().Faint(true),
		OK:        r.NewStyle().Foreground(lipgloss.Color("10")),
		Title:     r.NewStyle().Bold(true),
		Dim:       r.NewStyle().Faint(true),
		Bold:      r.NewStyle().Bold(true),
		Selected:  r.NewStyle().Reverse(true),
		TabActive: r.NewStyle().Bold(true).Underline(true),
		Tab:       r.NewStyle().Faint(true),
		Header:    r.NewStyle().Bold(true),
		Error:     r.NewStyle().Foreground(lipgloss.Color("9")),
	}
}

// Class returns the style for a meaning class: "critical", "warning",
// "info", "ok"; anything else is unstyled.
func (s *Styles) Class(class string) lipgloss.Style {
	switch class {
	case "critical":
		return s.Critical
	case "warning":
		return s.Warning
	case "info":
		return s.Info
	case "ok":
		return s.OK
	}
	return lipgloss.NewStyle()
}

// KeyMap lists every key binding, so help and handling agree.
type KeyMap struct {
	NextPane, PrevPane key.Binding
	Up, Down           key.Binding
	PageUp, PageDown   key.Binding
	Top, Bottom        key.Binding
	Enter, Back        key.Binding
	Filter             key.Binding
	Sort, Reverse      key.Binding
	Pause, Save        key.Binding
	Copy, Open         key.Binding
	Fix                key.Binding
	Help, Quit         key.Binding
}

// DefaultKeyMap returns the key bindings: vim keys and arrows, as in
// termshark.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("k/↑", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("j/↓", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "ctrl+d", " "), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "detail")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace", "h", "left"), key.WithHelp("esc", "back")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
		Sort:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort by the next column")),
		Reverse:  key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "reverse the sort")),
		Pause:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Save:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save JSON")),
		Copy:     key.NewBinding(key.WithKeys("y", "c"), key.WithHelp("y", "filter to a file and the clipboard")),
		Open:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "open the evidence in termshark or Wireshark")),
		Fix:      key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "the fix in the firewall's own language")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}
