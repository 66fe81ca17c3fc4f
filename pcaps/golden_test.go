// Package pcaps_test runs the analyzer over every committed capture: the lab
// captures that tcpdump recorded through a real nftables firewall and the
// synthetic ones for long timescales. Each scenario directory holds an
// expect.txt, reviewed by hand, that lists exactly the findings above info
// each capture must give; the full reports are kept as golden JSON beside
// them (`make golden` refreshes those after a reviewed change).
package pcaps_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

var update = flag.Bool("update", false, "rewrite the golden reports")

// expectation is a scenario's expect.txt: the analysis flags, and for each
// input (a file, or several joined with +) the findings above info it must
// give, as "kind severity client server port" lines, and the NPA statuses.
type expectation struct {
	flags    []string
	findings map[string][]string // input -> sorted finding lines
	npa      map[string][]string // input -> sorted "client status" lines
	order    []string
}

func readExpect(t *testing.T, path string) *expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := &expectation{findings: map[string][]string{}, npa: map[string][]string{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "flags:"); ok {
			e.flags = strings.Fields(rest)
			continue
		}
		input, rest, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		input = strings.TrimSpace(input)
		if !seen[input] {
			seen[input] = true
			e.order = append(e.order, input)
		}
		rest = strings.Join(strings.Fields(rest), " ")
		switch {
		case rest == "none":
		case strings.HasPrefix(rest, "npa "):
			e.npa[input] = append(e.npa[input], strings.TrimPrefix(rest, "npa "))
		default:
			e.findings[input] = append(e.findings[input], rest)
		}
	}
	for k := range e.findings {
		sort.Strings(e.findings[k])
	}
	for k := range e.npa {
		sort.Strings(e.npa[k])
	}
	return e
}

// options turns expect.txt flags into analysis options.
func options(t *testing.T, flags []string) pipeline.Options {
	t.Helper()
	var o pipeline.Options
	for i := 0; i < len(flags); i++ {
		need := func() string {
			if i+1 >= len(flags) {
				t.Fatalf("flag %s needs a value", flags[i])
			}
			i++
			return flags[i]
		}
		switch flags[i] {
		case "--profile":
			o.Profile = need()
		case "--udp-timeout":
			d, err := parseDur(need())
			if err != nil {
				t.Fatal(err)
			}
			o.UDPTimeout = d
		case "--tcp-idle-timeout":
			d, err := parseDur(need())
			if err != nil {
				t.Fatal(err)
			}
			o.TCPIdle = d
		default:
			t.Fatalf("unknown flag %s in expect.txt", flags[i])
		}
	}
	return o
}

// capturesDir is where the scenarios are: the committed captures, or
// $FWDIAG_CAPTURES (e.g. a fresh `make lab` run written elsewhere with
// LAB_OUT), which is then checked against expect.txt and the schema only:
// a new run's golden reports differ in ports and times.
func capturesDir() (dir string, fresh bool) {
	if d := os.Getenv("FWDIAG_CAPTURES"); d != "" {
		return d, true
	}
	return "captures", false
}

func scenarios(t *testing.T) []string {
	base, _ := capturesDir()
	dirs, err := filepath.Glob(filepath.Join(base, "*", "expect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no scenario has an expect.txt")
	}
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	return dirs
}

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report.Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGolden analyzes every capture of every scenario and checks the
// findings above info against expect.txt, the report against the JSON
// Schema, and the whole report against its golden file.
func TestGolden(t *testing.T) {
	schema := compiledSchema(t)
	for _, dir := range scenarios(t) {
		exp := readExpect(t, filepath.Join(dir, "expect.txt"))
		for _, input := range exp.order {
			t.Run(filepath.Base(dir)+"/"+input, func(t *testing.T) {
				var paths []string
				for _, p := range strings.Split(input, "+") {
					paths = append(paths, filepath.Join(dir, p))
				}
				r, err := pipeline.AnalyzeFiles(paths, options(t, exp.flags), "golden")
				if err != nil {
					t.Fatal(err)
				}
				got := aboveInfo(r)
				if want := exp.findings[input]; strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("findings above info:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				if want, ok := exp.npa[input]; ok {
					var gotN []string
					for _, n := range r.NPASessions {
						gotN = append(gotN, n.Client+" "+n.Status)
					}
					sort.Strings(gotN)
					if strings.Join(gotN, "\n") != strings.Join(want, "\n") {
						t.Errorf("NPA sessions:\ngot:\n  %s\nwant:\n  %s", strings.Join(gotN, "\n  "), strings.Join(want, "\n  "))
					}
				}
				var buf bytes.Buffer
				if err := report.WriteJSON(&buf, r); err != nil {
					t.Fatal(err)
				}
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				if err := schema.Validate(doc); err != nil {
					t.Errorf("report does not match the schema: %v", err)
				}
				if _, fresh := capturesDir(); fresh {
					return
				}
				golden := filepath.Join(dir, input+".report.json")
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run make golden after reviewing the report)", err)
				}
				if !bytes.Equal(want, buf.Bytes()) {
					t.Errorf("report differs from %s; review with: go test ./pcaps -run TestGolden -update && git diff %s", golden, golden)
				}
			})
		}
	}
}

