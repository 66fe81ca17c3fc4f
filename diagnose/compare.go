package diagnose

import (
	"net/netip"
	"sort"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/flows"
)

// flowView is one capture point's view of a flow, for the comparison.
type flowView struct {
	vantage        uint16
	input          int
	client, server netip.AddrPort
	svc            *catalog.Service
	transport      catalog.Transport
	Prints         []flows.Print
	// serverTTL is the TTL the server's packets arrive with (0 unknown):
	// higher on the server's side of a router; device is the middlebox
	// that refused the flow's datagrams (timeouts.between).
	serverTTL uint8
	device    netip.Addr
}

// maxPrintShare is how many flows may share a packet fingerprint for it
// to count in matching them: a SYN flood whose packets are all alike
// (one sequence number, one IP ID) gave every flow the same print, and
// pairing them compared each flow with every other (5,000 SYNs at two
// points: 9 s).
const maxPrintShare = 32

// compareFindings matches flows across capture points and reports the
// packets that one side saw and the other did not.
func (a *run) compareFindings(conns []*flows.Conn, udps []*flows.UDPFlow, fs *findingSet) {
	if len(a.v.CapturePoints) < 2 {
		return
	}
	var views []*flowView
	for _, c := range conns {
		// A scanner's probes are its syn_scan's (aggregate), not a finding
		// each: one side of an asymmetric path missing the targets' resets
		// made a reset_between_captures per probe to a product port.
		if len(c.Prints) > 0 && !a.scanners[c.Client.Addr()] {
			views = append(views, &flowView{c.Vantage, c.Input, c.Client, c.Server, c.Service, TCP, c.Prints, c.Dir[1].TTL, netip.Addr{}})
		}
	}
	for _, f := range udps {
		if len(f.Prints) > 0 {
			views = append(views, &flowView{f.Vantage, f.Input, f.Client, f.Server, f.Service, UDP, f.Prints, f.TTL[1], udpDevice(f)})
		}
	}
	// Index fingerprints: which views saw each (a view once per print it
	// has, in order: its repeats are next to each other); crowded are
	// those more than maxPrintShare views share.
	byPrint := map[uint64][]int{}
	for i, v := range views {
		for _, p := range v.Prints {
			byPrint[p.Hash] = append(byPrint[p.Hash], i)
		}
	}
	crowded := map[uint64]bool{}
	for h, js := range byPrint {
		if len(js) > maxPrintShare {
			n := 0
			for k, j := range js {
				if k == 0 || j != js[k-1] {
					n++
				}
			}
			crowded[h] = n > maxPrintShare
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
		for _, p := range v.Prints {
			if crowded[p.Hash] {
				continue // a packet many flows sent alike identifies none
			}
			for _, j := range byPrint[p.Hash] {
				if views[j].vantage != v.vantage {
					shared[j]++
				}
			}
		}
		best := map[uint16]int{}
		for j, n := range shared {
			w := views[j]
			need := min(2, len(v.Prints), len(w.Prints))
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
func (a *run) compareViews(x, y *flowView, fs *findingSet) {
	yt := make(map[uint64]int64, len(y.Prints))
	for _, p := range y.Prints {
		yt[p.Hash] = p.T
	}
	firstM, lastM := -1, -1
	for i, p := range x.Prints {
		if _, ok := yt[p.Hash]; ok {
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
	offset := x.Prints[firstM].T - yt[x.Prints[firstM].Hash]
	yEnd := a.v.CaptureLast[y.vantage]
	// compared: y was recording this flow when x saw packet i (not before
	// it began, nor after it stopped recording or its capture ended).
	compared := func(i int) bool {
		p := x.Prints[i]
		return i >= firstM && (i <= lastM || len(y.Prints) < flows.MaxPrints && p.T-offset <= yEnd)
	}
	a.te.between(x, yt, compared, x.serverTTL > y.serverTTL && y.serverTTL != 0)
	var missing []flows.Print
	for i, p := range x.Prints {
		if _, ok := yt[p.Hash]; ok || !compared(i) {
			continue
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
			if p.Dir != dir {
				continue
			}
			frames = append(frames, p.Frame)
			if p.RST {
				rst++
			}
			if first == 0 {
				first = p.T
			}
			last = p.T
		}
		if len(frames) == 0 {
			continue
		}
		kind := DroppedBetweenCaptures
		if rst == len(frames) {
			// Resets that one side saw and the other never did: a
			// middlebox made them (or dropped the genuine one).
			kind = ResetBetweenCaptures
		}
		g := fs.add(kind, Warning, x.svc, x.transport, x.client.Addr(), x.server.Addr(), x.server.Port(),
			time.Unix(0, first).UTC(), time.Unix(0, last).UTC(), x.input, frames)
		g.clientPts[x.client.Port()] = true
		b := factsOf[BetweenFacts](g)
		if b.hashes == nil {
			b.hashes = map[uint64]bool{}
		}
		way := BetweenWay{Dir: dir, Seen: x.vantage, Missing: y.vantage}
		for _, p := range missing {
			if p.Dir == dir && !b.hashes[p.Hash] {
				b.hashes[p.Hash] = true
				if dir == 0 {
					b.ToServer++
				} else {
					b.ToClient++
				}
				addCounts(&b.Ways, map[BetweenWay]int{way: 1})
			}
		}
		// A packet is one occurrence however many pairs of capture
		// points miss it.
		g.count = len(b.hashes)
		addCounts(&b.SeenAt, map[uint16]int{x.vantage: 1})
		addCounts(&b.MissingAt, map[uint16]int{y.vantage: 1})
	}
}

func sameEnds(x, y *flowView) bool { return x.client == y.client && x.server == y.server }
