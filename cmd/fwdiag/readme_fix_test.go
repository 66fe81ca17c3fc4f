package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's "From capture to fix" section shows commands ("$ fwdiag
// ...") each followed by an excerpt of its output: for analyze, from the
// Timeouts line to the end of the FIX section; for the others, all of it.
// TestREADMEFixExampleIsOutput runs the commands from a directory that
// has the repository's pcaps (the files they write land in a temporary
// directory) and checks each excerpt is the output, line for line;
// -update rewrites the excerpts after a reviewed change of the wording.
func TestREADMEFixExampleIsOutput(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start, end := fencedBlock(lines, "### From capture to fix")
	if start < 0 {
		t.Fatal(`README.md: no "### From capture to fix" section with a complete fenced block`)
	}
	pcaps, err := filepath.Abs("../../pcaps")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if err := os.Symlink(pcaps, "pcaps"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := start; i < end; i++ {
		cmd, ok := strings.CutPrefix(lines[i], "$ fwdiag ")
		if !ok {
			continue
		}
		var out, errb bytes.Buffer
		f := &Factory{In: strings.NewReader(""), Out: &out, Err: &errb, Version: version}
		if code := Main(strings.Fields(cmd), f); code > 1 {
			t.Fatalf("README.md line %d: fwdiag %s: exit %d: %s", i+1, cmd, code, errb.String())
		}
		got = append(got, lines[i])
		got = append(got, fixExcerpt(strings.Split(strings.TrimRight(out.String(), "\n"), "\n"))...)
	}
	if len(got) == 0 {
		t.Fatal("README.md: the From capture to fix block has no $ fwdiag command")
	}
	if *updateREADME {
		lines = append(lines[:start:start], append(got, lines[end:]...)...)
		if err := os.WriteFile(filepath.Join(pcaps, "..", "README.md"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := lines[start:end]
	for i := range max(len(want), len(got)) {
		w, g := "", ""
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Fatalf("README.md line %d (From capture to fix) has drifted from the output:\n README: %q\n output: %q\nAfter checking the new output: go test ./cmd/fwdiag -run README -update", start+i+1, w, g)
		}
	}
}

// severityHead is the head of a severity's findings in the text report.
var severityHead = regexp.MustCompile(`^(CRITICAL|WARNING|INFO) \([0-9]+\)$`)

// fixExcerpt is the part of an analyze output the README shows: from the
// Timeouts line to the end of FIX (an output without Timeouts is shown
// whole).
func fixExcerpt(out []string) []string {
	from := 0
	for i, l := range out {
		if strings.HasPrefix(l, "Timeouts:") {
			from = i
			break
		}
	}
	to := len(out)
	for i := from; i < len(out); i++ {
		if severityHead.MatchString(out[i]) {
			to = i
			break
		}
	}
	for to > from && out[to-1] == "" {
		to--
	}
	return out[from:to]
}

// fencedBlock returns the bounds [start, end) of the lines inside the
// first fenced block of the section headed title; -1 when there is none.
func fencedBlock(lines []string, title string) (start, end int) {
	for i, l := range lines {
		if l != title {
			continue
		}
		for j := i + 1; j < len(lines) && !strings.HasPrefix(lines[j], "#"); j++ {
			if strings.HasPrefix(lines[j], "```") {
				for k := j + 1; k < len(lines); k++ {
					if strings.HasPrefix(lines[k], "```") {
						return j + 1, k
					}
				}
				return -1, -1
			}
		}
	}
	return -1, -1
}
