package dissect

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/internal/zeekcompat"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// zeekDir is where Zeek's test traces are (zeekcompat.Dir).
func zeekDir(t *testing.T) string { t.Helper(); return zeekcompat.Dir(t) }

// zeekCase returns the trace and conn.log paths of a case in index.tsv.
func zeekCase(t *testing.T, dir, id string) (trace, connLog string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 3 && f[0] == id {
			return filepath.Join(dir, f[1]), filepath.Join(dir, f[2])
		}
	}
	t.Fatalf("case %s not in index.tsv", id)
	return "", ""
}

// flowKey is a TCP or UDP 5-tuple without orientation: Zeek's originator
// is whoever it decided opened the connection, fwdiag's is the packet's
// source.
type flowKey struct {
	proto string
	a, b  netip.AddrPort
}

func keyOf(proto string, x, y netip.AddrPort) flowKey {
	if y.Addr().Less(x.Addr()) || y.Addr() == x.Addr() && y.Port() < x.Port() {
		x, y = y, x
	}
	return flowKey{proto, x, y}
}

func (k flowKey) String() string { return k.proto + " " + k.a.String() + " <-> " + k.b.String() }

// zeekConns reads the TCP and UDP rows of a conn.log: the flows Zeek saw
// inside a tunnel (tunnel_parents set) and those it saw as they were, and
// the packets of each (both directions, all rows of the flow).
func zeekConns(t *testing.T, path string) (inner, plain map[flowKey]bool, pkts map[flowKey]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inner, plain, pkts = map[flowKey]bool{}, map[flowKey]bool{}, map[flowKey]int{}
	col := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			for i, name := range strings.Split(rest, "\t") {
				col[name] = i
			}
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		v := strings.Split(line, "\t")
		proto := v[col["proto"]]
		if proto != "tcp" && proto != "udp" {
			continue
		}
		ap := func(h, p string) netip.AddrPort {
			n, err := strconv.ParseUint(v[col[p]], 10, 16)
			if err != nil {
				t.Fatalf("%s: port %q: %v", path, v[col[p]], err)
			}
			return netip.AddrPortFrom(netip.MustParseAddr(v[col[h]]), uint16(n))
		}
		k := keyOf(proto, ap("id.orig_h", "id.orig_p"), ap("id.resp_h", "id.resp_p"))
		for _, c := range []string{"orig_pkts", "resp_pkts"} {
			n, err := strconv.Atoi(v[col[c]])
			if err != nil {
				t.Fatalf("%s: %s %q: %v", path, c, v[col[c]], err)
			}
			pkts[k] += n
		}
		if i, ok := col["tunnel_parents"]; ok && v[i] != "-" && v[i] != "(empty)" {
			inner[k] = true
		} else {
			plain[k] = true
		}
	}
	if len(col) == 0 {
		t.Fatalf("%s: no #fields line", path)
	}
	return inner, plain, pkts
}

// decodedFlows reads a capture with fwdiag's reader: the TCP and UDP flows
// of its packets, by the tunnel each came in (EncapNone: as they were), the
// outer flows of the tunnelled ones (by gopacket, from the same frame), and
// the input's description.
type decodedFlows struct {
	flows    map[flowKey]map[Encap]int // packets per flow and tunnel
	carriers map[flowKey]bool          // outer UDP flows of tunnelled packets (any protocol inside)
	packets  int
	portless int // UDP or TCP packets without ports: later IP fragments
	info     *InputInfo
}

