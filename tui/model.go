// Package tui is fwdiag's terminal UI: a bubbletea program over report
// snapshots. It never touches capture or analysis state: the command sends
// it a SnapshotMsg a few times a second (or once, for a file) and the UI
// shows the latest one, so a busy link never freezes the screen and the
// screen never slows the capture.
//
// Structure follows soft-serve: tui/common holds the size, styles and key
// map; tui/table and tui/detail are components with New, SetSize, Update
// and View; this root model routes window sizes to every component and
// keys to the focused one.
package tui

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/fwdiag/fwdiag/report"
	"github.com/fwdiag/fwdiag/tui/common"
	"github.com/fwdiag/fwdiag/tui/detail"
)

// SnapshotMsg delivers a new state of the analysis. The Report must not be
// modified after it is sent.
type SnapshotMsg struct {
	Report  *report.Report
	Packets uint64
	Rate    float64 // packets per second
	Drops   int64   // -1 unknown
	Elapsed time.Duration
	Done    bool  // the capture or file has ended
	Err     error // what ended it, if it failed
}

// LinkMsg says the captured interface went down (Down) or came back up.
// The live command sends it as the capture notices; the header says IFACE
// DOWN until the interface is back.
type LinkMsg struct {
	Iface   string
	Down    bool
	At      time.Time
	DownFor time.Duration // how long it was down (when it comes back)
}

// savedMsg reports the end of a save.
type savedMsg struct {
	path string
	err  error
}

// Options configure the UI.
type Options struct {
	// Source names what is analysed, for the header: "live eth0" or a file.
	Source string
	// Live is true for a live capture (the header says LIVE until Done).
	Live bool
	// SavePath is where `s` writes the JSON report; "" (or "-") picks
	// ./fwdiag-report-<time>.json.
	SavePath string
	// Now is the clock used to name saved reports; nil = time.Now.
	Now func() time.Time
	// Prepare, when set, turns the snapshot into the report `s` writes
	// (the command redacts addresses with it under --redact). It gets a
	// copy and may change it.
	Prepare func(*report.Report) *report.Report
	// Renderer renders the styles; nil = the terminal's. Tests pin one to
	// ASCII so screens are stable.
	Renderer *lipgloss.Renderer
	// OnPause, when set, is told when the user pauses or resumes, so the
	// producer can stop building snapshots nobody looks at.
	OnPause func(paused bool)
	// Clipboard, when set, is the terminal the UI draws on: `y` writes an
	// OSC 52 sequence to it that asks the terminal to put the Wireshark
	// filter in its clipboard. Tmux adds the same sequence wrapped for
	// tmux's passthrough (tmux itself takes the plain one only with
	// set-clipboard on).
	Clipboard io.Writer
	Tmux      bool
	// FilterFile is where `y` writes the filter; "" = FilterFile().
	FilterFile string
}

// mode is what fills the body of the screen.
type mode int

const (
	modeList mode = iota
	modeDetail
	modeHelp
)

// Model is the root model.
type Model struct {
	common.Common
	opts Options

	// Latest state shown, and the one held back while paused.
	snap    SnapshotMsg
	pending *SnapshotMsg
	paused  bool

	panes     []*pane
	focus     int
	mode      mode
	detail    *detail.Model
	filtering bool
	input     string // the filter being typed
	status    string // one-line message: saved path, errors
	statusCls string

	// detailF is the finding in the detail view (nil for other rows);
	// clipNote says what became of the last filter sent to the clipboard;
	// copies lists every filter copied, for the command to print when the
	// UI closes.
	detailF  *report.Finding
	clipNote string
	clipOK   bool
	copies   []Copy

	linkDown bool // the captured interface is down
}

// New returns the root model.
func New(opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := common.New(opts.Renderer)
	m := &Model{Common: c, opts: opts, panes: newPanes(c), detail: detail.New(c)}
	m.snap.Drops = -1
	return m
}

// Init starts nothing: snapshots are sent in by the command.
func (m *Model) Init() tea.Cmd { return nil }