// aboveInfo lists a report's findings above info the way expect.txt does:
// "kind severity client server port", sorted.
func aboveInfo(r *report.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity != "info" {
			out = append(out, fmt.Sprintf("%s %s %s %s %d", f.Kind, f.Severity, dash(f.Client), dash(f.Server), f.Port))
		}
	}
	sort.Strings(out)
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TestTsharkAgrees cross-checks the counts fwdiag reports with tshark on the
// same single-interface captures: TCP conversations, retransmissions, resets
// and ICMP errors.
func TestTsharkAgrees(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make tools installs it): cross-check skipped")
	}
	files, _ := filepath.Glob("captures/*/client.pcap")
	more, _ := filepath.Glob("captures/*/server.pcap")
	synth, _ := filepath.Glob("captures/synth-*/capture.pcap")
	files = append(append(files, more...), synth...)
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			r, err := pipeline.AnalyzeFiles([]string{f}, pipeline.Options{}, "test")
			if err != nil {
				t.Fatal(err)
			}
			st := r.Summary.Stats
			checks := []struct {
				what   string
				filter string
				got    int
			}{
				{"retransmissions", "tcp.analysis.retransmission", st.TCPRetransmissions},
				{"resets", "tcp.flags.reset==1", st.TCPResets},
				{"ICMP errors", "icmp.type==3 || icmp.type==11 || icmp.type==12 || (icmpv6.type>=1 && icmpv6.type<=4)", int(st.ICMPErrors)},
			}
			for _, c := range checks {
				want := tsharkCount(t, f, c.filter)
				if c.got != want {
					t.Errorf("%s: fwdiag %d, tshark %d (-Y '%s')", c.what, c.got, want, c.filter)
				}
			}
			if want := tsharkConversations(t, f); st.TCPConnections != want {
				t.Errorf("TCP conversations: fwdiag %d, tshark %d", st.TCPConnections, want)
			}
		})
	}
}

func tsharkCount(t *testing.T, file, filter string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return len(strings.Fields(string(out)))
}

// tsharkConversations counts the rows of `tshark -z conv,tcp`.
func tsharkConversations(t *testing.T, file string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-q", "-z", "conv,tcp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "<->") {
			n++
		}
	}
	return n
}

func parseDur(s string) (time.Duration, error) { return time.ParseDuration(s) }

// TestWiresharkFiltersParse runs every finding's display filter of every
// golden report through tshark on the capture it names: each must parse,
// and select at least one packet of the evidence input.
func TestWiresharkFiltersParse(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make tools installs it): filters not checked")
	}
	goldens, _ := filepath.Glob("captures/*/*.report.json")
	if len(goldens) == 0 {
		t.Fatal("no golden reports")
	}
	checked := map[string]bool{}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		for _, f := range r.Findings {
			if f.WiresharkFilter == "" || len(f.Evidence) == 0 {
				continue
			}
			in := f.Evidence[0].Input
			key := in + "\x00" + f.WiresharkFilter
			if checked[key] {
				continue
			}
			checked[key] = true
			out, err := exec.Command("tshark", "-n", "-r", in, "-Y", f.WiresharkFilter, "-T", "fields", "-e", "frame.number").CombinedOutput()
			if err != nil {
				t.Errorf("%s %s: filter %q does not parse: %s", g, f.Kind, f.WiresharkFilter, out)
				continue
			}
			if len(strings.Fields(string(out))) == 0 {
				t.Errorf("%s %s: filter %q selects nothing in %s", g, f.Kind, f.WiresharkFilter, in)
			}
		}
	}
	if len(checked) < 20 {
		t.Errorf("only %d filters checked", len(checked))
	}
}
