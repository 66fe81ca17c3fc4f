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
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

var update = flag.Bool("update", false, "rewrite the golden reports")

// expectation is a scenario's expect.txt: the analysis flags, and for each
// input (a file, or several joined with +) the findings above info it must
// give, as "kind severity client server port" lines, the NPA statuses, and
// info findings it must give among others ("info kind clients count").
type expectation struct {
	flags    []string
	findings map[string][]string // input -> sorted finding lines
	npa      map[string][]string // input -> sorted "client status" lines
	info     map[string][]string // input -> "kind clients count" lines that must be there
	order    []string
}

func readExpect(t *testing.T, path string) *expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := &expectation{findings: map[string][]string{}, npa: map[string][]string{}, info: map[string][]string{}}
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
		case strings.HasPrefix(rest, "info "):
			e.info[input] = append(e.info[input], strings.TrimPrefix(rest, "info "))
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
				if want := exp.info[input]; len(want) > 0 {
					got := infoFindings(r)
					for _, w := range want {
						if !slices.Contains(got, w) {
							t.Errorf("no info finding %q; the info findings:\n  %s", w, strings.Join(got, "\n  "))
						}
					}
				}
				if want, ok := exp.npa[input]; ok {
					var gotN []string
					for _, n := range r.NPASessions {
						gotN = append(gotN, n.Client+" "+string(n.Status))
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
			// A finding of several clients lists them all.
			out = append(out, fmt.Sprintf("%s %s %s %s %d", f.Kind, f.Severity, dash(strings.Join(f.Clients, ",")), dash(f.Server), f.Port))
		}
	}
	sort.Strings(out)
	return out
}