// Paused reports whether snapshots are held back.
func (m *Model) Paused() bool { return m.paused }

// Focus returns the focused pane's index (0 findings, 1 services, 2 NPA,
// 3 UDP, 4 hosts).
func (m *Model) Focus() int { return m.focus }

// Report returns the report on screen (nil before the first snapshot).
func (m *Model) Report() *report.Report { return m.snap.Report }

// Layout: header (3 lines: status, verdict, tabs), body, status line, help.
const chromeLines = 5

// SetSize lays the components out.
func (m *Model) SetSize(w, h int) {
	m.Common.SetSize(w, h)
	for _, p := range m.panes {
		p.table.SetSize(w, m.bodyLines())
	}
	m.detail.SetSize(w, m.bodyLines())
	m.refreshRows()
	m.layoutFindings()
}

// bodyLines is the height between the header and the footer.
func (m *Model) bodyLines() int { return max(m.Height-chromeLines, 2) }

// layoutFindings gives the findings list the lines it needs (at most the
// body less a few) and leaves the rest to the preview of the selected
// finding: the list alone does not say what is wrong.
func (m *Model) layoutFindings() {
	t := m.panes[paneFindings].table
	body := m.bodyLines()
	h := min(max(t.Shown()+1, 3), body-4)
	t.SetSize(m.Width, max(h, 2))
}

// previewLines is the room under the findings list.
func (m *Model) previewLines() int {
	return max(m.bodyLines()-m.panes[paneFindings].table.Height, 0)
}

func (m *Model) barW() int {
	if m.Width >= 110 {
		return barWidth + 8
	}
	return barWidth
}

// refreshRows rebuilds every table from the current report.
func (m *Model) refreshRows() {
	if m.snap.Report == nil {
		return
	}
	for _, p := range m.panes {
		p.table.SetRows(p.rows(m.snap.Report, m.barW()))
	}
	m.layoutFindings()
}

func (m *Model) apply(s SnapshotMsg) {
	m.snap = s
	m.refreshRows()
	if s.Err != nil {
		m.setStatus("capture ended: "+s.Err.Error(), "critical")
	}
}

// setStatus shows a message on the status line (in place of the note of a
// copied filter).
func (m *Model) setStatus(msg, class string) {
	m.status, m.statusCls, m.clipNote = msg, class, ""
}

// Copy is a Wireshark filter copied with `y` and the finding it is for
// ("F2 syn_reset").
type Copy struct{ What, Text string }

// Copied returns the filters copied with `y`, oldest first, each once: the
// command prints them when the UI closes, for terminals that ignore OSC 52
// and filters wider than the screen.
func (m *Model) Copied() []Copy { return m.copies }

// LinkDown reports whether the captured interface is down.
func (m *Model) LinkDown() bool { return m.linkDown }

