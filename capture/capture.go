// Package capture captures live traffic and presents it as a
// dissect.Source, so that live analysis runs the same pipeline as a file.
//
// On Linux it reads an AF_PACKET ring (gopacket's afpacket, pure Go: no
// libpcap, no cgo) opened as SOCK_DGRAM, which hands over every frame from
// its network header: the frames are raw IP (LINKTYPE_RAW) whatever the
// interface. A BPF filter keeps only the catalog's traffic, ICMP and DNS;
// the kernel's drop counter becomes InputInfo.Drops (reported as
// capture_drops); --write keeps what was captured as pcapng.
package capture

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/bpf"
)

// Config says what to capture.
type Config struct {
	Interface string
	// Filter is the compiled BPF program (raw IP frames); nil = capture
	// everything.
	Filter []bpf.RawInstruction
	// FilterExpr is the filter's text, recorded in the pcapng file.
	FilterExpr string
	// WritePath, when set, keeps every captured frame in a pcapng file.
	WritePath string
	// Index is the input index given to the packets (0 for a single input).
	Index int
	// BufferMB is the kernel's capture ring in megabytes; 0 is
	// DefaultBufferMB.
	BufferMB int
	// PollTimeout bounds how long Next waits before it looks at its context
	// again and refreshes the drop counter; 0 = 100 ms.
	PollTimeout time.Duration
	// OnLink, when set, is called when the interface goes down and when it
	// comes back up, from the goroutine that calls Next: it must return
	// quickly (hand the event over, do not print to a terminal that may
	// block).
	OnLink func(LinkEvent)
}

// DefaultBufferMB is the capture ring's default size. Packets wait there
// while the analysis is busy elsewhere: building a report snapshot of a
// busy link stalls it for 80-170 ms, and at 500k packets/s a 32 MB ring
// (about 70,000 packets) then overflowed a few times a minute (1% of the
// packets in a 30-minute replay of the busy-site hour); 64 MB held them
// all (scripts/livesoak.sh). tcpdump's -B is the same knob.
const DefaultBufferMB = 64

// MaxBufferMB bounds --buffer: the ring is locked kernel memory.
const MaxBufferMB = 4096

func (c Config) bufferMB() int {
	if c.BufferMB <= 0 {
		return DefaultBufferMB
	}
	return min(c.BufferMB, MaxBufferMB)
}

// LinkEvent says the captured interface went down or came back up. A live
// capture does not end when its interface goes down: it waits for it, and
// goes on when it is back.
type LinkEvent struct {
	Iface   string
	Down    bool
	At      time.Time
	DownFor time.Duration // for an up event: how long it was down
}

func (e LinkEvent) String() string {
	if e.Down {
		return fmt.Sprintf("interface %s went down at %s; the capture waits for it to come back", e.Iface, e.At.Format("15:04:05"))
	}
	return fmt.Sprintf("interface %s back up at %s after %.1f s down; capture resumed", e.Iface, e.At.Format("15:04:05"), e.DownFor.Seconds())
}

// linkUp reports whether iface exists and is administratively up. (A
// packet socket learns of the interface going down, ENETDOWN, not of a lost
// carrier, which needs no waiting.) known is false when the lookup itself
// failed (a netlink dump cut short under load): the state is then not
// known, which is not "down".
func linkUp(iface string) (up, known bool) {
	i, err := net.InterfaceByName(iface)
	if err != nil {
		// Gone is down; any other failure says nothing.
		return false, strings.Contains(err.Error(), "no such network interface")
	}
	return i.Flags&net.FlagUp != 0, true
}

// InputPath is how a live interface is named in reports: "live:eth0".
func InputPath(iface string) string { return "live:" + iface }

// UnknownInterfaceError is returned for an interface that does not exist;
// its message lists the ones that do.
type UnknownInterfaceError struct {
	Name  string
	Known []string
}

func (e *UnknownInterfaceError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no interface %q (and no interface could be listed)", e.Name)
	}
	return fmt.Sprintf("no interface %q; interfaces here: %s", e.Name, strings.Join(e.Known, ", "))
}

// PermissionError is returned when the process may not open a packet
// socket; its message says how to grant the privilege.
type PermissionError struct {
	Iface string
	Err   error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("capturing on %s needs the CAP_NET_RAW privilege (%v): run as root (sudo fwdiag live ...), "+
		"or grant it once with: sudo setcap cap_net_raw+eip $(which fwdiag)", e.Iface, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// ErrUnsupported is returned by Open on systems without AF_PACKET.
var ErrUnsupported = errors.New("live capture is supported on Linux only; capture with tcpdump or Wireshark and run 'fwdiag tui FILE'")

// Interfaces lists the names of the system's interfaces, sorted, with
// their addresses, for error messages.
func Interfaces() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range ifs {
		desc := i.Name
		if addrs, err := i.Addrs(); err == nil && len(addrs) > 0 {
			var as []string
			for _, a := range addrs {
				as = append(as, a.String())
			}
			desc += " (" + strings.Join(as, " ") + ")"
		}
		if i.Flags&net.FlagUp == 0 {
			desc += " [down]"
		}
		out = append(out, desc)
	}
	sort.Strings(out)
	return out
}

// checkInterface returns an *UnknownInterfaceError when iface does not exist.
func checkInterface(iface string) error {
	if _, err := net.InterfaceByName(iface); err != nil {
		return &UnknownInterfaceError{Name: iface, Known: Interfaces()}
	}
	return nil
}
