package pcaps_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fwdiag/fwdiag/pipeline"
)

// zeekDir is ../shared/zeek-compat beside the repository: Zeek's own test
// traces with the conn.log Zeek wrote for each (its README says how they
// were made; Zeek is BSD-licensed, COPYING.zeek beside them). CI has it;
// elsewhere a test that needs it skips and says so.
func zeekDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "shared", "zeek-compat"))
	if _, err := os.Stat(filepath.Join(dir, "index.tsv")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Zeek's traces are missing in CI: %v", err)
		}
		t.Skipf("no %s: Zeek compatibility not checked", dir)
	}
	return dir
}

// TestLinkTypeNotAnalysedIsSaid: a capture of a link type fwdiag does not
// read (Zeek's llc.pcap, real FDDI traffic) is one capture_link_unsupported
// warning naming the link type and every frame, not "frames damaged or cut
// short", and never an OK verdict.
func TestLinkTypeNotAnalysedIsSaid(t *testing.T) {
	path := filepath.Join(zeekDir(t), "traces", "llc.pcap")
	r, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Kind)+"/"+string(f.Severity))
	}
	if len(r.Findings) != 1 || r.Findings[0].Kind != "capture_link_unsupported" || r.Findings[0].Severity != "warning" {
		t.Fatalf("got findings %v; want one capture_link_unsupported warning", got)
	}
	f := r.Findings[0]
	if f.Count != 1333 || len(f.Evidence) != 1 || f.Evidence[0].Frames[0] != 1 || r.Summary.Verdict[:8] != "WARNING:" || r.Inputs[0].Truncated != 0 {
		t.Errorf("got count %d evidence %+v verdict %q truncated %d; want 1333 frames from frame 1, a WARNING verdict, none counted as truncated",
			f.Count, f.Evidence, r.Summary.Verdict, r.Inputs[0].Truncated)
	}
}