// infoFindings lists the info findings as "kind clients count" lines.
func infoFindings(r *report.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == "info" {
			out = append(out, fmt.Sprintf("%s %s %d", f.Kind, dash(strings.Join(f.Clients, ",")), f.Count))
		}
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func parseDur(s string) (time.Duration, error) { return time.ParseDuration(s) }

// The tshark cross-checks below start tshark once per capture file, not once
// per file and filter (tshark takes up to seconds to start): every display
// filter either test needs on a file is a `-z io,phs,FILTER` tap of one pass
// over it, which counts the frames the filter selects exactly as
// `-Y FILTER` does, and the same pass gives `-z conv,tcp`. The passes run
// on every core, once for both tests.

// agreeChecks are the counts TestTsharkAgrees compares: fwdiag's figure and
// the display filter whose frames tshark counts.
var agreeChecks = []struct {
	what   string
	filter string
	got    func(*report.Report) int
}{
	{"retransmissions", "tcp.analysis.retransmission", func(r *report.Report) int { return r.Summary.Stats.TCPRetransmissions }},
	{"resets", "tcp.flags.reset==1", func(r *report.Report) int { return r.Summary.Stats.TCPResets }},
	{"ICMP errors", "icmp.type==3 || icmp.type==11 || icmp.type==12 || (icmpv6.type>=1 && icmpv6.type<=4)", func(r *report.Report) int { return int(r.Summary.Stats.ICMPErrors) }},
}

// agreeFiles are the single-interface captures TestTsharkAgrees checks.
func agreeFiles() []string {
	files, _ := filepath.Glob("captures/*/client.pcap")
	more, _ := filepath.Glob("captures/*/server.pcap")
	synth, _ := filepath.Glob("captures/synth-*/capture.pcap")
	return append(append(files, more...), synth...)
}

// goldenFilter is a finding's display filter in a golden report, one of
// the captures it cites as evidence, and the frames it cites there.
type goldenFilter struct {
	golden, kind, filter, input string
	frames                      []uint64
	count                       int // the finding's
}

// covering is the filter that selects the evidence frames the finding's
// filter selects: it selects all of them when the filter misses none.
func (g goldenFilter) covering() string {
	nums := make([]string, len(g.frames))
	for i, n := range g.frames {
		nums[i] = fmt.Sprint(n)
	}
	return fmt.Sprintf("(%s) && frame.number in {%s}", g.filter, strings.Join(nums, ", "))
}

// tsharkStreams reads tshark's tcp.stream and udp.stream of every frame.
func tsharkStreams(file string) (map[uint64]streams1, error) {
	out, err := exec.Command("tshark", "-n", "-r", file, "-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "udp.stream").Output()
	if err != nil {
		return nil, fmt.Errorf("tshark %s: %v", file, err)
	}
	m := map[uint64]streams1{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fs := strings.Split(line, "\t")
		var s streams1
		n, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			continue
		}
		s.tcp, s.udp = -1, -1
		// An ICMP error quoting a datagram carries its stream as a second
		// value; the first is the packet's own.
		if len(fs) > 1 && fs[1] != "" {
			s.tcp, _ = strconv.Atoi(strings.Split(fs[1], ",")[0])
		}
		if len(fs) > 2 && fs[2] != "" {
			s.udp, _ = strconv.Atoi(strings.Split(fs[2], ",")[0])
		}
		m[n] = s
	}
	return m, nil
}

// streams1 is one frame's TCP and UDP conversation numbers (-1 none).
type streams1 struct{ tcp, udp int }

// outside is the filter that selects the frames g's filter selects outside
// the conversations of g's evidence, ICMP errors aside (they belong to
// the conversation they quote).
func (g goldenFilter) outside(m map[uint64]streams1) string {
	tcp, udp := map[int]bool{}, map[int]bool{}
	for _, fr := range g.frames {
		s := m[fr]
		if s.tcp >= 0 {
			tcp[s.tcp] = true
		}
		if s.udp >= 0 {
			udp[s.udp] = true
		}
	}
	var in []string
	for _, x := range []struct {
		field string
		set   map[int]bool
	}{{"tcp.stream", tcp}, {"udp.stream", udp}} {
		if len(x.set) == 0 {
			continue
		}
		ns := make([]string, 0, len(x.set))
		for n := range x.set {
			ns = append(ns, fmt.Sprint(n))
		}
		slices.Sort(ns)
		in = append(in, fmt.Sprintf("%s in {%s}", x.field, strings.Join(ns, ", ")))
	}
	if len(in) == 0 {
		return fmt.Sprintf("(%s) && !icmp && !icmpv6", g.filter)
	}
	return fmt.Sprintf("(%s) && !(%s) && !icmp && !icmpv6", g.filter, strings.Join(in, " || "))
}

// goldenFilters lists the display filters of every golden report's
// findings, once per input the finding cites (each input, filter and frame
// set once).
func goldenFilters() ([]goldenFilter, error) {
	goldens, _ := filepath.Glob("captures/*/*.report.json")
	if len(goldens) == 0 {
		return nil, fmt.Errorf("no golden reports")
	}
	var out []goldenFilter
	seen := map[string]bool{}
	for _, g := range goldens {
		b, err := os.ReadFile(g)
		if err != nil {
			return nil, err
		}
		var r report.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %v", g, err)
		}
		for _, f := range r.Findings {
			if f.WiresharkFilter == "" {
				continue
			}
			for _, e := range f.Evidence {
				in := r.InputPath(e.Input)
				key := fmt.Sprint(in, "\x00", f.WiresharkFilter, e.Frames)
				if seen[key] || len(e.Frames) == 0 {
					continue
				}
				seen[key] = true
				out = append(out, goldenFilter{g, string(f.Kind), f.WiresharkFilter, in, e.Frames, f.Count})
			}
		}
	}
	return out, nil
}

// tsharkPass is what tshark says about one capture file.
type tsharkPass struct {
	frames  map[string]int    // display filter -> frames it selects
	invalid map[string]string // display filter -> why tshark rejects it
	convs   int               // rows of -z conv,tcp
	// outside maps a golden filter (filter NUL frames) to the filter that
	// selects its frames outside its evidence's conversations.
	outside map[string]string
	err     error // tshark failed on the file itself
}

