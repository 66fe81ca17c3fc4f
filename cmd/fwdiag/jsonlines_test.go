package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

const (
	lineSchemaPath  = "../../docs/finding-line.schema.json"
	mixedRejects    = "../../pcaps/captures/mixed-rejects/client.pcap"
	reportSchemaURL = "https://fwdiag.example/schema/report-v1.json"
)

// lineSchema compiles docs/finding-line.schema.json, which refers to the
// report's schema for the finding, the settings and the tool.
func lineSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	rdoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.Schema))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource(reportSchemaURL, rdoc); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(lineSchemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ldoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", lineSchemaPath, err)
	}
	if err := c.AddResource("finding-line.json", ldoc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("finding-line.json")
	if err != nil {
		t.Fatalf("%s: %v", lineSchemaPath, err)
	}
	return s
}

// checkLines parses out as finding lines: each line valid JSON, valid
// against the schema, with a finding kind (what `jq -c .finding.kind`
// reads).
func checkLines(t *testing.T, schema *jsonschema.Schema, out []byte) []FindingLine {
	t.Helper()
	var lines []FindingLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", n, err, raw)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("line %d does not follow %s: %v\n%s", n, lineSchemaPath, err, raw)
		}
		var l FindingLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if l.Finding.Kind == "" {
			t.Errorf("line %d has no .finding.kind", n)
		}
		lines = append(lines, l)
	}
	return lines
}

// slowSource hands out a capture's packets at a pace, as a live capture
// does, so that a runner publishes several snapshots while it reads.
type slowSource struct {
	dissect.Source
	pace time.Duration
}

func (s slowSource) Next(p *dissect.Packet) error {
	time.Sleep(s.pace)
	return s.Source.Next(p)
}

// TestJSONLinesLiveLikeRun runs a lab capture through a pipeline.Runner at
// a live pace and feeds every snapshot to the --json-lines writer as
// `fwdiag live --no-tui` does, then the final report: one valid line per
// finding of the final report, none twice, warnings and criticals written
// as they formed (before the run ended), info findings at the end.
func TestJSONLinesLiveLikeRun(t *testing.T) {
	schema := lineSchema(t)
	cfg, err := pipeline.Options{}.Config()
	if err != nil {
		t.Fatal(err)
	}
	src, err := pipeline.OpenFiles([]string{mixedRejects})
	if err != nil {
		t.Fatal(err)
	}
	runner := pipeline.NewRunner(slowSource{src, time.Millisecond}, cfg, "test")
	runner.SetInterval(10 * time.Millisecond)
	var out bytes.Buffer
	lw, err := openLines("-", &out, "live", nil)
	if err != nil {
		t.Fatal(err)
	}
	var last pipeline.Snapshot
	snaps, beforeEnd := 0, 0
	for s := range runner.Start(context.Background()) {
		snaps++
		last = s
		lw.live(s.Report)
		lw.live(s.Report) // a snapshot seen again adds nothing
		if !s.Done {
			beforeEnd = lw.lines
		}
	}
	lw.final(last.Report)
	lw.final(last.Report)
	if err := lw.finish(); err != nil {
		t.Fatal(err)
	}
	if snaps < 3 || beforeEnd == 0 {
		t.Errorf("%d snapshots, %d lines before the last: want a run that published findings as it went", snaps, beforeEnd)
	}
	lines := checkLines(t, schema, out.Bytes())
	r := last.Report
	if len(lines) != len(r.Findings) || len(lines) == 0 {
		t.Fatalf("got %d lines; want one per finding of the final report (%d)", len(lines), len(r.Findings))
	}
	var want, got []string
	for i := range r.Findings {
		want = append(want, findingKey(&r.Findings[i]))
	}
	run := lines[0].Run
	for i, l := range lines {
		got = append(got, l.Key)
		if l.Run != run || l.Command != "live" || l.Tool.Name != "fwdiag" || len(l.Inputs) != 1 || l.Inputs[0] != mixedRejects {
			t.Errorf("line %d: envelope %+v", i+1, l)
		}
		if wantPhase := map[bool]string{true: phaseFinal, false: phaseLive}[l.Finding.Severity == "info"]; l.Phase != wantPhase {
			t.Errorf("line %d (%s %s): phase %s; want %s", i+1, l.Finding.Severity, l.Finding.Kind, l.Phase, wantPhase)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("line keys %v\nwant the final report's %v", got, want)
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("a finding was written twice: %v", got)
	}
	if jq, err := exec.LookPath("jq"); err == nil {
		cmd := exec.Command(jq, "-c", ".finding.kind")
		cmd.Stdin = bytes.NewReader(out.Bytes())
		kinds, err := cmd.Output()
		if err != nil || strings.Count(string(kinds), "\n") != len(lines) {
			t.Errorf("jq -c .finding.kind: %v, %q", err, kinds)
		}
	}
}

func TestJSONLinesAnalyze(t *testing.T) {
	schema := lineSchema(t)
	code, stdout, stderr := runCLI(t, "analyze", "--json-lines", "-", mixedRejects)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := checkLines(t, schema, []byte(stdout))
	_, rep, _ := runCLI(t, "analyze", "--json", "-", mixedRejects)
	var r report.Report
	if err := json.Unmarshal([]byte(rep), &r); err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(r.Findings) {
		t.Fatalf("got %d lines; want %d (no text on stdout, one line per finding)", len(lines), len(r.Findings))
	}
	for i, l := range lines {
		if l.Phase != phaseFinal || l.Command != "analyze" || l.Finding.ID != r.Findings[i].ID || l.Finding.Summary != r.Findings[i].Summary {
			t.Errorf("line %d: %s %s %s; want the report's finding %s in order, phase final", i+1, l.Phase, l.Command, l.Finding.ID, r.Findings[i].ID)
		}
	}

	// A file is appended to; the text report stays on stdout.
	path := filepath.Join(t.TempDir(), "findings.ndjson")
	for range 2 {
		code, stdout, stderr := runCLI(t, "analyze", "--json-lines", path, mixedRejects)
		if code != 0 || !strings.Contains(stdout, "VERDICT:") || !strings.Contains(stderr, "finding lines appended to "+path) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, firstLines(stdout, 2), stderr)
		}
	}
	b, _ := os.ReadFile(path)
	lines = checkLines(t, schema, b)
	if len(lines) != 2*len(r.Findings) || lines[0].Run == lines[len(lines)-1].Run {
		t.Errorf("two runs: got %d lines, runs %s and %s; want %d lines of two runs", len(lines), lines[0].Run, lines[len(lines)-1].Run, 2*len(r.Findings))
	}

	// --redact: the lines carry the same pseudonyms as the report.
	_, stdout, _ = runCLI(t, "analyze", "--redact-key", "k", "--json-lines", "-", mixedRejects)
	_, rep, _ = runCLI(t, "analyze", "--redact-key", "k", "--json", "-", mixedRejects)
	json.Unmarshal([]byte(rep), &r)
	lines = checkLines(t, schema, []byte(stdout))
	for i, l := range lines {
		if strings.Contains(stdout, "192.0.2.") || strings.Contains(stdout, "198.51.100.") {
			t.Fatal("a real address survived --redact in the lines")
		}
		if l.Finding.Client != r.Findings[i].Client || l.Finding.Server != r.Findings[i].Server || l.Finding.Summary != r.Findings[i].Summary {
			t.Errorf("line %d: %s -> %s, %q; want the report's %s -> %s, %q", i+1, l.Finding.Client, l.Finding.Server, l.Finding.Summary, r.Findings[i].Client, r.Findings[i].Server, r.Findings[i].Summary)
		}
	}
}

