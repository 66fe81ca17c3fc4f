//go:build linux

package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/fwdiag/fwdiag/dissect"
)

// statsEvery is how often the kernel's drop counter is read; statsCheck
// how many frames pass between looks at the clock.
const (
	statsEvery = time.Second
	statsCheck = 256
)

// tick reads the kernel's counters and, as a quiet link may go down without
// the poll telling, the link's state.
func (s *Source) tick() {
	s.updateStats()
	s.checkLink()
}

// Source is a live capture on one interface. It implements dissect.Source;
// like every source it is used by one goroutine.
type Source struct {
	// Immutable after Open.
	ctx  context.Context
	cfg  Config
	tp   *afpacket.TPacket
	dec  *dissect.Decoder
	info dissect.InputInfo
	// fd is the packet socket (-1 when afpacket's layout hides it), used to
	// read and clear the socket's pending error.
	fd int

	// Working state.
	frame     uint64
	lastStats time.Time
	file      *os.File
	buf       *bufio.Writer
	ng        *pcapgo.NgWriter
	writeErr  error
	closed    bool

	// Link state: down since downAt; linkNotes counts the events recorded
	// in the input's errors (bounded, for an interface that flaps for hours).
	down      bool
	downAt    time.Time
	linkNotes int
}

// Open starts capturing on cfg.Interface. Next returns io.EOF once ctx is
// cancelled, so cancelling ends the capture cleanly. The caller closes the
// source.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	if err := checkInterface(cfg.Interface); err != nil {
		return nil, err
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 100 * time.Millisecond
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(cfg.Interface),
		afpacket.SocketDgram,
		afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(1<<20),
		afpacket.OptNumBlocks(cfg.bufferMB()),
		afpacket.OptPollTimeout(cfg.PollTimeout),
		afpacket.OptBlockTimeout(10*time.Millisecond),
	)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, &PermissionError{Iface: cfg.Interface, Err: err}
		}
		return nil, fmt.Errorf("capture on %s: %w", cfg.Interface, err)
	}
	if cfg.Filter != nil {
		if err := tp.SetBPF(cfg.Filter); err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture on %s: attaching the BPF filter: %w", cfg.Interface, err)
		}
	}
	s := &Source{ctx: ctx, cfg: cfg, tp: tp, fd: socketFD(tp), dec: dissect.NewDecoder(dissect.LinkRaw), lastStats: time.Now()}
	s.info = dissect.InputInfo{Path: InputPath(cfg.Interface), Format: "live", LinkTypes: []string{dissect.LinkTypeName(dissect.LinkRaw)}, Drops: 0}
	if cfg.WritePath != "" {
		if err := s.openWriter(); err != nil {
			tp.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Source) openWriter() error {
	f, err := os.Create(s.cfg.WritePath)
	if err != nil {
		return fmt.Errorf("--write: %w", err)
	}
	s.file = f
	s.buf = bufio.NewWriterSize(f, 1<<16)
	ng, err := pcapgo.NewNgWriterInterface(s.buf, pcapgo.NgInterface{
		Name:                s.cfg.Interface,
		Filter:              s.cfg.FilterExpr,
		OS:                  "linux",
		LinkType:            layers.LinkTypeRaw,
		SnapLength:          acceptLen,
		TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "fwdiag live"}})
	if err != nil {
		f.Close()
		return fmt.Errorf("--write %s: %w", s.cfg.WritePath, err)
	}
	s.ng = ng
	return nil
}

// Next waits for the next captured frame and decodes it into p. It returns
// io.EOF when the context is cancelled. The payload aliases the capture
// ring and is valid until the next call.
func (s *Source) Next(p *dissect.Packet) error {
	if s.dec.More(p) { // the rest of a frame that carried several packets
		s.info.CountUndecoded(p)
		return nil
	}
	for {
		if s.closed || s.ctx.Err() != nil {
			s.updateStats()
			return io.EOF
		}
		// The clock is read every statsCheck frames, not for each: a
		// clock read was 5% of a live capture's CPU at 430k packets/s. A
		// quiet link's timeouts read it too.
		if s.frame%statsCheck == 0 && time.Since(s.lastStats) >= statsEvery {
			s.tick()
		}
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if errors.Is(err, afpacket.ErrTimeout) {
			if time.Since(s.lastStats) >= statsEvery {
				s.tick()
			} else if s.down {
				s.checkLink()
			}
			continue
		}
		if errors.Is(err, afpacket.ErrPoll) {
			// The socket reports an error: the interface went down
			// (ENETDOWN). Wait for it to come back rather than end a
			// capture that may run for hours: the interface's own state
			// says when it is back.
			s.checkLink()
			if soErr, ok := s.takeSocketError(); ok {
				if soErr != nil && soErr != unix.ENETDOWN {
					s.note(fmt.Sprintf("capture on %s: socket error %v", s.cfg.Interface, soErr))
				}
				// Cleared: the next poll waits for frames again.
				continue
			}
			// The error stays flagged, and every poll returns at once:
			// pace the loop. Frames are still read from the ring.
			select {
			case <-s.ctx.Done():
			case <-time.After(s.cfg.PollTimeout):
			}
			continue
		}
		if err != nil {
			return &dissect.FrameError{Path: s.info.Path, Msg: err.Error(), Fatal: true}
		}
		if s.down {
			s.setLink(true) // traffic: it is back
		}
		s.frame++
		p.Input, p.Frame, p.Interface, p.PacketID = s.cfg.Index, s.frame, 0, 0
		if err := s.dec.Decode(data, ci.Timestamp, ci.CaptureLength, ci.Length, p); err != nil {
			return &dissect.FrameError{Path: s.info.Path, Frame: s.frame, Msg: err.Error()}
		}
		if s.info.Packets == 0 {
			s.info.First = ci.Timestamp
		}
		s.info.Packets++
		s.info.Last = ci.Timestamp
		if ci.CaptureLength < ci.Length {
			s.info.Truncated++
		}
		s.info.CountUndecoded(p)
		s.write(ci, data)
		return nil
	}
}

