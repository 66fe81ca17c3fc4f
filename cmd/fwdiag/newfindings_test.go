package main

import (
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/report"
)

// TestPrintNewFindingsOncePerFinding: headless live prints each warning
// or critical finding once however many snapshots hold it, and two
// capture-wide findings of one kind (two inputs) are two findings.
func TestPrintNewFindingsOncePerFinding(t *testing.T) {
	r := &report.Report{Findings: []report.Finding{
		{ID: "Fa00001", Kind: diagnose.CaptureDrops, Severity: diagnose.Warning, Summary: "live:eth0: drops"},
		{ID: "Fa00002", Kind: diagnose.CaptureDrops, Severity: diagnose.Warning, Summary: "live:eth1: drops"},
		{ID: "Fa00003", Kind: diagnose.SWVersionInferred, Severity: diagnose.Info, Summary: "version"},
	}}
	var b strings.Builder
	seen := map[string]bool{}
	printNewFindings(&b, r, seen)
	printNewFindings(&b, r, seen) // the next snapshot
	out := b.String()
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "eth0") || !strings.Contains(out, "eth1") {
		t.Errorf("printed:\n%s\nwant the two drops findings once each, no info", out)
	}
}
