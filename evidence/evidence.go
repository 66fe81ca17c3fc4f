// Package evidence writes the evidence capture of a report: a small pcapng
// file holding only the packets its findings cite, each with a comment
// naming the findings, to attach to a ticket instead of the whole capture.
// The whole capture is often too large to attach and holds traffic that is
// none of the ticket's business; the cited frames, with the handshake of
// each cited TCP connection, are what a firewall team needs to open in
// Wireshark and see the finding for themselves.
//
// The packets are read again from the report's inputs with the same readers
// the analysis used, so frame numbers mean the same thing (1-based, per
// input, in file order, as Wireshark numbers them). With a redactor the
// packets are rewritten to match the redacted report: IP addresses (also
// those quoted in ICMP errors) become the report's pseudonyms, MAC addresses
// keyed hashes, checksums are recomputed, and payloads are cut off after
// the transport header unless asked for.
package evidence

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/report"
)

// Options say how the evidence capture is written.
type Options struct {
	// Redactor, when set, rewrites every packet with the pseudonyms the
	// redacted report uses: it must be the report's own redactor (same
	// key), or the capture and the report would name different hosts.
	Redactor *report.Redactor
	// Payload keeps redacted packets whole. Without it a redacted packet is
	// cut after its transport header: payloads are not redacted (a DNS
	// answer or a login carries what redaction is meant to hide).
	Payload bool
	// NoHandshake leaves out the handshakes of the cited TCP connections.
	NoHandshake bool
	// Open opens input index of the report at path; nil is dissect.Open.
	// The demo command opens its built-in capture with it.
	Open func(path string, index int) (dissect.Source, error)
	// Application is written in the section header ("fwdiag 1.2.3").
	Application string
}

// Stats is what was written.
type Stats struct {
	Packets   int   // packets written
	Cited     int   // of them, frames the findings cite
	Handshake int   // of them, handshake packets of cited TCP connections
	Bytes     int64 // size of the file
	// Warnings are frames that could not be written: cited frames not in
	// the input any more, frames that could not be redacted, inputs that
	// cannot be read twice (standard input).
	Warnings []string
}

