package evidence

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fwdiag/fwdiag/internal/pcaptest"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
)

const captures = "../pcaps/captures/"

func analyze(t *testing.T, files ...string) *report.Report {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, captures+f)
	}
	rep, err := pipeline.AnalyzeFiles(paths, pipeline.Options{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// ngPacket is a packet read back from the evidence capture.
type ngPacket struct {
	ci       gopacket.CaptureInfo
	data     []byte
	comments []string
}

// readNg reads an evidence capture back with gopacket's pcapng reader (not
// the one that wrote it, nor the one that read the inputs).
func readNg(t *testing.T, path string) (ifaces []pcapgo.NgInterface, pkts []ngPacket) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, ngPacket{ci, data, opts.Comments})
	}
	for i := range r.NInterfaces() {
		intf, _ := r.Interface(i)
		ifaces = append(ifaces, intf)
	}
	return ifaces, pkts
}

// origFrame is a frame of an input as gopacket's pcap reader numbers it.
type origFrame struct {
	ts             time.Time
	capLen, length int
	data           []byte
}

func readPcap(t *testing.T, path string) []origFrame {
	t.Helper()
	frames, _ := pcaptest.Read(t, path)
	out := make([]origFrame, len(frames))
	for i, f := range frames {
		out[i] = origFrame{f.CI.Timestamp, f.CI.CaptureLength, f.CI.Length, f.Data}
	}
	return out
}

// TestCitedFrames checks that every frame a finding cites is in the
// evidence capture, on its input's interface, as captured (timestamp,
// lengths and bytes of the frame with that number in the input, read by
// another reader), with a comment naming the finding.
func TestCitedFrames(t *testing.T) {
	for _, files := range [][]string{
		{"mixed-rejects/client.pcap"},
		{"mixed-rejects/client.pcap", "mixed-rejects/server.pcap"},
		{"mixed-rejects/firewall.pcap"},                              // Linux cooked v2
		{"mixed-rejects/client.pcap", "mixed-rejects/firewall.pcap"}, // two link types
	} {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			rep := analyze(t, files...)
			if len(rep.Findings) == 0 {
				t.Fatal("no findings: nothing to test")
			}
			out := filepath.Join(t.TempDir(), "ev.pcapng")
			st, err := WriteFile(out, rep, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Warnings) > 0 {
				t.Errorf("warnings: %q", st.Warnings)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != st.Bytes || fi.Size() > 64<<10 {
				t.Errorf("file %d bytes, stats %d: want the same and < 64 KB", fi.Size(), st.Bytes)
			}
			ifaces, pkts := readNg(t, out)
			if len(pkts) != st.Packets || st.Packets != st.Cited+st.Handshake {
				t.Fatalf("%d packets read back, stats %+v", len(pkts), st)
			}
			// One interface per input, of its link type.
			ifOf := map[int]int{}
			for i, intf := range ifaces {
				var in int
				if _, err := fmt.Sscanf(intf.Description, "fwdiag input %d:", &in); err != nil {
					t.Fatalf("interface %d description %q", i, intf.Description)
				}
				if want := rep.Inputs[in].LinkType; !strings.Contains(intf.Description, "("+want+")") {
					t.Errorf("interface %d: %q, want link type %s", i, intf.Description, want)
				}
				ifOf[i] = in
			}
			if len(ifaces) != len(files) {
				t.Errorf("%d interfaces, want one per input (%d)", len(ifaces), len(files))
			}
			// Index the written packets by input and original frame.
			type key struct {
				input int
				frame uint64
			}
			byFrame := map[key]ngPacket{}
			for i, p := range pkts {
				if i > 0 && p.ci.Timestamp.Before(pkts[i-1].ci.Timestamp) {
					t.Errorf("packet %d out of timestamp order", i+1)
				}
				var fr uint64
				var path string
				last := p.comments[len(p.comments)-1]
				if _, err := fmt.Sscanf(last, "frame %d of %s", &fr, &path); err != nil {
					t.Fatalf("packet %d: last comment %q", i+1, last)
				}
				byFrame[key{ifOf[p.ci.InterfaceIndex], fr}] = p
			}
			origs := make([][]origFrame, len(files))
			for i, f := range files {
				origs[i] = readPcap(t, captures+f)
			}
			cited := map[key]bool{}
			for _, f := range rep.Findings {
				for _, ev := range f.Evidence {
					for _, fr := range ev.Frames {
						cited[key{ev.Input, fr}] = true
						p, ok := byFrame[key{ev.Input, fr}]
						if !ok {
							t.Errorf("%s: frame %d of input %d not in the evidence capture", f.ID, fr, ev.Input)
							continue
						}
						o := origs[ev.Input][fr-1]
						if !p.ci.Timestamp.Equal(o.ts) || p.ci.CaptureLength != o.capLen || p.ci.Length != o.length || !bytes.Equal(p.data, o.data) {
							t.Errorf("%s: frame %d of input %d: written %v %d/%d, input has %v %d/%d", f.ID, fr, ev.Input,
								p.ci.Timestamp, p.ci.CaptureLength, p.ci.Length, o.ts, o.capLen, o.length)
						}
						want := f.ID + " " + string(f.Kind) + ": " + f.Summary
						found := false
						for _, c := range p.comments {
							found = found || c == want
						}
						if !found {
							t.Errorf("%s: frame %d of input %d: comments %q lack %q", f.ID, fr, ev.Input, p.comments, want)
						}
					}
				}
			}
			if st.Cited != len(cited) {
				t.Errorf("%d cited packets written, the findings cite %d", st.Cited, len(cited))
			}
			// Handshake packets name the findings of their connection.
			for k, p := range byFrame {
				if !cited[k] && !strings.HasPrefix(p.comments[0], "handshake of the connection F") {
					t.Errorf("uncited frame %d of input %d: comments %q", k.frame, k.input, p.comments)
				}
			}
		})
	}
}

