// Package corrupt_test runs fwdiag over the damaged captures in testdata,
// made by make.sh with real tools (editcap, mergecap, tcprewrite, head,
// gzip) from the lab captures, and checks the outcome MANIFEST.txt states
// for each: a report of what could be read, with the damage named by file and
// frame and a capture_truncated finding, or a clear error naming the file;
// always within a hang bound and never a panic (nothing here recovers one).
package corrupt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

// timeLimit bounds the analysis of one damaged file (each takes
// milliseconds; a hang is a failure, not a slow test).
const timeLimit = 10 * time.Second

// entry is one file of MANIFEST.txt.
type entry struct {
	file, cmd string
	line      int
	report    bool     // want a report (else an *pipeline.InputError)
	errText   string   // error: the message contains this
	packets   int      // report: -1 = not checked
	atLeast   bool     // packets is a minimum
	noErrors  bool     // errors=0
	errs      []string // error="..." texts each found in some report error
	finding   []string
	nofinding []string
	sameAs    string // the flows and findings equal those of this file's report
}

func readManifest(t *testing.T) []entry {
	t.Helper()
	b, err := os.ReadFile("MANIFEST.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	var e *entry
	for i, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case k == "file":
			out = append(out, entry{file: v, line: i + 1, packets: -1})
			e = &out[len(out)-1]
		case e == nil:
			t.Fatalf("MANIFEST.txt:%d: %q before the first file:", i+1, line)
		case k == "cmd":
			e.cmd = v
		case k == "want":
			if err := parseWant(e, v); err != nil {
				t.Fatalf("MANIFEST.txt:%d: %v", i+1, err)
			}
		default:
			t.Fatalf("MANIFEST.txt:%d: unknown line %q", i+1, line)
		}
	}
	if len(out) < 40 {
		t.Fatalf("MANIFEST.txt lists %d files; want the whole corpus (40 or more)", len(out))
	}
	return out
}

// parseWant reads `report key=value...` or `error "TEXT"`.
func parseWant(e *entry, s string) error {
	kind, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	switch kind {
	case "error":
		t, err := strconv.Unquote(rest)
		if err != nil || t == "" {
			return fmt.Errorf("want error: %q is not a quoted text", rest)
		}
		e.errText = t
		return nil
	case "report":
		e.report = true
	default:
		return fmt.Errorf("want %q: not report or error", kind)
	}
	for rest != "" {
		eq := strings.IndexAny(rest, "=>")
		if eq < 0 {
			return fmt.Errorf("want: %q has no =", rest)
		}
		key := rest[:eq]
		if strings.HasPrefix(rest[eq:], ">=") {
			key += ">="
			eq++
		}
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return fmt.Errorf("want: %v in %q", err, rest)
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		rest = strings.TrimSpace(rest)
		switch key {
		case "packets", "packets>=":
			n, err := strconv.Atoi(val)
			if err != nil {
				return err
			}
			e.packets, e.atLeast = n, key == "packets>="
		case "errors":
			if val != "0" {
				return fmt.Errorf("errors=%s: only errors=0 is known", val)
			}
			e.noErrors = true
		case "error":
			e.errs = append(e.errs, val)
		case "finding":
			e.finding = append(e.finding, val)
		case "nofinding":
			e.nofinding = append(e.nofinding, val)
		case "same-as":
			e.sameAs = val
		default:
			return fmt.Errorf("want: unknown key %q", key)
		}
	}
	return nil
}

// analyze runs pipeline.AnalyzeFiles within timeLimit. A panic in it is not
// recovered: it fails the whole test binary, as it would crash fwdiag.
func analyze(t *testing.T, paths ...string) (*report.Report, error) {
	t.Helper()
	type result struct {
		r   *report.Report
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		r, err := pipeline.AnalyzeFiles(paths, pipeline.Options{}, "test")
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(timeLimit):
		t.Fatalf("%v: no result after %v (hang)", paths, time.Since(start).Round(time.Second))
		return nil, nil
	}
}

func totalPackets(r *report.Report) int {
	n := 0
	for _, in := range r.Inputs {
		n += int(in.Packets)
	}
	return n
}

func kinds(r *report.Report) []string {
	var k []string
	for _, f := range r.Findings {
		k = append(k, string(f.Kind))
	}
	return k
}

var frameRE = regexp.MustCompile(`: frame (\d+): `)

