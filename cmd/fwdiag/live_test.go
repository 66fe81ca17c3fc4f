package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/capture"
	"github.com/fwdiag/fwdiag/report"
)

func TestLiveFlags(t *testing.T) {
	var got *LiveOptions
	f := &Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Version: "test"}
	c := NewCmdLive(f, func(o *LiveOptions) error { got = o; return nil })
	c.SetArgs([]string{"-i", "eth9", "--no-tui", "--duration", "4s", "--bpf", "tcp port 5001", "--json", "r.json"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Interface != "eth9" || !got.NoTUI || got.Duration != 4*time.Second || got.BPF != "tcp port 5001" || got.JSON != "r.json" {
		t.Errorf("got %+v", got)
	}
	if got.BufferMB != capture.DefaultBufferMB {
		t.Errorf("default --buffer %d MB; want %d", got.BufferMB, capture.DefaultBufferMB)
	}
	c = NewCmdLive(f, func(o *LiveOptions) error { got = o; return nil })
	c.SetArgs([]string{"-i", "eth9", "-B", "256"})
	if err := c.Execute(); err != nil || got.BufferMB != 256 {
		t.Errorf("-B 256: %v, buffer %d MB", err, got.BufferMB)
	}
	var errb bytes.Buffer
	f.Err = &errb
	if code := Main([]string{"live"}, f); code != 2 || !strings.Contains(errb.String(), "-i") {
		t.Errorf("live without -i: exit %d, %q; want 2 and a hint", code, errb.String())
	}
	for _, mb := range []string{"0", "-5", "5000"} {
		errb.Reset()
		if code := Main([]string{"live", "-i", "lo", "--buffer", mb}, f); code != 2 || !strings.Contains(errb.String(), "--buffer "+mb) {
			t.Errorf("--buffer %s: exit %d, %q; want 2 and the bounds", mb, code, errb.String())
		}
	}
	errb.Reset()
	if code := Main([]string{"live", "-i", "lo", "--write", "/nonexistent/dir/x.pcapng"}, f); code != 2 || !strings.Contains(errb.String(), "does not exist") {
		t.Errorf("--write into a missing directory: exit %d, %q; want 2", code, errb.String())
	}
}

func TestLiveUnknownInterfaceListsInterfaces(t *testing.T) {
	var errb bytes.Buffer
	f := &Factory{Out: &bytes.Buffer{}, Err: &errb, Version: "test"}
	if code := Main([]string{"live", "--no-tui", "-i", "nosuchif0"}, f); code != 2 {
		t.Errorf("got exit %d; want 2", code)
	}
	msg := errb.String()
	if !strings.Contains(msg, `no interface "nosuchif0"`) || !strings.Contains(msg, "lo") {
		t.Errorf("got %q; want the error to name the interface and list lo", msg)
	}
}

// vethLab is a veth pair between two fresh network namespaces: a client
// end (nsC, vC, 192.0.2.61) where fwdiag captures and a server end (nsS,
// vS, 192.0.2.62) with nothing listening. Addresses are TEST-NET-1 only.
type vethLab struct {
	nsC, nsS, vC, vS string
	client, server   string
	bash             string
}

var labSeq atomic.Int32

// newVethLab builds the pair, or skips the test saying why it cannot; the
// namespaces (and with them the veth) are removed by t.Cleanup.
func newVethLab(t *testing.T) *vethLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs iproute2 (ip)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipped: needs bash for its /dev/tcp client")
	}
	id := fmt.Sprintf("%d%c", os.Getpid()%100000, 'a'+labSeq.Add(1)-1)
	l := &vethLab{nsC: "fwdc" + id, nsS: "fwds" + id, vC: "fwvc" + id, vS: "fwvs" + id, client: "192.0.2.61", server: "192.0.2.62", bash: bash}
	if err := run("ip", "netns", "add", l.nsC); err != nil {
		t.Skipf("skipped: cannot create a network namespace here: %v", err)
	}
	t.Cleanup(func() { run("ip", "netns", "del", l.nsC) })
	if err := run("ip", "netns", "add", l.nsS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run("ip", "netns", "del", l.nsS) })
	for _, c := range [][]string{
		{"ip", "link", "add", l.vC, "netns", l.nsC, "type", "veth", "peer", "name", l.vS, "netns", l.nsS},
		{"ip", "-n", l.nsC, "addr", "add", l.client + "/24", "dev", l.vC},
		{"ip", "-n", l.nsS, "addr", "add", l.server + "/24", "dev", l.vS},
		{"ip", "-n", l.nsC, "link", "set", l.vC, "up"},
		{"ip", "-n", l.nsS, "link", "set", l.vS, "up"},
		{"ip", "-n", l.nsC, "link", "set", "lo", "up"},
	} {
		if err := run(c...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %v: %s", args, err, out)
	}
	return nil
}