func decodeTrace(t *testing.T, path string) *decodedFlows {
	t.Helper()
	raw := rawFrames(t, path)
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &decodedFlows{flows: map[flowKey]map[Encap]int{}, carriers: map[flowKey]bool{}}
	var p Packet
	for {
		err := s.Next(&p)
		if err == io.EOF {
			break
		}
		var fe *FrameError
		if errors.As(err, &fe) && !fe.Fatal {
			t.Logf("%s: %v", filepath.Base(path), fe)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		r.packets++
		if p.Tunnel != EncapNone && raw != nil {
			if c, ok := outerUDP(raw[p.Frame-1]); ok {
				r.carriers[c] = true
			}
		}
		var proto string
		switch p.Proto {
		case ProtoTCP:
			proto = "tcp"
		case ProtoUDP:
			proto = "udp"
		default:
			continue
		}
		if p.SrcPort == 0 && p.DstPort == 0 && p.Fragment {
			r.portless++
			continue
		}
		k := keyOf(proto, netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
		if r.flows[k] == nil {
			r.flows[k] = map[Encap]int{}
		}
		r.flows[k][p.Tunnel]++
	}
	r.info = s.Inputs()[0]
	return r
}

// rawFrames returns the frames of a pcap file as gopacket's pcapgo reads
// them (nil for pcapng).
func rawFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapgo.NewReader(f)
	if err != nil {
		return nil
	}
	var out [][]byte
	for {
		data, _, err := rd.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, data)
	}
}

// outerUDP is the UDP flow of an Ethernet frame's first IP packet, by
// gopacket; false when that packet is not UDP.
func outerUDP(frame []byte) (flowKey, bool) {
	pk := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.NoCopy)
	var src, dst netip.Addr
	ls := pk.Layers()
	for i, l := range ls {
		switch l := l.(type) {
		case *layers.IPv4:
			src, _ = netip.AddrFromSlice(l.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(l.DstIP.To4())
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(l.SrcIP)
			dst, _ = netip.AddrFromSlice(l.DstIP)
		default:
			continue
		}
		if u, ok := layerAt(ls, i+1).(*layers.UDP); ok {
			return keyOf("udp", netip.AddrPortFrom(src, uint16(u.SrcPort)), netip.AddrPortFrom(dst, uint16(u.DstPort))), true
		}
		return flowKey{}, false
	}
	return flowKey{}, false
}

func layerAt(ls []gopacket.Layer, i int) gopacket.Layer {
	if i < len(ls) {
		return ls[i]
	}
	return nil
}

func sortedKeys[V any](m map[flowKey]V) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