// checkReport checks a report against its manifest entry and the guarantees
// every report of a damaged file keeps.
func checkReport(t *testing.T, e entry, path string, r *report.Report) {
	t.Helper()
	if r == nil {
		t.Fatal("got a nil report and no error")
	}
	if n := totalPackets(r); e.packets >= 0 && (n < e.packets || !e.atLeast && n != e.packets) {
		t.Errorf("got %d packets; want %s%d", n, map[bool]string{true: ">=", false: ""}[e.atLeast], e.packets)
	}
	if e.noErrors && len(r.Errors) > 0 {
		t.Errorf("got errors %q; want none", r.Errors)
	}
	for _, want := range e.errs {
		if !slices.ContainsFunc(r.Errors, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("got errors %q; want one containing %q", r.Errors, want)
		}
	}
	have := kinds(r)
	for _, k := range e.finding {
		if !slices.Contains(have, k) {
			t.Errorf("got findings %v; want %s", have, k)
		}
	}
	for _, k := range e.nofinding {
		if slices.Contains(have, k) {
			t.Errorf("got findings %v; want no %s", have, k)
		}
	}
	// Every error names the file; lost data always shows as a finding
	// (damage, or frames of a link type not analysed), whose evidence lists
	// each frame the errors name.
	truncated := slices.Contains(have, "capture_truncated") || slices.Contains(have, "capture_link_unsupported")
	for _, msg := range r.Errors {
		if !strings.HasPrefix(msg, path+": ") {
			t.Errorf("error %q does not start with the file %s", msg, path)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("error %q spans lines", msg)
		}
	}
	if len(r.Errors) > 0 && !truncated {
		t.Errorf("got errors %q but no capture_truncated or capture_link_unsupported finding (findings %v)", r.Errors, have)
	}
	// (The evidence lists the first 32 damaged frames.)
	named, bad := 0, 0
	for _, msg := range r.Errors {
		m := frameRE.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		if named++; named > 32 || bad > 3 {
			break
		}
		n, _ := strconv.ParseUint(m[1], 10, 64)
		found := false
		for _, f := range r.Findings {
			if f.Kind != "capture_truncated" && f.Kind != "capture_link_unsupported" {
				continue
			}
			for _, ev := range f.Evidence {
				if r.InputPath(ev.Input) == path && slices.Contains(ev.Frames, n) {
					found = true
				}
			}
		}
		if !found {
			bad++
			t.Errorf("error %q: frame %d is not in the capture_truncated evidence", msg, n)
		}
	}
	// The report must serialise: a damaged file must not give a report the
	// JSON writer rejects (NaN durations, times before the epoch...).
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Errorf("WriteJSON: %v", err)
	}
	if err := report.WriteText(io.Discard, r); err != nil {
		t.Errorf("WriteText: %v", err)
	}
}

// analysis is what a report says about the traffic, whatever the input's
// name and damage: the same packets must give the same analysis.
func analysis(t *testing.T, r *report.Report) string {
	t.Helper()
	var fs []string
	for _, f := range r.Findings {
		if !strings.HasPrefix(string(f.Kind), "capture_") {
			fs = append(fs, string(f.Kind)+"/"+string(f.Severity)+"/"+strconv.Itoa(f.Count))
		}
	}
	// The rows name their capture point by file name, which differs
	// between the files compared.
	npa := slices.Clone(r.NPASessions)
	for i := range npa {
		npa[i].CapturePoint = ""
	}
	udp := slices.Clone(r.UDPFlows)
	for i := range udp {
		udp[i].CapturePoint = ""
	}
	b, err := json.Marshal([]any{r.Hosts, r.Services, npa, udp, r.TCPFlows, fs})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCorpus(t *testing.T) {
	entries := readManifest(t)
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.file] = true
	}
	// Every file in testdata is in the manifest and every listed file
	// exists: a corpus file nobody checks is as bad as a missing one.
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range ents {
		if !listed[de.Name()] {
			t.Errorf("testdata/%s is not in MANIFEST.txt", de.Name())
		}
	}
	var total int64
	for _, e := range entries {
		t.Run(e.file, func(t *testing.T) {
			path := filepath.Join("testdata", e.file)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatalf("MANIFEST.txt:%d: %v (run make.sh)", e.line, err)
			}
			total += st.Size()
			r, err := analyze(t, path)
			if !e.report {
				var ie *pipeline.InputError
				if !errors.As(err, &ie) {
					t.Fatalf("got report %v, error %v (%T); want *pipeline.InputError containing %q", r != nil, err, err, e.errText)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, e.errText) || strings.Contains(msg, "\n") {
					t.Errorf("got error %q; want one line naming %s and containing %q", msg, path, e.errText)
				}
				if r != nil {
					t.Errorf("got a report with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want a report", err)
			}
			checkReport(t, e, path, r)
			if e.sameAs != "" {
				r2, err := analyze(t, filepath.Join("testdata", e.sameAs))
				if err != nil {
					t.Fatal(err)
				}
				if a, b := analysis(t, r), analysis(t, r2); a != b {
					t.Errorf("the analysis of the readable part differs from %s's:\n got %s\nwant %s", e.sameAs, a, b)
				}
			}
		})
	}
	if total > 3<<20 {
		t.Errorf("the corpus is %d bytes; keep it under 3 MB", total)
	}
}