func TestJSONLinesCommands(t *testing.T) {
	schema := lineSchema(t)
	for _, args := range [][]string{{"demo"}, {"tui", mixedRejects}} {
		code, stdout, _ := runCLI(t, append(args, "--json-lines", "-")...)
		lines := checkLines(t, schema, []byte(stdout))
		if code != 0 || len(lines) == 0 || lines[0].Command != args[0] {
			t.Errorf("%s: exit %d, %d lines", args[0], code, len(lines))
		}
	}
}

// TestLineSchemaRefusesBadLines: the schema (and the report schema it
// refers to for the finding) does check.
func TestLineSchemaRefusesBadLines(t *testing.T) {
	schema := lineSchema(t)
	_, stdout, _ := runCLI(t, "analyze", "--json-lines", "-", mixedRejects)
	good := strings.SplitN(stdout, "\n", 2)[0]
	for name, bad := range map[string]string{
		"phase":        strings.Replace(good, `"phase":"final"`, `"phase":"later"`, 1),
		"finding kind": strings.Replace(good, `"kind":"`, `"kind":"no_such_`, 1),
		"extra field":  strings.Replace(good, `{"schema"`, `{"extra":1,"schema"`, 1),
	} {
		if bad == good {
			t.Fatalf("%s: the line did not change", name)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(doc) == nil {
			t.Errorf("%s: a bad line passes the schema", name)
		}
	}
}

func TestFindingKeyTellsCaptureWideFindingsApart(t *testing.T) {
	a := report.Finding{Kind: "capture_truncated", Evidence: []report.Evidence{{Input: 0}}}
	b := report.Finding{Kind: "capture_truncated", Evidence: []report.Evidence{{Input: 1}}}
	if findingKey(&a) == findingKey(&b) {
		t.Error("the capture_truncated findings of two inputs share a key")
	}
	// Two findings with one key in a report are both written, once.
	r := &report.Report{Inputs: []report.Input{{Path: "x"}}, Settings: report.Settings{Profile: "default", UDPTimeoutS: 60}, Findings: []report.Finding{
		{ID: "F1", Kind: "syn_reset", Severity: "critical", Server: "192.0.2.1", Port: 1, Summary: "one"},
		{ID: "F2", Kind: "syn_reset", Severity: "critical", Server: "192.0.2.1", Port: 1, Summary: "two"},
	}}
	var out bytes.Buffer
	lw, _ := openLines("-", &out, "live", nil)
	lw.live(r)
	lw.final(r)
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("got %d lines; want 2", n)
	}
}
