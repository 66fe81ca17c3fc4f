package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const labCapture = "../../pcaps/captures/npa-blocked/client.pcap"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	f := &Factory{In: strings.NewReader(""), Out: &out, Err: &errb, Version: "test"}
	code = Main(args, f)
	return code, out.String(), errb.String()
}

func TestAnalyzeFlagParsing(t *testing.T) {
	var got *AnalyzeOptions
	f := &Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Version: "test"}
	cmd := NewCmdAnalyze(f, func(o *AnalyzeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--json", "-", "--profile", "asa", "--udp-timeout", "15m", "--tcp-idle-timeout=90m", "--service", "sw-binary=6001", "--service", "k2-shadow=19316/udp", "--fail-on", "warning", "a.pcap", "b.pcapng.gz"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("run function not called")
	}
	if got.JSON != "-" || got.Opts.Profile != "asa" || got.Opts.UDPTimeout != 15*time.Minute || got.Opts.TCPIdle != 90*time.Minute || got.FailOn != "warning" {
		t.Errorf("got %+v", got)
	}
	if strings.Join(got.Files, ",") != "a.pcap,b.pcapng.gz" || len(got.Opts.Services) != 2 {
		t.Errorf("got files %v services %v", got.Files, got.Opts.Services)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no_files", []string{"analyze"}, "at least one capture"},
		{"bad_profile", []string{"analyze", "--profile", "nope", labCapture}, "unknown profile"},
		{"bad_fail_on", []string{"analyze", "--fail-on", "info", labCapture}, "--fail-on"},
		{"bad_service", []string{"analyze", "--service", "sw-binary=x", labCapture}, "not a number"},
		{"unknown_service", []string{"analyze", "--service", "bogus=6001", labCapture}, `no catalog service is named "bogus" (known: sw-binary,`},
		{"unknown_service_hint", []string{"analyze", "--service", "bogus=6001", labCapture}, "to declare a new service write custom:bogus=6001"},
		{"custom_catalog_name", []string{"analyze", "--service", "custom:sw-binary=6001", labCapture}, "write sw-binary=6001 to move it"},
		{"unknown_service_live", []string{"live", "-i", "lo", "--service", "bogus=6001"}, "custom:bogus=6001"},
		{"unknown_service_demo", []string{"demo", "--service", "bogus=6001"}, "custom:bogus=6001"},
		{"udp_timeout_no_unit", []string{"analyze", "--udp-timeout", "60", labCapture}, "--udp-timeout 60: a timeout needs a unit: use 60s"},
		{"tcp_timeout_no_unit", []string{"tui", "--tcp-idle-timeout=1800", labCapture}, "--tcp-idle-timeout 1800: a timeout needs a unit: use 1800s"},
		{"udp_timeout_zero", []string{"analyze", "--udp-timeout", "0", labCapture}, "--udp-timeout 0: must be longer than 0 (leave the flag out to use the profile's)"},
		{"udp_timeout_zero_s", []string{"demo", "--udp-timeout", "0s"}, "--udp-timeout 0s: must be longer than 0"},
		{"tcp_timeout_negative", []string{"live", "-i", "lo", "--tcp-idle-timeout", "-5m"}, "--tcp-idle-timeout -5m: must be longer than 0"},
		{"udp_timeout_garbage", []string{"analyze", "--udp-timeout", "soon", labCapture}, "--udp-timeout soon: not a duration"},
		{"json_lines_and_json_on_stdout", []string{"analyze", "--json", "-", "--json-lines", "-", labCapture}, "--json - and --json-lines - both want stdout"},
		{"json_lines_dir_missing", []string{"live", "-i", "lo", "--json-lines", "/nonexistent/dir/f.ndjson"}, "--json-lines /nonexistent/dir/f.ndjson: directory /nonexistent/dir does not exist"},
		{"unknown_flag", []string{"analyze", "--frobnicate", labCapture}, "unknown flag"},
		{"json_dir_missing", []string{"analyze", "--json", "/nonexistent/dir/r.json", labCapture}, "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("got exit %d stderr %q; want 2 and %q", code, stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestBadInputNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	notCap := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCap, []byte("this is not a capture at all, just text\n"), 0o644)
	empty := filepath.Join(dir, "empty.pcap")
	// A valid pcap header with no records.
	os.WriteFile(empty, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}, 0o644)
	cases := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), "nope.pcap"},
		{"not_a_capture", notCap, "notes.txt"},
		{"no_packets", empty, "empty.pcap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "analyze", tc.path)
			if code != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
				t.Errorf("got exit %d stderr %q stdout %q; want 2, an error naming %s", code, stderr, stdout, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			if n := strings.Count(stderr, tc.path); n != 1 {
				t.Errorf("the error names the file %d times: %q", n, stderr)
			}
		})
	}
	missing := filepath.Join(dir, "gone", "nope.pcap")
	for _, cmd := range []string{"analyze", "tui"} {
		code, _, stderr := runCLI(t, cmd, labCapture, missing)
		if want := "fwdiag: " + missing + ": no such file or directory\n"; code != 2 || stderr != want {
			t.Errorf("%s: got exit %d %q; want 2 and %q", cmd, code, stderr, want)
		}
	}
}

