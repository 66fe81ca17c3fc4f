package pcaps_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/report"
)

// TestLiveOnLabScenario runs the npa-blocked lab scenario (network
// namespaces, a real nftables firewall) while `fwdiag live --no-tui`
// captures on the client's interface, and checks that the live report
// gives exactly the findings the scenario's client.pcap must give.
func TestLiveOnLabScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the lab scenario takes about 25 s")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: the lab needs network namespaces and nftables")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2): the lab cannot run")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "fwdiag")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/fwdiag").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	live := filepath.Join(dir, "live.json")
	exp := readExpect(t, "captures/npa-blocked/expect.txt")
	cmd := exec.Command("bash", "lab/run.sh", "npa-blocked")
	// LAB_LOCK_WAIT: another lab run on this machine (one at a time) is
	// waited for, not a failure.
	cmd.Env = append(os.Environ(), "LAB_OUT="+filepath.Join(dir, "captures"), "LAB_LOCK_WAIT=150",
		fmt.Sprintf("LAB_LIVE_CMD=%s live --no-tui -i eth0 %s --json %s", bin, strings.Join(exp.flags, " "), live))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(4 * time.Minute)
	// The lab spends its ~25 s mostly waiting on the scenario's timers: it
	// started above, before t.Parallel, so it runs beside the CPU-bound
	// tshark cross-checks instead of after them.
	t.Parallel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lab run failed: %v\n%s", err, tail(out.Bytes(), 2000))
		}
	case <-deadline:
		// SIGTERM: run.sh's trap tears the namespaces down.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Fatalf("lab run took over 4 minutes\n%s", tail(out.Bytes(), 2000))
	}
	b, err := os.ReadFile(live)
	if err != nil {
		t.Fatalf("no live report: %v\n%s", err, tail(out.Bytes(), 2000))
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	got := aboveInfo(&r)
	want := exp.findings["client.pcap"]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("live findings above info:\ngot:\n  %s\nwant (expect.txt, client.pcap):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if d := r.Inputs[0].Drops; d == nil || *d != 0 {
		t.Errorf("live capture dropped %v packets (nil: unknown); want a count of 0", d)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
