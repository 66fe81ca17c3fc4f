package dissect

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"time"
)

// pcapng block types.
const (
	ngSHB    = 0x0A0D0D0A // section header
	ngIDB    = 1          // interface description
	ngPB     = 2          // packet (obsolete)
	ngSPB    = 3          // simple packet
	ngISB    = 5          // interface statistics
	ngEPB    = 6          // enhanced packet
	ngBOM    = 0x1A2B3C4D // byte-order magic as the writer wrote it
	ngBOMRev = 0x4D3C2B1A // byte-order magic read in the other order
)

// pcapng option codes used here.
const (
	optTSResol    = 9  // if_tsresol
	optTSOffset   = 14 // if_tsoffset
	optPacketID   = 5  // epb_packetid
	optVerdict    = 7  // epb_verdict
	optIfName     = 2  // if_name
	optIfDesc     = 3  // if_description
	optISBIfDrop  = 5  // isb_ifdrop
	optEndOfOpts  = 0
	ngSHBMinBlock = 28
)

// ngIface is one interface of the current section.
type ngIface struct {
	global   int    // index across all sections, reported as Packet.Interface
	linkType int    // LINKTYPE_ value
	snap     int    // snap length, 0 when unlimited
	units    uint64 // timestamp units per second
	offset   int64  // seconds added to every timestamp (if_tsoffset)
	ok       bool   // link type supported
}

// ngSource reads a pcapng file.
type ngSource struct {
	*reader
	be      bool      // current section is big-endian
	ifaces  []ngIface // interfaces of the current section
	nIfaces int       // interfaces declared in all sections so far
	drops   []int64   // latest isb_ifdrop per global interface, -1 unknown
	lastTS  time.Time // timestamp of the previous packet, for simple packet blocks
}

