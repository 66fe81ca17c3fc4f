package tui

import (
	"bytes"
	"fmt"
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
	return screenOf(t, labSnapshot(t), "client.pcap", "rst_injected", w, h, keys...)
}

// screenOf runs the program at w x h over snap, waits for want on the
// screen, presses keys, quits and returns the last screen with trailing
// blanks trimmed. The renderer is pinned to the ASCII profile: no colour.
func screenOf(t *testing.T, snap SnapshotMsg, source, want string, w, h int, keys ...string) string {
	t.Helper()
	m := New(Options{Source: source, Renderer: asciiRenderer(), Now: fixedNow})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	tm.Send(snap)
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte(want))
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
	checkContent(t, s, "rst_injected", "198.51.100.10", "CRITICAL", "1 Findings 6")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden120x40(t *testing.T) {
	s := screen(t, 120, 40)
	checkContent(t, s, "rst_injected", "198.51.100.10", "syn_icmp_rejected")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden200x50(t *testing.T) {
	s := screen(t, 200, 50)
	checkContent(t, s, "rst_injected", "198.51.100.10", "syn_icmp_rejected", "Fix:")
	golden.RequireEqual(t, []byte(s))
}

// TestGoldenWide shows the panes of numbers over the report of big
// numbers at 80, 120 and 200 columns: every number whole at each.
func TestGoldenWide(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {200, 50}} {
		for _, p := range []struct {
			key, name string
			want      []string
		}{
			{"1", "findings", []string{"100000", "12345", "99999"}},
			{"2", "services", []string{"65535/tcp", "100000 100000", "99999  88888"}},
			{"3", "npa", []string{"15.0 min", "2.0 h", "12.0 s", "!]"}},
			{"4", "udp", []string{"100000/99999", "15.0 min", "12345", "2000/0", "250 ms", "22/25"}},
		} {
			t.Run(fmt.Sprintf("%dx%d_%s", sz[0], sz[1], p.name), func(t *testing.T) {
				s := screenOf(t, bigSnapshot(), "big.pcap", "syn_unanswered", sz[0], sz[1], p.key)
				checkContent(t, s, p.want...)
				golden.RequireEqual(t, []byte(s))
			})
		}
	}
}

func TestGolden80x24Services(t *testing.T) {
	s := screen(t, 80, 24, "tab")
	checkContent(t, s, "[2 Services", "5001/tcp", "sw-binary", "filtered", "listening")
	golden.RequireEqual(t, []byte(s))
}

func TestGolden80x24Detail(t *testing.T) {
	s := screen(t, 80, 24, "j", "enter")
	// The detail opens the second finding in list order; its stable ID is
	// the one the JSON report carries.
	second := labSnapshot(t).Report.Findings[1]
	checkContent(t, s, second.ID, string(second.Kind), "What", "Seen", "esc back")
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
