package dissect

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// The file readers are written here rather than taken from gopacket's pcapgo
// (v1.7.7). pcapgo does return the EPB packet id that pktmon de-duplication
// needs (in NgPacketOptions from ReadPacketDataWithOptions, not in
// CaptureInfo), but TestPcapgoReasons checks what it does not do:
//   - it reads epb_packetid and epb_flags little-endian whatever the byte
//     order of the section, so in a big-endian file the id comes out
//     byte-swapped;
//   - it allocates for each of those options on every packet (two
//     allocations when both are there), even through ZeroCopyReadPacketData,
//     which then drops them;
//   - after a damaged record (a packet for an undeclared interface, a
//     captured length over the original length) it returns an error with
//     the record unread, so the next call takes the record's bytes for the
//     next header and the reader loses its place in the file; these readers
//     report or keep such a record and go on with the next;
//   - a record cut at the end of the file comes back as io.ErrUnexpectedEOF
//     and a full-length slice, without how much of it was there;
//   - its pcap reader refuses the modified pcap format (magic 0xA1B2CD34).
// Reading records in place from the read buffer (rbuf) also saves pcapgo's
// copy of every frame: read and decoded, a frame of the lab capture takes
// about half the time with these readers for pcap and a third for pcapng
// (BenchmarkReadPcap and BenchmarkReadPcapng against BenchmarkReadPcapgo, six
// runs: 40-48 against 77-93 ns, 79-105 against 220-293 ns).

const (
	// bufSize is the read buffer. Records up to it (every frame up to
	// the 64 KB IP maximum plus link and record headers) are read in place,
	// without a copy; larger ones (jumbo GSO frames) are copied.
	bufSize = 128 << 10
	// maxSnap is libpcap's and Wireshark's largest usual snap length.
	maxSnap = 262144
	// maxRecord bounds a record or block whatever the header claims, so a
	// damaged length (4 GB) ends the file instead of allocating the claim.
	maxRecord = 64 << 20
	// growStep is how much the buffer for records larger than bufSize grows
	// per read, so that a lying length fails when the data runs out rather
	// than after allocating the whole claim.
	growStep = 1 << 20
)

// Open opens the capture at path ("-" for standard input) as input number
// index: pcap (micro- or nanosecond, either byte order) or pcapng, either
// optionally gzip-compressed, recognised by their magic numbers and never by
// the file name. The returned Source owns the file until Close. Errors are
// *FrameError values naming the path.
func Open(path string, index int) (Source, error) {
	var rc io.ReadCloser
	if path == "-" {
		rc = io.NopCloser(os.Stdin)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, &FrameError{Path: path, Msg: err.Error(), Fatal: true}
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			return nil, &FrameError{Path: path, Msg: "is a directory, not a capture file", Fatal: true}
		}
		rc = f
	}
	s, err := NewReader(rc, path, index)
	if err != nil {
		rc.Close()
		return nil, err
	}
	s.(interface{ setCloser(io.Closer) }).setCloser(rc)
	return s, nil
}

// NewReader reads a capture from rd as Open does; path is used only in
// messages and InputInfo. The Source does not close rd.
func NewReader(rd io.Reader, path string, index int) (Source, error) {
	r := &reader{path: path, index: index}
	r.info.Path = path
	r.info.Drops = -1
	r.br = newRbuf(rd, bufSize)
	magic, err := r.br.peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, gerr := gzip.NewReader(r.br)
		if gerr != nil {
			return nil, r.openErr("gzip: " + gerr.Error())
		}
		r.gz = gz
		r.br = newRbuf(gz, bufSize)
		magic, err = r.br.peek(4)
	}
	if len(magic) < 4 {
		switch {
		case err == io.EOF:
			return nil, r.openErr(fmt.Sprintf("not a pcap or pcapng file (only %d bytes)", len(magic)))
		case r.gz != nil:
			return nil, r.openErr("gzip: " + err.Error())
		}
		return nil, r.openErr(err.Error())
	}
	m := binary.BigEndian.Uint32(magic)
	var s Source
	switch m {
	case 0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1, 0xA1B2CD34, 0x34CDB2A1:
		r.info.Format = "pcap"
		s, err = newPcap(r, m)
	case ngSHB:
		r.info.Format = "pcapng"
		s, err = newPcapng(r)
	default:
		return nil, r.openErr(fmt.Sprintf("not a pcap or pcapng file (magic 0x%08x)", m))
	}
	if err != nil {
		return nil, err
	}
	if r.gz != nil {
		r.info.Format += "+gzip"
	}
	return s, nil
}

// reader is the state shared by the pcap and pcapng readers.
type reader struct {
	// Immutable after open.
	path  string
	index int
	gz    *gzip.Reader // nil when not compressed
	file  io.Closer    // nil when the caller owns the input

	// Working state.
	br    *rbuf
	dec   Decoder
	frame uint64  // frames (packet records) met so far
	big   []byte  // records larger than br's buffer
	done  error   // io.EOF or the fatal error, once the file has ended
	notes []*note // repeated problems reported once with a count
	// noteIdx finds a note by key: a crafted pcapng can declare an
	// interface of each of 65536 unsupported link types, and a scan of
	// notes per frame would then be quadratic.
	noteIdx   map[string]*note
	linkTypes map[string]bool // the names in info.LinkTypes, a set for the same reason
	timed     bool            // info.First is set
	raw       RawFrame        // the frame Next delivered last

	// Results.
	info InputInfo
}

// note is a problem met on many frames (an unsupported link type, records
// over the snap length) reported once, with a count filled in at the end.
type note struct {
	key   string
	msg   string
	count uint64
	err   *FrameError
}

func (r *reader) setCloser(c io.Closer) { r.file = c }

