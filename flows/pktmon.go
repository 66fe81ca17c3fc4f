package flows

import (
	"math/bits"
	"net/netip"

	"github.com/fwdiag/fwdiag/dissect"
)

// Windows pktmon logs one packet at every component it passes (the NIC,
// NDIS filters, the Windows Filtering Platform, TCP/IP), and etl2pcapng
// writes each appearance as a frame on that component's pcapng interface,
// all with the same EPB packet id; a packet dropped inside Windows carries
// a drop verdict at the component that dropped it. Counted as they are,
// a capture of 12 connections shows 36 and every SYN retransmitted twice.
// So: the components of one input are one capture point (the machine),
// each packet counts once (its first appearance), and a drop verdict on any
// appearance is recorded on the packet's flow as direct evidence.

// copyCacheSize is how many recent packet ids are remembered: a packet's
// appearances follow each other within microseconds, while thousands of
// other packets may pass between two of them only under heavy load.
const copyCacheSize = 1 << 14

// copyCache remembers recent (input, packet id) pairs, direct-mapped: a
// collision forgets an id early, which at worst counts a copy twice.
type copyCache struct {
	ids    [copyCacheSize]uint64
	folded uint64 // appearances after a packet's first, not counted again
}

// seen reports whether the packet id was already seen in this input, and
// remembers it.
func (c *copyCache) seen(input int, id uint64) bool {
	key := id ^ uint64(input+1)*0x9E3779B97F4A7C15
	if key == 0 {
		key = 1
	}
	hi, lo := bits.Mul64(key, 0xD6E8FEB86659FD93)
	slot := &c.ids[(hi^lo)&(copyCacheSize-1)]
	if *slot == key {
		return true
	}
	*slot = key
	return false
}

// LocalDrop is a packet of a flow that the capturing machine itself
// dropped (a pktmon drop verdict): where and which.
type LocalDrop struct {
	Frame     uint64
	Component int   // the pcapng interface (pktmon component) that dropped it
	Dir       uint8 // 0 the client's packet, 1 the server's
}

// localDrop records a dropped packet on its flow.
func (a *Analyzer) localDrop(p *dissect.Packet, v uint16) {
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	var k flowKey
	switch p.Proto {
	case dissect.ProtoTCP:
		setKey(&k, v, dissect.ProtoTCP, src, dst)
		if c := a.tcpConn(&k); c != nil {
			d := LocalDrop{Frame: p.Frame, Component: p.Interface}
			if src == c.Server {
				d.Dir = 1
			}
			c.LocalDrops++
			if c.LocalDrops == 1 {
				c.LocalDrop = d
			}
			c.addFrame(p.Frame)
		}
	case dissect.ProtoUDP:
		setKey(&k, v, dissect.ProtoUDP, src, dst)
		f := a.udp.get(&k)
		if f == nil {
			return
		}
		if src == f.Server && a.cfg.Catalog.IsServicePort(f.Server.Port(), UDP) {
			f.refusedLocally(p)
			return
		}
		d := LocalDrop{Frame: p.Frame, Component: p.Interface}
		if src == f.Server {
			d.Dir = 1
		}
		f.LocalDrops++
		if f.LocalDrops == 1 {
			f.LocalDrop = d
		}
		f.addFrame(p.Frame)
	}
}