var tsharkPasses struct {
	once sync.Once
	m    map[string]*tsharkPass // capture file -> its pass
}

// tsharkAll runs one tshark pass over every file either cross-check needs,
// GOMAXPROCS at a time, the first time it is called.
func tsharkAll() map[string]*tsharkPass {
	tsharkPasses.once.Do(func() {
		filters := map[string][]string{}
		var files []string
		add := func(file, filter string) {
			if _, ok := filters[file]; !ok {
				files = append(files, file)
				filters[file] = nil
			}
			if filter != "" && !slices.Contains(filters[file], filter) {
				filters[file] = append(filters[file], filter)
			}
		}
		for _, f := range agreeFiles() {
			for _, c := range agreeChecks {
				add(f, c.filter)
			}
		}
		gf, _ := goldenFilters() // an error fails TestWiresharkFiltersParse
		byFile := map[string][]goldenFilter{}
		for _, g := range gf {
			add(g.input, g.filter)
			add(g.input, g.covering())
			byFile[g.input] = append(byFile[g.input], g)
		}
		m := make(map[string]*tsharkPass, len(files))
		for _, f := range files {
			m[f] = &tsharkPass{}
		}
		work := make(chan string)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range work {
					fs := filters[f]
					var outside map[string]string
					if len(byFile[f]) > 0 {
						// The evidence's conversations, from tshark itself,
						// for the filters that select what lies outside them.
						streams, err := tsharkStreams(f)
						if err != nil {
							*m[f] = tsharkPass{err: err}
							continue
						}
						outside = map[string]string{}
						for _, g := range byFile[f] {
							o := g.outside(streams)
							outside[g.filter+"\x00"+fmt.Sprint(g.frames)] = o
							if !slices.Contains(fs, o) {
								fs = append(fs, o)
							}
						}
					}
					*m[f] = runTshark(f, fs)
					m[f].outside = outside
				}
			}()
		}
		for _, f := range files {
			work <- f
		}
		close(work)
		wg.Wait()
		tsharkPasses.m = m
	})
	return tsharkPasses.m
}

// runTshark makes one pass over file with an io,phs tap per filter and
// conv,tcp. When tshark refuses the pass (a filter that does not parse),
// each filter is tried alone with -Y to name the bad ones, and the pass is
// made again with the others.
func runTshark(file string, filters []string) tsharkPass {
	p := tsharkPass{invalid: map[string]string{}}
	frames, convs, err := tsharkPhs(file, filters)
	if err != nil {
		var good []string
		for _, f := range filters {
			out, err := exec.Command("tshark", "-n", "-r", file, "-Y", f, "-T", "fields", "-e", "frame.number").CombinedOutput()
			if err != nil {
				p.invalid[f] = tsharkMessage(out)
			} else {
				good = append(good, f)
			}
		}
		frames, convs, err = tsharkPhs(file, good)
	}
	p.frames, p.convs, p.err = frames, convs, err
	return p
}