// connect opens a TCP connection from the client namespace to the server's
// port; with nothing listening there it meets a RST (a syn_reset finding).
func (l *vethLab) connect(port int) {
	exec.Command("ip", "netns", "exec", l.nsC, l.bash, "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", l.server, port)).Run()
}

// setLink sets the client end down or up, from inside its namespace.
func (l *vethLab) setLink(t *testing.T, state string) {
	t.Helper()
	if err := run("ip", "-n", l.nsC, "link", "set", "dev", l.vC, state); err != nil {
		t.Fatal(err)
	}
}

// liveCmd is `fwdiag live` on the client end, run in its namespace.
func (l *vethLab) liveCmd(bin string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.nsC, bin, "live", "-i", l.vC}, args...)...)
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &r
}

// socketMaps returns the sizes of the socket mappings of process pid: a
// packet socket's capture ring.
func socketMaps(t *testing.T, pid int) []int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(f[5], "socket:") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseInt(lo, 16, 64)
		z, err2 := strconv.ParseInt(hi, 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("maps line %q", l)
		}
		sizes = append(sizes, z-a)
	}
	return sizes
}

func findingFor(r *report.Report, kind, server string, port int) *report.Finding {
	for i, f := range r.Findings {
		if string(f.Kind) == kind && f.Server == server && f.Port == port {
			return &r.Findings[i]
		}
	}
	return nil
}

