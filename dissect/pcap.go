package dissect

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"time"
)

// pcapSource reads a classic pcap file.
type pcapSource struct {
	*reader
	be       bool // big-endian file
	nano     bool // nanosecond timestamps
	hdrLen   int  // record header length: 16, or 24 for Kuznetzov's modified pcap
	snap     int  // snap length from the file header (maxSnap when 0)
	limit    int  // largest record accepted
	linkType int  // LINKTYPE_ of every frame
	ok       bool // link type supported
}

func newPcap(r *reader, magic uint32) (*pcapSource, error) {
	h, err := r.read(24)
	if err != nil {
		return nil, r.openErr(fmt.Sprintf("truncated pcap file header: %d of 24 bytes", len(h)))
	}
	s := &pcapSource{reader: r, hdrLen: 16}
	switch magic {
	case 0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34:
		s.be = true
	}
	s.nano = magic == 0xA1B23C4D || magic == 0x4D3CB2A1
	if magic == 0xA1B2CD34 || magic == 0x34CDB2A1 {
		s.hdrLen = 24 // ifindex, protocol, pkt_type, pad after the usual header
	}
	snap := s.u32(h[16:20])
	// The upper bits of the link type field hold the FCS length flags.
	s.linkType = int(s.u32(h[20:24]) & 0xFFFF)
	s.ok = LinkTypeSupported(s.linkType)
	r.addLinkType(s.linkType)
	// A snap length of 0 (some writers) or beyond any real capture means
	// "unknown": accept records up to the usual maximum. Readers such as
	// tcpdump and Wireshark also accept records over the snap length that
	// careless writers produce, so only the maximum is a hard limit.
	s.snap = int(min(snap, maxRecord))
	if snap == 0 {
		s.snap = maxSnap
	}
	s.limit = max(s.snap, maxSnap)
	r.dec.linkType = s.linkType
	return s, nil
}

func (s *pcapSource) u32(b []byte) uint32 {
	if s.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// Next implements Source. p.Payload aliases the read buffer until the next
// call.
func (s *pcapSource) Next(p *Packet) error {
	if s.more(p) {
		return nil
	}
	for {
		if s.done != nil {
			return s.done
		}
		frame := s.frame + 1
		h, err := s.read(s.hdrLen)
		if len(h) == 0 && err == io.EOF {
			return s.finish()
		}
		if err != nil {
			return s.short(err, frame, "record header", len(h), s.hdrLen)
		}
		sec := s.u32(h[0:4])
		frac := s.u32(h[4:8])
		capLen := s.u32(h[8:12])
		origLen := s.u32(h[12:16])
		if capLen > uint32(s.limit) {
			return s.fail(frame, "record length "+strconv.FormatUint(uint64(capLen), 10)+
				" exceeds the maximum "+strconv.Itoa(s.limit)+": file damaged, cannot read on", true)
		}
		data, err := s.read(int(capLen))
		if err != nil {
			return s.short(err, frame, "record", len(data), int(capLen))
		}
		s.frame = frame
		if int(capLen) > s.snap {
			s.noteOnce("oversnap", frame, "records longer than the snap length "+strconv.Itoa(s.snap))
		}
		nsec := int64(frac)
		if !s.nano {
			nsec *= 1000
		}
		ts := time.Unix(int64(sec), nsec).UTC()
		s.count(ts, int(capLen), int(origLen))
		if !s.ok {
			if e := s.unsupported(s.linkType, frame, int(capLen), int(origLen)); e != nil {
				return e
			}
			continue
		}
		p.Input, p.Frame, p.Interface, p.PacketID = s.index, frame, 0, 0
		// Field by field: a RawFrame literal is built on the stack and
		// copied with wide loads of its narrow stores, which stall (a tenth
		// of the reading goroutine's time on the busy-site capture).
		s.raw.Data, s.raw.LinkType, s.raw.Snap = data, s.linkType, s.snap
		s.dec.decode(s.linkType, data, ts, int(capLen), int(origLen), p)
		s.info.CountUndecoded(p)
		return nil
	}
}
