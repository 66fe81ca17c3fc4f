package flows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// Captures from both sides of a firewall (or one tcpdump -i any on it, which
// sees each packet on both interfaces) say exactly which packets the
// firewall ate, as pcapdiff and Wireshark's Compare do: the same packet is
// recognised at each capture point by what NAT leaves alone (IPv4 ID, TCP
// sequence and acknowledgement numbers and flags, payload length and first
// bytes), flows that share packets are the same flow, and a packet one side
// saw that the other, watching the same flow at the time, never saw was
// dropped (or, when only the receiving side saw it, injected) in between.

// maxPrints bounds the packets a flow remembers for the comparison.
const maxPrints = 32

// pktPrint is one packet's identity for matching across capture points.
type pktPrint struct {
	h     uint64
	frame uint64
	t     int64 // capture time, Unix nanoseconds
	dir   uint8 // 0 client to server, 1 server to client
	rst   bool
}

// fingerprint hashes what NAT does not change (FNV-1a).
func fingerprint(p *dissect.Packet) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64, n int) {
		for i := 0; i < n; i++ {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
	}
	mix(uint64(p.Proto), 1)
	if p.IPVersion == 4 {
		mix(uint64(p.IPID), 2)
	}
	mix(uint64(p.Seq), 4)
	mix(uint64(p.Ack), 4)
	mix(uint64(p.TCPFlags), 1)
	mix(uint64(p.PayloadLen), 4)
	for i, b := range p.Payload {
		if i == 32 {
			break
		}
		mix(uint64(b), 1)
	}
	return h
}

// addPrint records a packet of a flow while there is room.
func addPrint(prints *[]pktPrint, p *dissect.Packet, dir int) {
	if len(*prints) >= maxPrints {
		return
	}
	if *prints == nil {
		*prints = make([]pktPrint, 0, maxPrints)
	}
	*prints = append(*prints, pktPrint{h: fingerprint(p), frame: p.Frame, t: p.Time.UnixNano(), dir: uint8(dir), rst: p.TCPFlags&dissect.FlagRST != 0})
}

// flowView is one capture point's view of a flow, for the comparison.
type flowView struct {
	vantage        uint16
	input          int
	client, server Endpoint
	svc            *Service
	transport      string
	prints         []pktPrint
}

// compareFindings matches flows across capture points and reports the
// packets that one side saw and the other did not.
func (a *Analyzer) compareFindings(conns []*Conn, udps []*UDPFlow, fs *findingSet) {
	if len(a.vantageOf) < 2 {
		return
	}
	var views []*flowView
	for _, c := range conns {
		if len(c.prints) > 0 {
			views = append(views, &flowView{c.Vantage, c.Input, c.Client, c.Server, a.flowService(&c.flowHead, TCP), TCP, c.prints})
		}
	}
	for _, f := range udps {
		if len(f.prints) > 0 {
			views = append(views, &flowView{f.Vantage, f.Input, f.Client, f.Server, a.flowService(&f.flowHead, UDP), UDP, f.prints})
		}
	}
	// Index fingerprints: which views saw each.
	byPrint := map[uint64][]int{}
	for i, v := range views {
		for _, p := range v.prints {
			byPrint[p.h] = append(byPrint[p.h], i)
		}
	}
	// Pair each view with the views at other capture points that share
	// packets with it; compare each pair once.
	type pair struct{ x, y int }
	done := map[pair]bool{}
	for i, v := range views {
		// Shared packets per candidate; then, per other capture point, the
		// candidate sharing the most (identical endpoints win a tie:
		// without NAT the same flow has the same addresses). Identical
		// requests from other ports (KeyConfigure repeats itself) share a
		// packet or two with the wrong flow, never the most.
		shared := map[int]int{}
		for _, p := range v.prints {
			for _, j := range byPrint[p.h] {
				if views[j].vantage != v.vantage {
					shared[j]++
				}
			}
		}
		best := map[uint16]int{}
		for j, n := range shared {
			w := views[j]
			need := min(2, len(v.prints), len(w.prints))
			if n < need {
				continue
			}
			b, ok := best[w.vantage]
			if !ok || n > shared[b] || n == shared[b] && sameEnds(v, w) && !sameEnds(v, views[b]) || n == shared[b] && sameEnds(v, w) == sameEnds(v, views[b]) && j < b {
				best[w.vantage] = j
			}
		}
		js := make([]int, 0, len(best))
		for _, j := range best {
			js = append(js, j)
		}
		sort.Ints(js)
		for _, j := range js {
			k := pair{min(i, j), max(i, j)}
			if done[k] {
				continue
			}
			done[k] = true
			a.compareViews(views[k.x], views[k.y], fs)
			a.compareViews(views[k.y], views[k.x], fs)
		}
	}
}