// TestLiveCaptureOnVeth runs `fwdiag live --no-tui` on a veth pair between
// two fresh network namespaces while a client there connects to a closed
// port, and checks the JSON report has the syn_reset finding.
func TestLiveCaptureOnVeth(t *testing.T) {
	l := newVethLab(t)
	bin := fwdiagBinary(t)
	dir := t.TempDir()
	jsonOut, pcapOut, linesOut := filepath.Join(dir, "live.json"), filepath.Join(dir, "live.pcapng"), filepath.Join(dir, "live.ndjson")
	cmd := l.liveCmd(bin, "--no-tui", "--duration", "4s", "--json", jsonOut, "--write", pcapOut, "--json-lines", linesOut, "--status-every", "1s", "--buffer", "12")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the capture start
	// --buffer: the packet socket's ring, mapped into the process, is that
	// size (ip netns exec execs fwdiag: the pid is fwdiag's).
	if rings := socketMaps(t, cmd.Process.Pid); len(rings) != 1 || rings[0] != 12<<20 {
		t.Errorf("packet socket mappings of %v bytes; want one ring of 12 MB (--buffer 12)", rings)
	}
	// A Supportworks SQL client (5002) meets a closed port: RST.
	for i := 0; i < 2; i++ {
		l.connect(5002)
		time.Sleep(200 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fwdiag live: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if !strings.Contains(stderr.String(), "(ring 12 MB, --buffer; filter: ") {
		t.Errorf("the capturing line does not give the ring's size: %q", stderr.String())
	}
	r := readReport(t, jsonOut)
	if findingFor(r, "syn_reset", l.server, 5002) == nil {
		t.Errorf("report has no syn_reset for %s:5002; findings: %+v", l.server, r.Findings)
	}
	if len(r.Inputs) != 1 || r.Inputs[0].Path != "live:"+l.vC || r.Inputs[0].Drops == nil || *r.Inputs[0].Drops != 0 || r.Inputs[0].Packets < 4 {
		t.Errorf("got inputs %+v; want one live input with packets and 0 drops", r.Inputs)
	}
	// The headless mode printed the finding as it appeared.
	if !strings.Contains(stdout.String(), "syn_reset") || !strings.Contains(stdout.String(), "VERDICT") {
		t.Errorf("stdout lacks the finding line or the summary")
	}
	// --status-every: the status lines of an unattended capture, with the
	// kernel's drop count and the process's memory.
	status := regexp.MustCompile(`(?m)^STATUS +after [0-9]+s +[0-9]+ packets \([0-9]+/s\), kernel drops 0, RSS [0-9]+ MB, heap [0-9]+ MB$`)
	if n := len(status.FindAllString(stdout.String(), -1)); n < 2 {
		t.Errorf("%d status lines in 4 s with --status-every 1s; want at least 2", n)
	}
	// --json-lines: the finding written as it formed, then the rest.
	b, err := os.ReadFile(linesOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := checkLines(t, lineSchema(t), b)
	var live *FindingLine
	for i, fl := range lines {
		if fl.Finding.Kind == "syn_reset" && fl.Finding.Server == l.server && fl.Finding.Port == 5002 {
			live = &lines[i]
		}
	}
	if live == nil || live.Phase != phaseLive || live.Command != "live" || len(live.Inputs) != 1 || live.Inputs[0] != "live:"+l.vC {
		t.Errorf("no syn_reset line of phase live for live:%s: %+v", l.vC, live)
	}
	if len(lines) != len(r.Findings) {
		t.Errorf("%d lines; want one per finding of the report (%d)", len(lines), len(r.Findings))
	}
	// The --write file is a capture fwdiag itself can read.
	var out, errb bytes.Buffer
	if code := Main([]string{"analyze", pcapOut}, &Factory{Out: &out, Err: &errb, Version: "test"}); code != 0 || !strings.Contains(out.String(), "syn_reset") {
		t.Errorf("analyze of the --write file: exit %d, stderr %q, syn_reset found %v", code, errb.String(), strings.Contains(out.String(), "syn_reset"))
	}
}

// TestLiveInterfaceDownAndBack sets the captured interface down and up
// again during `fwdiag live --no-tui`: it prints one line when it goes down
// and one when it comes back, goes on capturing after (a connection made
// after the bounce is in the report), and still writes the JSON report.
func TestLiveInterfaceDownAndBack(t *testing.T) {
	l := newVethLab(t)
	bin := fwdiagBinary(t)
	jsonOut := filepath.Join(t.TempDir(), "live.json")
	cmd := l.liveCmd(bin, "--no-tui", "--duration", "6s", "--json", jsonOut)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	l.connect(5002)
	time.Sleep(500 * time.Millisecond)
	l.setLink(t, "down")
	time.Sleep(2 * time.Second)
	l.setLink(t, "up")
	time.Sleep(time.Second)
	l.connect(5003)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fwdiag live: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr.String())
	var downs, ups []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "DOWN ") && strings.Contains(line, "interface "+l.vC) && strings.Contains(line, "went down at"):
			downs = append(downs, line)
		case strings.HasPrefix(line, "UP ") && strings.Contains(line, "interface "+l.vC) && strings.Contains(line, "back up at"):
			ups = append(ups, line)
		}
	}
	if len(downs) != 1 || len(ups) != 1 {
		t.Errorf("got %d down lines and %d up lines; want one of each", len(downs), len(ups))
	}
	if len(ups) == 1 && !regexp.MustCompile(`after [12]\.\d s down`).MatchString(ups[0]) {
		t.Errorf("up line %q does not say it was down about 2 s", ups[0])
	}
	r := readReport(t, jsonOut)
	if findingFor(r, "syn_reset", l.server, 5002) == nil || findingFor(r, "syn_reset", l.server, 5003) == nil {
		t.Errorf("report lacks the syn_reset before (5002) or after (5003) the bounce; findings: %+v", r.Findings)
	}
	errs := strings.Join(r.Errors, "\n")
	if !strings.Contains(errs, "went down") || !strings.Contains(errs, "back up") {
		t.Errorf("report errors do not record the bounce: %q", r.Errors)
	}
	// The bounce is an interruption, not damaged frames.
	if findingFor(r, "capture_interrupted", "", 0) == nil {
		t.Errorf("no capture_interrupted finding; findings: %+v", r.Findings)
	}
	if findingFor(r, "capture_truncated", "", 0) != nil {
		t.Errorf("the bounce was reported as capture_truncated")
	}
}

func TestPrintNewFindingsSkipsInfoAndRepeats(t *testing.T) {
	r := &report.Report{Findings: []report.Finding{
		{Kind: "npa_orphan_notification", Severity: "info", Summary: "passing state"},
		{Kind: "syn_reset", Severity: "critical", Server: "192.0.2.62", Port: 5002, Summary: "refused"},
	}}
	var b strings.Builder
	seen := map[string]bool{}
	printNewFindings(&b, r, seen)
	printNewFindings(&b, r, seen)
	out := b.String()
	if strings.Contains(out, "passing state") || strings.Count(out, "refused") != 1 {
		t.Errorf("got %q; want the critical finding once and no info", out)
	}
}
