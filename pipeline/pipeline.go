// Package pipeline runs an analysis end to end: it opens the sources,
// feeds the dissected packets to the flow analyzer, diagnoses the flows and
// assembles the report. It is the only place that knows all of dissect,
// flows, diagnose and report; the commands call it and print.
package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/report"
)

// Options are the analysis settings shared by analyze, live and tui.
type Options struct {
	Profile      string        // profile name; "" = default
	UDPTimeout   time.Duration // 0 = the profile's
	TCPIdle      time.Duration // 0 = the profile's
	Services     []string      // --service NAME=PORT[/udp]
	ServicesFile string        // --services FILE
}

// Config turns options into the analyzer's configuration.
func (o Options) Config() (flows.Config, error) {
	name := o.Profile
	if name == "" {
		name = catalog.DefaultProfileName
	}
	p, err := catalog.LookupProfile(name)
	if err != nil {
		return flows.Config{}, err
	}
	if o.UDPTimeout < 0 || o.TCPIdle < 0 {
		return flows.Config{}, errors.New("timeouts must be positive")
	}
	overrides := append([]string(nil), o.Services...)
	if o.ServicesFile != "" {
		more, err := readOverrides(o.ServicesFile)
		if err != nil {
			return flows.Config{}, fmt.Errorf("--services: %w", err)
		}
		overrides = append(more, overrides...)
	}
	svcs, err := catalog.WithOverrides(catalog.DefaultServices(), overrides)
	if err != nil {
		return flows.Config{}, err
	}
	return flows.Config{Catalog: catalog.NewCatalog(svcs), Timeouts: catalog.TimeoutsFor(p, o.UDPTimeout, o.TCPIdle)}, nil
}

// readOverrides reads a --services file.
func readOverrides(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return catalog.ReadOverrides(f, path)
}

// InputError is an input that cannot be analysed at all: it names the file
// (and frame, where known). The command exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// OpenFiles opens every path ("-" = stdin) and merges them by timestamp.
func OpenFiles(paths []string) (dissect.Source, error) {
	var srcs []dissect.Source
	for i, p := range paths {
		s, err := dissect.Open(p, i)
		if err != nil {
			for _, o := range srcs {
				o.Close()
			}
			return nil, &InputError{err}
		}
		srcs = append(srcs, s)
	}
	return dissect.Merge(srcs), nil
}

// Run reads src to its end into an analyzer. onPacket, when not nil, is
// called after each packet (the TUI uses it to take snapshots); it must not
// keep p. Damaged frames are recorded by the source and skipped.
//
// Reading and decoding run on their own goroutine and hand the analyzer
// batches of packets, in order, so the read system calls and the header
// parsing overlap the flow engine on the second core; the analyzer sees
// exactly the sequence a single goroutine would give it, so the report is
// the same either way (TestParallelRunMatchesSerial).
func Run(src dissect.Source, an *flows.Analyzer, onPacket func(p *dissect.Packet)) error {
	const inFlight = 4
	free := make(chan *readBatch, inFlight)
	full := make(chan *readBatch, inFlight)
	for i := 0; i < inFlight; i++ {
		free <- &readBatch{}
	}
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(full)
		for {
			var b *readBatch
			select {
			case b = <-free:
			case <-done:
				return
			}
			err := b.fill(src)
			full <- b
			if err != nil {
				if err != io.EOF {
					readErr = err
				}
				return
			}
		}
	}()
	for b := range full {
		for i := 0; i < b.n; i++ {
			an.Add(&b.pkts[i])
			if onPacket != nil {
				onPacket(&b.pkts[i])
			}
		}
		free <- b
	}
	close(done)
	return readErr
}

// batchSize is how many packets a readBatch carries between the goroutines.
const batchSize = 4096

// payloadHead is how much of each payload crosses to the analyzer: the flow
// engine reads payload only to recognise a service's greeting (SPEC §4
// hints), which fits in the first bytes.
const payloadHead = 32

// readBatch is a run of decoded packets with copies of their payload heads: the
// source's buffer is reused by the next read, so payloads are copied into
// the readBatch's own arena.
type readBatch struct {
	pkts  [batchSize]dissect.Packet
	arena [batchSize * payloadHead]byte
	n     int
}

// fill reads up to batchSize packets; it returns io.EOF (with the packets
// read so far) at the end, or the error that ended the source.
func (b *readBatch) fill(src dissect.Source) error {
	b.n = 0
	for b.n < batchSize {
		p := &b.pkts[b.n]
		p.Reset()
		err := src.Next(p)
		if err != nil {
			var fe *dissect.FrameError
			if errors.As(err, &fe) && !fe.Fatal {
				continue
			}
			return err
		}
		h := b.arena[b.n*payloadHead : b.n*payloadHead+payloadHead]
		p.Payload = h[:copy(h, p.Payload)]
		b.n++
	}
	return nil
}

// AnalyzeFiles analyses capture files and returns the report. A file that
// cannot be opened, or inputs that hold no packet at all, give an
// *InputError; a damaged file gives a report of what could be read, with the
// damage in its errors and a capture_truncated finding.
func AnalyzeFiles(paths []string, opts Options, version string) (*report.Report, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	src, err := OpenFiles(paths)
	if err != nil {
		return nil, err
	}
	cfg.ComparePoints = len(paths) > 1
	return AnalyzeSource(src, cfg, version)
}

// AnalyzeSource analyses an opened source (closing it) and returns the report,
// with the same error rules as AnalyzeFiles.
func AnalyzeSource(src dissect.Source, cfg flows.Config, version string) (*report.Report, error) {
	defer src.Close()
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	an := flows.New(cfg)
	runErr := Run(src, an, nil)
	inputs := src.Inputs()
	var total uint64
	for _, in := range inputs {
		total += in.Packets
	}
	if runErr != nil && total == 0 {
		return nil, &InputError{runErr}
	}
	if total == 0 {
		msg := "no packets"
		if len(inputs) == 1 {
			msg = inputs[0].Path + ": the capture holds no packets"
			if len(inputs[0].Errors) > 0 {
				msg = inputs[0].Errors[0].Error()
			}
		} else {
			msg = "none of the inputs holds a packet"
		}
		return nil, &InputError{errors.New(msg)}
	}
	return report.Build(diagnose.Run(an.View(), ev, inputs), inputs, version), nil
}
