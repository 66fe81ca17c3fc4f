package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	var errb bytes.Buffer
	f.Err = &errb
	if code := Main([]string{"live"}, f); code != 2 || !strings.Contains(errb.String(), "-i") {
		t.Errorf("live without -i: exit %d, %q; want 2 and a hint", code, errb.String())
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

// TestLiveCaptureOnVeth runs `fwdiag live --no-tui` on a veth pair between
// two fresh network namespaces while a client there connects to a closed
// port, and checks the JSON report has the syn_reset finding. It needs
// root and iproute2; it uses 192.0.2.0/24 (TEST-NET-1) only and removes
// the namespaces at the end.
func TestLiveCaptureOnVeth(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for its /dev/tcp client")
	}
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	nsC, nsS := "fwdc"+id, "fwds"+id
	vC, vS := "fwvc"+id, "fwvs"+id
	run := func(args ...string) error {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %v: %s", args, err, out)
		}
		return nil
	}
	if err := run("ip", "netns", "add", nsC); err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	defer run("ip", "netns", "del", nsC)
	if err := run("ip", "netns", "add", nsS); err != nil {
		t.Fatal(err)
	}
	defer run("ip", "netns", "del", nsS)
	for _, c := range [][]string{
		{"ip", "link", "add", vC, "netns", nsC, "type", "veth", "peer", "name", vS, "netns", nsS},
		{"ip", "-n", nsC, "addr", "add", "192.0.2.61/24", "dev", vC},
		{"ip", "-n", nsS, "addr", "add", "192.0.2.62/24", "dev", vS},
		{"ip", "-n", nsC, "link", "set", vC, "up"},
		{"ip", "-n", nsS, "link", "set", vS, "up"},
		{"ip", "-n", nsC, "link", "set", "lo", "up"},
	} {
		if err := run(c...); err != nil {
			t.Fatal(err)
		}
	}
	bin := fwdiagBinary(t)
	dir := t.TempDir()
	jsonOut, pcapOut := filepath.Join(dir, "live.json"), filepath.Join(dir, "live.pcapng")
	cmd := exec.Command("ip", "netns", "exec", nsC, bin, "live", "--no-tui", "-i", vC, "--duration", "4s", "--json", jsonOut, "--write", pcapOut)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the capture start
	// A Supportworks SQL client (5002) meets a closed port: RST.
	for i := 0; i < 2; i++ {
		exec.Command("ip", "netns", "exec", nsC, bash, "-c", "exec 3<>/dev/tcp/192.0.2.62/5002").Run()
		time.Sleep(200 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("fwdiag live: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range r.Findings {
		if f.Kind == "syn_reset" && f.Server == "192.0.2.62" && f.Port == 5002 {
			found = true
		}
	}
	if !found {
		t.Errorf("report has no syn_reset for 192.0.2.62:5002; findings: %+v", r.Findings)
	}
	if len(r.Inputs) != 1 || r.Inputs[0].Path != "live:"+vC || r.Inputs[0].Drops != 0 || r.Inputs[0].Packets < 4 {
		t.Errorf("got inputs %+v; want one live input with packets and 0 drops", r.Inputs)
	}
	// The headless mode printed the finding as it appeared.
	if !strings.Contains(stdout.String(), "syn_reset") || !strings.Contains(stdout.String(), "VERDICT") {
		t.Errorf("stdout lacks the finding line or the summary")
	}
	// The --write file is a capture fwdiag itself can read.
	var out, errb bytes.Buffer
	if code := Main([]string{"analyze", pcapOut}, &Factory{Out: &out, Err: &errb, Version: "test"}); code != 0 || !strings.Contains(out.String(), "syn_reset") {
		t.Errorf("analyze of the --write file: exit %d, stderr %q, syn_reset found %v", code, errb.String(), strings.Contains(out.String(), "syn_reset"))
	}
}
