package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/tui"
)

// TUIOptions are the tui command's parsed arguments.
type TUIOptions struct {
	Files []string
	reportFlags
}

// NewCmdTUI builds `fwdiag tui`. runF replaces the run function in tests
// of flag parsing.
func NewCmdTUI(f *Factory, runF func(*TUIOptions) error) *cobra.Command {
	opts := &TUIOptions{}
	c := &cobra.Command{
		Use:   "tui [flags] FILE...",
		Short: "Explore the diagnosis of capture files in the terminal UI",
		Long: `tui analyses pcap/pcapng captures (gzip ok) and shows the diagnosis in a
terminal UI: verdict and findings, services, NPA sessions, UDP flows and hosts,
with a detail view per finding (explanation, fix, evidence frames, Wireshark
filter). Keys: tab/shift-tab or 1-5 panes, j/k move, enter detail (enter
again: the finding's rows in the other panes), / search every field, o/O
sort by column, y write the filter to a file (and the clipboard), w open the
evidence in termshark or Wireshark, p pause, s save the JSON report, ? help,
q quit. Rows are marked ✗ critical, ! warning, · info, ✓ ok. When stdout is
not a terminal it
prints the text report instead, as analyze does.`,
		Example: `  fwdiag tui client.pcap
  fwdiag tui --json report.json client.pcap server.pcapng.gz`,
		Args: requireFiles("tui"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Files = args
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return tuiRun(f, opts)
		},
	}
	addReportFlags(c, &opts.reportFlags)
	return c
}

func tuiRun(f *Factory, opts *TUIOptions) error {
	if err := checkFiles(opts.Files); err != nil {
		return err
	}
	if !f.StdoutTerminal {
		fmt.Fprintln(f.Err, "fwdiag: stdout is not a terminal: printing the text report instead of the UI")
		r, err := pipeline.AnalyzeFiles(opts.Files, opts.Opts, f.Version)
		if err != nil {
			return err
		}
		return opts.emit(f, r)
	}
	cfg, err := opts.Opts.Config()
	if err != nil {
		return &exitError{2, err}
	}
	src, err := pipeline.OpenFiles(opts.Files)
	if err != nil {
		return err
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runner := pipeline.NewRunner(src, cfg, f.Version)
	if err := opts.fixFlags.setOn(runner); err != nil {
		return err
	}
	names := make([]string, len(opts.Files))
	for i, p := range opts.Files {
		// The folder tells apart client.pcap and server.pcap of several
		// scenarios, which share their base names.
		names[i] = filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p))
	}
	final, err := runInteractive(f, sigCtx, sigCtx, func() {}, runner, nil, nil, tui.Options{Source: strings.Join(names, ", "), SavePath: opts.JSON, Prepare: opts.prepareSave})
	if err != nil {
		return err
	}
	if final.Err != nil && final.Packets == 0 {
		return &pipeline.InputError{Err: final.Err}
	}
	return opts.writeJSON(f, final.Report)
}

// runInteractive runs the runner under the TUI until the user quits or
// sigCtx ends (Ctrl-C or SIGTERM), then stops the capture and returns the
// final snapshot, which covers everything read. capCtx bounds the capture
// itself (--duration); when it ends the UI stays up showing the result.
// stopSource ends a source that waits on its own context (a live capture
// blocks between packets): it is called when the user quits. msgs, when
// not nil, carries other messages for the UI (the interface going down).
// onSnap, when not nil, sees every snapshot before the UI does, on the
// goroutine that forwards them (it is done when runInteractive returns).
// The Wireshark filters copied in the UI are printed on f.Err when it
// closes: the terminal may ignore OSC 52, and a filter wider than the
// screen is cut on it.
func runInteractive(f *Factory, sigCtx, capCtx context.Context, stopSource func(), runner *pipeline.Runner, msgs <-chan tea.Msg, onSnap func(pipeline.Snapshot), uiOpts tui.Options) (pipeline.Snapshot, error) {
	ctx, cancel := context.WithCancel(capCtx)
	defer cancel()
	snaps := runner.Start(ctx)
	uiOpts.OnPause = runner.SetPaused
	// The UI draws on stdout; the clipboard sequence goes to the same
	// terminal.
	uiOpts.Clipboard, uiOpts.Tmux = os.Stdout, os.Getenv("TMUX") != ""
	p := tea.NewProgram(tui.New(uiOpts), tea.WithAltScreen())
	if msgs != nil {
		go func() {
			for {
				select {
				case m := <-msgs:
					p.Send(m)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	finalc := make(chan pipeline.Snapshot, 1)
	go func() {
		var last pipeline.Snapshot
		for s := range snaps {
			last = s
			if onSnap != nil {
				onSnap(s)
			}
			p.Send(toMsg(s))
		}
		finalc <- last
	}()
	go func() {
		<-sigCtx.Done()
		p.Quit()
	}()
	fm, err := p.Run()
	cancel()
	stopSource()
	final := <-finalc
	if m, ok := fm.(*tui.Model); ok {
		for _, c := range m.Copied() {
			fmt.Fprintf(f.Err, "fwdiag: Wireshark filter of %s:\n%s\n", c.What, c.Text)
		}
	}
	if err != nil && err != tea.ErrInterrupted && err != tea.ErrProgramKilled {
		return final, fmt.Errorf("terminal UI: %w", err)
	}
	return final, nil
}

func toMsg(s pipeline.Snapshot) tui.SnapshotMsg {
	return tui.SnapshotMsg{Report: s.Report, Packets: s.Packets, Rate: s.Rate, Drops: s.Drops, Elapsed: s.Elapsed, Done: s.Done, Err: s.Err}
}