func TestDamagedCaptureStillReports(t *testing.T) {
	data, err := os.ReadFile(labCapture)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, data[:len(data)-37], 0o644) // cut inside the last record
	code, stdout, stderr := runCLI(t, "analyze", "--json", "-", cut)
	if code != 0 {
		t.Fatalf("got exit %d (%s); want 0 with a report", code, stderr)
	}
	var r struct {
		Errors   []string
		Findings []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0], "cut.pcap") || !strings.Contains(r.Errors[0], "frame") {
		t.Errorf("got errors %v; want one naming the file and frame", r.Errors)
	}
	var kinds []string
	for _, f := range r.Findings {
		kinds = append(kinds, f.Kind)
	}
	if !strings.Contains(strings.Join(kinds, " "), "capture_truncated") || !strings.Contains(strings.Join(kinds, " "), "npa_notification_missing") {
		t.Errorf("got %v; want capture_truncated and the diagnosis of the readable part", kinds)
	}
}

func TestJSONToStdoutIsOnlyJSON(t *testing.T) {
	code, stdout, _ := runCLI(t, "analyze", "--json", "-", labCapture)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("stdout is not pure JSON: %v", err)
	}
	if v["schema"] != "fwdiag.report/v1" {
		t.Errorf("got schema %v", v["schema"])
	}
}

func TestFailOnExitCodes(t *testing.T) {
	if code, _, _ := runCLI(t, "analyze", "--fail-on", "critical", labCapture); code != 1 {
		t.Errorf("critical findings with --fail-on critical: got exit %d; want 1", code)
	}
	if code, _, _ := runCLI(t, "analyze", labCapture); code != 0 {
		t.Errorf("without --fail-on: got exit %d; want 0", code)
	}
	healthy := "../../pcaps/captures/healthy/client.pcap"
	if code, out, _ := runCLI(t, "analyze", "--fail-on", "warning", healthy); code != 0 || !strings.Contains(out, "VERDICT: OK") {
		t.Errorf("healthy capture with --fail-on warning: got exit %d; want 0 and an OK verdict", code)
	}
}

func TestJSONFileAndText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCLI(t, "analyze", "--json", path, labCapture)
	if code != 0 || !strings.Contains(stdout, "VERDICT: CRITICAL") || !strings.Contains(stderr, path) {
		t.Fatalf("got %d %q %q", code, stdout, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil || !json.Valid(b) {
		t.Fatalf("report file not valid JSON: %v", err)
	}
	if bytes.Contains(b, []byte("SW102")) || bytes.Contains(b, []byte("LOGIN")) {
		t.Error("the report carries payload bytes")
	}
}

func TestMergedInputsKeepFrameNumbersPerFile(t *testing.T) {
	client := "../../pcaps/captures/npa-blocked/client.pcap"
	server := "../../pcaps/captures/npa-blocked/server.pcap"
	code, stdout, _ := runCLI(t, "analyze", "--json", "-", client, server)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var r struct {
		Inputs   []struct{ Path string }
		Findings []struct {
			Kind     string
			Evidence []struct {
				Input  int
				Frames []int
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Inputs) != 2 {
		t.Fatalf("got %d inputs; want 2", len(r.Inputs))
	}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		for _, e := range f.Evidence {
			seen[r.Inputs[e.Input].Path] = true
		}
	}
	if !seen[client] || !seen[server] {
		t.Errorf("evidence names inputs %v; want both files", seen)
	}
	// The text names the files a filter is for.
	_, text, _ := runCLI(t, "analyze", client, server)
	if !strings.Contains(text, "Filter (on client.pcap") || !strings.Contains(text, "server.pcap): ") {
		t.Errorf("text does not say which file each filter is for:\n%s", text)
	}
}

func TestServicesAndProfiles(t *testing.T) {
	_, out, _ := runCLI(t, "services")
	for _, want := range []string{"sw-binary", "5001/tcp", "sw-ftp", "5021/tcp", "k2-shadow", "19315/udp", "k2-prs", "prs.sassafras.com", "up to 7.4.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("services output lacks %q", want)
		}
	}
	_, out, _ = runCLI(t, "profiles")
	for _, want := range []string{"windows", "1m0s", "asa", "2m0s", "aws-nat", "5m50s", "nf_conntrack_proto_udp.c", "RFC 4787"} {
		if !strings.Contains(out, want) {
			t.Errorf("profiles output lacks %q", want)
		}
	}
}

func TestDemo(t *testing.T) {
	code, out, stderr := runCLI(t, "demo")
	if code != 0 || !strings.Contains(out, "VERDICT:") || !strings.Contains(out, "built in") {
		t.Fatalf("got %d %q %q", code, out, stderr)
	}
}

func TestRedactFlag(t *testing.T) {
	code, out, _ := runCLI(t, "analyze", "--redact-key", "k", "--json", "-", labCapture)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out, "192.0.2.10") || strings.Contains(out, "198.51.100.10") {
		t.Error("a real address survived --redact")
	}
	_, again, _ := runCLI(t, "analyze", "--redact-key", "k", "--json", "-", labCapture)
	if again != out {
		t.Error("the same key gave different reports")
	}
}