// TestDamagedWithGoodInput: one damaged input among several must not cost
// the others their analysis.
func TestDamagedWithGoodInput(t *testing.T) {
	good := "testdata/ctl-eth.pcapng"
	for _, bad := range []string{"testdata/len4g.pcap", "testdata/gzip-cut.pcap.gz", "testdata/ng-cut-epb.pcapng"} {
		r, err := analyze(t, good, bad)
		if err != nil {
			t.Fatalf("%s + %s: %v", good, bad, err)
		}
		alone, err := analyze(t, bad)
		if err != nil {
			t.Fatal(err)
		}
		if n, want := totalPackets(r), 137+totalPackets(alone); n != want {
			t.Errorf("%s + %s: got %d packets; want %d", good, bad, n, want)
		}
		if len(r.Errors) == 0 || !strings.HasPrefix(r.Errors[0], bad+": ") {
			t.Errorf("%s + %s: got errors %q; want the damage of %s", good, bad, r.Errors, bad)
		}
	}
	// An unusable file among good ones is an error naming it, not a report
	// that silently leaves it out.
	_, err := analyze(t, good, "testdata/wrong-magic.pcap")
	var ie *pipeline.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "testdata/wrong-magic.pcap") {
		t.Errorf("good + wrong magic: got %v; want an InputError naming testdata/wrong-magic.pcap", err)
	}
}

// fwdiag builds the command once per test binary.
func fwdiag(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fwdiag-corrupt")
		if err != nil {
			binErr = err
			return
		}
		bin = filepath.Join(dir, "fwdiag")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/fwdiag/fwdiag/cmd/fwdiag").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return bin
}

// run runs fwdiag with args and stdin; it fails the test on a hang.
func run(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(fwdiag(t), args...)
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeLimit):
		cmd.Process.Kill()
		<-done
		t.Fatalf("fwdiag %v: no exit after %v", args, timeLimit)
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

func TestCLIExitCodes(t *testing.T) {
	tests := []struct {
		file string
		code int
	}{
		{"cut-record-data.pcap", 0},
		{"len4g.pcap", 0},
		{"ng-cut-epb-header.pcapng", 0},
		{"gzip-cut.pcap.gz", 0},
		{"E0.05-sll2.pcapng", 0},
		{"empty.pcap", 2},
		{"directory.pcap", 2},
		{"wrong-magic.pcap", 2},
		{"cut-global-header.pcap", 2},
		{"len4g-first.pcap", 2},
		{"ng-cut-idb.pcapng", 2},
		{"gzip-header-only.gz", 2},
		{"missing.pcap", 2}, // not in the corpus: a path that does not exist
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			code, stdout, stderr := run(t, nil, "analyze", "--json", "-", path)
			if code != tt.code {
				t.Fatalf("got exit %d (stderr %q); want %d", code, stderr, tt.code)
			}
			if tt.code == 2 {
				if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.Contains(stderr, path) {
					t.Errorf("got stderr %q; want one line naming %s", stderr, path)
				}
				if stdout != "" {
					t.Errorf("got stdout %q; want nothing", stdout)
				}
				return
			}
			var r report.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("stdout is not a JSON report: %v", err)
			}
			if totalPackets(&r) == 0 || len(r.Inputs) != 1 || r.Inputs[0].Path != path {
				t.Errorf("got inputs %+v; want %s with packets", r.Inputs, path)
			}
		})
	}
}

// TestJSONToFullDisk: a report that does not fit leaves a clear error (exit
// 2, one line naming the path) and no file, complete or partial, behind.
func TestJSONToFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tiny tmpfs needs root")
	}
	fwdiag(t)
	for _, free := range []int{0, 4096} { // full, and room for part of the report
		t.Run(fmt.Sprintf("free%d", free), func(t *testing.T) {
			dir := t.TempDir()
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("skipped: cannot mount a tmpfs (%v: %s)", err, bytes.TrimSpace(out))
			}
			t.Cleanup(func() {
				if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v %s", dir, err, out)
				}
			})
			// Fill it, then free the room asked for.
			exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(dir, "fill"), "bs=4k").Run()
			if free > 0 {
				st, err := os.Stat(filepath.Join(dir, "fill"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(filepath.Join(dir, "fill"), st.Size()-int64(free)); err != nil {
					t.Fatal(err)
				}
			}
			var fs syscall.Statfs_t
			if err := syscall.Statfs(dir, &fs); err != nil {
				t.Fatal(err)
			}
			if avail := int64(fs.Bavail) * int64(fs.Bsize); avail > int64(free) {
				t.Fatalf("%s has %d bytes free; want at most %d", dir, avail, free)
			}
			out := filepath.Join(dir, "r.json")
			// A capture whose JSON report (about 20 KB) cannot fit in 4 KB.
			code, _, stderr := run(t, nil, "analyze", "--json", out, "../captures/healthy/client.pcap")
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, out) {
				t.Errorf("got exit %d, stderr %q; want 2 and one line naming %s", code, stderr, out)
			}
			if !strings.Contains(stderr, "no space left on device") {
				t.Errorf("got stderr %q; want it to say the disk is full", stderr)
			}
			left, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, de := range left {
				if de.Name() != "fill" {
					t.Errorf("%s was left in %s; want no report and no temporary file", de.Name(), dir)
				}
			}
		})
	}
}

