// Package pktmon writes a capture as Windows pktmon logs it once
// etl2pcapng has converted it to pcapng (microsoft/etl2pcapng, src/main.c):
// the same packet logged at each component it passes, each component its
// own pcapng interface named as pktmon names it, every appearance with the
// same EPB packet id (option 5, pktmon's PktGroupId), the direction in
// epb_flags, the process in option 8, and a packet dropped inside Windows
// carrying an EPB verdict (option 7, type XDP, value XDP_DROP) at the
// component that dropped it and logged nowhere after it.
//
// Only Windows writes these files; fwdiag's tests need them at will, made
// from lab captures, with drops placed where a Windows Firewall would make
// them (Options).
package pktmon

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fwdiag/fwdiag/dissect"
)

// Component is a pktmon component: a pcapng interface of the output.
type Component struct {
	Name, Description string
	LinkType          uint16 // 1 Ethernet, 101 raw IP
}

// Components are the components a packet passes, network adapter first
// (inbound packets pass them in this order, outbound ones in reverse).
// WFP is the index of the Windows Filtering Platform, where drops happen.
var Components = []Component{
	{Name: "Intel(R) Ethernet Connection (7) I219-LM", Description: "Ethernet", LinkType: 1},
	{Name: "WFP Native MAC Layer LightWeight Filter", Description: "WFP Native MAC Layer LightWeight Filter-0000", LinkType: 1},
	{Name: "WFP 802.3 MAC Layer LightWeight Filter", Description: "WFP 802.3 MAC Layer LightWeight Filter-0000", LinkType: 1},
	{Name: "TCPIP", Description: "TCP/IP protocol driver", LinkType: 101},
}

// WFP is the index in Components of the component that drops.
const WFP = 1

// Options say which machine was captured and what its firewall drops.
type Options struct {
	// Host is the Windows machine's address: packets to it are inbound.
	Host netip.Addr
	// DropLateUDP, when set, drops at WFP every inbound UDP datagram that
	// comes after its flow was silent longer than this (a Windows Firewall
	// whose UDP state expired), and leaves out the client datagram that
	// answered it within a second in the original capture (the machine
	// never saw what it would have answered).
	DropLateUDP time.Duration
	// DropTCPPorts drops at WFP inbound TCP segments to these ports (a
	// host firewall blocking a service) and leaves out the answers.
	DropTCPPorts []uint16
}

// Stats count what Convert wrote.
type Stats struct {
	Packets     int // packets of the input
	Appearances int // frames written
	Dropped     int // packets dropped at WFP
	Omitted     int // answers to dropped packets left out
}

// Convert reads a pcap (Ethernet) from r and writes the pktmon-style pcapng
// to w.
func Convert(r io.Reader, w io.Writer, o Options) (Stats, error) {
	var st Stats
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return st, err
	}
	if pr.LinkType() != 1 {
		return st, fmt.Errorf("pktmon: want an Ethernet capture, got link type %d", pr.LinkType())
	}
	pw := &writer{w: w}
	pw.section()
	for _, c := range Components {
		pw.iface(c)
	}
	dec := dissect.NewDecoder(1)
	var p dissect.Packet
	last := map[[2]netip.AddrPort]time.Time{}       // flow -> last datagram
	answerDrop := map[[2]netip.AddrPort]time.Time{} // reverse flow -> a dropped datagram's time
	var id uint64 = 0x1_0000_0000
	for {
		data, ci, err := pr.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
		st.Packets++
		p.Reset()
		dec.Decode(data, ci.Timestamp, ci.CaptureLength, ci.Length, &p)
		inbound := p.Dst == o.Host
		flow := [2]netip.AddrPort{netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)}
		drop := false
		switch p.Proto {
		case dissect.ProtoUDP:
			if t, ok := answerDrop[flow]; ok && !inbound && ci.Timestamp.Sub(t) < time.Second {
				delete(answerDrop, flow)
				st.Omitted++
				continue
			}
			prev, seen := last[flow]
			rev, revSeen := last[[2]netip.AddrPort{flow[1], flow[0]}]
			if revSeen && (!seen || rev.After(prev)) {
				prev, seen = rev, true
			}
			if inbound && o.DropLateUDP > 0 && seen && ci.Timestamp.Sub(prev) > o.DropLateUDP {
				drop = true
				answerDrop[[2]netip.AddrPort{flow[1], flow[0]}] = ci.Timestamp
			}
			if !drop {
				last[flow] = ci.Timestamp
			}
		case dissect.ProtoTCP:
			for _, port := range o.DropTCPPorts {
				if inbound && p.DstPort == port {
					drop = true
				}
				if !inbound && p.SrcPort == port && p.Src == o.Host {
					// The machine never answers what it dropped.
					st.Omitted++
					drop = false
					goto next
				}
			}
		}
		id++
		st.Appearances += pw.packet(data, ci.Timestamp, ci.Length, inbound, id, drop)
		if drop {
			st.Dropped++
		}
	next:
	}
	return st, pw.err
}

// writer writes little-endian pcapng as etl2pcapng does.
type writer struct {
	w   io.Writer
	err error
}

func (pw *writer) block(typ uint32, body []byte) {
	if pw.err != nil {
		return
	}
	n := 12 + len(body)
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	_, pw.err = pw.w.Write(b)
}

func opt(b []byte, code uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (pw *writer) section() {
	b := binary.LittleEndian.AppendUint32(nil, 0x1A2B3C4D)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0)) // section length unknown
	pw.block(0x0A0D0D0A, b)
}

func (pw *writer) iface(c Component) {
	b := binary.LittleEndian.AppendUint16(nil, c.LinkType)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = opt(b, 2, []byte(c.Name))
	b = opt(b, 3, []byte(c.Description))
	b = opt(b, 0, nil)
	pw.block(1, b)
}

// packet writes one packet's appearances: up to the dropping component
// when dropped. It returns how many frames it wrote.
func (pw *writer) packet(frame []byte, ts time.Time, origLen int, inbound bool, id uint64, drop bool) int {
	order := []int{0, 1, 2, 3}
	if !inbound {
		order = []int{3, 2, 1, 0}
	}
	n := 0
	for i, c := range order {
		data, orig := frame, origLen
		if Components[c].LinkType == 101 && len(frame) >= 14 {
			data, orig = frame[14:], origLen-14
		}
		// Appearances follow each other by a few microseconds.
		t := ts.Add(time.Duration(i) * 3 * time.Microsecond)
		us := uint64(t.UnixMicro())
		b := binary.LittleEndian.AppendUint32(nil, uint32(c))
		b = binary.LittleEndian.AppendUint32(b, uint32(us>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(us))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(orig))
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		flags := uint32(1) // inbound
		if !inbound {
			flags = 2
		}
		b = opt(b, 2, binary.LittleEndian.AppendUint32(nil, flags))
		b = opt(b, 8, binary.LittleEndian.AppendUint64(nil, 4|uint64(1234)<<32)) // System, a worker thread
		b = opt(b, 5, binary.LittleEndian.AppendUint64(nil, id))
		dropHere := drop && c == WFP
		if dropHere {
			b = opt(b, 7, binary.LittleEndian.AppendUint64([]byte{2}, 1))
		}
		b = opt(b, 0, nil)
		pw.block(6, b)
		n++
		if dropHere {
			break
		}
	}
	return n
}
