package diagnose

import (
	"sort"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
)

// The limits of the capture itself, which weaken a conclusion.
const (
	CaptureTruncated   Kind = "capture_truncated"
	CaptureInterrupted Kind = "capture_interrupted"
	CaptureOneSided    Kind = "capture_one_sided"
	CaptureDrops       Kind = "capture_drops"
	CaptureDuplicates  Kind = "capture_duplicates"
	// CaptureLinkUnsupported: frames of a link type fwdiag does not
	// analyse (802.11, FDDI, ...) were skipped; their traffic is not in
	// the report.
	CaptureLinkUnsupported Kind = "capture_link_unsupported"
	// CaptureUndecoded: frames whose carried packet could not be decoded
	// (a tunnel cut short, a protocol not followed, encrypted 802.11);
	// their traffic is not in the report.
	CaptureUndecoded Kind = "capture_undecoded"
)

var captureKinds = []Kind{CaptureTruncated, CaptureInterrupted, CaptureOneSided, CaptureDrops, CaptureDuplicates, CaptureLinkUnsupported, CaptureUndecoded}

// CaptureFacts: the limits of one input (or, for duplicates and one-sided
// capture points, the capture point) that weaken a conclusion.
type CaptureFacts struct {
	Input int // index of the input
	// Messages are the input's error messages (at most 5 for damage).
	Messages []string
	// Truncated frames (snap length), Damaged records, Problems (the
	// number of distinct errors), Drops reported by the kernel,
	// Connections at a one-sided capture point.
	Truncated, Damaged, Problems int
	Drops                        int64
	Connections                  int
	// LinkType, LinkTypes and Skipped: the link types not analysed (the
	// most frequent first, at most maxLinkTypes; LinkType the first) and
	// how many frames were skipped in all (capture_link_unsupported).
	LinkType  int
	LinkTypes []LinkCount
	Skipped   int
	// Folded counts pktmon's further appearances of packets (the same EPB
	// packet id at another component), each packet counted once.
	Folded int
	// Undecoded counts the frames whose carried packet could not be
	// decoded, by encapsulation and cause, the most frequent first
	// (capture_undecoded; Skipped is their total).
	Undecoded []UndecodedCount
}

// UndecodedCount is an encapsulation, why it stopped decoding, and how
// many frames it stopped.
type UndecodedCount struct {
	Encap, Cause string
	Frames       int
}

func (f *CaptureFacts) merge(Facts) {}
func (f *CaptureFacts) clone() Facts {
	c := *f
	c.Messages = append([]string(nil), f.Messages...)
	c.LinkTypes = append([]LinkCount(nil), f.LinkTypes...)
	c.Undecoded = append([]UndecodedCount(nil), f.Undecoded...)
	return &c
}

// LinkCount is a link type and how many frames of it were skipped.
type LinkCount struct {
	LinkType int
	Skipped  int
}

// maxLinkTypes bounds the link types a finding names.
const maxLinkTypes = 8

