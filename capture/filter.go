package capture

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"
)

// The live socket is opened as SOCK_DGRAM, so every frame (and every BPF
// program) starts at the network header whatever the interface's link type:
// Ethernet, a tunnel with no link header, loopback. Filters are therefore
// written and compiled for raw IP (LINKTYPE_RAW).

// acceptLen is what a BPF program returns to keep a whole packet.
const acceptLen = 262144

// Ports are the ports the default filter keeps, by transport.
type Ports struct {
	TCP, UDP []uint16
}

// normalise sorts and de-duplicates the ports and adds DNS (53 on both
// transports): DNS answers name the outbound K2 endpoints.
func (p Ports) normalise() Ports {
	clean := func(in []uint16) []uint16 {
		out := append(slices.Clone(in), 53)
		slices.Sort(out)
		return slices.Compact(out)
	}
	return Ports{TCP: clean(p.TCP), UDP: clean(p.UDP)}
}

// DefaultFilterExpr is the default filter in tcpdump syntax, as shown to the
// user and recorded in the pcapng written with --write. DefaultFilter is the
// same filter assembled by hand.
func DefaultFilterExpr(ports Ports) string {
	p := ports.normalise()
	join := func(ps []uint16) string {
		s := make([]string, len(ps))
		for i, v := range ps {
			s[i] = strconv.Itoa(int(v))
		}
		return strings.Join(s, " or ")
	}
	return fmt.Sprintf("tcp port (%s) or udp port (%s) or icmp or icmp6", join(p.TCP), join(p.UDP))
}

// DefaultFilter assembles the default filter for raw IP frames: TCP and UDP
// with a catalog port (or DNS) at either end, all ICMP and ICMPv6 (errors
// quote the blocked packet), IPv4 fragments past the first and IPv6 packets
// behind extension headers (their ports cannot be read at a fixed offset;
// the dissector sorts them out). It is hand-assembled so that no libpcap
// and no external tool are needed for the default case.
func DefaultFilter(ports Ports) ([]bpf.RawInstruction, error) {
	p := ports.normalise()
	var a asm
	// A = IP version.
	a.op(bpf.LoadAbsolute{Off: 0, Size: 1})
	a.op(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	a.jeq(4, "v4", "")
	a.jeq(6, "v6", "drop")

	a.label("v4")
	a.op(bpf.LoadAbsolute{Off: 9, Size: 1})
	a.jeq(1, "keep", "")
	a.jeq(6, "tcp4", "")
	a.jeq(17, "udp4", "drop")
	for _, t := range []struct {
		name  string
		ports []uint16
	}{{"tcp4", p.TCP}, {"udp4", p.UDP}} {
		a.label(t.name)
		// A fragment other than the first carries no ports: keep it.
		a.op(bpf.LoadAbsolute{Off: 6, Size: 2})
		a.jset(0x1fff, "keep", "")
		a.op(bpf.LoadMemShift{Off: 0})
		a.portCheck(t.ports, bpf.LoadIndirect{Off: 0, Size: 2}, bpf.LoadIndirect{Off: 2, Size: 2})
	}

	a.label("v6")
	a.op(bpf.LoadAbsolute{Off: 6, Size: 1})
	a.jeq(58, "keep", "")
	a.jeq(6, "tcp6", "")
	a.jeq(17, "udp6", "")
	// Extension headers (hop-by-hop 0, routing 43, fragment 44, dest 60).
	a.jeq(0, "keep", "")
	a.jeq(43, "keep", "")
	a.jeq(44, "keep", "")
	a.jeq(60, "keep", "drop")
	a.label("tcp6")
	a.portCheck(p.TCP, bpf.LoadAbsolute{Off: 40, Size: 2}, bpf.LoadAbsolute{Off: 42, Size: 2})
	a.label("udp6")
	a.portCheck(p.UDP, bpf.LoadAbsolute{Off: 40, Size: 2}, bpf.LoadAbsolute{Off: 42, Size: 2})

	a.label("keep")
	a.op(bpf.RetConstant{Val: acceptLen})
	a.label("drop")
	a.op(bpf.RetConstant{Val: 0})
	return a.assemble()
}

// asm is a tiny assembler with labels: BPF jumps are relative and at most
// 255 instructions long, which is tedious to count by hand.
type asm struct {
	ins    []asmIns
	labels map[string]int
	n      int // local label counter
}

type asmIns struct {
	op          bpf.Instruction
	cond        bpf.JumpTest
	val         uint32
	jump        bool
	ifTrue, els string // "" = next instruction
}

func (a *asm) op(i bpf.Instruction) { a.ins = append(a.ins, asmIns{op: i}) }
func (a *asm) jeq(v uint32, t, f string) {
	a.ins = append(a.ins, asmIns{jump: true, cond: bpf.JumpEqual, val: v, ifTrue: t, els: f})
}
func (a *asm) jset(v uint32, t, f string) {
	a.ins = append(a.ins, asmIns{jump: true, cond: bpf.JumpBitsSet, val: v, ifTrue: t, els: f})
}
func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.ins)
}