// TestSignalDuringAnalyze: analyze reading a pipe that stays open, killed
// by SIGTERM, must end at once and leave neither report nor temporary
// file (analyze has no signal handling of its own; live's is tested in
// cmd/fwdiag). The control: the same stream, closed, gives the report.
func TestSignalDuringAnalyze(t *testing.T) {
	bin := fwdiag(t)
	capture, err := os.ReadFile("testdata/ctl-eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	head := capture[:24+16*10+2000] // the file header and some records (cut anywhere: the pipe stays open)
	for _, term := range []bool{true, false} {
		t.Run(map[bool]string{true: "sigterm", false: "eof"}[term], func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "r.json")
			cmd := exec.Command(bin, "analyze", "--json", out, "-")
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			if _, err := w.Write(head); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // it is reading, blocked on the pipe
			select {
			case err := <-done:
				t.Fatalf("fwdiag exited before the end of its input: %v, %s", err, stderr.String())
			default:
			}
			if term {
				cmd.Process.Signal(syscall.SIGTERM)
			} else {
				w.Close()
			}
			select {
			case <-done:
			case <-time.After(timeLimit):
				cmd.Process.Kill()
				<-done
				t.Fatalf("no exit %v after the signal or EOF", timeLimit)
			}
			w.Close()
			left, _ := os.ReadDir(dir)
			if term {
				if cmd.ProcessState.Success() {
					t.Errorf("got success after SIGTERM; want the signal's exit")
				}
				if len(left) != 0 {
					t.Errorf("got %v in %s after SIGTERM; want nothing", left, dir)
				}
				return
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 || len(left) != 1 || left[0].Name() != "r.json" {
				t.Fatalf("at EOF: got exit %d, files %v, stderr %q; want 0 and r.json", code, left, stderr.String())
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var r report.Report
			if err := json.Unmarshal(b, &r); err != nil || totalPackets(&r) == 0 || len(r.Errors) != 1 ||
				!strings.HasPrefix(r.Errors[0], "-: frame ") {
				t.Errorf("at EOF: got %v, %d packets, errors %q; want a report with the cut record named", err, totalPackets(&r), r.Errors)
			}
		})
	}
}

// TestJSONToFIFO: --json to something that is not a regular file (a FIFO
// here; /dev/null or /dev/stdout in real use) writes to it, and must not
// replace it with a regular file by the rename of the atomic write.
func TestJSONToFIFO(t *testing.T) {
	fwdiag(t)
	fifo := filepath.Join(t.TempDir(), "report.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("skipped: cannot make a FIFO: %v", err)
	}
	// Open read-write so that neither side blocks opening; reads poll.
	rd, err := os.OpenFile(fifo, os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := make(chan []byte, 1)
	go func() {
		var b []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := rd.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				got <- b
				return
			}
		}
	}()
	code, _, stderr := run(t, nil, "analyze", "--json", fifo, "testdata/ctl-eth.pcap")
	rd.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	data := <-got
	st, err := os.Lstat(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("after --json %s: it is now %v; want the FIFO kept (exit %d, stderr %q)", fifo, st.Mode(), code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil || totalPackets(&r) != 137 || code != 0 {
		t.Errorf("the FIFO's reader got %d bytes (%v), exit %d; want the JSON report of 137 packets, exit 0", len(data), err, code)
	}
}

var (
	binOnce sync.Once
	bin     string
	binErr  error
)

// BenchmarkManyLinkTypes measures the input of 40,000 frames whose link
// type fwdiag cannot read: skipping them must cost what reading them would
// (one counter per frame), not an error or an allocation each. A benchmark
// rather than a timed test (go test -bench ManyLinkTypes ./pcaps/corrupt).
func BenchmarkManyLinkTypes(b *testing.B) {
	path := filepath.Join("testdata", "many-linktypes.pcapng.gz")
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%v (run make.sh)", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pipeline.AnalyzeFiles([]string{path}, pipeline.Options{}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}
