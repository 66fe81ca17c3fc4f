package synth

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// smallBusy is a busysite run small enough for unit tests: 20 minutes
// (one scanner sweep), 20 Supportworks and 200 KeyAccess clients, 60 web
// connections an hour (20 in all) and a scanner sweeping 12 hosts (both
// Supportworks servers among them).
func smallBusy() Options {
	o := BusySiteOptions()
	o.SWClients, o.K2Clients, o.Flows, o.ScanHosts = 20, 200, 60, 12
	o.Duration = 20 * time.Minute
	return o
}

// busyCounts is what TestBusySiteCounts reads from a busysite capture.
type busyCounts struct {
	packets     int
	first, last time.Time
	k2Clients   map[netip.Addr]bool
	k2Ports     map[netip.Addr]map[uint16]bool
	k2Answers   int
	k2Late      int // answers after 7 minutes of silence on their flow
	swClients   map[netip.Addr]bool
	swSYNs      int // SYNs to 5001: a main session and a notification socket each
	xmlmcSYNs   int
	webSYNs     int
	scanSYNs    map[netip.Addr]int
	scanProbes  map[[3]netip.AddrPort]bool // scanner, target, once per sweep
	scanSYNACKs int
	scanRSTs    int // closed ports answering the scanner
}

func fromScanner(a netip.Addr) bool { return a.Is4() && a.As4()[0] == 10 && a.As4()[1] == 99 }

func countBusy(t *testing.T, data []byte) busyCounts {
	t.Helper()
	c := busyCounts{k2Clients: map[netip.Addr]bool{}, k2Ports: map[netip.Addr]map[uint16]bool{}, swClients: map[netip.Addr]bool{},
		scanSYNs: map[netip.Addr]int{}, scanProbes: map[[3]netip.AddrPort]bool{}}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	lastUDP := map[[2]netip.AddrPort]time.Time{}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return c
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(c.last) {
			t.Fatalf("packet %d goes back in time: %v < %v", c.packets+1, ci.Timestamp, c.last)
		}
		if c.packets == 0 {
			c.first = ci.Timestamp
		}
		c.last = ci.Timestamp
		c.packets++
		p := gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.NoCopy)
		var src, dst netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			t.Fatalf("packet %d: no IP layer", c.packets)
		}
		if u, ok := p.TransportLayer().(*layers.UDP); ok {
			sp, dp := uint16(u.SrcPort), uint16(u.DstPort)
			switch {
			case dp == portKeyServer:
				c.k2Clients[src] = true
				if c.k2Ports[src] == nil {
					c.k2Ports[src] = map[uint16]bool{}
				}
				c.k2Ports[src][sp] = true
				lastUDP[[2]netip.AddrPort{netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)}] = ci.Timestamp
			case sp == portKeyServer:
				c.k2Answers++
				k := [2]netip.AddrPort{netip.AddrPortFrom(dst, dp), netip.AddrPortFrom(src, sp)}
				if ci.Timestamp.Sub(lastUDP[k]) >= k2Late7 {
					c.k2Late++
				}
				lastUDP[k] = ci.Timestamp
			}
			continue
		}
		tcp, ok := p.TransportLayer().(*layers.TCP)
		if !ok {
			t.Fatalf("packet %d: neither TCP nor UDP", c.packets)
		}
		sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
		switch {
		case fromScanner(src) && tcp.SYN:
			c.scanSYNs[src]++
			c.scanProbes[[3]netip.AddrPort{netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, dp), {}}] = true
		case fromScanner(dst) && tcp.SYN && tcp.ACK:
			c.scanSYNACKs++
		case fromScanner(dst) && tcp.RST:
			c.scanRSTs++
		case fromScanner(src) || fromScanner(dst):
		case tcp.SYN && !tcp.ACK && dp == 5001:
			c.swSYNs++
			c.swClients[src] = true
		case tcp.SYN && !tcp.ACK && dp == 5015:
			c.xmlmcSYNs++
		case tcp.SYN && !tcp.ACK && dp == 443:
			c.webSYNs++
		case tcp.RST:
			t.Errorf("packet %d: a reset outside the scan: %v:%d -> %v:%d", c.packets, src, sp, dst, dp)
		}
	}
}