func TestServicesFileUnknownName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moved.txt")
	os.WriteFile(path, []byte("# site ports\nsw-binary=6001\nbogus=6002\n"), 0o644)
	code, stdout, stderr := runCLI(t, "analyze", "--services", path, labCapture)
	if code != 2 || stdout != "" || !strings.Contains(stderr, path+":3: ") || !strings.Contains(stderr, "custom:bogus=6002") {
		t.Errorf("got exit %d stderr %q; want 2 naming line 3 and the custom: form", code, stderr)
	}
	os.WriteFile(path, []byte("sw-binary=6001\ncustom:site-app=7000\n"), 0o644)
	if code, _, stderr := runCLI(t, "analyze", "--services", path, "--service", "custom:other-app=7001/udp", labCapture); code != 0 {
		t.Errorf("custom services: got exit %d %q; want 0", code, stderr)
	}
}

func TestTimeoutFlagLeftOutIsTheProfiles(t *testing.T) {
	var got *AnalyzeOptions
	f := &Factory{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, Version: "test"}
	cmd := NewCmdAnalyze(f, func(o *AnalyzeOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--profile", "asa", "a.pcap"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Opts.UDPTimeout != 0 || got.Opts.TCPIdle != 0 {
		t.Errorf("got %v %v; want 0 (the profile's)", got.Opts.UDPTimeout, got.Opts.TCPIdle)
	}
	code, out, _ := runCLI(t, "analyze", "--udp-timeout", "5s", "--tcp-idle-timeout", "10s", labCapture)
	if code != 0 || !strings.Contains(out, "Timeouts: UDP 5.0 s, TCP idle 10.0 s") {
		t.Errorf("got exit %d, %q; want the timeouts given", code, firstLines(out, 3))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestEvidenceFlag(t *testing.T) {
	dir := t.TempDir()
	out, js := filepath.Join(dir, "ev.pcapng"), filepath.Join(dir, "r.json")
	mixed := "../../pcaps/captures/mixed-rejects/client.pcap"
	code, _, stderr := runCLI(t, "analyze", "--evidence", out, "--json", js, mixed)
	if code != 0 || !strings.Contains(stderr, "evidence capture written to "+out) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// A pcapng section header, and every finding of the report named in a
	// packet comment.
	if len(data) < 4 || string(data[:4]) != "\x0a\x0d\x0d\x0a" || len(data) > 64<<10 {
		t.Fatalf("%d bytes, starting %x: not a small pcapng file", len(data), data[:min(4, len(data))])
	}
	var rep struct {
		Findings []struct{ ID, Kind, Summary string }
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &rep) != nil || len(rep.Findings) == 0 {
		t.Fatalf("report: %v", err)
	}
	for _, f := range rep.Findings {
		if !bytes.Contains(data, []byte(f.ID+" "+f.Kind+": "+f.Summary)) {
			t.Errorf("%s not in a packet comment", f.ID)
		}
	}

	// --redact: the comments quote the redacted report, the packets carry
	// its pseudonyms.
	code, _, stderr = runCLI(t, "analyze", "--redact", "--evidence", out, "--json", js, mixed)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	data, _ = os.ReadFile(out)
	for _, a := range []string{"192.0.2.10", "198.51.100.10"} {
		if bytes.Contains(data, []byte(a)) || bytes.Contains(data, netip.MustParseAddr(a).AsSlice()) {
			t.Errorf("%s in the redacted evidence capture", a)
		}
	}
	var red struct {
		Findings []struct{ ID, Kind, Summary, Client string }
	}
	if b, err := os.ReadFile(js); err != nil || json.Unmarshal(b, &red) != nil {
		t.Fatalf("report: %v", err)
	}
	for _, f := range red.Findings {
		if !bytes.Contains(data, []byte(f.ID+" "+f.Kind+": "+f.Summary)) {
			t.Errorf("%s: redacted summary not in a packet comment", f.ID)
		}
		if f.Client != "" && !bytes.Contains(data, netip.MustParseAddr(f.Client).AsSlice()) {
			t.Errorf("%s: the report's pseudonym %s not in the packets", f.ID, f.Client)
		}
	}

	// The demo's built-in capture is read again from memory.
	if code, _, stderr = runCLI(t, "demo", "--evidence", out); code != 0 || !strings.Contains(stderr, "evidence capture written") {
		t.Errorf("demo: exit %d, stderr %q", code, stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--evidence", "-", mixed}, "--evidence -: give a file name"},
		{[]string{"analyze", "--evidence-payload", mixed}, "--evidence-payload needs --evidence FILE"},
		{[]string{"analyze", "--evidence", "/nonexistent/dir/e.pcapng", mixed}, "--evidence /nonexistent/dir/e.pcapng: directory /nonexistent/dir does not exist"},
		{[]string{"analyze", "--evidence", out, "-"}, "standard input (-) cannot be"},
	} {
		if code, _, stderr := runCLI(t, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