// TestZeekTunnels decodes Zeek's traces of traffic in tunnels and labels
// and holds the TCP and UDP flows found to Zeek's conn.log for each: the
// flows Zeek saw inside a tunnel are exactly those fwdiag decodes inside
// one, with the encapsulation named; every other flow fwdiag decodes is in
// the log too, and every other flow of the log is one fwdiag decodes or
// the outer flow of a tunnel it decoded. No frame is left undecoded unless
// the case says so.
func TestZeekTunnels(t *testing.T) {
	dir := zeekDir(t)
	cases := []struct {
		id    string
		encap Encap // the encapsulation the trace's inner flows are in
		// zeekTunnel: Zeek counts the encapsulation as a tunnel
		// (tunnel_parents); MPLS, PBB and VN-Tag it decodes as a link
		// layer.
		zeekTunnel bool
		undecoded  map[Undecoded]uint64
		portless   int // later fragments of outer packets: no ports to read
		// extra is how many more packets fwdiag decodes in the flows
		// than Zeek counts (orig_pkts + resp_pkts).
		extra int
	}{
		{id: "c04", encap: EncapMPLS}, // mpls-in-vlan
		{id: "c05", encap: EncapPBB},  // pbb
		{id: "c07", encap: EncapMPLS}, // mixed-vlan-mpls
		// Zeek logs the trace's one packet, a SYN-ACK, with 0 packets.
		{id: "c08", encap: EncapVNTag, extra: 1}, // vntag_vlan_sandwich_clean
		{id: "c20", encap: EncapVXLAN, zeekTunnel: true},
		{id: "c21", encap: EncapAYIYA, zeekTunnel: true},
		{id: "c22", encap: EncapGeneve, zeekTunnel: true},
		{id: "c23", encap: EncapGeneve, zeekTunnel: true},
		{id: "c24", encap: EncapGRE, zeekTunnel: true}, // Aruba's, 802.11 A-MSDU inside
		{id: "c25", encap: EncapGREUDP, zeekTunnel: true},
		{id: "c26", encap: EncapGRE, zeekTunnel: true},
		{id: "c27", encap: EncapGTPU, zeekTunnel: true, portless: 42},
		{id: "c28", encap: EncapGTPU, zeekTunnel: true},
		// 4 outer packets have their first fragment in the capture and
		// not the rest: Zeek, reassembling, never sees them; fwdiag reads
		// the inner headers in the first fragment.
		{id: "c29", encap: EncapGTPU, zeekTunnel: true, portless: 36, extra: 4},
		{id: "c30", encap: EncapTeredo, zeekTunnel: true},
		{id: "c31", encap: EncapTeredo, zeekTunnel: true},
	}
	for _, tc := range cases {
		trace, connLog := zeekCase(t, dir, tc.id)
		t.Run(tc.id+"_"+strings.TrimSuffix(filepath.Base(trace), filepath.Ext(trace)), func(t *testing.T) {
			zInner, zPlain, zPkts := zeekConns(t, connLog)
			got := decodeTrace(t, trace)
			ours := map[flowKey]bool{}  // flows in the case's encapsulation
			plain := map[flowKey]bool{} // flows as they were
			for k, by := range got.flows {
				for e := range by {
					switch e {
					case EncapNone:
						plain[k] = true
					case tc.encap:
						ours[k] = true
					default:
						t.Errorf("%v: in %v; want %v or none", k, e, tc.encap)
					}
				}
			}
			if len(ours) == 0 {
				t.Fatalf("no flow decoded inside %v", tc.encap)
			}
			if !tc.zeekTunnel {
				// Zeek logs every flow as it was: the encapsulated and
				// the plain ones together must be its log.
				for k := range plain {
					ours[k] = true
				}
				zInner, zPlain, plain = zPlain, map[flowKey]bool{}, map[flowKey]bool{}
			}
			matched, extra := 0, 0
			var counts []string
			for k := range zInner {
				if ours[k] {
					matched++
					n := got.flows[k][tc.encap] + got.flows[k][EncapNone]
					extra += n - zPkts[k]
					counts = append(counts, k.String()+": "+strconv.Itoa(n)+" packets, Zeek "+strconv.Itoa(zPkts[k]))
				} else {
					t.Errorf("Zeek's inner flow %v: not decoded inside %v", k, tc.encap)
				}
			}
			if extra != tc.extra {
				t.Errorf("%d more packets than Zeek counts; want %d\n%s", extra, tc.extra, strings.Join(counts, "\n"))
			}
			for k := range ours {
				if !zInner[k] {
					t.Errorf("%v decoded inside %v: not one of Zeek's inner flows %v", k, tc.encap, sortedKeys(zInner))
				}
			}
			for k := range plain {
				if !zPlain[k] {
					t.Errorf("%v decoded as it was: not in Zeek's log", k)
				}
			}
			for k := range zPlain {
				if !plain[k] && !got.carriers[k] {
					t.Errorf("Zeek's flow %v: neither decoded nor the outer flow of a decoded tunnel", k)
				}
			}
			if len(got.info.Undecoded) != len(tc.undecoded) {
				t.Errorf("undecoded %v; want %v", got.info.Undecoded, tc.undecoded)
			}
			for u, n := range tc.undecoded {
				if got.info.Undecoded[u] != n {
					t.Errorf("undecoded %v; want %v", got.info.Undecoded, tc.undecoded)
				}
			}
			if got.portless != tc.portless {
				t.Errorf("%d packets without ports; want %d", got.portless, tc.portless)
			}
			t.Logf("%d frames, %d packets: %d/%d inner flows as Zeek's (%v), %d plain, %d outer; undecoded %v",
				got.info.Packets, got.packets, matched, len(zInner), tc.encap, len(plain), len(got.carriers), got.info.Undecoded)
		})
	}
}
