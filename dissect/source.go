package dissect

import "time"

// Source yields the frames of one capture (or of several merged) in order.
type Source interface {
	// Next fills p with the next frame: every field of p is set on success,
	// so p need not be reset between calls. It returns io.EOF at the end. A
	// damaged frame yields a *FrameError with Fatal false: the caller records
	// it and calls Next again. A *FrameError with Fatal true (or any other
	// error) ends the source; what was read so far stays valid.
	Next(p *Packet) error
	// Inputs describes each input behind the source; counts are final after
	// Next has returned io.EOF.
	Inputs() []*InputInfo
	Close() error
}

// InputInfo describes one input file as the report shows it.
type InputInfo struct {
	Path      string    // as given on the command line; "-" for stdin
	Format    string    // "pcap", "pcapng", with "+gzip" when compressed
	LinkTypes []string  // link types seen, e.g. "ethernet", "linux_sll2"
	Packets   uint64    // frames read
	First     time.Time // timestamp of the first frame
	Last      time.Time // timestamp of the last frame
	// Truncated counts frames cut short by the snap length.
	Truncated uint64
	// Errors are the damaged frames and file-level problems met while reading.
	Errors []*FrameError
	// Drops is the kernel drop count when the capture records it (pcapng ISB
	// ifdrop, or the live capture's counters); -1 when unknown.
	Drops int64
	// Interfaces are a pcapng file's interfaces, by Packet.Interface (none
	// for pcap). A pktmon log converted by etl2pcapng has one per
	// component a packet passes (NIC, filters, WFP, TCP/IP), named so.
	Interfaces []Interface
	// Undecoded counts the frames (A-MSDU subframes count one each) whose
	// carried packet could not be decoded, by the encapsulation that
	// stopped and why: Packet.Undecoded summed over the input. Frames that
	// carry no IP by nature (ARP, 802.11 management and control frames,
	// PPP link control, tunnel keepalives) are not counted. Nil when none.
	Undecoded map[Undecoded]uint64
}

// CountUndecoded counts p in Undecoded when its carried packet could not
// be decoded; every source (files, live capture) counts through it.
func (in *InputInfo) CountUndecoded(p *Packet) {
	if p.Undecoded == (Undecoded{}) {
		return
	}
	if in.Undecoded == nil {
		in.Undecoded = map[Undecoded]uint64{}
	}
	in.Undecoded[p.Undecoded]++
}

// UndecodedTotal is the number of frames counted in Undecoded.
func (in *InputInfo) UndecodedTotal() uint64 {
	var n uint64
	for _, c := range in.Undecoded {
		n += c
	}
	return n
}

// Interface is a pcapng interface description.
type Interface struct {
	Name        string // if_name ("" none)
	Description string // if_description ("" none)
	LinkType    int
}