// portCheck keeps the packet when the source or destination port (loaded by
// src and dst) is in ports, and drops it otherwise. Each check gets its own
// accept so that jumps stay short.
func (a *asm) portCheck(ports []uint16, src, dst bpf.Instruction) {
	a.n++
	hit := fmt.Sprintf("hit%d", a.n)
	for _, load := range []bpf.Instruction{src, dst} {
		a.op(load)
		for _, port := range ports {
			a.jeq(uint32(port), hit, "")
		}
	}
	a.op(bpf.RetConstant{Val: 0})
	a.label(hit)
	a.op(bpf.RetConstant{Val: acceptLen})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	var prog []bpf.Instruction
	for i, in := range a.ins {
		if !in.jump {
			prog = append(prog, in.op)
			continue
		}
		skip := func(l string) (uint8, error) {
			if l == "" {
				return 0, nil
			}
			at, ok := a.labels[l]
			if !ok {
				return 0, fmt.Errorf("bpf: undefined label %q", l)
			}
			d := at - i - 1
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("bpf: jump to %q out of range (%d)", l, d)
			}
			return uint8(d), nil
		}
		t, err := skip(in.ifTrue)
		if err != nil {
			return nil, err
		}
		f, err := skip(in.els)
		if err != nil {
			return nil, err
		}
		prog = append(prog, bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: t, SkipFalse: f})
	}
	return bpf.Assemble(prog)
}

// CompileExpr compiles a tcpdump filter expression for raw IP frames by
// running `tcpdump -dd` over an empty raw-IP capture read from stdin:
// tcpdump compiles the expression for the link type of the file it reads,
// which is the link type the live socket delivers. This keeps fwdiag free
// of libpcap and cgo; only --bpf needs tcpdump to be installed.
func CompileExpr(ctx context.Context, expr string) ([]bpf.RawInstruction, error) {
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, errors.New("--bpf needs tcpdump to compile the expression and it is not installed (install tcpdump, or leave out --bpf to use the built-in filter)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-r", "-", "-dd", expr)
	cmd.Stdin = bytes.NewReader(rawPcapHeader())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := lastLine(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("--bpf %q: %s", expr, strings.TrimPrefix(msg, "tcpdump: "))
	}
	return ParseDD(stdout.String())
}

// rawPcapHeader is a pcap file header with no packets, link type RAW.
func rawPcapHeader() []byte {
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], acceptLen)
	binary.LittleEndian.PutUint32(h[20:], 101)
	return h
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "reading from file") {
			return l
		}
	}
	return ""
}

var ddLine = regexp.MustCompile(`^\{\s*(0x[0-9a-fA-F]+|\d+),\s*(\d+),\s*(\d+),\s*(0x[0-9a-fA-F]+|\d+)\s*\},?$`)

// ParseDD parses the C array `tcpdump -dd` prints: one
// `{ code, jt, jf, k },` line per instruction.
func ParseDD(out string) ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		m := ddLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("tcpdump -dd: unexpected line %q", line)
		}
		op, _ := strconv.ParseUint(m[1], 0, 16)
		jt, _ := strconv.ParseUint(m[2], 0, 8)
		jf, _ := strconv.ParseUint(m[3], 0, 8)
		k, _ := strconv.ParseUint(m[4], 0, 32)
		prog = append(prog, bpf.RawInstruction{Op: uint16(op), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	if len(prog) == 0 {
		return nil, errors.New("tcpdump -dd printed no program")
	}
	return prog, nil
}
