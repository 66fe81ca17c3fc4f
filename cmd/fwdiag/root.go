package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/evidence"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Factory carries what every command needs from the outside world, so tests
// can run commands with their own streams.
type Factory struct {
	In             io.Reader
	Out, Err       io.Writer
	StdoutTerminal bool
	Version        string
}

func defaultFactory() *Factory {
	return &Factory{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Version: version,
		StdoutTerminal: term.IsTerminal(int(os.Stdout.Fd()))}
}

// exitError carries an exit code: 1 findings at or above --fail-on, 2 usage
// or input errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func usageErr(format string, a ...any) error {
	return &exitError{2, fmt.Errorf(format, a...)}
}

// Main runs the command line and returns the exit code.
func Main(args []string, f *Factory) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(f.Err, "fwdiag:", ee.err)
		}
		return ee.code
	}
	var ie *pipeline.InputError
	if errors.As(err, &ie) {
		fmt.Fprintln(f.Err, "fwdiag:", ie)
		return 2
	}
	// Cobra's own errors (unknown flag, wrong arguments) are usage errors.
	fmt.Fprintln(f.Err, "fwdiag:", err)
	return 2
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "fwdiag",
		Short: "Diagnose what firewalls do to Supportworks and K2 traffic",
		Long: `fwdiag reads pcap/pcapng captures (or captures live), sorts the traffic into
Hornbill Supportworks and Sassafras K2 flows, and explains what the firewall,
NAT or VPN in between does to them: blocked SYNs, NPA notification sockets
missing or killed while idle, UDP answers later than the firewall's timeout.`,
		Version:       f.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.Out)
	root.SetErr(f.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError(err) })
	root.AddCommand(NewCmdAnalyze(f, nil), NewCmdServices(f), NewCmdProfiles(f), NewCmdFix(f), NewCmdDemo(f, nil), NewCmdTUI(f, nil), NewCmdLive(f, nil))
	return root
}

// requireFiles is the Args check of the commands that read captures.
func requireFiles(cmd string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErr("%s: give at least one capture file (or - for stdin)", cmd)
		}
		return nil
	}
}

// checkFiles refuses, in one line naming it once, an input that does not
// exist or cannot be read, before any is opened ("nope.pcap: no such file
// or directory", where the reader's own message would be "nope.pcap: open
// nope.pcap: ..."). Only regular files are opened to check them: opening a
// FIFO would block for, and then cut off, its writer.
func checkFiles(paths []string) error {
	for _, p := range paths {
		if p == "-" {
			continue
		}
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() {
			var fh *os.File
			if fh, err = os.Open(p); err == nil {
				fh.Close()
			}
		}
		if err != nil {
			return &exitError{2, fmt.Errorf("%s: %w", p, unwrapPath(err))}
		}
	}
	return nil
}

// unwrapPath drops the operation and path of a *fs.PathError, for messages
// that name the path themselves.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// reportFlags are the flags shared by analyze, live, tui and demo.
type reportFlags struct {
	JSON      string
	JSONLines string
	FailOn    string
	Opts      pipeline.Options
	Redact    bool
	All       bool
	RedactKey string
	// Evidence is the --evidence capture to write ("" none), with
	// payloads kept under --redact when EvidencePayload.
	Evidence        string
	EvidencePayload bool
	// evidenceOpen opens an input again for the evidence capture (nil:
	// from its path); the demo opens its built-in capture.
	evidenceOpen func(path string, index int) (dissect.Source, error)
	fixFlags
	redacted  bool // the report in hand has been redacted
	red       *report.Redactor
	command   string      // the command's name, for the finding lines
	lines     *lineWriter // --json-lines, once opened
	linesDone bool        // the final report's lines are written
}

