package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"

	"github.com/fwdiag/fwdiag/dissect"
)

var testPorts = Ports{TCP: []uint16{5001, 5002, 5005, 19283, 80, 443, 25, 21}, UDP: []uint16{5001, 19283, 19315}}

// labFrames returns the IP packets (Ethernet header removed) of every lab
// capture, as the SOCK_DGRAM socket would deliver them.
func labFrames(t *testing.T) [][]byte {
	t.Helper()
	paths, _ := filepath.Glob("../pcaps/captures/*/*.pcap")
	if len(paths) == 0 {
		t.Skip("no lab captures under ../pcaps/captures")
	}
	var out [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			f.Close()
			continue
		}
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			if r.LinkType() == 1 && len(data) > 14 {
				et := binary.BigEndian.Uint16(data[12:14])
				if et == 0x0800 || et == 0x86dd {
					out = append(out, data[14:])
				}
			}
		}
		f.Close()
	}
	// Packets the lab never makes: other ports, plain ICMP echo, IPv6.
	out = append(out, ipv4(17, 40000, 123), ipv4(6, 40000, 22), ipv4(1, 0, 0), ipv6(6, 5001, 50000), ipv6(17, 50000, 5353), ipv6(58, 0, 0))
	return out
}

func ipv4(proto uint8, sport, dport uint16) []byte {
	b := make([]byte, 40)
	b[0], b[9] = 0x45, proto
	binary.BigEndian.PutUint16(b[2:], 40)
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	return b
}

func ipv6(nh uint8, sport, dport uint16) []byte {
	b := make([]byte, 60)
	b[0], b[6] = 0x60, nh
	binary.BigEndian.PutUint16(b[4:], 20)
	binary.BigEndian.PutUint16(b[40:], sport)
	binary.BigEndian.PutUint16(b[42:], dport)
	return b
}

// want is the default filter's rule written plainly in Go.
func want(t *testing.T, frame []byte) bool {
	var p dissect.Packet
	p.Reset()
	if err := dissect.NewDecoder(dissect.LinkRaw).Decode(frame, time.Time{}, len(frame), len(frame), &p); err != nil {
		t.Fatal(err)
	}
	has := func(ports []uint16) bool {
		return slices.Contains(ports, p.SrcPort) || slices.Contains(ports, p.DstPort) || p.SrcPort == 53 || p.DstPort == 53
	}
	switch p.Proto {
	case dissect.ProtoICMP, dissect.ProtoICMPv6:
		return true
	case dissect.ProtoTCP:
		return has(testPorts.TCP)
	case dissect.ProtoUDP:
		return has(testPorts.UDP)
	}
	return false
}

func run(t *testing.T, prog []bpf.RawInstruction, frame []byte) bool {
	t.Helper()
	insts, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("program does not disassemble")
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestDefaultFilterMatchesRule(t *testing.T) {
	prog, err := DefaultFilter(testPorts)
	if err != nil {
		t.Fatal(err)
	}
	frames := labFrames(t)
	kept := 0
	for i, fr := range frames {
		got, w := run(t, prog, fr), want(t, fr)
		if got != w {
			t.Errorf("frame %d: filter keeps %v; want %v", i, got, w)
		}
		if got {
			kept++
		}
	}
	if kept == 0 || kept == len(frames) {
		t.Errorf("filter kept %d of %d frames; want some but not all", kept, len(frames))
	}
}

// TestDefaultFilterAgreesWithTcpdump compiles the filter's text with
// tcpdump and checks that both programs decide every frame alike.
func TestDefaultFilterAgreesWithTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed")
	}
	mine, err := DefaultFilter(testPorts)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := CompileExpr(context.Background(), DefaultFilterExpr(testPorts))
	if err != nil {
		t.Fatal(err)
	}
	for i, fr := range labFrames(t) {
		if fr[0]>>4 == 6 && slices.Contains([]byte{0, 43, 44, 60}, fr[6]) {
			// By design the default filter keeps every IPv6 packet behind
			// extension headers (MLD reports, for one); tcpdump's looks
			// through a fragment header only.
			continue
		}
		if a, b := run(t, mine, fr), run(t, theirs, fr); a != b {
			t.Errorf("frame %d: hand-assembled keeps %v; tcpdump's keeps %v (% x)", i, a, b, fr[:min(len(fr), 48)])
		}
	}
}

func TestCompileExprErrors(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not installed")
	}
	_, err := CompileExpr(context.Background(), "ether host 1:2:3:4:5:6")
	if err == nil {
		t.Fatal("got no error for an Ethernet filter on raw IP frames")
	}
	t.Log(err)
	_, err = CompileExpr(context.Background(), "tcp port banana")
	if err == nil {
		t.Fatal("got no error for a malformed filter")
	}
}

func TestParseDD(t *testing.T) {
	prog, err := ParseDD("{ 0x28, 0, 0, 0x0000000c },\n{ 0x6, 0, 0, 0x00040000 },\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []bpf.RawInstruction{{Op: 0x28, K: 12}, {Op: 6, K: 0x40000}}
	if !slices.Equal(prog, want) {
		t.Errorf("got %v; want %v", prog, want)
	}
	if _, err := ParseDD("garbage"); err == nil {
		t.Error("got no error for garbage")
	}
}

func TestUnknownInterfaceListsInterfaces(t *testing.T) {
	_, err := Open(context.Background(), Config{Interface: "nosuchif0"})
	var ue *UnknownInterfaceError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v; want *UnknownInterfaceError", err)
	}
	if len(ue.Known) == 0 || !slices.ContainsFunc(ue.Known, func(s string) bool { return len(s) >= 2 && s[:2] == "lo" }) {
		t.Errorf("got interfaces %v; want a list including lo", ue.Known)
	}
	t.Log(err)
}
