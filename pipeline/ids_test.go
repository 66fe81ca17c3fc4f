package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/report"
)

// findingKey is what a finding is about, the fields its id is derived from.
func findingKey(f report.Finding) string {
	return fmt.Sprintf("%s|%s|%s|%d|%s|%s", f.Kind, f.Client, f.Server, f.Port, f.Transport, f.Service)
}

// TestFindingIDsAreStable: a finding keeps its id when the report is
// redacted and in every live snapshot that holds it, so a ticket, a log
// line and a TUI screen written at different moments name it the same way.
func TestFindingIDsAreStable(t *testing.T) {
	paths := []string{labCapture, "../pcaps/captures/mixed-rejects/client.pcap"}
	full, err := AnalyzeFiles(paths, Options{}, "test")
	if err != nil {
		t.Skipf("lab captures: %v", err)
	}
	if len(full.Findings) < 3 {
		t.Fatalf("got %d findings; want several to compare", len(full.Findings))
	}
	ids := map[string]string{} // key -> id
	seen := map[string]bool{}
	for _, f := range full.Findings {
		if seen[f.ID] {
			t.Errorf("id %s used twice", f.ID)
		}
		seen[f.ID] = true
		ids[findingKey(f)] = f.ID
	}

	red, _ := AnalyzeFiles(paths, Options{}, "test")
	report.NewRedactor([]byte("ticket key")).Apply(red)
	for i, f := range red.Findings {
		if f.ID != full.Findings[i].ID {
			t.Errorf("finding %d: redacted id %s; plain id %s", i, f.ID, full.Findings[i].ID)
		}
	}
	if red.Findings[0].Client == full.Findings[0].Client && full.Findings[0].Client != "" {
		t.Fatal("redaction did not change the addresses; the test proves nothing")
	}

	cfg, _ := Options{}.Config()
	src, err := OpenFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewRunner(&slowSource{Source: src, ctx: ctx, delay: 200 * time.Microsecond}, cfg, "test")
	r.SetInterval(10 * time.Millisecond)
	compared := 0
	for s := range r.Start(ctx) {
		if s.Report == nil {
			continue
		}
		for _, f := range s.Report.Findings {
			if want, ok := ids[findingKey(f)]; ok {
				compared++
				if f.ID != want {
					t.Errorf("snapshot at %d packets: %s has id %s; the final report says %s", s.Packets, f.Kind, f.ID, want)
				}
			}
		}
		if s.Packets >= full.Summary.Packets {
			cancel()
		}
	}
	if compared == 0 {
		t.Error("no snapshot held a finding of the final report")
	}
}