func newPcapng(r *reader) (*ngSource, error) {
	s := &ngSource{reader: r}
	if _, err := s.block(nil); err != nil {
		fe, _ := err.(*FrameError)
		if fe == nil || fe.Fatal || s.done != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *ngSource) u16(b []byte) uint16 {
	if s.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (s *ngSource) u32(b []byte) uint32 {
	if s.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (s *ngSource) u64(b []byte) uint64 {
	if s.be {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// Next implements Source. p.Payload aliases the read buffer until the next
// call.
func (s *ngSource) Next(p *Packet) error {
	if s.more(p) {
		return nil
	}
	for {
		if s.done != nil {
			return s.done
		}
		got, err := s.block(p)
		if err != nil {
			return err
		}
		if got {
			return nil
		}
	}
}

// block reads and handles one block. It reports whether p now holds a
// frame; skipped blocks and frames return false and a nil error.
func (s *ngSource) block(p *Packet) (bool, error) {
	h, err := s.read(8)
	if len(h) == 0 && err == io.EOF {
		return false, s.finish()
	}
	if err != nil {
		// Cut inside the block header: when the type is there and is a
		// packet block, the damaged frame is the next one.
		frame := uint64(0)
		if len(h) >= 4 {
			if t := s.u32(h[0:4]); t == ngEPB || t == ngSPB || t == ngPB {
				frame = s.frame + 1
			}
		}
		return false, s.short(err, frame, "block header", len(h), 8)
	}
	typ := s.u32(h[0:4]) // ngSHB reads the same in either order
	rawLen := [4]byte(h[4:8])
	hdr := 8
	if typ == ngSHB {
		// The byte order of a section, and so of its length, is known only
		// from the byte-order magic after the length.
		b, err := s.read(4)
		if err != nil {
			return false, s.short(err, 0, "section header", len(b), 4)
		}
		switch binary.LittleEndian.Uint32(b) {
		case ngBOM:
			s.be = false
		case ngBOMRev:
			s.be = true
		default:
			return false, s.fail(0, fmt.Sprintf("bad pcapng byte-order magic 0x%08x", binary.BigEndian.Uint32(b)), true)
		}
		hdr = 12
	}
	blen := s.u32(rawLen[:])
	isPacket := typ == ngEPB || typ == ngSPB || typ == ngPB
	frame := uint64(0)
	if isPacket {
		frame = s.frame + 1
	}
	if blen%4 != 0 || blen < 12 || (typ == ngSHB && blen < ngSHBMinBlock) || blen > maxRecord {
		return false, s.fail(frame, "bad block length "+strconv.FormatUint(uint64(blen), 10)+
			" (block type "+strconv.FormatUint(uint64(typ), 10)+"): file damaged, cannot read on", true)
	}
	body, err := s.read(int(blen) - hdr)
	if err != nil {
		what := "block"
		if isPacket {
			what = "record"
		}
		return false, s.short(err, frame, what, len(body)+hdr, int(blen))
	}
	if t := s.u32(body[len(body)-4:]); t != blen {
		s.noteOnce("trailer", frame, "block trailer length "+strconv.FormatUint(uint64(t), 10)+
			" differs from header "+strconv.FormatUint(uint64(blen), 10))
	}
	body = body[:len(body)-4]
	switch typ {
	case ngSHB:
		return false, s.section(body)
	case ngIDB:
		return false, s.iface(body)
	case ngISB:
		s.stats(body)
		return false, nil
	case ngEPB, ngPB:
		if len(body) < 20 {
			s.damaged(frame)
			return false, s.fail(frame, "packet block too short", false)
		}
		ifid := int(s.u32(body[0:4]))
		if typ == ngPB {
			ifid = int(s.u16(body[0:2]))
		}
		ts := uint64(s.u32(body[4:8]))<<32 | uint64(s.u32(body[8:12]))
		capLen := uint64(s.u32(body[12:16]))
		origLen := int(s.u32(body[16:20]))
		if capLen > uint64(len(body)-20) {
			s.damaged(frame)
			return false, s.fail(frame, fmt.Sprintf("captured length %d exceeds its block (%d bytes)", capLen, len(body)-20), false)
		}
		data := body[20 : 20+capLen]
		var id uint64
		dropped := false
		if typ == ngEPB {
			for o := body[min(20+pad4(int(capLen)), len(body)):]; ; {
				code, val, rest, ok := s.opt(o)
				if !ok {
					break
				}
				switch {
				case code == optPacketID && len(val) == 8:
					id = s.u64(val)
				case code == optVerdict && len(val) == 9:
					// Verdict types: 1 Linux tc (TC_ACT_SHOT = 2 drops),
					// 2 Linux XDP (XDP_DROP = 1): what etl2pcapng writes
					// for a pktmon drop event. Type 0 is a NIC's own
					// format, which says nothing readable.
					v := s.u64(val[1:])
					dropped = val[0] == 2 && v == 1 || val[0] == 1 && v == 2
				}
				o = rest
			}
		}
		ok, err := s.packet(p, frame, ifid, true, ts, data, origLen, id)
		p.Dropped = ok && dropped
		return ok, err
	case ngSPB:
		if len(body) < 4 {
			s.damaged(frame)
			return false, s.fail(frame, "simple packet block too short", false)
		}
		origLen := int(s.u32(body[0:4]))
		data := body[4:]
		if len(data) > origLen {
			data = data[:origLen] // the rest is padding
		}
		if len(s.ifaces) > 0 && s.ifaces[0].snap > 0 && len(data) > s.ifaces[0].snap {
			data = data[:s.ifaces[0].snap]
		}
		return s.packet(p, frame, 0, false, 0, data, origLen, 0)
	}
	return false, nil // unknown block types are skipped
}

// damaged counts a packet block too damaged to deliver: it still has its
// frame number, as in Wireshark, and counts in InputInfo.Packets.
func (s *ngSource) damaged(frame uint64) {
	s.frame = frame
	s.info.Packets++
}

// packet delivers one frame from a packet block.
func (s *ngSource) packet(p *Packet, frame uint64, ifid int, hasTS bool, raw uint64, data []byte, origLen int, id uint64) (bool, error) {
	s.frame = frame
	if ifid >= len(s.ifaces) {
		s.count(s.lastTS, len(data), origLen)
		return false, s.fail(frame, "packet for undeclared interface "+strconv.Itoa(ifid), false)
	}
	f := &s.ifaces[ifid]
	// A simple packet block has no timestamp; the previous packet's keeps
	// the merge order and the first/last times sensible.
	ts := s.lastTS
	if hasTS {
		ts = f.time(raw)
		if ts.Before(minTime) || ts.After(maxTime) {
			// A 64-bit timestamp (or if_tsoffset) can say year 11533: such a
			// time has no nanosecond count and no JSON form, so the frame is
			// damage, not data.
			s.damaged(frame)
			e := s.noteOnce("timerange", frame, "timestamp "+ts.Format("2006-01-02 15:04:05")+
				" out of range (1678 to 2262): frames skipped")
			if e == nil {
				return false, nil
			}
			return false, e
		}
		s.lastTS = ts
	}
	s.count(ts, len(data), origLen)
	if f.snap > 0 && len(data) > f.snap {
		s.noteOnce("oversnap", frame, "records longer than the snap length "+strconv.Itoa(f.snap))
	}
	if !f.ok {
		return false, s.unsupported(f.linkType, frame, len(data), origLen)
	}
	p.Input, p.Frame, p.Interface, p.PacketID = s.index, frame, f.global, id
	s.raw.Data, s.raw.LinkType, s.raw.Snap = data, f.linkType, f.snap // field by field: see pcapSource.Next
	s.dec.decode(f.linkType, data, ts, len(data), origLen, p)
	s.info.CountUndecoded(p)
	return true, nil
}

// section starts a new section: its interfaces are numbered afresh.
func (s *ngSource) section(body []byte) error {
	if major := s.u16(body[0:2]); major != 1 {
		return s.fail(0, "unsupported pcapng version "+strconv.Itoa(int(major)), true)
	}
	s.ifaces = s.ifaces[:0]
	return nil
}

// iface reads an interface description block.
func (s *ngSource) iface(body []byte) error {
	if len(body) < 8 {
		return s.fail(0, "interface description block too short", false)
	}
	f := ngIface{
		global:   s.nIfaces,
		linkType: int(s.u16(body[0:2])),
		snap:     int(min(s.u32(body[4:8]), maxRecord)),
		units:    1e6,
	}
	f.ok = LinkTypeSupported(f.linkType)
	var desc Interface
	for o := body[8:]; ; {
		code, val, rest, ok := s.opt(o)
		if !ok {
			break
		}
		switch {
		case code == optTSResol && len(val) >= 1:
			res := val[0]
			switch {
			case res&0x80 != 0 && res&0x7F < 64:
				f.units = 1 << (res & 0x7F)
			case res&0x80 == 0 && res <= 19:
				f.units = 1
				for range res {
					f.units *= 10
				}
			default:
				s.fail(0, fmt.Sprintf("interface %d: timestamp resolution 0x%02x not supported, reading microseconds", f.global, res), false)
			}
		case code == optTSOffset && len(val) == 8:
			f.offset = int64(s.u64(val))
		case code == optIfName:
			desc.Name = string(val)
		case code == optIfDesc:
			desc.Description = string(val)
		}
		o = rest
	}
	desc.LinkType = f.linkType
	s.info.Interfaces = append(s.info.Interfaces, desc)
	s.ifaces = append(s.ifaces, f)
	s.nIfaces++
	s.drops = append(s.drops, -1)
	s.addLinkType(f.linkType)
	return nil
}

// stats reads an interface statistics block for its drop count. The
// counters are totals since the capture started, so the latest one per
// interface counts.
func (s *ngSource) stats(body []byte) {
	if len(body) < 12 {
		return
	}
	ifid := int(s.u32(body[0:4]))
	if ifid >= len(s.ifaces) {
		return
	}
	for o := body[12:]; ; {
		code, val, rest, ok := s.opt(o)
		if !ok {
			break
		}
		if code == optISBIfDrop && len(val) == 8 {
			s.drops[s.ifaces[ifid].global] = int64(s.u64(val))
		}
		o = rest
	}
	s.info.Drops = -1
	for _, d := range s.drops {
		if d >= 0 {
			s.info.Drops = max(s.info.Drops, 0) + d
		}
	}
}

// opt splits the first option off an option list.
func (s *ngSource) opt(b []byte) (code int, val, rest []byte, ok bool) {
	if len(b) < 4 {
		return 0, nil, nil, false
	}
	code = int(s.u16(b[0:2]))
	l := int(s.u16(b[2:4]))
	if code == optEndOfOpts || 4+l > len(b) {
		return 0, nil, nil, false
	}
	return code, b[4 : 4+l], b[min(4+pad4(l), len(b)):], true
}

func pad4(n int) int { return (n + 3) &^ 3 }

// minTime and maxTime bound the timestamps delivered: those with an int64
// count of nanoseconds since 1970 (UnixNano), so that every difference of
// two fits a time.Duration and every time has a JSON form.
var (
	minTime = time.Unix(0, math.MinInt64).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// time converts a raw timestamp in the interface's units to a time.
func (f *ngIface) time(t uint64) time.Time {
	sec, rem := t/f.units, t%f.units
	var ns uint64
	switch f.units {
	case 1e6:
		ns = rem * 1000
	case 1e9:
		ns = rem
	default:
		hi, lo := bits.Mul64(rem, 1e9)
		ns, _ = bits.Div64(hi, lo, f.units) // hi < units since rem < units
	}
	return time.Unix(int64(sec)+f.offset, int64(ns)).UTC()
}