// Update handles messages: sizes go to every component, keys to the focused
// one unless they are global.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(msg.Width, msg.Height)
		return m, nil
	case SnapshotMsg:
		if m.paused && !msg.Done {
			m.pending = &msg
			return m, nil
		}
		if m.paused {
			// The end of the capture is always shown; the pause is over.
			m.paused, m.pending = false, nil
		}
		m.apply(msg)
		return m, nil
	case savedMsg:
		if msg.err != nil {
			m.setStatus("save failed: "+msg.err.Error(), "critical")
		} else {
			m.setStatus("report saved to "+msg.path, "ok")
		}
		return m, nil
	case copiedMsg:
		if msg.err != nil {
			m.setStatus("could not write the filter to "+msg.path+": "+msg.err.Error(), "critical")
		} else {
			m.setStatus("filter written to "+msg.path, "ok")
		}
		m.clipNote, m.clipOK = msg.clip, msg.ok
		return m, nil
	case viewerDoneMsg:
		if msg.err != nil {
			m.setStatus(msg.name+": "+msg.err.Error(), "critical")
		} else {
			m.setStatus("back from "+msg.name, "")
		}
		return m, nil
	case LinkMsg:
		m.linkDown = msg.Down
		if msg.Down {
			m.setStatus(fmt.Sprintf("interface %s went down at %s: waiting for it to come back", msg.Iface, msg.At.Format("15:04:05")), "warning")
		} else {
			m.setStatus(fmt.Sprintf("interface %s back up at %s after %s down: capture resumed", msg.Iface, msg.At.Format("15:04:05"), common.Seconds(msg.DownFor.Seconds())), "ok")
		}
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	km := m.KeyMap
	if !m.filtering && k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		// Bubble Tea reports the printable keys of one read as one message
		// ("jj" while j is held down, or typed over a slow link), which no
		// binding matches: each is a key of its own, as typed.
		var cmds []tea.Cmd
		for i, r := range k.Runes {
			one := k
			one.Runes = []rune{r}
			_, cmd := m.key(one)
			cmds = append(cmds, cmd)
			if m.filtering {
				// "/" started a search: the rest is its text.
				rest := k
				rest.Runes = k.Runes[i+1:]
				if len(rest.Runes) > 0 {
					_, cmd = m.key(rest)
					cmds = append(cmds, cmd)
				}
				break
			}
		}
		return m, tea.Batch(cmds...)
	}
	if m.filtering {
		switch k.String() {
		case "enter":
			m.filtering = false
			return m, nil
		case "tab", "shift+tab", "up", "down":
			// Moving on keeps the filter and does what the key says.
			m.filtering = false
			return m.key(k)
		case "esc":
			m.filtering = false
			m.input = ""
		case "ctrl+c":
			return m, tea.Quit
		case "backspace", "ctrl+h":
			if r := []rune(m.input); len(r) > 0 {
				m.input = string(r[:len(r)-1])
			}
		case "ctrl+u":
			m.input = ""
		default:
			if k.Type == tea.KeyRunes || k.Type == tea.KeySpace {
				if len(m.input) < 80 {
					m.input += string(k.Runes)
				}
			}
		}
		m.panes[m.focus].table.SetFilter(m.input)
		return m, nil
	}
	switch {
	case key.Matches(k, km.Quit):
		return m, tea.Quit
	case key.Matches(k, km.Help):
		if m.mode == modeHelp {
			m.mode = modeList
		} else {
			m.mode = modeHelp
		}
		return m, nil
	case key.Matches(k, km.Pause):
		m.togglePause()
		return m, nil
	case key.Matches(k, km.Save):
		return m, m.save()
	case key.Matches(k, km.Copy) && m.mode != modeHelp:
		return m, m.copyFilter()
	case key.Matches(k, km.Open) && m.mode != modeHelp:
		return m, m.openEvidence()
	case key.Matches(k, km.Fix) && m.mode != modeHelp:
		m.openFix()
		return m, nil
	}
	switch m.mode {
	case modeHelp:
		if key.Matches(k, km.Back) || key.Matches(k, km.Enter) {
			m.mode = modeList
		}
		return m, nil
	case modeDetail:
		if key.Matches(k, km.Back) {
			m.mode = modeList
			m.setStatus("", "")
			return m, nil
		}
		if key.Matches(k, km.Enter) && m.detailF != nil {
			m.jumpToRows(*m.detailF)
			return m, nil
		}
		var cmd tea.Cmd
		m.detail, cmd = m.detail.Update(k)
		return m, cmd
	}
	switch {
	case key.Matches(k, km.NextPane):
		m.setFocus((m.focus + 1) % numPanes)
	case key.Matches(k, km.PrevPane):
		m.setFocus((m.focus + numPanes - 1) % numPanes)
	case k.String() >= "1" && k.String() <= "5" && len(k.String()) == 1:
		m.setFocus(int(k.String()[0] - '1'))
	case key.Matches(k, km.Enter):
		m.openDetail()
	case key.Matches(k, km.Filter):
		m.filtering = true
		m.input = m.panes[m.focus].table.Filter()
	case key.Matches(k, km.Sort):
		m.panes[m.focus].table.CycleSort()
		m.setStatus("sorted by "+m.panes[m.focus].table.SortName()+" (o next column, O reverse)", "")
	case key.Matches(k, km.Reverse):
		if m.panes[m.focus].table.ReverseSort() {
			m.setStatus("sorted by "+m.panes[m.focus].table.SortName()+" (o next column, O reverse)", "")
		} else {
			m.setStatus("in the report's order: o sorts by a column, then O reverses it", "")
		}
	case k.String() == "esc" && (m.panes[m.focus].table.Filter() != "" || m.panes[m.focus].table.Only() != ""):
		// Esc undoes a jump first, then the search.
		t := m.panes[m.focus].table
		if t.Only() != "" {
			t.SetOnly("", nil)
		} else {
			t.SetFilter("")
		}
		m.setStatus("", "")
	default:
		var cmd tea.Cmd
		m.panes[m.focus].table, cmd = m.panes[m.focus].table.Update(k)
		return m, cmd
	}
	return m, nil
}

