package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/diagnose"
)

// bigReport is an hour of a busy site as the text report sees it: many
// findings, thousands of healthy rows, a few problem rows among them.
func bigReport() *Report {
	r := &Report{Tool: Tool{Name: "fwdiag", Version: "t"}, Summary: Summary{Verdict: "CRITICAL: ...", Counts: map[diagnose.Severity]int{}}}
	for i := 0; i < 20; i++ {
		r.Findings = append(r.Findings, Finding{ID: fmt.Sprintf("F%d", i+1), Kind: diagnose.SynUnanswered, Severity: diagnose.Critical,
			Summary: "a summary", Detail: strings.Repeat("detail words ", 30), Recommendation: "fix words", WiresharkFilter: "ip.addr==192.0.2.1",
			Clients: []string{fmt.Sprintf("192.0.2.%d", i)}, Servers: []string{"198.51.100.10"}})
	}
	r.Findings = append(r.Findings, Finding{ID: "F21", Kind: diagnose.SWVersionInferred, Severity: diagnose.Info, Summary: "version"})
	for i := 0; i < 500; i++ {
		st := diagnose.Listening
		if i%170 == 0 {
			st = diagnose.Filtered
		}
		r.Services = append(r.Services, ServiceRow{Server: fmt.Sprintf("198.51.100.%d", i%250), Port: 5000 + i, Transport: "tcp", Service: "sw-binary", Status: st})
	}
	for i := 0; i < 3000; i++ {
		st := diagnose.NPAPaired
		if i%300 == 7 {
			st = diagnose.NPAMissing
		}
		r.NPASessions = append(r.NPASessions, NPASession{Client: fmt.Sprintf("10.0.%d.%d", i/250, i%250), Server: "198.51.100.10", Status: st})
	}
	for i := 0; i < 1000; i++ {
		late := 0
		if i%200 == 3 {
			late = 2
		}
		r.UDPFlows = append(r.UDPFlows, UDPFlowRow{Client: fmt.Sprintf("10.1.%d.%d", i/250, i%250), ClientPort: 50000, Server: "198.51.100.20", ServerPort: 19283,
			Requests: 5, Responses: 5, LateResponses: late})
	}
	for i := 0; i < 3000; i++ {
		r.Hosts = append(r.Hosts, HostRow{Addr: fmt.Sprintf("10.2.%d.%d", i/250, i%250), Roles: []string{"sw-client"}})
	}
	r.Hosts = append(r.Hosts, HostRow{Addr: "198.51.100.10", Roles: []string{"sw-server"}})
	return r
}

// TestTextIsHumanSized: on an hour of a busy site the default text report
// stays about a hundred lines and shows the problem rows (the missing NPA
// sessions, the late UDP flows, the filtered services, the server the
// findings blame), counting the healthy ones; --all shows every row.
func TestTextIsHumanSized(t *testing.T) {
	r := bigReport()
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "\n"); n > 110 {
		t.Errorf("default text report has %d lines; want about 100 at most", n)
	}
	for _, want := range []string{"10.0.0.7  ", "missing", "10.1.0.3:50000", "FILTERED", "198.51.100.10  -  sw-server", "(2990 of them paired)", "more hosts"} {
		if !strings.Contains(out, want) {
			t.Errorf("default text report lacks %q", want)
		}
	}
	b.Reset()
	if err := WriteTextOpts(&b, r, TextOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	all := b.String()
	if strings.Count(all, " paired ") < 2990 || strings.Contains(all, "more rows") || strings.Count(all, "\n") < 7000 {
		t.Errorf("--all report leaves rows out (%d lines)", strings.Count(all, "\n"))
	}
}

// TestFixShownWhereNoChangeCoversIt: a finding resolved by a change in
// CHANGES has its fix there; a finding no change covers (a capture
// finding, say) keeps its Fix line in its own block.
func TestFixShownWhereNoChangeCoversIt(t *testing.T) {
	r := &Report{Tool: Tool{Name: "fwdiag", Version: "t"}, Summary: Summary{Verdict: "CRITICAL: ...", Counts: map[diagnose.Severity]int{}},
		Findings: []Finding{
			{ID: "Fa", Kind: diagnose.SynUnanswered, Severity: diagnose.Critical, Summary: "blocked", Recommendation: "allow it"},
			{ID: "Fb", Kind: diagnose.CaptureDrops, Severity: diagnose.Warning, Summary: "drops", Recommendation: "capture with a narrower filter"},
		},
		Changes: []Change{{N: 1, Findings: []string{"Fa"}, Where: "the path", What: "allow it"}}}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "Fix:  allow it") {
		t.Errorf("the covered finding repeats its fix:\n%s", out)
	}
	if !strings.Contains(out, "Fix:  capture with a narrower filter") {
		t.Errorf("the uncovered finding lost its fix:\n%s", out)
	}
}