// WriteFile writes the evidence capture of rep to path (replacing it only
// once it is complete). Errors name path.
func WriteFile(path string, rep *report.Report, o Options) (Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return Stats{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	// A capture for a ticket is for sharing: the usual file mode, not
	// CreateTemp's 0600.
	err = tmp.Chmod(0o644)
	var st Stats
	if err == nil {
		st, err = Write(tmp, rep, o)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return st, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// packet is one packet to write.
type packet struct {
	input    int
	frame    uint64
	ts       time.Time
	origLen  int
	linkType int
	snap     int
	data     []byte
	comments []string
	cited    bool
	hsOf     []int // for a handshake packet, the findings citing its connection
	// tunnel: the cited packet was carried in a tunnel, whose inner
	// headers the rewriter does not reach: it cannot be redacted.
	tunnel bool
}

// flowKey is a TCP connection by its endpoints, the lower one first.
type flowKey struct{ a, b netip.AddrPort }

func keyOf(p *dissect.Packet) flowKey {
	a, b := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return flowKey{a, b}
}

// handshake finds a connection's handshake: the last SYN at or before its
// first cited frame, and the SYN-ACK and ACK that answer it (which may come
// after: a finding may cite the SYN and the reset at the end).
type handshake struct {
	before uint64 // first cited frame of the connection
	syn    netip.AddrPort
	frames []uint64
	done   bool
}

func (h *handshake) add(p *dissect.Packet) {
	if h.done {
		return
	}
	if p.Frame > h.before && (len(h.frames) == 0 || p.HasFlag(dissect.FlagRST) || p.HasFlag(dissect.FlagFIN)) {
		h.done = true // no handshake begun by then, or the connection ends
		return
	}
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	switch syn, ack := p.HasFlag(dissect.FlagSYN), p.HasFlag(dissect.FlagACK); {
	case syn && !ack && p.Frame <= h.before:
		h.syn, h.frames = src, append(h.frames[:0], p.Frame)
	case syn && ack && len(h.frames) == 1 && src != h.syn:
		h.frames = append(h.frames, p.Frame)
	case !syn && ack && len(h.frames) == 2 && src == h.syn:
		h.frames = append(h.frames, p.Frame)
		h.done = p.Frame > h.before
	}
}

// Write writes the evidence capture of rep to w.
func Write(w io.Writer, rep *report.Report, o Options) (Stats, error) {
	var st Stats
	open := o.Open
	if open == nil {
		open = dissect.Open
	}
	// cites[input][frame] are the findings citing the frame.
	cites := make([]map[uint64][]int, len(rep.Inputs))
	for fi, f := range rep.Findings {
		for _, ev := range f.Evidence {
			if ev.Input < 0 || ev.Input >= len(rep.Inputs) {
				st.Warnings = append(st.Warnings, fmt.Sprintf("%s cites input %d, which the report does not list", f.ID, ev.Input))
				continue
			}
			if cites[ev.Input] == nil {
				cites[ev.Input] = map[uint64][]int{}
			}
			for _, fr := range ev.Frames {
				if l := cites[ev.Input][fr]; len(l) == 0 || l[len(l)-1] != fi {
					cites[ev.Input][fr] = append(l, fi)
				}
			}
		}
	}
	rw := newRewriter(o.Redactor, o.Payload)
	var pkts []*packet
	for in, want := range cites {
		if len(want) == 0 {
			continue
		}
		path := rep.Inputs[in].Path
		if path == "-" && o.Open == nil {
			st.Warnings = append(st.Warnings, fmt.Sprintf("input %d is standard input, which cannot be read again: its %d frames left out", in, len(want)))
			continue
		}
		got, err := readInput(open, path, in, want, !o.NoHandshake)
		if o.Redactor != nil {
			// Input paths stay in the redacted report (they name files,
			// not hosts), but one may hold an address: not in a capture
			// meant to leave the site.
			path = o.Redactor.Text(path)
		}
		if err != nil {
			return st, err
		}
		left := map[string][]uint64{} // frames left out, by reason
		if n := len(want) - countCited(got); n > 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d cited frames not in the file (has it changed since the analysis?)", path, n))
		}
		for _, p := range got {
			if p.cited {
				for _, fi := range want[p.frame] {
					f := &rep.Findings[fi]
					p.comments = append(p.comments, f.ID+" "+string(f.Kind)+": "+f.Summary)
				}
			} else {
				var names []string
				for _, fi := range p.hsOf {
					names = append(names, rep.Findings[fi].ID+" "+string(rep.Findings[fi].Kind))
				}
				p.comments = append(p.comments, "handshake of the connection "+strings.Join(names, ", ")+" cites")
			}
			p.comments = append(p.comments, "frame "+strconv.FormatUint(p.frame, 10)+" of "+path)
			if o.Redactor != nil && p.tunnel {
				// Its inner addresses would go out as they are.
				const why = "a packet inside a tunnel cannot be redacted"
				left[why] = append(left[why], p.frame)
				continue
			}
			if o.Redactor != nil {
				data, err := rw.rewrite(p.linkType, p.data)
				if err != nil {
					left[err.Error()] = append(left[err.Error()], p.frame)
					continue
				}
				p.data = data
			}
			pkts = append(pkts, p)
		}
		for _, why := range slices.Sorted(maps.Keys(left)) {
			fr := left[why]
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s: %d frames left out (frame %d first): %s", path, len(fr), slices.Min(fr), why))
		}
	}
	slices.SortStableFunc(pkts, func(a, b *packet) int {
		if c := a.ts.Compare(b.ts); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.input, b.input), cmp.Compare(a.frame, b.frame))
	})

	cw := &countWriter{w: w}
	app := o.Application
	if app == "" {
		app = "fwdiag"
	}
	section := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: app,
		Comment: fmt.Sprintf("fwdiag evidence capture: the frames %d findings cite", len(rep.Findings))}}
	var nw *pcapgo.NgWriter
	type ifKey struct{ input, linkType int }
	ifaces := map[ifKey]int{}
	for _, p := range pkts {
		k := ifKey{p.input, p.linkType}
		id, ok := ifaces[k]
		if !ok {
			intf := pcapgo.NgInterface{Name: filepath.Base(inPath(rep, p.input, o.Redactor)),
				Description: fmt.Sprintf("fwdiag input %d: %s (%s)", p.input, inPath(rep, p.input, o.Redactor), dissect.LinkTypeName(p.linkType)),
				LinkType:    layers.LinkType(p.linkType), SnapLength: uint32(p.snap), TimestampResolution: 9}
			var err error
			if nw == nil {
				nw, err = pcapgo.NewNgWriterInterface(cw, intf, section)
			} else {
				id, err = nw.AddInterface(intf)
			}
			if err != nil {
				return st, err
			}
			ifaces[k] = id
		}
		ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: max(p.origLen, len(p.data)), InterfaceIndex: id}
		if err := nw.WritePacketWithOptions(ci, p.data, pcapgo.NgPacketOptions{Comments: p.comments}); err != nil {
			return st, err
		}
		st.Packets++
		if p.cited {
			st.Cited++
		} else {
			st.Handshake++
		}
	}
	if nw == nil {
		// No packet: a valid file all the same, with one interface.
		var err error
		if nw, err = pcapgo.NewNgWriterInterface(cw, pcapgo.NgInterface{Name: "none", LinkType: layers.LinkTypeEthernet, TimestampResolution: 9}, section); err != nil {
			return st, err
		}
	}
	err := nw.Flush()
	st.Bytes = cw.n
	return st, err
}