func addReportFlags(c *cobra.Command, rf *reportFlags) {
	fl := c.Flags()
	rf.command = c.Name()
	fl.StringVar(&rf.JSON, "json", "", "write the JSON report to `PATH` (- = stdout, and then no text on stdout)")
	fl.StringVar(&rf.JSONLines, "json-lines", "", "append one JSON line per finding (fwdiag.finding/v1) to `PATH` (- = stdout, and then no text\non stdout); live writes warnings and criticals as they appear, the rest at the end")
	fl.StringVar(&rf.Opts.Profile, "profile", "", "firewall timeout profile (see 'fwdiag profiles'); default: UDP 60s, TCP 3600s")
	fl.Var(timeoutValue{&rf.Opts.UDPTimeout}, "udp-timeout", "UDP idle timeout in force, overriding the profile's (e.g. 90s, 15m; a unit is required)")
	fl.Var(timeoutValue{&rf.Opts.TCPIdle}, "tcp-idle-timeout", "established TCP idle timeout in force, overriding the profile's (e.g. 30m, 2h)")
	fl.StringArrayVar(&rf.Opts.Services, "service", nil, "a catalog service's moved port (repeatable), e.g. sw-binary=6001;\ncustom:`NAME=PORT[/udp]` declares a service the catalog lacks (catalog: 'fwdiag services')")
	fl.StringVar(&rf.Opts.ServicesFile, "services", "", "read --service entries from `FILE`, one a line (# comments)")
	fl.StringVar(&rf.FailOn, "fail-on", "", "exit 1 when a finding at or above `LEVEL` (warning|critical) exists")
	fl.BoolVar(&rf.All, "all", false, "text report: every finding in full and every table row (default: problems first, healthy rows counted, about a hundred lines)")
	addFixFlags(c, &rf.fixFlags)
	fl.BoolVar(&rf.Redact, "redact", false, "replace IP addresses with prefix-preserving pseudonyms in the text and JSON report")
	fl.StringVar(&rf.RedactKey, "redact-key", "", "`SECRET` that makes --redact pseudonyms stable across runs (default: a random key per run; also $FWDIAG_REDACT_KEY)")
}

// addEvidenceFlags adds --evidence and --evidence-payload, for the
// commands whose inputs can be read again (analyze, demo).
func addEvidenceFlags(c *cobra.Command, rf *reportFlags) {
	fl := c.Flags()
	fl.StringVar(&rf.Evidence, "evidence", "", "write the packets the findings cite to `FILE` (pcapng), each with a comment naming its findings,\nwith the handshake of each cited TCP connection: a small capture to attach to a ticket;\nwith --redact its addresses are the report's pseudonyms and packets are cut after the transport header")
	if r := fl.Lookup("redact"); r != nil {
		r.Usage += " (and the --evidence capture)"
	}
	fl.BoolVar(&rf.EvidencePayload, "evidence-payload", false, "with --evidence and --redact, keep the packets' payloads (not redacted: they may hold addresses and names)")
}

func (rf *reportFlags) validate() error {
	switch rf.FailOn {
	case "", "warning", "critical":
	default:
		return usageErr("--fail-on %q: want warning or critical", rf.FailOn)
	}
	if rf.JSON == "-" && rf.JSONLines == "-" {
		return usageErr("--json - and --json-lines - both want stdout: give one of them a file")
	}
	if rf.EvidencePayload && rf.Evidence == "" {
		return usageErr("--evidence-payload needs --evidence FILE")
	}
	if rf.Evidence == "-" {
		return usageErr("--evidence -: give a file name (the capture is binary)")
	}
	for _, o := range []struct{ flag, path string }{{"--json", rf.JSON}, {"--json-lines", rf.JSONLines}, {"--evidence", rf.Evidence}} {
		if o.path != "" && o.path != "-" {
			dir := filepath.Dir(o.path)
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageErr("%s %s: directory %s does not exist", o.flag, o.path, dir)
			}
		}
	}
	if _, err := rf.Opts.Config(); err != nil {
		return &exitError{2, err}
	}
	if _, err := rf.fixFlags.firewalls(); err != nil {
		return err
	}
	if _, err := rf.fixFlags.options(); err != nil {
		return err
	}
	return nil
}

// stdoutIsData reports whether stdout carries JSON (--json - or
// --json-lines -), and so no text.
func (rf *reportFlags) stdoutIsData() bool { return rf.JSON == "-" || rf.JSONLines == "-" }

// emit prints the text report and writes the finding lines and the JSON
// report as the flags ask, then applies --fail-on.
func (rf *reportFlags) emit(f *Factory, r *report.Report) error {
	// The lines first: they are keyed by the findings as analysed and
	// redact their own copies.
	if err := rf.fixFlags.apply(r); err != nil {
		return err
	}
	lerr := rf.writeLines(f, r)
	if err := rf.redact(r); err != nil {
		return err
	}
	if !rf.stdoutIsData() {
		if err := report.WriteTextOpts(f.Out, r, report.TextOptions{All: rf.All}); err != nil {
			return err
		}
	}
	// The evidence capture after the text (a capture that cannot be
	// written loses no report) and before the JSON, whose writing applies
	// --fail-on.
	eerr := rf.writeEvidence(f, r)
	jerr := rf.writeJSON(f, r)
	if lerr != nil {
		return lerr
	}
	if eerr != nil {
		return eerr
	}
	return jerr
}

