package synth

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Options are the knobs a scenario may read. The small scenarios only use
// Seed; the volume scenario sizes itself from the rest.
type Options struct {
	Seed uint64
	// Packets caps the capture (0: as many as the scenario makes).
	Packets   int
	K2Clients int
	SWClients int
	// Flows is the number of bulk web (HTTPS) transfers.
	Flows int
	// SYNFlood adds that many SYNs from distinct random sources.
	SYNFlood int
	// UDPFlood adds that many KeyAccess-like datagrams to the KeyServer's
	// UDP 19283 from distinct sources, none answered.
	UDPFlood int
	// Scanners is the number of busysite vulnerability scanners, each
	// sweeping ScanHosts hosts x ScanPorts TCP ports once an hour.
	Scanners  int
	ScanHosts int
	// Duration is the virtual length of the volume and busysite captures.
	Duration time.Duration
}

// DefaultOptions are the flag defaults of fwgen; SCENARIO.md files describe
// the captures these produce.
func DefaultOptions() Options {
	return Options{Seed: 1, K2Clients: 2000, SWClients: 1000, Flows: 20000, Duration: time.Hour}
}

// Scenario is a named capture recipe.
type Scenario struct {
	Name    string
	Summary string
	Run     func(b *Builder, o Options) error
}

// Scenarios lists every scenario fwgen knows, in a fixed order.
func Scenarios() []Scenario {
	return []Scenario{
		{"npa-idle-2h", "Supportworks NPA socket idle 2 h, then a push never acknowledged, retransmitted and reset (server side)",
			func(b *Builder, o Options) error { return npaIdle(b, false) }},
		{"npa-idle-risk", "Supportworks NPA socket idle 2 h, then a push that is acknowledged: idle risk only (server side)",
			func(b *Builder, o Options) error { return npaIdle(b, true) }},
		{"k2-late-7m-15m", "KeyServer answers after 7 and 15 minutes of silence, tickles, a client rebinds (server side)", k2LateServer},
		{"k2-late-client-side", "KeyAccess clients behind a 90 s UDP timeout: unanswered, rebind, KeyShadow failover (client side)", k2LateClient},
		{"volume", "large mixed capture for benchmarks: K2, Supportworks NPA, web, DNS, SYN scan (-packets, -syn-flood, -udp-flood)", runVolume},
		{"busysite", "an hour of a busy site: 800 Supportworks clients, 2,000 KeyAccess clients, 600 web flows, vulnerability scanners (-scanners, -duration)", runBusySite},
	}
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Generate runs scenario name and writes it to w as "pcap" (microsecond
// classic pcap, what most tools read) or "pcapng". It returns the packet
// count. Output is buffered and streamed: nothing is held for the whole
// capture.
func Generate(w io.Writer, name, format string, o Options) (int, error) {
	sc, ok := Lookup(name)
	if !ok {
		return 0, fmt.Errorf("unknown scenario %q", name)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var sink Sink
	var flush func() error
	switch format {
	case "pcap", "":
		pw := pcapgo.NewWriter(bw)
		if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			return 0, err
		}
		sink, flush = pw, func() error { return nil }
	case "pcapng":
		nw, err := pcapgo.NewNgWriter(bw, layers.LinkTypeEthernet)
		if err != nil {
			return 0, err
		}
		sink, flush = nw, nw.Flush
	default:
		return 0, fmt.Errorf("unknown format %q (pcap, pcapng)", format)
	}
	b := NewBuilder(sink, o.Seed)
	b.Limit = o.Packets
	if err := sc.Run(b, o); err != nil && err != ErrFull {
		return b.Written(), fmt.Errorf("scenario %s: %w", name, err)
	}
	if err := b.Close(); err != nil {
		return b.Written(), err
	}
	if err := flush(); err != nil {
		return b.Written(), err
	}
	return b.Written(), bw.Flush()
}

// finish closes a linear scenario: it reports the first emitting error, if
// any, after flushing what was built.
func finish(b *Builder) error {
	if err := b.Close(); err != nil {
		return err
	}
	return b.Err()
}

// addr parses a literal address; scenario code only passes constants.
func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Common capture-point facts: Windows hosts start at TTL 128, Linux at 64,
// and every routed hop takes one off.
const (
	ttlWindows       = 128
	ttlWindows2Hops  = 126
	ttlLinux         = 64
	ttlLinuxOneHop   = 63
	gatewayMACSerial = 0x0a0001
)
