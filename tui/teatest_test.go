package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
)

// screen runs the program at w x h over the lab report, presses keys, quits
// and returns the last screen with trailing blanks trimmed.
func screen(t *testing.T, w, h int, keys ...string) string {
	t.Helper()
	snap := labSnapshot(t)
	m := New(Options{Source: "client.pcap", Renderer: asciiRenderer(), Now: fixedNow})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	tm.Send(snap)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("npa_notification_missing"))
	}, teatest.WithDuration(5*time.Second))
	for _, k := range keys {
		switch k {
		case "tab":
			tm.Send(tea.KeyMsg{Type: tea.KeyTab})
		case "enter":
			tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		default:
			tm.Type(k)
		}
	}
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	lines := strings.Split(final.View(), "\n")
	if len(lines) != h {
		t.Errorf("got %d lines; want %d", len(lines), h)
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// The goldens depend on the lab capture and on the wording of findings;
// regenerate them with `go test ./tui -run Golden -update` when either
// changes on purpose. The content checks below hold across rewording.

func TestGolden80x24(t *testing.T) {
	s := screen(t, 80, 24)
	checkContent(t, s, "npa_notification_missing", "198.51.100.10", "CRITICAL", "1 Findings 3")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden120x40(t *testing.T) {
	s := screen(t, 120, 40)
	checkContent(t, s, "npa_notification_missing", "198.51.100.10", "192.0.2.130")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden80x24Services(t *testing.T) {
	s := screen(t, 80, 24, "tab")
	checkContent(t, s, "[2 Services 2]", "5001/tcp", "sw-binary", "partial", "listening")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden80x24Detail(t *testing.T) {
	s := screen(t, 80, 24, "j", "enter")
	checkContent(t, s, "F2", "npa_notification_missing", "What", "Seen", "esc back")
	golden.RequireEqual(t, []byte(s))
}

func checkContent(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("screen lacks %q:\n%s", w, s)
		}
	}
}