func TestBusySiteCounts(t *testing.T) {
	for _, c := range []struct {
		name     string
		scanners int
		duration time.Duration
		sweeps   int
	}{
		{"one scanner", 1, 20 * time.Minute, 1},
		{"five scanners", 5, 20 * time.Minute, 1},
		{"none", 0, 20 * time.Minute, 0},
		{"two hours", 1, 2 * time.Hour, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := smallBusy()
			o.Scanners, o.Duration = c.scanners, c.duration
			if c.duration > time.Hour { // keep the long run small
				o.SWClients, o.K2Clients, o.ScanHosts = 4, 20, 2
			}
			n := countBusy(t, gen(t, "busysite", o))
			if d := n.last.Sub(DefaultStart); d > o.Duration {
				t.Errorf("last packet %v after the start: the capture is %v long", d, o.Duration)
			}
			if len(n.k2Clients) != o.K2Clients {
				t.Errorf("%d KeyAccess clients, want %d", len(n.k2Clients), o.K2Clients)
			}
			if len(n.swClients) != o.SWClients || n.swSYNs != 2*o.SWClients || n.xmlmcSYNs != o.SWClients {
				t.Errorf("%d Supportworks clients with %d SYNs to 5001 and %d to 5015, want %d with %d and %d",
					len(n.swClients), n.swSYNs, n.xmlmcSYNs, o.SWClients, 2*o.SWClients, o.SWClients)
			}
			if want := int(float64(o.Flows) * o.Duration.Hours()); n.webSYNs != want {
				t.Errorf("%d web connections, want %d", n.webSYNs, want)
			}
			if len(n.scanSYNs) != c.scanners {
				t.Errorf("%d scanners, want %d", len(n.scanSYNs), c.scanners)
			}
			perSweep := o.ScanHosts * ScanPorts
			for s, syns := range n.scanSYNs {
				if syns != c.sweeps*perSweep {
					t.Errorf("scanner %v: %d SYNs, want %d (%d sweeps of %d hosts x %d ports)", s, syns, c.sweeps*perSweep, c.sweeps, o.ScanHosts, ScanPorts)
				}
			}
			if len(n.scanProbes) != c.scanners*perSweep {
				t.Errorf("%d distinct scanner probes, want each host and port once per scanner: %d", len(n.scanProbes), c.scanners*perSweep)
			}
			if c.scanners > 0 {
				// Mostly resets or silence, a few SYN-ACKs (the scanner resets those).
				syns := c.sweeps * c.scanners * perSweep
				if n.scanSYNACKs == 0 || n.scanSYNACKs*20 > syns || n.scanRSTs < syns/2 || n.scanRSTs+n.scanSYNACKs > syns {
					t.Errorf("scan answers: %d SYN-ACKs and %d resets (with the scanner's own) to %d SYNs", n.scanSYNACKs, n.scanRSTs, syns)
				}
			}
			if c.duration < time.Hour {
				// 200 clients: one in 20 slow (late answers), one in 50 never
				// answered and rebinding every 10 minutes.
				rebound := 0
				for _, ports := range n.k2Ports {
					if len(ports) > 1 {
						rebound++
					}
				}
				if n.k2Late == 0 || rebound == 0 || n.k2Answers == 0 {
					t.Errorf("KeyAccess: %d answers, %d of them 7 minutes late, %d clients rebound: want some of each", n.k2Answers, n.k2Late, rebound)
				}
			}
		})
	}
}

// TestBusySiteScannersApart checks what the benchmark's findings
// comparison relies on: the capture with scanners is the capture without
// them plus the scanners' packets, byte for byte.
func TestBusySiteScannersApart(t *testing.T) {
	o := smallBusy()
	o.Scanners = 0
	without := gen(t, "busysite", o)
	for _, scanners := range []int{1, 5} {
		o.Scanners = scanners
		r, err := pcapgo.NewReader(bytes.NewReader(gen(t, "busysite", o)))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		dropped := 0
		for {
			d, ci, err := r.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// IPv4 source or destination in 10.99.0.0/16.
			if d[12] == 0x08 && d[13] == 0 && (d[26] == 10 && d[27] == 99 || d[30] == 10 && d[31] == 99) {
				dropped++
				continue
			}
			if err := w.WritePacket(ci, d); err != nil {
				t.Fatal(err)
			}
		}
		if dropped == 0 || !bytes.Equal(buf.Bytes(), without) {
			t.Errorf("%d scanners: the capture without the scanners' %d packets is not the capture without scanners", scanners, dropped)
		}
	}
}

func TestTsharkBusySite(t *testing.T) {
	o := smallBusy()
	f := writeTemp(t, "busysite", o)
	n := counts(t, f, nil,
		"tcp.flags.syn==1 && tcp.flags.ack==0 && ip.src==10.99.0.0/16",
		"tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==5001",
		"tcp.analysis.retransmission || tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order",
		`tcp.payload contains "NPA seq="`,
		"udp.dstport==19283")
	if want := o.ScanHosts * ScanPorts; n[0] != want {
		t.Errorf("tshark sees %d scanner SYNs, want %d", n[0], want)
	}
	// The scanner probes 5001 on each of its hosts too.
	if want := 2*o.SWClients + o.ScanHosts; n[1] != want {
		t.Errorf("tshark sees %d SYNs to 5001, want %d", n[1], want)
	}
	if n[2] != 0 {
		t.Errorf("%d retransmissions or seq/ack anomalies: sequence arithmetic is wrong", n[2])
	}
	if n[3] < o.SWClients {
		t.Errorf("%d notification pushes for %d clients in 20 minutes: want a few each", n[3], o.SWClients)
	}
	if n[4] == 0 {
		t.Errorf("no KeyAccess requests")
	}
}