// captureFindings reports the limits of the capture itself.
func (a *run) captureFindings(conns []*flows.Conn, inputs []*dissect.InputInfo) []Finding {
	var out []Finding
	mk := func(kind Kind, sev Severity, count int, facts *CaptureFacts) Finding {
		return Finding{Kind: kind, Severity: sev, Confidence: High, First: a.v.First, Last: a.v.Last, Count: count, Facts: facts}
	}
	for i, in := range inputs {
		var damaged, outages []*dissect.FrameError
		links := &CaptureFacts{Input: i}
		var linkFrames []uint64
		for _, e := range in.Errors {
			switch {
			case e.Interruption:
				outages = append(outages, e)
			case e.LinkType != 0:
				// Not damage: frames of a link type nobody reads.
				n := int(max(e.Count, 1))
				links.Skipped += n
				links.LinkTypes = append(links.LinkTypes, LinkCount{e.LinkType, n})
				if len(linkFrames) < 32 {
					linkFrames = append(linkFrames, e.Frame)
				}
			default:
				damaged = append(damaged, e)
			}
		}
		if links.Skipped > 0 {
			// One finding per input, however many link types (a file can
			// declare thousands): the most frequent named.
			sort.SliceStable(links.LinkTypes, func(a, b int) bool { return links.LinkTypes[a].Skipped > links.LinkTypes[b].Skipped })
			links.LinkTypes = links.LinkTypes[:min(len(links.LinkTypes), maxLinkTypes)]
			links.LinkType = links.LinkTypes[0].LinkType
			// When they are all the input holds, nothing was analysed, and
			// a verdict of OK would be a silent miss.
			sev := Info
			if uint64(links.Skipped) >= in.Packets {
				sev = Warning
			}
			f := mk(CaptureLinkUnsupported, sev, links.Skipped, links)
			f.Evidence = []Evidence{{Input: i, Frames: linkFrames}}
			out = append(out, f)
		}
		if n := in.UndecodedTotal(); n > 0 {
			cf := &CaptureFacts{Input: i, Skipped: int(n)}
			for u, c := range in.Undecoded {
				cf.Undecoded = append(cf.Undecoded, UndecodedCount{u.Encap.String(), u.Cause.String(), int(c)})
			}
			sort.Slice(cf.Undecoded, func(a, b int) bool {
				x, y := cf.Undecoded[a], cf.Undecoded[b]
				if x.Frames != y.Frames {
					return x.Frames > y.Frames
				}
				return x.Encap+x.Cause < y.Encap+y.Cause
			})
			// Half the input or more not decoded: a verdict of OK would
			// say little about the network.
			sev := Info
			if 2*n >= in.Packets {
				sev = Warning
			}
			out = append(out, mk(CaptureUndecoded, sev, int(n), cf))
		}
		if len(outages) > 0 {
			cf := &CaptureFacts{Input: i}
			for _, e := range outages {
				cf.Messages = append(cf.Messages, e.Msg)
			}
			out = append(out, mk(CaptureInterrupted, Warning, len(outages), cf))
		}
		nDamaged := 0
		for _, e := range damaged {
			nDamaged += int(max(e.Count, 1))
		}
		if len(damaged) > 0 || in.Truncated > 0 {
			cf := &CaptureFacts{Input: i, Truncated: int(in.Truncated), Damaged: nDamaged, Problems: len(damaged)}
			var frames []uint64
			for j, e := range damaged {
				if j < 5 {
					cf.Messages = append(cf.Messages, e.Error())
				}
				if e.Frame > 0 && len(frames) < 32 {
					frames = append(frames, e.Frame)
				}
			}
			sev := Warning
			if len(damaged) == 0 {
				sev = Info // only cut by the snap length: headers were read
			}
			f := mk(CaptureTruncated, sev, nDamaged+int(in.Truncated), cf)
			f.Evidence = []Evidence{{Input: i, Frames: frames}}
			out = append(out, f)
		}
		if in.Drops > 0 {
			out = append(out, mk(CaptureDrops, Warning, int(in.Drops), &CaptureFacts{Input: i, Drops: in.Drops}))
		}
	}
	dups := 0
	for _, c := range conns {
		dups += c.Dups
	}
	if dups > 0 || a.v.Folded > 0 {
		out = append(out, mk(CaptureDuplicates, Info, dups+int(a.v.Folded), &CaptureFacts{Input: -1, Folded: int(a.v.Folded)}))
	}
	vs := make([]int, 0, len(a.oneSided))
	for v := range a.oneSided {
		vs = append(vs, int(v))
	}
	sort.Ints(vs)
	for _, v := range vs {
		n := a.oneSided[uint16(v)]
		out = append(out, mk(CaptureOneSided, Warning, n, &CaptureFacts{Input: a.v.CapturePoints[v].Input, Connections: n}))
	}
	return out
}

// oneSidedVantages finds the capture points that saw only one direction of
// traffic: at least three TCP connections, none with packets both ways (or
// an ICMP error back), and at least one that went beyond its SYNs in its one
// direction: packets that acknowledge what the other side sent, which this
// capture never saw. A client whose every SYN is dropped also shows one
// direction, but only SYNs: that is a blocked client, not a one-way capture.
// The unanswered SYNs of a one-sided capture point prove nothing.
func oneSidedVantages(conns []*flows.Conn) map[uint16]int {
	type tally struct{ twoWay, beyondSYN, conns int }
	seen := map[uint16]*tally{}
	for _, c := range conns {
		s := seen[c.Vantage]
		if s == nil {
			s = &tally{}
			seen[c.Vantage] = s
		}
		s.conns++
		switch {
		case c.Dir[0].Pkts > 0 && c.Dir[1].Pkts > 0 || c.ICMP != nil:
			s.twoWay++
		case c.Dir[0].Pkts > uint64(c.Dir[0].SYN) || c.Dir[1].Pkts > uint64(c.Dir[1].SYN):
			s.beyondSYN++
		}
	}
	out := map[uint16]int{}
	for v, s := range seen {
		if s.conns >= 3 && s.twoWay == 0 && s.beyondSYN > 0 {
			out[v] = s.conns
		}
	}
	return out
}
