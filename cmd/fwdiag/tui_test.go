package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// fwdiagBinary builds the command once per test run.
func fwdiagBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fwdiag-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "fwdiag")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

func TestTUIFlags(t *testing.T) {
	var got *TUIOptions
	f := &Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Version: "test"}
	c := NewCmdTUI(f, func(o *TUIOptions) error { got = o; return nil })
	c.SetArgs([]string{"--json", "r.json", "--profile", "asa", "a.pcap", "b.pcap"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.JSON != "r.json" || got.Opts.Profile != "asa" || strings.Join(got.Files, ",") != "a.pcap,b.pcap" {
		t.Errorf("got %+v", got)
	}
	if code := Main([]string{"tui"}, f); code != 2 {
		t.Errorf("tui without files: got exit %d; want 2", code)
	}
}

// TestTUINotATerminal checks the fallback: without a terminal the tui
// command prints the text report.
func TestTUINotATerminal(t *testing.T) {
	var out, errb bytes.Buffer
	f := &Factory{Out: &out, Err: &errb, Version: "test"}
	if code := Main([]string{"tui", "../../pcaps/captures/npa-blocked/client.pcap"}, f); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "VERDICT") || !strings.Contains(errb.String(), "not a terminal") {
		t.Errorf("got stdout %q... stderr %q", out.String()[:min(200, out.Len())], errb.String())
	}
}

// TestTUIInTmux opens the UI in a real terminal (tmux), presses keys as a
// user would and reads the screen.
func TestTUIInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	capFile, _ := filepath.Abs("../../pcaps/captures/npa-blocked/client.pcap")
	if _, err := os.Stat(capFile); err != nil {
		t.Skipf("lab capture missing: %v", err)
	}
	bin := fwdiagBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "tmux.sock") // a private server: never touch the user's
	jsonOut := filepath.Join(dir, "r.json")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", bin+" tui --json "+jsonOut+" "+capFile+"; sleep 30")
	defer exec.Command("tmux", "-S", sock, "kill-server").Run()
	waitScreen := func(want string) string {
		t.Helper()
		var s string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			s = tmux("capture-pane", "-p", "-t", "t")
			if strings.Contains(s, want) {
				return s
			}
		}
		t.Fatalf("screen never showed %q:\n%s", want, s)
		return s
	}
	s := waitScreen("npa_notification_missing")
	for _, want := range []string{"198.51.100.10", "CRITICAL", "[1 Findings"} {
		if !strings.Contains(s, want) {
			t.Errorf("first screen lacks %q:\n%s", want, s)
		}
	}
	tmux("send-keys", "-t", "t", "Tab")
	s = waitScreen("[2 Services")
	if !strings.Contains(s, "5001/tcp") {
		t.Errorf("services pane lacks 5001/tcp:\n%s", s)
	}
	tmux("send-keys", "-t", "t", "j")
	tmux("send-keys", "-t", "t", "Enter")
	s = waitScreen("esc back")
	if !strings.Contains(s, "5005/tcp") {
		t.Errorf("detail of the second service row lacks 5005/tcp:\n%s", s)
	}
	t.Logf("detail screen:\n%s", s)
	tmux("send-keys", "-t", "t", "q")
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(jsonOut); err == nil {
			return
		}
	}
	t.Errorf("q did not write the --json report %s", jsonOut)
}

