package dissect

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"testing"
	"time"
)

// Builders for synthetic frames and files, for the cases real captures
// cannot make (odd headers, damaged files, other byte orders).

var (
	addrC  = netip.MustParseAddr("192.0.2.1")
	addrS  = netip.MustParseAddr("192.0.2.2")
	addrR  = netip.MustParseAddr("198.51.100.9")
	addrC6 = netip.MustParseAddr("2001:db8::1")
	addrS6 = netip.MustParseAddr("2001:db8::2")
	t0     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func ether(et uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(et >> 8), byte(et)}
	return append(b, payload...)
}

func vlan(tpid uint16, tag uint16, et uint16) []byte {
	return []byte{byte(tpid >> 8), byte(tpid), byte(tag >> 8), byte(tag), byte(et >> 8), byte(et)}
}

// ipv4h builds an IPv4 packet; frag is the flags+offset field.
func ipv4h(src, dst netip.Addr, proto uint8, id, frag uint16, opts, payload []byte) []byte {
	ihl := 20 + len(opts)
	b := make([]byte, ihl, ihl+len(payload))
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(ihl+len(payload)))
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = 64
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], opts)
	return append(b, payload...)
}

// ipv6h builds an IPv6 packet; ext is the extension header bytes already
// chained, nh the first next header.
func ipv6h(src, dst netip.Addr, nh uint8, ext, payload []byte) []byte {
	b := make([]byte, 40, 40+len(ext)+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(ext)+len(payload)))
	b[6] = nh
	b[7] = 57
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	b = append(b, ext...)
	return append(b, payload...)
}

func tcph(sport, dport uint16, seq, ack uint32, flags uint8, opts, payload []byte) []byte {
	doff := 20 + len(opts)
	b := make([]byte, doff, doff+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ack)
	b[12] = byte(doff/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 1000)
	copy(b[20:], opts)
	return append(b, payload...)
}

func udph(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func icmph(typ, code uint8, quote []byte) []byte {
	return append([]byte{typ, code, 0, 0, 0, 0, 0, 0}, quote...)
}

// rec is one record of a synthetic pcap file.
type rec struct {
	ts      time.Time
	data    []byte
	capLen  int // 0: len(data)
	origLen int // 0: capLen
}

// pcapBytes builds a pcap file.
func pcapBytes(bigEndian, nano bool, snap, linkType uint32, recs ...rec) []byte {
	var o binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		o = binary.BigEndian
	}
	magic := uint32(0xA1B2C3D4)
	if nano {
		magic = 0xA1B23C4D
	}
	b := o.AppendUint32(nil, magic)
	b = o.AppendUint16(b, 2)
	b = o.AppendUint16(b, 4)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, 0)
	b = o.AppendUint32(b, snap)
	b = o.AppendUint32(b, linkType)
	for _, r := range recs {
		cl := r.capLen
		if cl == 0 {
			cl = len(r.data)
		}
		ol := r.origLen
		if ol == 0 {
			ol = cl
		}
		frac := r.ts.Nanosecond()
		if !nano {
			frac /= 1000
		}
		b = o.AppendUint32(b, uint32(r.ts.Unix()))
		b = o.AppendUint32(b, uint32(frac))
		b = o.AppendUint32(b, uint32(cl))
		b = o.AppendUint32(b, uint32(ol))
		b = append(b, r.data...)
	}
	return b
}

// ngFile builds a pcapng file block by block.
type ngFile struct {
	o binary.AppendByteOrder
	b []byte
}

func (f *ngFile) block(typ uint32, body []byte) *ngFile {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	f.b = f.o.AppendUint32(f.b, typ)
	f.b = f.o.AppendUint32(f.b, n)
	f.b = append(f.b, body...)
	f.b = f.o.AppendUint32(f.b, n)
	return f
}

func (f *ngFile) opt(b []byte, code uint16, val []byte) []byte {
	b = f.o.AppendUint16(b, code)
	b = f.o.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (f *ngFile) shb(bigEndian bool) *ngFile {
	f.o = binary.LittleEndian
	if bigEndian {
		f.o = binary.BigEndian
	}
	body := f.o.AppendUint32(nil, ngBOM)
	body = f.o.AppendUint16(body, 1)
	body = f.o.AppendUint16(body, 0)
	body = f.o.AppendUint64(body, ^uint64(0))
	return f.block(ngSHB, body)
}

// idb declares an interface; tsresol 0 means the default (microseconds).
func (f *ngFile) idb(linkType uint16, snap uint32, tsresol byte) *ngFile {
	body := f.o.AppendUint16(nil, linkType)
	body = f.o.AppendUint16(body, 0)
	body = f.o.AppendUint32(body, snap)
	if tsresol != 0 {
		body = f.opt(body, optTSResol, []byte{tsresol})
		body = f.o.AppendUint32(body, 0) // end of options
	}
	return f.block(ngIDB, body)
}

// epb adds an enhanced packet block with microsecond ticks; id 0 omits
// the packet id option.
func (f *ngFile) epb(ifid uint32, ticks uint64, data []byte, origLen int, id uint64) *ngFile {
	body := f.o.AppendUint32(nil, ifid)
	body = f.o.AppendUint32(body, uint32(ticks>>32))
	body = f.o.AppendUint32(body, uint32(ticks))
	body = f.o.AppendUint32(body, uint32(len(data)))
	body = f.o.AppendUint32(body, uint32(origLen))
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	if id != 0 {
		body = f.opt(body, 2, f.o.AppendUint32(nil, 1)) // epb_flags: inbound
		body = f.opt(body, optPacketID, f.o.AppendUint64(nil, id))
		body = f.o.AppendUint32(body, 0)
	}
	return f.block(ngEPB, body)
}

func (f *ngFile) spb(data []byte) *ngFile {
	return f.block(ngSPB, append(f.o.AppendUint32(nil, uint32(len(data))), data...))
}

func (f *ngFile) isb(ifid uint32, ifdrop uint64) *ngFile {
	body := f.o.AppendUint32(nil, ifid)
	body = f.o.AppendUint64(body, 0)
	body = f.opt(body, optISBIfDrop, f.o.AppendUint64(nil, ifdrop))
	body = f.o.AppendUint32(body, 0)
	return f.block(ngISB, body)
}

// readAll reads a whole source, returning the packets (Payload and DNS
// dropped) and the errors.
func readAll(t testing.TB, s Source) ([]Packet, []error) {
	t.Helper()
	var pkts []Packet
	var errs []error
	for i := 0; i < 1_000_000; i++ {
		var p Packet
		err := s.Next(&p)
		if err == io.EOF {
			return pkts, errs
		}
		if err != nil {
			errs = append(errs, err)
			if fe, ok := err.(*FrameError); !ok || fe.Fatal {
				return pkts, errs
			}
			continue
		}
		p.Payload = nil
		pkts = append(pkts, p)
	}
	t.Fatal("source never ended")
	return nil, nil
}

// openBytes opens an in-memory capture.
func openBytes(t testing.TB, b []byte) (Source, error) {
	t.Helper()
	return NewReader(bytes.NewReader(b), "mem.pcap", 0)
}