// inPath is the path of input i as the capture names it.
func inPath(rep *report.Report, i int, red *report.Redactor) string {
	if red != nil {
		return red.Text(rep.Inputs[i].Path)
	}
	return rep.Inputs[i].Path
}

func countCited(ps []*packet) int {
	n := 0
	for _, p := range ps {
		if p.cited {
			n++
		}
	}
	return n
}

// readInput reads one input for the frames in want and, with hs, the
// handshakes of the TCP connections they belong to (found in a second
// reading, a third fetching them: the handshake comes before the frames).
func readInput(open func(string, int) (dissect.Source, error), path string, index int, want map[uint64][]int, hs bool) ([]*packet, error) {
	var out []*packet
	flows := map[flowKey]*handshake{}
	flowCites := map[flowKey][]int{}
	err := scan(open, path, index, func(p *dissect.Packet, raw dissect.RawFrame) {
		fs, ok := want[p.Frame]
		if !ok {
			return
		}
		out = append(out, &packet{input: index, frame: p.Frame, ts: p.Time, origLen: p.OrigLen, linkType: raw.LinkType,
			snap: raw.Snap, data: slices.Clone(raw.Data), cited: true, tunnel: p.Tunnel != dissect.EncapNone})
		if hs && p.Proto == dissect.ProtoTCP && !p.Fragment && p.IPVersion != 0 {
			k := keyOf(p)
			if flows[k] == nil {
				flows[k] = &handshake{before: p.Frame}
			}
			flowCites[k] = append(flowCites[k], fs...)
		}
	})
	if err != nil || len(flows) == 0 {
		return out, err
	}
	err = scan(open, path, index, func(p *dissect.Packet, raw dissect.RawFrame) {
		if p.Proto != dissect.ProtoTCP || p.Fragment || p.IPVersion == 0 {
			return
		}
		if h := flows[keyOf(p)]; h != nil {
			h.add(p)
		}
	})
	if err != nil {
		return out, err
	}
	extra := map[uint64][]int{}
	for k, h := range flows {
		for _, fr := range h.frames {
			if _, cited := want[fr]; !cited {
				extra[fr] = append(extra[fr], flowCites[k]...)
			}
		}
	}
	if len(extra) == 0 {
		return out, nil
	}
	err = scan(open, path, index, func(p *dissect.Packet, raw dissect.RawFrame) {
		fs, ok := extra[p.Frame]
		if !ok {
			return
		}
		slices.Sort(fs)
		fs = slices.Compact(fs)
		out = append(out, &packet{input: index, frame: p.Frame, ts: p.Time, origLen: p.OrigLen, linkType: raw.LinkType,
			snap: raw.Snap, data: slices.Clone(raw.Data), hsOf: fs, tunnel: p.Tunnel != dissect.EncapNone})
	})
	return out, err
}

// scan reads every frame of one input.
func scan(open func(string, int) (dissect.Source, error), path string, index int, fn func(*dissect.Packet, dissect.RawFrame)) error {
	src, err := open(path, index)
	if err != nil {
		return err
	}
	defer src.Close()
	rf, ok := src.(dissect.RawFramer)
	if !ok {
		return fmt.Errorf("%s: the reader does not give frames as captured", path)
	}
	var p dissect.Packet
	var last uint64
	for {
		err := src.Next(&p)
		if err == io.EOF {
			return nil
		}
		if err == nil && p.Frame == last {
			continue // a further packet of the same frame (an 802.11 A-MSDU)
		}
		var fe *dissect.FrameError
		if errors.As(err, &fe) && !fe.Fatal {
			continue
		}
		if err != nil {
			return err
		}
		last = p.Frame
		fn(&p, rf.RawFrame())
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