// TestLiveTUIInTmux runs `fwdiag live` with its UI in tmux at 80x24 on a
// veth pair, as a user would during a reproduction: a connection to a
// closed port shows as syn_reset; the interface going down shows IFACE
// DOWN in the header and its return a note; y in the finding's detail puts
// the whole Wireshark filter in the clipboard (tmux's buffer, with
// set-clipboard on); s saves the JSON report and q quits.
func TestLiveTUIInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("skipped: tmux is not installed")
	}
	l := newVethLab(t)
	bin := fwdiagBinary(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "tmux.sock") // a private server: never touch the user's
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// No --json: s saves to ./fwdiag-report-<time>.json in the pane's
	// directory.
	linesOut := filepath.Join(dir, "findings.ndjson")
	tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "-c", dir,
		fmt.Sprintf("ip netns exec %s %s live -i %s --json-lines %s; echo EXITED $?; sleep 60", l.nsC, bin, l.vC, linesOut))
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	tmux("set-option", "-g", "set-clipboard", "on")
	waitScreen := func(want string) string {
		t.Helper()
		var s string
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			s = tmux("capture-pane", "-p", "-t", "t")
			if strings.Contains(s, want) {
				return s
			}
		}
		t.Fatalf("screen never showed %q:\n%s", want, s)
		return s
	}
	s := waitScreen("LIVE")
	t.Logf("first screen:\n%s", s)
	l.connect(5002)
	s = waitScreen("syn_reset")
	t.Logf("finding screen:\n%s", s)
	if !strings.Contains(s, l.server+":5002") {
		t.Errorf("findings pane lacks %s:5002:\n%s", l.server, s)
	}
	// --json-lines beside the UI: the finding's line is written as it forms.
	var formed []byte
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && !bytes.Contains(formed, []byte(`"kind":"syn_reset"`)); time.Sleep(100 * time.Millisecond) {
		formed, _ = os.ReadFile(linesOut)
	}
	if !bytes.Contains(formed, []byte(`"phase":"live"`)) || !bytes.Contains(formed, []byte(`"kind":"syn_reset"`)) {
		t.Errorf("while the UI runs, %s holds %q; want the syn_reset line of phase live", linesOut, formed)
	}

	l.setLink(t, "down")
	s = waitScreen("IFACE DOWN")
	t.Logf("interface down:\n%s", s)
	if !strings.Contains(s, "went down") {
		t.Errorf("status line does not say the interface went down:\n%s", s)
	}
	l.setLink(t, "up")
	s = waitScreen("back up")
	t.Logf("interface back:\n%s", s)
	if strings.Contains(s, "IFACE DOWN") || !strings.Contains(s, "LIVE") {
		t.Errorf("header still says IFACE DOWN once the interface is back:\n%s", s)
	}

	tmux("send-keys", "-t", "t", "Enter")
	waitScreen("esc back")
	tmux("send-keys", "-t", "t", "G")
	waitScreen("Wireshark filter")
	tmux("send-keys", "-t", "t", "y")
	s = waitScreen("filter copied")
	t.Logf("filter copied:\n%s", s)
	clip := ""
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && clip == ""; time.Sleep(100 * time.Millisecond) {
		if out, err := exec.Command("tmux", "-S", sock, "show-buffer").Output(); err == nil {
			clip = string(out)
		}
	}

	tmux("send-keys", "-t", "t", "Escape")
	// Back in the list before the next key: Escape and s arriving together
	// read as alt+s.
	waitScreen("SEV")
	tmux("send-keys", "-t", "t", "s")
	s = waitScreen("report saved to")
	t.Logf("saved:\n%s", s)
	tmux("send-keys", "-t", "t", "q")
	s = waitScreen("EXITED 0")
	t.Logf("after quitting:\n%s", s)

	saved, _ := filepath.Glob(filepath.Join(dir, "fwdiag-report-*.json"))
	if len(saved) != 1 {
		t.Fatalf("got saved reports %v; want one in %s", saved, dir)
	}
	r := readReport(t, saved[0])
	f := findingFor(r, "syn_reset", l.server, 5002)
	if f == nil {
		t.Fatalf("saved report has no syn_reset for %s:5002; findings: %+v", l.server, r.Findings)
	}
	if clip != f.WiresharkFilter {
		t.Errorf("clipboard (tmux buffer) got %q; want the whole filter %q", clip, f.WiresharkFilter)
	}
	// On exit the copied filter is printed whole, for terminals that
	// ignore OSC 52.
	if !strings.Contains(strings.ReplaceAll(s, "\n", ""), f.WiresharkFilter[:60]) {
		t.Errorf("the copied filter was not printed on exit:\n%s", s)
	}
}
