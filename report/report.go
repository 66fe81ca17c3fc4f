// Package report turns an analysis result into the JSON report of SPEC §3
// and the text summary. Its functions are pure: they read a flows.Result
// and the inputs' descriptions and write nothing but their output.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	_ "embed"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
)

// SchemaID names the report format; it changes only on incompatible changes.
const SchemaID = "fwdiag.report/v1"

// Schema is the JSON Schema (draft 2020-12) of the report.
//
//go:embed schema.json
var Schema []byte

// Report is the JSON report attached to a support ticket. It holds no
// payload bytes: only addresses, ports, counts, times and frame numbers.
type Report struct {
	Schema          string             `json:"schema"`
	Tool            Tool               `json:"tool"`
	Inputs          []Input            `json:"inputs"`
	Settings        Settings           `json:"settings"`
	Summary         Summary            `json:"summary"`
	Hosts           []flows.HostRow    `json:"hosts"`
	Services        []flows.ServiceRow `json:"services"`
	NPASessions     []flows.NPASession `json:"npa_sessions"`
	UDPFlows        []flows.UDPFlowRow `json:"udp_flows"`
	TCPFlows        []flows.TCPFlow    `json:"tcp_flows"`
	TCPFlowsOmitted int                `json:"tcp_flows_omitted"`
	Findings        []flows.Finding    `json:"findings"`
	// Errors lists problems reading the inputs, each naming file and frame.
	Errors []string `json:"errors"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Input describes one capture file.
type Input struct {
	Path      string    `json:"path"`
	Format    string    `json:"format"`
	LinkType  string    `json:"link_type"` // link types joined by ","
	Packets   uint64    `json:"packets"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Truncated uint64    `json:"truncated"`
	Drops     int64     `json:"drops"` // -1 unknown
}

// Settings are the thresholds the analysis used and where they came from.
type Settings struct {
	Profile          string  `json:"profile"`
	UDPTimeoutS      float64 `json:"udp_timeout_s"`
	TCPIdleTimeoutS  float64 `json:"tcp_idle_timeout_s"`
	UDPTimeoutSource string  `json:"udp_timeout_source"`
	TCPTimeoutSource string  `json:"tcp_idle_timeout_source"`
}

// Summary is the verdict and the finding counts by severity.
type Summary struct {
	Verdict string         `json:"verdict"`
	Counts  map[string]int `json:"counts"`
	Packets uint64         `json:"packets"`
	Start   time.Time      `json:"start"`
	End     time.Time      `json:"end"`
	// Stats are capture-wide counts an independent tool can check.
	Stats flows.Stats `json:"stats"`
}

// Build assembles the report. version is the tool's version.
func Build(res *flows.Result, inputs []*dissect.InputInfo, version string) *Report {
	r := &Report{
		Schema: SchemaID, Tool: Tool{Name: "fwdiag", Version: version},
		Inputs: []Input{}, Hosts: nonNil(res.Hosts), Services: nonNil(res.Services), NPASessions: nonNil(res.NPASessions),
		UDPFlows: nonNil(res.UDPFlows), TCPFlows: nonNil(res.TCPFlows), TCPFlowsOmitted: res.TCPFlowsOmitted,
		Findings: nonNil(res.Findings), Errors: []string{},
	}
	t := res.Timeouts
	r.Settings = Settings{Profile: t.Profile, UDPTimeoutS: t.UDP.Seconds(), TCPIdleTimeoutS: t.TCPIdle.Seconds(), UDPTimeoutSource: t.UDPSource, TCPTimeoutSource: t.TCPSource}
	for _, in := range inputs {
		r.Inputs = append(r.Inputs, Input{Path: in.Path, Format: in.Format, LinkType: strings.Join(in.LinkTypes, ","), Packets: in.Packets,
			First: in.First, Last: in.Last, Truncated: in.Truncated, Drops: in.Drops})
		for _, e := range in.Errors {
			r.Errors = append(r.Errors, e.Error())
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Evidence = append([]flows.Evidence(nil), f.Evidence...)
		for j := range f.Evidence {
			if in := f.Evidence[j].InputIndex; in >= 0 && in < len(inputs) {
				f.Evidence[j].Input = inputs[in].Path
			}
			if f.Evidence[j].Frames == nil {
				f.Evidence[j].Frames = []uint64{}
			}
		}
		if f.Evidence == nil {
			f.Evidence = []flows.Evidence{}
		}
	}
	counts := map[string]int{flows.Info: 0, flows.Warning: 0, flows.Critical: 0}
	for k, v := range res.Counts {
		counts[k] = v
	}
	r.Summary = Summary{Verdict: Verdict(res), Counts: counts, Packets: res.Packets, Start: res.First, End: res.Last, Stats: res.Stats}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Verdict is the one-line conclusion: the worst severity and what it is.
func Verdict(res *flows.Result) string {
	c := res.Counts
	switch {
	case c[flows.Critical] > 0:
		return fmt.Sprintf("CRITICAL: %s; %s", countLine(c), res.Findings[0].Summary)
	case c[flows.Warning] > 0:
		return fmt.Sprintf("WARNING: %s; %s", countLine(c), res.Findings[0].Summary)
	case res.Packets == 0:
		return "EMPTY: the capture holds no packets"
	}
	return fmt.Sprintf("OK: no problem found in %d packets (%d TCP connections, %d UDP service flows)", res.Packets, len(res.TCPFlows)+res.TCPFlowsOmitted, len(res.UDPFlows))
}

func countLine(c map[string]int) string {
	var parts []string
	for _, s := range []string{flows.Critical, flows.Warning, flows.Info} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Clone returns a deep copy of r (through its JSON form, which is all a
// report holds), so a copy can be redacted while the original is shown.
func Clone(r *Report) *Report {
	b, err := json.Marshal(r)
	if err != nil {
		return r
	}
	var c Report
	if err := json.Unmarshal(b, &c); err != nil {
		return r
	}
	return &c
}
