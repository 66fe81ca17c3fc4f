package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/fwdiag/fwdiag/report"
)

// What `y` and `w` do with a finding: y writes its Wireshark filter to a
// file (the one place it surely arrives) and sends it to the clipboard
// with OSC 52, saying whether that can arrive; w opens the evidence file
// in termshark or Wireshark with the filter, the UI suspended meanwhile.

// copiedMsg reports the end of `y`: where the filter was written (or why
// not) and what became of the clipboard sequence.
type copiedMsg struct {
	path string
	err  error
	clip string // what the clipboard got, in words
	ok   bool   // whether the clipboard surely has the filter
}

// viewerDoneMsg reports the end of termshark or Wireshark.
type viewerDoneMsg struct {
	name string
	err  error
}

// Hooks the tests replace: where programs are found, and tmux's options.
var (
	lookPath   = exec.LookPath
	tmuxOption = func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "tmux", "show-options", "-gv", name).Output()
		return strings.TrimSpace(string(out)), err
	}
)

// FilterFile is where `y` writes the Wireshark filter: the user's runtime
// directory ($XDG_RUNTIME_DIR), else the temporary directory with the
// user's id in the name.
func FilterFile() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return filepath.Join(d, "fwdiag-filter.txt")
		}
	}
	return filepath.Join(os.TempDir(), "fwdiag-filter-"+strconv.Itoa(os.Getuid())+".txt")
}

// writeFilterFile replaces path with text and a newline. It writes a new
// file and renames it over the old, so a link planted at path in a shared
// directory is replaced, not followed.
func writeFilterFile(path, text string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".fwdiag-filter-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(text + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// sendClipboard writes the OSC 52 sequence that asks the terminal to put
// text in its clipboard, and says honestly what can have come of it: the
// sequence has no answer, so only tmux's own settings tell.
func sendClipboard(w io.Writer, tmux bool, text string) (note string, ok bool) {
	if w == nil {
		return "clipboard: not sent (no terminal)", false
	}
	// One write per sequence: the renderer writes to the same terminal,
	// and a sequence cut in two would show as garbage.
	seq := osc52.New(text)
	if _, err := seq.WriteTo(w); err != nil {
		return "clipboard: not sent: " + err.Error(), false
	}
	if !tmux {
		return "clipboard: sent via OSC 52, arrives if the terminal accepts it", false
	}
	// Tmux takes the plain sequence with set-clipboard on (into its paste
	// buffer, and on to the terminal when it can) or external (on to the
	// terminal only), and lets the wrapped one through with
	// allow-passthrough on.
	if _, err := seq.Tmux().WriteTo(w); err != nil {
		return "clipboard: not sent: " + err.Error(), false
	}
	clip, err := tmuxOption("set-clipboard")
	pass, _ := tmuxOption("allow-passthrough")
	switch {
	case err != nil:
		return "clipboard: sent via OSC 52, may not arrive under tmux", false
	case clip == "on":
		return "filter copied to tmux's paste buffer (set-clipboard on); OSC 52 sent on", true
	case clip == "external" || pass == "on" || pass == "all":
		return "clipboard: sent via OSC 52 through tmux, arrives if the terminal accepts it", false
	}
	return "clipboard: dropped by tmux (set-clipboard off), use the file", false
}

// copyFilter writes the Wireshark filter of the finding on screen to the
// filter file and sends it to the clipboard.
func (m *Model) copyFilter() tea.Cmd {
	f, ok := m.currentFinding()
	if !ok || f.WiresharkFilter == "" {
		m.setStatus("nothing to copy here: y copies the Wireshark filter of a finding", "warning")
		return nil
	}
	text, what := f.WiresharkFilter, f.ID+" "+string(f.Kind)
	if !slices.ContainsFunc(m.copies, func(c Copy) bool { return c.Text == text }) {
		m.copies = append(m.copies, Copy{What: what, Text: text})
	}
	path := m.opts.FilterFile
	if path == "" {
		path = FilterFile()
	}
	m.setStatus("writing the filter of "+what+" to "+path+" …", "")
	w, tmux := m.opts.Clipboard, m.opts.Tmux
	return func() tea.Msg {
		err := writeFilterFile(path, text)
		note, ok := sendClipboard(w, tmux, text)
		return copiedMsg{path: path, err: err, clip: note, ok: ok}
	}
}

// viewers are the programs `w` opens the evidence in, best first.
var viewers = []string{"termshark", "wireshark"}

// viewerCommand builds the command that opens file in the first viewer
// installed, showing the packets filter selects.
func viewerCommand(file, filter string) (*exec.Cmd, string, error) {
	for _, v := range viewers {
		path, err := lookPath(v)
		if err != nil {
			continue
		}
		if v == "wireshark" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return nil, "", errors.New("termshark is not installed, and wireshark has no display (DISPLAY is not set)")
		}
		args := []string{"-r", file}
		if filter != "" {
			args = append(args, "-Y", filter)
		}
		return exec.Command(path, args...), v, nil
	}
	return nil, "", errors.New("neither termshark nor wireshark is installed (y: the filter to a file)")
}

// evidenceFile is the first of the finding's inputs that is a file on disk.
func evidenceFile(r *report.Report, f report.Finding) (string, error) {
	var live string
	for _, e := range f.Evidence {
		path := r.InputPath(e.Input)
		if name, ok := strings.CutPrefix(path, "live:"); ok {
			live = name
			continue
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			return path, nil
		}
	}
	if live != "" {
		return "", fmt.Errorf("the evidence of %s is the live capture on %s, not a file: keep the packets with --write FILE and open that", f.ID, live)
	}
	if len(f.Evidence) == 0 {
		return "", fmt.Errorf("%s names no evidence frames", f.ID)
	}
	return "", fmt.Errorf("the evidence file of %s is not there: %s", f.ID, r.InputPath(f.Evidence[0].Input))
}

// openEvidence opens the finding's evidence in termshark or Wireshark with
// its filter; the UI is suspended until the viewer exits.
func (m *Model) openEvidence() tea.Cmd {
	f, ok := m.currentFinding()
	if !ok {
		m.setStatus("nothing to open here: w opens the evidence of a finding", "warning")
		return nil
	}
	file, err := evidenceFile(m.snap.Report, f)
	if err != nil {
		m.setStatus(err.Error(), "warning")
		return nil
	}
	cmd, name, err := viewerCommand(file, f.WiresharkFilter)
	if err != nil {
		m.setStatus(err.Error(), "warning")
		return nil
	}
	m.setStatus("opened "+file+" in "+name+" with the filter of "+f.ID, "")
	return tea.ExecProcess(cmd, func(err error) tea.Msg { return viewerDoneMsg{name: name, err: err} })
}
