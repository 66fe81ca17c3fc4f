package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func TestViewDoesNotPanic(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {40, 10}, {20, 5}} {
		m := newTestModel(t, sz[0], sz[1])
		for i := 0; i < numPanes; i++ {
			v := m.View()
			if n := strings.Count(v, "\n") + 1; n != sz[1] {
				t.Errorf("%dx%d pane %d: got %d lines; want %d", sz[0], sz[1], i, n, sz[1])
			}
			press(m, "enter")
			_ = m.View()
			press(m, "esc", "tab")
		}
	}
}

func TestSnapshotBeforeSize(t *testing.T) {
	m := New(Options{Source: "x", Renderer: asciiRenderer()})
	m.Update(labSnapshot(t))
	_ = m.View()
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	_ = m.View()
}

func TestSizeBeforeSnapshot(t *testing.T) {
	m := New(Options{Source: "x", Renderer: asciiRenderer()})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View(); !strings.Contains(v, "waiting for the first packets") {
		t.Errorf("got screen\n%s\nwant the waiting message", v)
	}
}