// RawFrame is a frame as captured, for tools that copy frames out of a
// capture rather than analyse them (the evidence capture). The file readers
// that Open and NewReader return implement RawFramer.
type RawFrame struct {
	Data     []byte // the captured bytes; alias the read buffer until the next Next
	LinkType int    // LINKTYPE_ of the frame's interface
	Snap     int    // the interface's snap length (0 unknown or unlimited)
}

// RawFramer is implemented by the file readers: RawFrame returns the frame
// the last successful Next delivered.
type RawFramer interface {
	RawFrame() RawFrame
}

// RawFrame implements RawFramer.
func (r *reader) RawFrame() RawFrame { return r.raw }

func (r *reader) Inputs() []*InputInfo { return []*InputInfo{&r.info} }

func (r *reader) Close() error {
	var err error
	if r.gz != nil {
		err = r.gz.Close()
	}
	if r.file != nil {
		if e := r.file.Close(); e != nil {
			err = e
		}
		r.file = nil
	}
	return err
}

func (r *reader) openErr(msg string) *FrameError {
	return &FrameError{Path: r.path, Msg: msg, Fatal: true}
}

// fail records a problem in InputInfo.Errors and returns it. A fatal one
// ends the file: Next returns it once and io.EOF after, so that a caller
// that only logs errors cannot loop on it.
func (r *reader) fail(frame uint64, msg string, fatal bool) *FrameError {
	e := &FrameError{Path: r.path, Frame: frame, Msg: msg, Fatal: fatal}
	r.info.Errors = append(r.info.Errors, e)
	if fatal {
		r.finish()
	}
	return e
}

// noteOnce counts a repeated problem. It returns the error the first time
// and nil after, so a million frames of one odd link type say so once.
func (r *reader) noteOnce(key string, frame uint64, msg string) *FrameError {
	if n := r.noteIdx[key]; n != nil {
		n.count++
		return nil
	}
	e := r.fail(frame, msg, false)
	n := &note{key: key, msg: msg, count: 1, err: e}
	if r.noteIdx == nil {
		r.noteIdx = map[string]*note{}
	}
	r.noteIdx[key] = n
	r.notes = append(r.notes, n)
	return e
}

// finish ends the file; the counts go into the notes.
func (r *reader) finish() error {
	if r.done == nil {
		for _, n := range r.notes {
			n.err.Msg = n.msg + " (" + strconv.FormatUint(n.count, 10) + " frames)"
			n.err.Count = n.count
		}
		r.done = io.EOF
	}
	return io.EOF
}

// unsupported records a frame skipped for its link type. Such a frame is
// not counted as cut by the snap length: nothing reads it, so its length
// weakens no conclusion.
func (r *reader) unsupported(lt int, frame uint64, capLen, origLen int) error {
	if capLen < origLen {
		r.info.Truncated--
	}
	e := r.noteOnce("lt"+strconv.Itoa(lt), frame, UnsupportedLinkTypeError{lt}.Error()+": frames skipped")
	if e == nil {
		return nil
	}
	e.LinkType = lt
	return e
}

// more fills p with the next packet of the frame last delivered, when it
// carried several (Decoder.More).
func (r *reader) more(p *Packet) bool {
	if r.dec.rest == nil || !r.dec.More(p) {
		return false
	}
	r.info.CountUndecoded(p)
	return true
}

func (r *reader) addLinkType(lt int) {
	name := LinkTypeName(lt) // raw has three numbers, one name
	if r.linkTypes[name] {
		return
	}
	if r.linkTypes == nil {
		r.linkTypes = map[string]bool{}
	}
	r.linkTypes[name] = true
	r.info.LinkTypes = append(r.info.LinkTypes, name)
}

// count updates the input's counters for a frame about to be delivered.
func (r *reader) count(ts time.Time, capLen, origLen int) {
	if !r.timed {
		r.info.First, r.timed = ts, true
	}
	r.info.Packets++
	r.info.Last = ts
	if capLen < origLen {
		r.info.Truncated++
	}
}

// read returns the next n bytes of the file. The slice aliases the read
// buffer and is valid only until the next read. When fewer than n bytes
// remain it returns what there was and the error (io.EOF for a clean end).
func (r *reader) read(n int) ([]byte, error) {
	if n <= bufSize {
		return r.br.next(n)
	}
	// A record larger than the buffer: grow step by step as data arrives.
	r.big = r.big[:0]
	for len(r.big) < n {
		k := min(n-len(r.big), growStep)
		if cap(r.big)-len(r.big) < k {
			r.big = append(r.big[:cap(r.big)], make([]byte, k)...)[:len(r.big)]
		}
		m, err := r.br.Read(r.big[len(r.big) : len(r.big)+k])
		r.big = r.big[:len(r.big)+m]
		if err != nil && len(r.big) < n {
			return r.big, err
		}
	}
	return r.big, nil
}

// short reports a record of which only got of want bytes could be read:
// cut at the end of the file (non-fatal: the earlier frames stand), or a
// read error, which ends the file.
func (r *reader) short(err error, frame uint64, what string, got, want int) error {
	if err == io.EOF {
		e := r.fail(frame, fmt.Sprintf("truncated %s: %d of %d bytes", what, got, want), false)
		r.finish()
		return e
	}
	return r.ioErr(err, frame, what, got, want)
}

// ioErr turns a read error into a fatal FrameError.
func (r *reader) ioErr(err error, frame uint64, what string, got, want int) error {
	msg := err.Error()
	switch {
	case r.gz != nil && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		msg = fmt.Sprintf("gzip data cut short in %s (%d of %d bytes)", what, got, want)
	case r.gz != nil:
		msg = "gzip: " + msg
	}
	return r.fail(frame, msg, true)
}