// socketFD returns the descriptor of afpacket's socket, which it keeps
// unexported; -1 when its layout changed.
func socketFD(tp *afpacket.TPacket) int {
	v := reflect.ValueOf(tp).Elem().FieldByName("fd")
	if !v.IsValid() || !v.CanInt() {
		return -1
	}
	return int(v.Int())
}

// takeSocketError reads and clears the socket's pending error (SO_ERROR):
// the kernel sets ENETDOWN when the interface goes down and, left set, it
// makes every later poll fail at once, even after the interface is back.
// ok is false when the error could not be read.
func (s *Source) takeSocketError() (err error, ok bool) {
	if s.fd < 0 {
		return nil, false
	}
	e, gerr := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if gerr != nil {
		return nil, false
	}
	if e != 0 {
		return unix.Errno(e), true
	}
	return nil, true
}

// checkLink looks at the interface's state and reports a change.
func (s *Source) checkLink() {
	up, known := linkUp(s.cfg.Interface)
	if !known || up != s.down {
		return
	}
	if !up {
		// Down must hold on a second look: one failed or stale lookup
		// must not print an outage of 0.0 s.
		time.Sleep(linkConfirm)
		if up, known = linkUp(s.cfg.Interface); !known || up {
			return
		}
	}
	s.setLink(up)
}

// linkConfirm is how long checkLink waits to see an interface still down.
const linkConfirm = 50 * time.Millisecond

// maxLinkNotes bounds the down/up events recorded in the input's errors.
const maxLinkNotes = 20

// setLink records the interface going down (up false) or coming back, in
// the input's errors and through Config.OnLink.
func (s *Source) setLink(up bool) {
	now := time.Now()
	ev := LinkEvent{Iface: s.cfg.Interface, Down: !up, At: now}
	if up {
		ev.DownFor = now.Sub(s.downAt)
	} else {
		s.downAt = now
	}
	s.down = !up
	switch {
	case s.linkNotes < maxLinkNotes:
		s.note(ev.String()).Interruption = true
	case s.linkNotes == maxLinkNotes:
		s.note(fmt.Sprintf("interface %s went down and up again more often; later events are not listed", s.cfg.Interface)).Interruption = true
	}
	s.linkNotes++
	if s.cfg.OnLink != nil {
		s.cfg.OnLink(ev)
	}
}

// note records a problem once in the input's errors and returns it.
func (s *Source) note(msg string) *dissect.FrameError {
	for _, e := range s.info.Errors {
		if e.Msg == msg {
			return e
		}
	}
	e := &dissect.FrameError{Path: s.info.Path, Msg: msg}
	s.info.Errors = append(s.info.Errors, e)
	return e
}

func (s *Source) write(ci gopacket.CaptureInfo, data []byte) {
	if s.ng == nil || s.writeErr != nil {
		return
	}
	ci.InterfaceIndex = 0
	ci.AncillaryData = nil
	if err := s.ng.WritePacket(ci, data); err != nil {
		// A full disk must not end the capture: the analysis goes on and
		// the report says the file is incomplete.
		s.writeErr = err
		s.note(fmt.Sprintf("--write %s stopped at frame %d: %v", s.cfg.WritePath, s.frame, err))
	}
}

// updateStats reads the kernel's counters. The kernel clears them on each
// read; afpacket accumulates them.
func (s *Source) updateStats() {
	s.lastStats = time.Now()
	ss, ss3, err := s.tp.SocketStats()
	if err != nil {
		return
	}
	s.info.Drops = int64(ss.Drops() + ss3.Drops())
}

// Inputs describes the capture; Drops is refreshed about once a second.
func (s *Source) Inputs() []*dissect.InputInfo { return []*dissect.InputInfo{&s.info} }

// Close stops the capture and completes the --write file with the
// interface's statistics.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.updateStats()
	var err error
	if s.ng != nil {
		if s.writeErr == nil {
			now := time.Now()
			_ = s.ng.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{
				LastUpdate: now, EndTime: now, PacketsReceived: s.info.Packets, PacketsDropped: uint64(s.info.Drops),
			})
			err = s.ng.Flush()
		}
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = s.writeErr
		}
	}
	s.tp.Close()
	if err != nil {
		return fmt.Errorf("--write %s: %w", s.cfg.WritePath, err)
	}
	return nil
}
