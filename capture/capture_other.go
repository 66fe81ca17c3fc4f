//go:build !linux

package capture

import (
	"context"

	"github.com/fwdiag/fwdiag/dissect"
)

// Source is a live capture; on this system there is none.
type Source struct{}

// Open fails: AF_PACKET exists on Linux only.
func Open(ctx context.Context, cfg Config) (*Source, error) { return nil, ErrUnsupported }

// Next never yields a packet.
func (s *Source) Next(p *dissect.Packet) error { return ErrUnsupported }

// Inputs is empty.
func (s *Source) Inputs() []*dissect.InputInfo { return nil }

// Close does nothing.
func (s *Source) Close() error { return nil }