// tsharkPhs runs `tshark -q -z io,phs,F...  -z conv,tcp` over file and
// returns each filter's frame count and the number of TCP conversations.
func tsharkPhs(file string, filters []string) (map[string]int, int, error) {
	args := []string{"-n", "-r", file, "-q", "-z", "conv,tcp"}
	for _, f := range filters {
		args = append(args, "-z", "io,phs,"+f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("tshark %s: %v: %s", file, err, tsharkMessage(stderr.Bytes()))
	}
	frames, convs, err := parsePhs(string(out))
	if err != nil {
		return nil, 0, fmt.Errorf("tshark %s: %v", file, err)
	}
	for _, f := range filters {
		if _, ok := frames[f]; !ok {
			return nil, 0, fmt.Errorf("tshark %s: no statistics for filter %q in:\n%s", file, f, out)
		}
	}
	return frames, convs, nil
}

// tsharkMessage is tshark's complaint without its warning about running as
// root.
func tsharkMessage(out []byte) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "Running as user") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// parsePhs reads tshark's statistics: each "Protocol Hierarchy Statistics"
// section names its filter on a "Filter: " line; the frames it selected are
// the sum of its top-level protocol rows ("eth  frames:38 bytes:3345"; none
// when it selected nothing). A "TCP Conversations" section has a row with
// "<->" per conversation.
func parsePhs(out string) (frames map[string]int, convs int, err error) {
	frames = map[string]int{}
	section, filter := "", ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "====="):
			section, filter = "", ""
		case line == "Protocol Hierarchy Statistics" || line == "TCP Conversations":
			section = line
		case section == "TCP Conversations" && strings.Contains(line, "<->"):
			convs++
		case section == "Protocol Hierarchy Statistics" && strings.HasPrefix(line, "Filter: "):
			filter = strings.TrimPrefix(line, "Filter: ")
			frames[filter] += 0
		case section == "Protocol Hierarchy Statistics" && filter != "" && line != "" && line[0] != ' ':
			_, rest, ok := strings.Cut(line, " frames:")
			if !ok {
				return nil, 0, fmt.Errorf("unexpected protocol hierarchy row %q", line)
			}
			n, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				return nil, 0, fmt.Errorf("unexpected protocol hierarchy row %q", line)
			}
			frames[filter] += n
		}
	}
	return frames, convs, nil
}

// TestParsePhs pins the tshark output TestTsharkAgrees and
// TestWiresharkFiltersParse read: a wrong parse must not pass as a match.
func TestParsePhs(t *testing.T) {
	out := `
================================================================================
TCP Conversations
Filter:<No Filter>
                                                           |       <-      | |       ->      | |     Total     |    Relative    |   Duration   |
                                                           | Frames  Bytes | | Frames  Bytes | | Frames  Bytes |      Start     |              |
192.0.2.10:43019           <-> 198.51.100.10:5001              26 2968 bytes      38 3218 bytes      64 6186 bytes     0.000028000        18.0004
192.0.2.10:60063           <-> 198.51.100.10:5002               0 0 bytes         6 480 bytes       6 480 bytes     8.000222000         5.1119
================================================================================

===================================================================
Protocol Hierarchy Statistics
Filter: frame.number==99999

===================================================================

===================================================================
Protocol Hierarchy Statistics
Filter: udp.port in {38482, 40373}

frame                                    frames:16 bytes:1792
  sll                                    frames:16 bytes:1792
    ip                                   frames:16 bytes:1792
===================================================================

===================================================================
Protocol Hierarchy Statistics
Filter: tcp.analysis.retransmission

eth                                      frames:15 bytes:1110
  ip                                     frames:15 bytes:1110
    tcp                                  frames:15 bytes:1110
eth                                      frames:2 bytes:110
===================================================================
`
	frames, convs, err := parsePhs(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"frame.number==99999": 0, "udp.port in {38482, 40373}": 16, "tcp.analysis.retransmission": 17}
	if !maps.Equal(frames, want) || convs != 2 {
		t.Errorf("parsePhs: %v, %d conversations; want %v, 2", frames, convs, want)
	}
}

// TestTsharkAgrees cross-checks the counts fwdiag reports with tshark on the
// same single-interface captures: TCP conversations, retransmissions, resets
// and ICMP errors.
func TestTsharkAgrees(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make tools installs it): cross-check skipped")
	}
	t.Parallel()
	files := agreeFiles()
	if len(files) == 0 {
		t.Fatal("no captures")
	}
	passes := tsharkAll()
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			r, err := pipeline.AnalyzeFiles([]string{f}, pipeline.Options{}, "test")
			if err != nil {
				t.Fatal(err)
			}
			p := passes[f]
			if p == nil {
				t.Fatalf("no tshark pass over %s", f)
			}
			if p.err != nil {
				t.Fatal(p.err)
			}
			for _, c := range agreeChecks {
				if why, bad := p.invalid[c.filter]; bad {
					t.Errorf("%s: tshark rejects -Y '%s': %s", c.what, c.filter, why)
					continue
				}
				if got, want := c.got(r), p.frames[c.filter]; got != want {
					t.Errorf("%s: fwdiag %d, tshark %d (-Y '%s')", c.what, got, want, c.filter)
				}
			}
			if got, want := r.Summary.Stats.TCPConnections, p.convs; got != want {
				t.Errorf("TCP conversations: fwdiag %d, tshark %d", got, want)
			}
		})
	}
}