// lineWriter returns the run's --json-lines writer, opening it the first
// time; nil without --json-lines.
func (rf *reportFlags) lineWriter(f *Factory) (*lineWriter, error) {
	if rf.JSONLines == "" || rf.lines != nil {
		return rf.lines, nil
	}
	red, err := rf.redactor()
	if err != nil {
		return nil, err
	}
	rf.lines, err = openLines(rf.JSONLines, f.Out, rf.command, red)
	return rf.lines, err
}

// writeLines writes the lines of the final report's findings not written
// yet and closes the --json-lines destination, once per run. r must not
// have been redacted yet.
func (rf *reportFlags) writeLines(f *Factory, r *report.Report) error {
	if rf.JSONLines == "" || rf.linesDone {
		return nil
	}
	rf.linesDone = true
	lw, err := rf.lineWriter(f)
	if err != nil {
		return err
	}
	lw.final(r)
	if err := lw.finish(); err != nil {
		return err
	}
	if rf.JSONLines != "-" {
		fmt.Fprintf(f.Err, "fwdiag: %d finding lines appended to %s\n", lw.lines, rf.JSONLines)
	}
	return nil
}

// writeEvidence writes the --evidence capture of the report, which must
// have been redacted already when asked: its comments quote the findings'
// summaries, and its packets are rewritten with the same redactor.
func (rf *reportFlags) writeEvidence(f *Factory, r *report.Report) error {
	if rf.Evidence == "" {
		return nil
	}
	red, err := rf.redactor()
	if err != nil {
		return err
	}
	st, err := evidence.WriteFile(rf.Evidence, r, evidence.Options{Redactor: red, Payload: rf.EvidencePayload,
		Open: rf.evidenceOpen, Application: "fwdiag " + f.Version})
	if err != nil {
		return &exitError{2, fmt.Errorf("--evidence %w", err)}
	}
	for _, w := range st.Warnings {
		fmt.Fprintf(f.Err, "fwdiag: --evidence %s: %s\n", rf.Evidence, w)
	}
	fmt.Fprintf(f.Err, "fwdiag: evidence capture written to %s (%d packets: %d cited, %d of handshakes; %d bytes)\n",
		rf.Evidence, st.Packets, st.Cited, st.Handshake, st.Bytes)
	return nil
}

// redactor returns the run's redactor, nil without --redact. One key per
// run, so every report the run writes uses the same pseudonyms.
func (rf *reportFlags) redactor() (*report.Redactor, error) {
	if !rf.Redact && rf.RedactKey == "" {
		return nil, nil
	}
	if rf.red == nil {
		key := []byte(rf.RedactKey)
		if len(key) == 0 {
			key = []byte(os.Getenv("FWDIAG_REDACT_KEY"))
		}
		if len(key) == 0 {
			key = make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
		}
		rf.red = report.NewRedactor(key)
	}
	return rf.red, nil
}

// redact applies --redact/--redact-key to the report, once.
func (rf *reportFlags) redact(r *report.Report) error {
	red, err := rf.redactor()
	if err != nil || red == nil || rf.redacted {
		return err
	}
	red.Apply(r)
	rf.redacted = true
	return nil
}

// prepareSave is the TUI's Prepare hook: the saved copy is redacted too.
func (rf *reportFlags) prepareSave(r *report.Report) *report.Report {
	if red, err := rf.redactor(); err == nil && red != nil {
		red.Apply(r)
	}
	return r
}

// writeJSON writes the finding lines (unless emit did) and the --json
// report (redacted when asked) and applies --fail-on. The TUI calls it
// after its screen was the text output.
func (rf *reportFlags) writeJSON(f *Factory, r *report.Report) error {
	lerr := rf.writeLines(f, r)
	if err := rf.redact(r); err != nil {
		return err
	}
	switch rf.JSON {
	case "":
	case "-":
		if err := report.WriteJSON(f.Out, r); err != nil {
			return err
		}
	default:
		if err := report.WriteFileAtomic(rf.JSON, r); err != nil {
			return &exitError{2, fmt.Errorf("--json %s: %w", rf.JSON, err)}
		}
		fmt.Fprintf(f.Err, "fwdiag: JSON report written to %s\n", rf.JSON)
	}
	if lerr != nil {
		return lerr
	}
	return rf.failOn(r)
}

func (rf *reportFlags) failOn(r *report.Report) error {
	if rf.FailOn == "" {
		return nil
	}
	c := r.Summary.Counts
	if c["critical"] > 0 || (rf.FailOn == "warning" && c["warning"] > 0) {
		return &exitError{code: 1}
	}
	return nil
}