// TestHandshake checks that a cited reset in mid-connection comes with the
// connection's SYN, SYN-ACK and ACK.
func TestHandshake(t *testing.T) {
	rep := analyze(t, "mixed-rejects/client.pcap")
	var rst *report.Finding
	for i := range rep.Findings {
		if rep.Findings[i].Kind == "rst_injected" {
			rst = &rep.Findings[i]
		}
	}
	if rst == nil {
		t.Fatal("no rst_injected finding in mixed-rejects/client.pcap")
	}
	rep.Findings = []report.Finding{*rst}
	out := filepath.Join(t.TempDir(), "ev.pcapng")
	st, err := WriteFile(out, rep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, pkts := readNg(t, out)
	if st.Handshake != 3 || len(pkts) != 3+st.Cited {
		t.Fatalf("stats %+v, %d packets", st, len(pkts))
	}
	// TCP flags of the first three (Ethernet + 20-byte IPv4 header here).
	for i, want := range []byte{0x02, 0x12, 0x10} {
		d := pkts[i].data
		if got := d[14+(int(d[14])&0xF)*4+13]; got != want {
			t.Errorf("packet %d: TCP flags %#x, want %#x", i+1, got, want)
		}
	}
	st, err = WriteFile(out, rep, Options{NoHandshake: true})
	if err != nil || st.Handshake != 0 {
		t.Errorf("NoHandshake: %+v %v", st, err)
	}
}

func tshark(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	cmd := exec.Command(path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %q: %v: %s", args, err, stderr.String())
	}
	return string(out)
}

// TestTshark checks that Wireshark reads the capture and shows the comments.
func TestTshark(t *testing.T) {
	rep := analyze(t, "mixed-rejects/client.pcap", "mixed-rejects/server.pcap")
	out := filepath.Join(t.TempDir(), "ev.pcapng")
	st, err := WriteFile(out, rep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tshark(t, "-r", out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment")), "\n")
	if len(lines) != st.Packets {
		t.Fatalf("tshark shows %d commented packets, %d written", len(lines), st.Packets)
	}
	for _, f := range rep.Findings {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, f.ID+" "+string(f.Kind)+": ") {
				n++
			}
		}
		want := 0
		for _, ev := range f.Evidence {
			want += len(ev.Frames)
		}
		if n != want {
			t.Errorf("%s: tshark shows %d packets commented with it, it cites %d frames", f.ID, n, want)
		}
	}
}

// TestRedact checks a redacted evidence capture: no address of the report
// as captured anywhere in the file (text or binary, also in the ICMP
// errors' quotes), no MAC address of the input, the report's pseudonyms in
// the packets, and checksums Wireshark finds right.
func TestRedact(t *testing.T) {
	for _, files := range [][]string{
		{"mixed-rejects/client.pcap", "mixed-rejects/server.pcap"},
		{"mixed-rejects/firewall.pcap"},
		{"ipv6-rejects/client.pcap"},
	} {
		for _, payload := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/payload=%v", strings.Join(files, "+"), payload), func(t *testing.T) {
				rep := analyze(t, files...)
				var orig []netip.Addr
				for _, h := range rep.Hosts {
					orig = append(orig, netip.MustParseAddr(h.Addr))
				}
				if len(orig) == 0 {
					t.Fatal("no hosts")
				}
				macs := map[string]bool{}
				for _, f := range files {
					for _, o := range readPcap(t, captures+f) {
						if !strings.Contains(rep.Inputs[0].LinkType, "sll") && len(o.data) >= 12 {
							macs[string(o.data[0:6])], macs[string(o.data[6:12])] = true, true
						}
					}
				}
				delete(macs, "\xff\xff\xff\xff\xff\xff")
				red := report.NewRedactor([]byte("test key"))
				red.Apply(rep)
				out := filepath.Join(t.TempDir(), "ev.pcapng")
				st, err := WriteFile(out, rep, Options{Redactor: red, Payload: payload})
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Warnings) > 0 {
					t.Errorf("warnings: %q", st.Warnings)
				}
				raw, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range orig {
					if bytes.Contains(raw, []byte(a.String())) {
						t.Errorf("%s in the file as text", a)
					}
					if bytes.Contains(raw, a.AsSlice()) {
						t.Errorf("%s in the file as binary", a)
					}
					if !bytes.Contains(raw, red.Addr(a).AsSlice()) && !bytes.Contains(raw, []byte(red.Addr(a).String())) {
						t.Logf("pseudonym of %s not in the file (not in the cited packets?)", a)
					}
				}
				for m := range macs {
					if bytes.Contains(raw, []byte(m)) {
						t.Errorf("MAC %x of the input in the file", m)
					}
				}
				// The findings' own pseudonyms are in the packets.
				for _, f := range rep.Findings {
					if f.Client != "" && !bytes.Contains(raw, netip.MustParseAddr(f.Client).AsSlice()) {
						t.Errorf("%s: client %s not in the packets", f.ID, f.Client)
					}
				}
				_, pkts := readNg(t, out)
				for i, p := range pkts {
					if !payload && p.ci.CaptureLength > 14+60+8+60+20 {
						t.Errorf("packet %d: %d bytes kept, want headers only", i+1, p.ci.CaptureLength)
					}
				}
				prefs := []string{"-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"}
				// Checksum status 0 is Bad (1 Good, 2 Unverified).
				bad := tshark(t, append([]string{"-r", out, "-Y", "tcp.checksum.status==0 || udp.checksum.status==0 || ip.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0"}, prefs...)...)
				if bad != "" {
					t.Errorf("bad checksums:\n%s", bad)
				}
				if payload {
					// Whole packets: every checksum is checked, and right.
					n := strings.Count(tshark(t, append([]string{"-r", out, "-Y", "tcp.checksum.status==1 || udp.checksum.status==1 || icmp.checksum.status==1 || icmpv6.checksum.status==1", "-T", "fields", "-e", "frame.number"}, prefs...)...), "\n")
					if n != st.Packets {
						t.Errorf("%d of %d packets with checksums Wireshark finds good", n, st.Packets)
					}
				}
			})
		}
	}
}

// TestHandshakeAfterCitedSYN checks that when a finding cites a
// connection's SYN (and later frames), the SYN-ACK and ACK that answer it
// come along, though they come after the first cited frame.
func TestHandshakeAfterCitedSYN(t *testing.T) {
	rep := analyze(t, "npa-reset/client.pcap", "npa-reset/server.pcap")
	out := filepath.Join(t.TempDir(), "ev.pcapng")
	st, err := WriteFile(out, rep, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, pkts := readNg(t, out)
	var flags []byte
	for _, p := range pkts {
		if strings.HasPrefix(p.comments[0], "handshake of") {
			d := p.data
			flags = append(flags, d[14+(int(d[14])&0xF)*4+13])
		}
	}
	// Each capture point saw the SYN (cited) and the SYN-ACK; the ACK
	// completing the handshake is the one uncited packet at each.
	if st.Handshake != 2 || !bytes.Equal(flags, []byte{0x10, 0x10}) {
		t.Errorf("stats %+v, handshake packets' TCP flags %x; want two ACKs", st, flags)
	}
}