// compareViews reports the packets x saw that y, watching the same flow,
// did not. The window compared is set by the packets both saw, not by
// clocks: captures from two hosts rarely agree on the time, and each side
// starts recording a flow's packets at its own moment.
func (a *Analyzer) compareViews(x, y *flowView, fs *findingSet) {
	yt := make(map[uint64]int64, len(y.prints))
	for _, p := range y.prints {
		yt[p.h] = p.t
	}
	firstM, lastM := -1, -1
	for i, p := range x.prints {
		if _, ok := yt[p.h]; ok {
			if firstM < 0 {
				firstM = i
			}
			lastM = i
		}
	}
	if firstM < 0 {
		return
	}
	// The offset between the two clocks, from a packet both saw.
	offset := x.prints[firstM].t - yt[x.prints[firstM].h]
	yEnd := a.vantageLast[y.vantage]
	var missing []pktPrint
	for i, p := range x.prints {
		if i < firstM {
			continue // before y was recording this flow
		}
		if _, ok := yt[p.h]; ok {
			continue
		}
		if i > lastM && (len(y.prints) >= maxPrints || p.t-offset > yEnd) {
			continue // y stopped recording, or its capture had ended
		}
		missing = append(missing, p)
	}
	if len(missing) == 0 {
		return
	}
	// Which way did the missing packets go, and which side is upstream?
	// A packet the sender's side saw and the receiver's side did not was
	// dropped; one only the receiver's side saw was made in between.
	for dir := uint8(0); dir < 2; dir++ {
		var frames []uint64
		rst := 0
		first, last := int64(0), int64(0)
		for _, p := range missing {
			if p.dir != dir {
				continue
			}
			frames = append(frames, p.frame)
			if p.rst {
				rst++
			}
			if first == 0 {
				first = p.t
			}
			last = p.t
		}
		if len(frames) == 0 {
			continue
		}
		kind := "dropped_between_captures"
		if rst == len(frames) {
			// Resets that one side saw and the other never did: a
			// middlebox made them (or dropped the genuine one).
			kind = "reset_between_captures"
		}
		g := fs.add(kind, Warning, x.svc, x.transport, x.client.Addr(), x.server.Addr(), x.server.Port(),
			time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), x.input, frames)
		g.clientPts[x.client.Port()] = true
		if g.hashes == nil {
			g.hashes = map[uint64]bool{}
		}
		for _, p := range missing {
			if p.dir == dir && !g.hashes[p.h] {
				g.hashes[p.h] = true
				g.notes[fmt.Sprintf("dir %d", dir)]++
			}
		}
		// A packet is one occurrence however many pairs of capture
		// points miss it.
		g.count = len(g.hashes)
		g.notes[fmt.Sprintf("seen %d", x.vantage)]++
		g.notes[fmt.Sprintf("missing %d", y.vantage)]++
		fs.texts[g] = a.textBetween
	}
}

