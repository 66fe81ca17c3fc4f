package tui

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// TestMain keeps the tests off the machine's programs: no viewer is
// installed and there is no tmux server to ask, unless a test says so.
func TestMain(m *testing.M) {
	lookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	tmuxOption = func(string) (string, error) { return "", errors.New("no tmux in tests") }
	os.Exit(m.Run())
}

const labCapture = "../pcaps/captures/mixed-rejects/client.pcap"

var (
	labOnce   sync.Once
	labReport *report.Report
	labErr    error
)

// labSnapshot analyses the npa-blocked lab capture once per test binary.
func labSnapshot(t testing.TB) SnapshotMsg {
	t.Helper()
	labOnce.Do(func() {
		labReport, labErr = pipeline.AnalyzeFiles([]string{labCapture}, pipeline.Options{}, "test")
	})
	if labErr != nil {
		t.Skipf("lab capture unavailable: %v", labErr)
	}
	return SnapshotMsg{Report: labReport, Packets: labReport.Summary.Packets, Drops: -1, Elapsed: 2 * time.Second, Done: true}
}

// asciiRenderer renders without colour or attributes, so screens compare
// as plain text.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func fixedNow() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) }

// newTestModel returns a model of size w x h showing the lab report.
func newTestModel(t testing.TB, w, h int) *Model {
	m := New(Options{Source: "client.pcap", Renderer: asciiRenderer(), Now: fixedNow})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(labSnapshot(t))
	return m
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "shift+tab":
			msg = tea.KeyMsg{Type: tea.KeyShiftTab}
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "up":
			msg = tea.KeyMsg{Type: tea.KeyUp}
		case "backspace":
			msg = tea.KeyMsg{Type: tea.KeyBackspace}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		m.Update(msg)
	}
}
