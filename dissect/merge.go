package dissect

import (
	"errors"
	"io"
)

// Merge returns a Source that yields the frames of srcs in timestamp order;
// frames with equal timestamps come in input order, and frames of one input
// keep their file order even when its clock goes backwards. Frame numbers
// stay those of each input. Inputs concatenates the inputs of srcs, and Close
// closes them all. The merged source owns srcs.
//
// A fatal error of one input ends only that input: Merge returns a copy of
// it with Fatal false, so that a caller following the Source contract reads
// the other inputs on; the input's InputInfo.Errors keeps the original.
func Merge(srcs []Source) Source {
	if len(srcs) == 1 {
		return srcs[0]
	}
	return &merged{
		srcs:  srcs,
		heads: make([]Packet, len(srcs)),
		state: make([]headState, len(srcs)),
	}
}

type headState uint8

const (
	headEmpty headState = iota // the next frame must be read
	headFull                   // heads[i] holds the input's next frame
	headDone                   // the input has ended
)

type merged struct {
	srcs  []Source
	heads []Packet
	state []headState
}

// Next implements Source. Payload aliases the buffer of the input the frame
// came from; that input is read again only at the next call, so the alias
// stays valid as the Source contract promises.
func (m *merged) Next(p *Packet) error {
	for i, s := range m.srcs {
		if m.state[i] != headEmpty {
			continue
		}
		err := s.Next(&m.heads[i])
		if err == nil {
			m.state[i] = headFull
			continue
		}
		if err == io.EOF {
			m.state[i] = headDone
			continue
		}
		var fe *FrameError
		if !errors.As(err, &fe) {
			m.state[i] = headDone
			in := s.Inputs()
			path := ""
			if len(in) > 0 {
				path = in[0].Path
			}
			return &FrameError{Path: path, Msg: err.Error()}
		}
		if fe.Fatal {
			m.state[i] = headDone
			c := *fe
			c.Fatal = false
			return &c
		}
		return fe // damaged frame: the caller calls again and we read on
	}
	best := -1
	for i := range m.heads {
		if m.state[i] != headFull {
			continue
		}
		if best < 0 || m.heads[i].Time.Before(m.heads[best].Time) {
			best = i
		}
	}
	if best < 0 {
		return io.EOF
	}
	*p = m.heads[best]
	m.state[best] = headEmpty
	return nil
}

func (m *merged) Inputs() []*InputInfo {
	var in []*InputInfo
	for _, s := range m.srcs {
		in = append(in, s.Inputs()...)
	}
	return in
}

func (m *merged) Close() error {
	var first error
	for _, s := range m.srcs {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