func (a *Analyzer) textBetween(g *group) Finding {
	var seenIn, missIn []string
	toServer, toClient := g.notes["dir 0"], g.notes["dir 1"]
	for n := range g.notes {
		switch {
		case strings.HasPrefix(n, "seen "):
			seenIn = append(seenIn, a.vantageName(n[5:]))
		case strings.HasPrefix(n, "missing "):
			missIn = append(missIn, a.vantageName(n[8:]))
		}
	}
	sort.Strings(seenIn)
	sort.Strings(missIn)
	label := serviceLabel(g.service, g.key.port, g.key.transport)
	var way string
	switch {
	case toServer > 0 && toClient > 0:
		way = fmt.Sprintf("%d from %s to %s and %d back", toServer, g.client(), g.key.server, toClient)
	case toServer > 0:
		way = fmt.Sprintf("from %s to %s", g.client(), g.key.server)
	default:
		way = fmt.Sprintf("from %s to %s", g.key.server, g.client())
	}
	n := plural(g.count, "packet", "packets")
	filter := betweenFilter(g)
	if g.key.kind == "reset_between_captures" {
		resets := plural(g.count, "reset", "resets")
		summary := fmt.Sprintf("%s %s: %s %s seen on one side of the firewall only", g.client(), label, resets, way)
		detail := fmt.Sprintf("%s %s %s in %s but not in %s, which recorded the rest of this connection at the time: the reset was made between the two capture points (a firewall, IPS or proxy), or the genuine one was dropped there.",
			capitalize(plural(g.count, "TCP reset", "TCP resets")), way, appear(g.count), strings.Join(seenIn, ", "), strings.Join(missIn, ", "))
		return g.finding(summary, detail, "Find the device between the two capture points that resets this connection.", "high", filter)
	}
	summary := fmt.Sprintf("%s %s: %s %s seen on one side of the firewall never reached the other", g.client(), label, n, way)
	detail := fmt.Sprintf("%s %s %s in %s but not in %s, which recorded the rest of this flow at the time (matched by IP ID, TCP sequence numbers and payload, so NAT does not hide them): the device between the two capture points dropped %s.",
		capitalize(n), way, appear(g.count), strings.Join(seenIn, ", "), strings.Join(missIn, ", "), them(g.count))
	rec := "Look at what the device between the capture points does to this flow at those times: its state table (an idle timeout that expired), a rule, or a rate limit."
	return g.finding(summary, detail, rec, "high", filter)
}

// betweenFilter selects a comparison finding's packets: exactly its frames
// when one capture holds them all, else the flow on the service port.
func betweenFilter(g *group) string {
	if len(g.frames) == 1 {
		for _, fr := range g.frames {
			if len(fr) <= 40 {
				nums := make([]string, len(fr))
				for i, n := range fr {
					nums[i] = fmt.Sprint(n)
				}
				return fmt.Sprintf("frame.number in {%s}", strings.Join(nums, ", "))
			}
		}
	}
	return fmt.Sprintf("%s.addr==%s && %s.port==%d", ipField(g.client()), g.key.server, g.key.transport, g.key.port)
}

// vantageName names a capture point (its index as text) for prose: the
// input's path, with the interface when the input has several.
func (a *Analyzer) vantageName(idx string) string {
	var v int
	fmt.Sscan(idx, &v)
	if v < 0 || v >= len(a.vantageOf) {
		return "capture point " + idx
	}
	k := a.vantageOf[v]
	name := fmt.Sprintf("input %d", k.input+1)
	if k.input < len(a.inputPaths) && a.inputPaths[k.input] != "" {
		name = a.inputPaths[k.input]
	}
	switch {
	case k.ifIndex != 0:
		name += fmt.Sprintf(" (interface %d)", k.ifIndex)
	case k.iface != 0:
		name += fmt.Sprintf(" (interface id %d)", k.iface)
	case k.outgoing:
		name += " (outgoing)"
	}
	return name
}

func sameEnds(x, y *flowView) bool { return x.client == y.client && x.server == y.server }

// appear and them agree with a count in prose.
func appear(n int) string {
	if n == 1 {
		return "appears"
	}
	return "appear"
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
