package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/capture"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
	"github.com/fwdiag/fwdiag/tui"
)

// LiveOptions are the live command's parsed arguments.
type LiveOptions struct {
	Interface string
	NoTUI     bool
	BPF       string
	Duration  time.Duration
	// StatusEvery prints a status line (packets, rate, kernel drops,
	// memory) this often in --no-tui mode; 0 never.
	StatusEvery time.Duration
	Write       string
	// BufferMB is the kernel's capture ring (capture.Config.BufferMB).
	BufferMB int
	reportFlags
}

// NewCmdLive builds `fwdiag live`. runF replaces the run function in tests
// of flag parsing.
func NewCmdLive(f *Factory, runF func(*LiveOptions) error) *cobra.Command {
	opts := &LiveOptions{}
	c := &cobra.Command{
		Use:   "live -i IFACE [flags]",
		Short: "Capture live on an interface and watch the diagnosis form",
		Long: `live captures on a Linux interface (AF_PACKET, no libpcap needed) and shows
the diagnosis in the terminal UI as it forms. With --no-tui, or when stdout is
not a terminal, it prints each finding once as it appears and the text summary
at the end. Ctrl-C or SIGTERM ends the capture cleanly and writes the --json
report. --json-lines writes each warning and critical finding as one JSON
line as soon as it appears, and the other findings at the end.

The default filter keeps the catalog's ports (with --service/--services
changes), ICMP/ICMPv6 and DNS. --bpf replaces it with a tcpdump expression,
compiled by running tcpdump -dd (tcpdump must be installed for --bpf only).

Capturing needs CAP_NET_RAW: run as root, or grant it once with
  sudo setcap cap_net_raw+eip $(which fwdiag)`,
		Example: `  fwdiag live -i eth0
  fwdiag live -i eth0 --no-tui --duration 10m --json report.json --write capture.pcapng
  fwdiag live -i ens192 --bpf 'host 10.1.2.3 and (tcp port 5001 or icmp)'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if opts.Interface == "" {
				return usageErr("live: name the interface with -i (interfaces here: %s)", strings.Join(capture.Interfaces(), ", "))
			}
			if opts.Duration < 0 {
				return usageErr("--duration must be positive")
			}
			if opts.BufferMB < 1 || opts.BufferMB > capture.MaxBufferMB {
				return usageErr("--buffer %d: give the capture ring in megabytes, 1 to %d", opts.BufferMB, capture.MaxBufferMB)
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Write != "" {
				dir := filepath.Dir(opts.Write)
				if st, err := os.Stat(dir); err != nil || !st.IsDir() {
					return usageErr("--write %s: directory %s does not exist", opts.Write, dir)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return liveRun(f, opts)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&opts.Interface, "interface", "i", "", "capture on `IFACE`")
	fl.BoolVar(&opts.NoTUI, "no-tui", false, "no terminal UI: print findings as they appear and the summary at the end")
	fl.StringVar(&opts.BPF, "bpf", "", "capture filter `EXPR` in tcpdump syntax, replacing the default (needs tcpdump to compile it)")
	fl.DurationVar(&opts.Duration, "duration", 0, "stop after `DUR` (e.g. 30s, 10m); default: until Ctrl-C")
	fl.DurationVar(&opts.StatusEvery, "status-every", 0, "with --no-tui, print packets, rate, kernel drops and memory every `DUR` (e.g. 1m)")
	fl.StringVar(&opts.Write, "write", "", "keep the captured packets in a pcapng `FILE`")
	fl.IntVarP(&opts.BufferMB, "buffer", "B", capture.DefaultBufferMB, "kernel capture ring in `MB`, where packets wait while a report is built; raise it when the kernel drops packets")
	addReportFlags(c, &opts.reportFlags)
	return c
}

// catalogPorts returns the ports of the catalog in force, for the default
// filter.
func catalogPorts(cfg flows.Config) capture.Ports {
	var p capture.Ports
	for _, s := range cfg.Catalog.Services() {
		if s.Transport == flows.UDP {
			p.UDP = append(p.UDP, s.Port)
		} else {
			p.TCP = append(p.TCP, s.Port)
		}
	}
	return p
}

func liveRun(f *Factory, opts *LiveOptions) error {
	prof := startProfile()
	defer prof.stop()
	cfg, err := opts.Opts.Config()
	if err != nil {
		return &exitError{2, err}
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	capCtx := sigCtx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		capCtx, cancel = context.WithTimeout(sigCtx, opts.Duration)
		defer cancel()
	}
	// The capture waits on its own context between packets; quitting the
	// UI cancels it.
	capCtx, stopCapture := context.WithCancel(capCtx)
	defer stopCapture()

	// The capture reports its interface going down and coming back from its
	// reader goroutine; the UI or the headless printer takes the events
	// from here, so the capture never waits on a terminal.
	links := make(chan capture.LinkEvent, 64)
	ccfg := capture.Config{Interface: opts.Interface, WritePath: opts.Write, BufferMB: opts.BufferMB, OnLink: func(ev capture.LinkEvent) {
		select {
		case links <- ev:
		default: // an interface flapping faster than anyone reads: the report lists the events
		}
	}}
	if opts.BPF != "" {
		ccfg.FilterExpr = opts.BPF
		if ccfg.Filter, err = capture.CompileExpr(sigCtx, opts.BPF); err != nil {
			return &exitError{2, err}
		}
	} else {
		ports := catalogPorts(cfg)
		ccfg.FilterExpr = capture.DefaultFilterExpr(ports)
		if ccfg.Filter, err = capture.DefaultFilter(ports); err != nil {
			return &exitError{2, err}
		}
	}
	// --json-lines is opened before the capture, so a bad path fails now.
	lw, err := opts.lineWriter(f)
	if err != nil {
		return err
	}
	if lw != nil {
		defer lw.finish()
	}
	src, err := capture.Open(capCtx, ccfg)
	if err != nil {
		return &exitError{2, err}
	}
	runner := pipeline.NewRunner(src, cfg, f.Version)
	if err := opts.fixFlags.setOn(runner); err != nil {
		return err
	}

	var final pipeline.Snapshot
	if opts.NoTUI || !f.StdoutTerminal {
		final = liveHeadless(capCtx, f, runner, links, opts, ccfg.FilterExpr, lw)
	} else {
		uiMsgs := make(chan tea.Msg)
		go func() {
			for ev := range links {
				uiMsgs <- tui.LinkMsg{Iface: ev.Iface, Down: ev.Down, At: ev.At, DownFor: ev.DownFor}
			}
		}()
		// Lines for stdout wait until the UI has left the terminal: they
		// are all written at the end then.
		var onSnap func(pipeline.Snapshot)
		if lw != nil && opts.JSONLines != "-" {
			onSnap = func(s pipeline.Snapshot) { lw.live(s.Report) }
		}
		final, err = runInteractive(f, sigCtx, capCtx, stopCapture, runner, uiMsgs, onSnap, tui.Options{Source: "live " + opts.Interface, Live: true, SavePath: opts.JSON, Prepare: opts.prepareSave})
		if err != nil {
			return err
		}
	}
	prof.readDone()
	if final.Report == nil {
		return &exitError{2, errors.New("the capture ended before it started")}
	}
	if final.Err != nil {
		fmt.Fprintln(f.Err, "fwdiag: capture ended:", final.Err)
	}
	if opts.Write != "" {
		fmt.Fprintf(f.Err, "fwdiag: packets written to %s\n", opts.Write)
	}
	if opts.NoTUI || !f.StdoutTerminal {
		return opts.emit(f, final.Report)
	}
	return opts.writeJSON(f, final.Report)
}

// liveHeadless prints each finding once, as it first appears, and a line
// when the interface goes down and when it comes back, then returns the
// final snapshot. These lines go to stdout, or to stderr when stdout
// carries the JSON report or the finding lines. lw, when not nil, gets each
// snapshot for --json-lines.
func liveHeadless(ctx context.Context, f *Factory, runner *pipeline.Runner, links <-chan capture.LinkEvent, opts *LiveOptions, filter string, lw *lineWriter) pipeline.Snapshot {
	var out io.Writer = f.Out
	if opts.stdoutIsData() {
		out = f.Err
	}
	until := "Ctrl-C"
	if opts.Duration > 0 {
		until = opts.Duration.String() + " or Ctrl-C"
	}
	fmt.Fprintf(f.Err, "fwdiag: capturing on %s until %s (ring %d MB, --buffer; filter: %s)\n", opts.Interface, until, opts.BufferMB, filter)
	seen := map[string]bool{}
	var last pipeline.Snapshot
	snaps := runner.Start(ctx)
	var tick <-chan time.Time
	start := time.Now()
	if opts.StatusEvery > 0 {
		t := time.NewTicker(opts.StatusEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case now := <-tick:
			fmt.Fprintln(out, statusLine(last, now.Sub(start)))
		case s, ok := <-snaps:
			if !ok {
				return last
			}
			last = s
			printNewFindings(out, s.Report, seen)
			if lw != nil {
				lw.live(s.Report)
			}
		case ev := <-links:
			printLink(out, ev)
		}
	}
}

// printLink prints an interface event in the column layout of the finding
// lines.
func printLink(w io.Writer, ev capture.LinkEvent) {
	tag := "UP"
	if ev.Down {
		tag = "DOWN"
	}
	what := strings.TrimPrefix(ev.String(), "interface "+ev.Iface+" ")
	fmt.Fprintf(w, "%-8s %-26s %s\n", tag, "interface "+ev.Iface, what)
}

// printNewFindings prints the warning and critical findings of r not
// printed before, one line each: severity, kind, summary. Info findings
// wait for the final summary: early in a session they can be passing
// states (a main session looks like a notification socket until its second
// request), and a stream of them buries what matters.
func printNewFindings(w io.Writer, r *report.Report, seen map[string]bool) {
	if r == nil {
		return
	}
	for _, fd := range r.Findings {
		if fd.Severity == "info" {
			continue
		}
		// The id is derived from what the finding is about: the same in
		// every snapshot (capture-wide findings of two inputs differ).
		if seen[fd.ID] {
			continue
		}
		seen[fd.ID] = true
		fmt.Fprintf(w, "%-8s %-26s %s\n", strings.ToUpper(string(fd.Severity)), fd.Kind, fd.Summary)
	}
}

// statusLine is the --status-every line: what a long unattended capture
// needs to show it keeps up (kernel drops) in flat memory (the process's
// resident set, as ps shows it, and the Go heap).
// after is the wall time since the capture started; the counts are the
// latest snapshot's.
func statusLine(s pipeline.Snapshot, after time.Duration) string {
	drops := "n/a"
	if s.Drops >= 0 {
		drops = strconv.FormatInt(s.Drops, 10)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("%-8s %-26s %s packets (%.0f/s), kernel drops %s, RSS %s, heap %d MB", "STATUS", "after "+after.Round(time.Second).String(),
		strconv.FormatUint(s.Packets, 10), s.Rate, drops, rss(), ms.HeapAlloc>>20)
}

// rss is the process's resident set size from /proc/self/status ("n/a"
// where there is none).
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
				return fmt.Sprintf("%d MB", kb>>10)
			}
		}
	}
	return "n/a"
}