func (m *Model) setFocus(i int) {
	m.focus = i
	m.setStatus("", "")
}

func (m *Model) togglePause() {
	m.paused = !m.paused
	if !m.paused && m.pending != nil {
		m.apply(*m.pending)
		m.pending = nil
	}
	if m.opts.OnPause != nil {
		m.opts.OnPause(m.paused)
	}
}

func (m *Model) openDetail() {
	p := m.panes[m.focus]
	row, ok := p.table.Selected()
	if !ok || m.snap.Report == nil {
		return
	}
	title, class, secs := p.detail(m.snap.Report, row)
	m.detail.SetContent(title, class, secs)
	m.mode = modeDetail
	m.setStatus("", "")
	m.detailF = nil
	if m.focus == paneFindings && row.Index < len(m.snap.Report.Findings) {
		f := m.snap.Report.Findings[row.Index]
		m.detailF = &f
	}
}

// openFix shows the current finding's fixes: each change that resolves
// it, in the language of each firewall the report was written for.
func (m *Model) openFix() {
	f, ok := m.currentFinding()
	if !ok {
		m.setStatus("f: select a finding first", "warning")
		return
	}
	secs := fixSections(m.snap.Report, f)
	if secs == nil {
		m.setStatus("no configuration change resolves "+f.ID+" (see its Fix)", "")
		return
	}
	m.detail.SetContent("Fix for "+f.ID+"  "+string(f.Kind), string(f.Severity), secs)
	m.mode = modeDetail
	m.detailF = &f
	m.setStatus("", "")
}

// currentFinding is the finding `y`, `w` and `f` act on: the one in the detail
// view, or the one selected in the findings list.
func (m *Model) currentFinding() (report.Finding, bool) {
	switch {
	case m.mode == modeDetail && m.detailF != nil:
		return *m.detailF, true
	case m.mode == modeList && m.focus == paneFindings && m.snap.Report != nil:
		if row, ok := m.panes[paneFindings].table.Selected(); ok && row.Index < len(m.snap.Report.Findings) {
			return m.snap.Report.Findings[row.Index], true
		}
	}
	return report.Finding{}, false
}

// SavePath is where `s` writes the report.
func (m *Model) SavePath() string {
	if m.opts.SavePath != "" && m.opts.SavePath != "-" {
		return m.opts.SavePath
	}
	return "fwdiag-report-" + m.opts.Now().Format("20060102-150405") + ".json"
}

// save writes the report on screen as a command, so a slow disk never
// blocks the UI.
func (m *Model) save() tea.Cmd {
	r := m.snap.Report
	if r == nil {
		m.setStatus("nothing to save yet", "warning")
		return nil
	}
	path := m.SavePath()
	m.setStatus("saving to "+path+" ...", "")
	prepare := m.opts.Prepare
	return func() tea.Msg {
		if prepare != nil {
			r = prepare(report.Clone(r))
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		if err := report.WriteFileAtomic(path, r); err != nil {
			return savedMsg{path: abs, err: fmt.Errorf("%s: %w", abs, err)}
		}
		return savedMsg{path: abs}
	}
}
