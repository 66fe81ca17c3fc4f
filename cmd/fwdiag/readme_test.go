package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The README's "Example" section shows an excerpt of `make demo`'s output.
// TestREADMEExampleIsDemoOutput keeps it true; after a reviewed change of
// the report's wording,
//
//	go test ./cmd/fwdiag -run README -update
//
// rewrites the excerpt from the current output (same shape: the head up to
// the end of the first finding, the other findings' title lines, the
// services table).
var updateREADME = flag.Bool("update", false, "rewrite the README's demo excerpt from the output of fwdiag demo")

const readmePath = "../../README.md"

// readmeExample returns the README's lines and the bounds [start, end) of
// the lines inside the first fenced block of the "### Example" section.
func readmeExample(readme string) (lines []string, start, end int, err error) {
	lines = strings.Split(readme, "\n")
	sec := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "### Example") {
			sec = i
			break
		}
	}
	if sec < 0 {
		return nil, 0, 0, fmt.Errorf("no \"### Example\" section")
	}
	for i := sec + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "#") {
			break
		}
		if strings.HasPrefix(lines[i], "```") {
			for j := i + 1; j < len(lines); j++ {
				if strings.HasPrefix(lines[j], "```") {
					return lines, i + 1, j, nil
				}
			}
			break
		}
	}
	return nil, 0, 0, fmt.Errorf("the Example section has no complete ``` block")
}

// checkExcerpt applies the rule a README excerpt follows: its first line is
// the output's first line, and every line other than "..." is a line of
// the output, in the output's order ("..." marks lines left out).
func checkExcerpt(excerpt, out []string) error {
	if len(excerpt) == 0 || len(out) == 0 || excerpt[0] != out[0] {
		return fmt.Errorf("the excerpt does not begin with the output's first line %q", first(out))
	}
	j := 0
	for i, l := range excerpt {
		if l == "..." {
			continue
		}
		k := j
		for k < len(out) && out[k] != l {
			k++
		}
		if k == len(out) {
			return fmt.Errorf("excerpt line %d is not in the output after output line %d:\n  %q\nthe output there:\n  %s", i+1, j, l, strings.Join(around(out, j), "\n  "))
		}
		j = k + 1
	}
	return nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func around(s []string, i int) []string {
	return s[min(i, len(s)):min(i+4, len(s))]
}

// makeExcerpt cuts the README's excerpt from the demo output: everything up
// to the end of the first finding, the title line of every other finding,
// and the services table.
func makeExcerpt(out []string) []string {
	var ex []string
	i := 0
	inFinding := false
	for ; i < len(out); i++ {
		if strings.HasPrefix(out[i], "[F1] ") {
			inFinding = true
		}
		if inFinding && out[i] == "" {
			break
		}
		ex = append(ex, out[i])
	}
	ex = append(ex, "...")
	for ; i < len(out) && out[i] != "SERVICES"; i++ {
		if strings.HasPrefix(out[i], "[F") {
			ex = append(ex, out[i])
		}
	}
	ex = append(ex, "...")
	for ; i < len(out) && out[i] != ""; i++ {
		ex = append(ex, out[i])
	}
	return ex
}

func demoLines(t *testing.T) []string {
	t.Helper()
	var out, errb bytes.Buffer
	// The version `go build` gives: the README shows a plain build's output.
	f := &Factory{In: strings.NewReader(""), Out: &out, Err: &errb, Version: version}
	if code := Main([]string{"demo"}, f); code != 0 {
		t.Fatalf("fwdiag demo: exit %d: %s", code, errb.String())
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

func TestREADMEExampleIsDemoOutput(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines, start, end, err := readmeExample(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	out := demoLines(t)
	if *updateREADME {
		ex := makeExcerpt(out)
		lines = append(lines[:start:start], append(ex, lines[end:]...)...)
		if err := os.WriteFile(readmePath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		end = start + len(ex)
		t.Logf("README.md: Example excerpt rewritten (%d lines)", len(ex))
	}
	if err := checkExcerpt(lines[start:end], out); err != nil {
		t.Errorf("README.md's Example (lines %d-%d) has drifted from the output of fwdiag demo: %v\nAfter checking the new output, refresh it with: go test ./cmd/fwdiag -run README -update", start+1, end, err)
	}
}

func TestCheckExcerptCatchesDrift(t *testing.T) {
	out := []string{"fwdiag 1", "Input: x", "", "[F1] a", "  one", "", "[F2] b", "  two", "SERVICES", "  row", ""}
	ex := makeExcerpt(out)
	if want := "fwdiag 1|Input: x||[F1] a|  one|...|[F2] b|...|SERVICES|  row"; strings.Join(ex, "|") != want {
		t.Errorf("excerpt %q; want %q", strings.Join(ex, "|"), want)
	}
	if err := checkExcerpt(ex, out); err != nil {
		t.Errorf("the excerpt of the output fails: %v", err)
	}
	for name, bad := range map[string][]string{
		"reworded":     {"fwdiag 1", "Input: y"},
		"out of order": {"fwdiag 1", "...", "[F2] b", "[F1] a"},
		"other head":   {"Input: x"},
		"empty":        nil,
	} {
		if err := checkExcerpt(bad, out); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}