// TestWiresharkFiltersParse runs every finding's display filter of every
// golden report through tshark on the capture it names: each must parse,
// and select at least one packet of the evidence input.
// TestFiltersSelectTheirEvidence: a finding's filter, applied with tshark
// to each capture the finding cites, selects every evidence frame it cites
// there, and not much else: a support engineer who pastes it into
// Wireshark sees the evidence, and little that is not about the finding.
// Evidence lists are capped per flow (the notable packets), so the filter
// may select the rest of the finding's conversations; "else" is a frame
// outside every conversation (tshark's tcp.stream and udp.stream) its
// evidence belongs to, of which a filter may select a few (outsideLimit):
// the rest of what the finding is about (a scan's other probes, the
// earlier datagrams of a merged client's flow).
func TestFiltersSelectTheirEvidence(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make tools installs it): filters not checked")
	}
	t.Parallel()
	gf, err := goldenFilters()
	if err != nil {
		t.Fatal(err)
	}
	passes := tsharkAll()
	checked := 0
	for _, g := range gf {
		p := passes[g.input]
		if p == nil || p.err != nil || p.invalid[g.filter] != "" {
			continue // TestWiresharkFiltersParse says why
		}
		if why := p.invalid[g.covering()]; why != "" {
			t.Errorf("%s %s: %q does not parse: %s", g.golden, g.kind, g.covering(), why)
			continue
		}
		ev := p.frames[g.covering()]
		checked++
		if ev != len(g.frames) {
			t.Errorf("%s %s: filter %q selects %d of its %d evidence frames in %s", g.golden, g.kind, g.filter, ev, len(g.frames), g.input)
		}
		o := p.outside[g.filter+"\x00"+fmt.Sprint(g.frames)]
		if o == "" || p.invalid[o] != "" {
			t.Errorf("%s %s: no check of what %q selects besides its evidence", g.golden, g.kind, g.filter)
		} else if n := p.frames[o]; n > outsideLimit(len(g.frames)) && !(g.kind == "syn_scan" && n <= 3*g.count) {
			// (A scan's filter selects the whole scan: its probes and the
			// answers, up to three frames an attempt, not a few more.)
			t.Errorf("%s %s: filter %q selects %d frames outside the conversations of its evidence in %s (%s)", g.golden, g.kind, g.filter, n, g.input, o)
		}
	}
	if checked < 40 {
		t.Errorf("only %d filters checked against their evidence", checked)
	}
}

// outsideLimit is how many frames outside its evidence's conversations a
// filter of n evidence frames may select.
func outsideLimit(n int) int { return 2*n + 20 }

func TestWiresharkFiltersParse(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (make tools installs it): filters not checked")
	}
	t.Parallel()
	gf, err := goldenFilters()
	if err != nil {
		t.Fatal(err)
	}
	passes := tsharkAll()
	for _, g := range gf {
		p := passes[g.input]
		switch {
		case p == nil:
			t.Errorf("%s %s: no tshark pass over %s", g.golden, g.kind, g.input)
		case p.err != nil:
			t.Errorf("%s %s: %v", g.golden, g.kind, p.err)
		case p.invalid[g.filter] != "":
			t.Errorf("%s %s: filter %q does not parse: %s", g.golden, g.kind, g.filter, p.invalid[g.filter])
		case p.frames[g.filter] == 0:
			t.Errorf("%s %s: filter %q selects nothing in %s", g.golden, g.kind, g.filter, g.input)
		}
	}
	if len(gf) < 20 {
		t.Errorf("only %d filters checked", len(gf))
	}
}
