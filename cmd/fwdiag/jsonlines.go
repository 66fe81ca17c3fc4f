package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/report"
)

// findingLineSchema names the --json-lines format (docs/finding-line.schema.json).
const findingLineSchema = "fwdiag.finding/v1"

// Phases of a finding line.
const (
	// phaseLive: written during a live capture as the finding first
	// appeared in a snapshot; its counts and last_seen are as of then.
	phaseLive = "live"
	// phaseFinal: written from the run's final report (analyze, demo, tui,
	// and the findings of a live run not written while it captured).
	phaseFinal = "final"
)

// FindingLine is one line of --json-lines: a finding of the report wire
// format with what a log pipeline needs to file it.
type FindingLine struct {
	Schema string      `json:"schema"` // fwdiag.finding/v1
	Time   time.Time   `json:"time"`   // wall clock when the line was written (UTC)
	Tool   report.Tool `json:"tool"`
	// Command is the fwdiag command that wrote the line: analyze, live,
	// tui or demo.
	Command string `json:"command"`
	// Run is a random id shared by the lines of one run.
	Run   string `json:"run"`
	Phase string `json:"phase"` // live or final (see phaseLive, phaseFinal)
	// Key identifies the finding across the snapshots of a live run and its
	// final report (finding.id is the finding's number in the report the
	// line came from and may change as a live report grows): kind, client,
	// server, port and transport, and for a capture-wide finding (no client,
	// no server) the inputs of its evidence.
	Key      string          `json:"key"`
	Inputs   []string        `json:"inputs"` // the report's inputs: paths, or live:IFACE
	Settings report.Settings `json:"settings"`
	Finding  report.Finding  `json:"finding"`
}

// lineWriter writes finding lines, each finding of a run once: a live run
// writes the warning and critical findings as they first appear in a
// snapshot (an info finding early in a session can be a passing state, as
// for the headless text lines), and at the end every finding of the final
// report not written yet.
type lineWriter struct {
	w       io.Writer
	close   func() error
	path    string // as given to --json-lines
	command string
	run     string
	red     *report.Redactor // nil: no --redact
	now     func() time.Time
	// written counts the lines written per key: a report may hold two
	// findings with one key, and each is written once.
	written map[string]int
	lines   int
	err     error // the first write error; later writes are skipped
}

// openLines opens the --json-lines destination: stdout for "-", else the
// file, created or appended to (a log shipper can follow one file across
// runs; the run id tells the runs apart).
func openLines(path string, stdout io.Writer, command string, red *report.Redactor) (*lineWriter, error) {
	lw := &lineWriter{path: path, command: command, red: red, now: time.Now, written: map[string]int{}, close: func() error { return nil }}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	lw.run = hex.EncodeToString(id[:])
	if path == "-" {
		lw.w = stdout
		return lw, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &exitError{2, fmt.Errorf("--json-lines %s: %w", path, unwrapPath(err))}
	}
	lw.w, lw.close = f, f.Close
	return lw, nil
}

// live writes the warning and critical findings of a live snapshot's
// report not written before.
func (lw *lineWriter) live(r *report.Report) {
	lw.write(r, phaseLive, func(fd *report.Finding) bool { return fd.Severity != "info" })
}

// final writes the findings of the final report not written before.
func (lw *lineWriter) final(r *report.Report) {
	lw.write(r, phaseFinal, func(*report.Finding) bool { return true })
}

func (lw *lineWriter) write(r *report.Report, phase string, want func(*report.Finding) bool) {
	if r == nil || lw.err != nil {
		return
	}
	inputs := make([]string, len(r.Inputs))
	for i, in := range r.Inputs {
		inputs[i] = in.Path
	}
	seen := map[string]int{} // findings per key in this report so far
	for i := range r.Findings {
		fd := &r.Findings[i]
		k := findingKey(fd)
		seen[k]++
		if !want(fd) || seen[k] <= lw.written[k] {
			continue
		}
		lw.written[k]++
		out := lw.redacted(r, fd)
		line := FindingLine{Schema: findingLineSchema, Time: lw.now().UTC(), Tool: r.Tool, Command: lw.command, Run: lw.run,
			Phase: phase, Key: findingKey(&out), Inputs: inputs, Settings: r.Settings, Finding: out}
		b, err := json.Marshal(line)
		if err != nil {
			lw.err = err
			return
		}
		// One write per line, so a reader following the file never sees
		// half a line of a run still going.
		if _, err := lw.w.Write(append(b, '\n')); err != nil {
			lw.err = err
			return
		}
		lw.lines++
	}
}

// redacted returns a copy of fd for the line, its addresses replaced as
// --redact asks; r and fd are left alone (a live snapshot's report is
// shared with the UI).
func (lw *lineWriter) redacted(r *report.Report, fd *report.Finding) report.Finding {
	out := *fd
	// Every slice the redactor rewrites in place is copied first.
	out.Clients, out.Servers = slices.Clone(fd.Clients), slices.Clone(fd.Servers)
	out.Evidence = slices.Clone(fd.Evidence)
	if out.Evidence == nil {
		out.Evidence = []report.Evidence{}
	}
	for i := range out.Evidence {
		if out.Evidence[i].Frames == nil {
			out.Evidence[i].Frames = []uint64{}
		}
	}
	if lw.red != nil {
		// A report without its diagnosis is redacted field by field, the
		// input paths kept.
		tmp := &report.Report{Inputs: slices.Clone(r.Inputs), Findings: []report.Finding{out}}
		lw.red.Apply(tmp)
		out = tmp.Findings[0]
	}
	return out
}

// findingKey is a finding's identity across snapshots: kind, client,
// server, port, transport; a capture-wide finding (one per input) adds the
// inputs of its evidence.
func findingKey(fd *report.Finding) string {
	k := strings.Join([]string{string(fd.Kind), fd.Client, fd.Server, strconv.Itoa(fd.Port), string(fd.Transport)}, "|")
	if fd.Client == "" && fd.Server == "" {
		var ins []string
		for _, e := range fd.Evidence {
			if in := strconv.Itoa(e.Input); !slices.Contains(ins, in) {
				ins = append(ins, in)
			}
		}
		slices.Sort(ins)
		k += "|" + strings.Join(ins, ",")
	}
	return k
}

// finish closes the destination and returns the first error, naming the
// destination.
func (lw *lineWriter) finish() error {
	err := lw.err
	if cerr := lw.close(); err == nil {
		err = cerr
	}
	lw.close = func() error { return nil }
	if err != nil {
		return &exitError{2, fmt.Errorf("--json-lines %s: %w", lw.path, unwrapPath(err))}
	}
	return nil
}
