package dissect

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// find returns the first packet matching ok, or fails.
func find(t *testing.T, pkts []Packet, what string, ok func(p *Packet) bool) *Packet {
	t.Helper()
	for i := range pkts {
		if ok(&pkts[i]) {
			return &pkts[i]
		}
	}
	t.Fatalf("got no %s; want one", what)
	return nil
}

func TestReadRealCaptures(t *testing.T) {
	tests := []struct {
		file      string
		format    string
		linkTypes string
		packets   uint64
		drops     int64
		lab       bool // holds the full namespace lab traffic
	}{
		{"eth.pcap", "pcap", "ethernet", 59, -1, true},
		{"eth_nano.pcap", "pcap", "ethernet", 59, -1, true},
		{"eth.pcapng", "pcapng", "ethernet", 59, -1, true},
		{"eth_pcapng.gzipped", "pcapng+gzip", "ethernet", 59, -1, true},
		{"dumpcap.pcapng", "pcapng", "ethernet", 59, 0, true},
		{"multi.pcapng", "pcapng", "ethernet,linux_sll2", 118, -1, true},
		{"sll2.pcap", "pcap", "linux_sll2", 59, -1, true},
		{"sll2.pcap.gz", "pcap+gzip", "linux_sll2", 59, -1, true},
		{"sll.pcap", "pcap", "linux_sll", 59, -1, true},
		{"vlan.pcap", "pcap", "ethernet", 59, -1, true},
		{"qinq.pcap", "pcap", "ethernet", 59, -1, true},
		{"raw.pcap", "pcap", "raw", 5, -1, false},
		{"null.pcap", "pcap", "null", 20, -1, false},
		{"loop.pcap", "pcap", "loop", 35, -1, false},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer(".", "_").Replace(tt.file), func(t *testing.T) {
			s, err := Open(filepath.Join("testdata", tt.file), 2)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pkts, errs := readAll(t, s)
			if len(errs) > 0 {
				t.Errorf("got errors %v; want none", errs)
			}
			in := s.Inputs()[0]
			if in.Format != tt.format || strings.Join(in.LinkTypes, ",") != tt.linkTypes ||
				in.Packets != tt.packets || uint64(len(pkts)) != tt.packets || in.Drops != tt.drops {
				t.Errorf("got %s %v %d/%d packets drops %d; want %s %s %d drops %d",
					in.Format, in.LinkTypes, in.Packets, len(pkts), in.Drops, tt.format, tt.linkTypes, tt.packets, tt.drops)
			}
			for i, p := range pkts {
				if p.Input != 2 || (tt.file != "multi.pcapng" && p.Frame != uint64(i+1)) {
					t.Fatalf("packet %d: got input %d frame %d; want 2 %d", i, p.Input, p.Frame, i+1)
				}
			}
			if !in.First.Equal(pkts[0].Time) || !in.Last.Equal(pkts[len(pkts)-1].Time) {
				t.Errorf("got first %v last %v; want %v %v", in.First, in.Last, pkts[0].Time, pkts[len(pkts)-1].Time)
			}
			if tt.lab {
				checkLab(t, pkts)
			}
		})
	}
}

// checkLab checks the packets make.sh's client produced.
func checkLab(t *testing.T, pkts []Packet) {
	c4, s4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	c6, s6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for _, v := range []struct{ c, s netip.Addr }{{c4, s4}, {c6, s6}} {
		syn := find(t, pkts, "SYN to 5001", func(p *Packet) bool { return p.Dst == v.s && p.DstPort == 5001 && p.TCPFlags == FlagSYN })
		if syn.Src != v.c || syn.MSS == 0 || syn.WScale != 10 {
			t.Errorf("SYN: got %v mss %d ws %d; want %v mss>0 ws 10", syn.Src, syn.MSS, syn.WScale, v.c)
		}
		greet := find(t, pkts, "greeting", func(p *Packet) bool { return p.Src == v.s && p.SrcPort == 5001 && p.PayloadLen > 0 })
		if greet.PayloadLen != 19 || greet.Ack != syn.Seq+1 {
			t.Errorf("greeting: got len %d ack %d; want 19 %d", greet.PayloadLen, greet.Ack, syn.Seq+1)
		}
		rst := find(t, pkts, "RST from 5002", func(p *Packet) bool { return p.Src == v.s && p.SrcPort == 5002 })
		if !rst.HasFlag(FlagRST | FlagACK) {
			t.Errorf("RST: got flags %02x; want RST|ACK", rst.TCPFlags)
		}
		rejSyn := find(t, pkts, "SYN to 5003", func(p *Packet) bool { return p.Dst == v.s && p.DstPort == 5003 })
		rej := find(t, pkts, "ICMP reject", func(p *Packet) bool { return p.HasQuoted && p.Quoted.DstPort == 5003 && p.Quoted.Dst == v.s })
		wantCode := uint8(13) // admin-prohibited
		if v.s.Is6() {
			wantCode = 1
		}
		q := Quoted{IPVersion: syn.IPVersion, Src: v.c, Dst: v.s, Proto: ProtoTCP, SrcPort: rejSyn.SrcPort, DstPort: 5003, Seq: rejSyn.Seq, IPID: rejSyn.IPID}
		if rej.Quoted != q || rej.ICMPCode != wantCode || !rej.IsICMPError() {
			t.Errorf("reject: got %+v code %d; want %+v code %d", rej.Quoted, rej.ICMPCode, q, wantCode)
		}
		unr := find(t, pkts, "port unreachable", func(p *Packet) bool { return p.HasQuoted && p.Quoted.Proto == ProtoUDP && p.Quoted.Dst == v.s })
		if unr.Quoted.DstPort != 19283 {
			t.Errorf("port unreachable: got port %d; want 19283", unr.Quoted.DstPort)
		}
	}
	var dns []DNSAnswer
	for _, p := range pkts {
		dns = append(dns, p.DNS...)
	}
	want := map[DNSAnswer]bool{
		{"prs.sassafras.com", netip.MustParseAddr("203.0.113.5")}:   true,
		{"prs.sassafras.com", netip.MustParseAddr("2001:db8::5")}:   true,
		{"www.sassafras.com", netip.MustParseAddr("198.51.100.80")}: true,
		{"www.sassafras.com", netip.MustParseAddr("198.51.100.81")}: true,
	}
	for _, a := range dns {
		if !want[a] {
			t.Errorf("got DNS answer %v; want one of %v", a, want)
		}
	}
	if len(dns) < len(want) {
		t.Errorf("got %d DNS answers; want at least %d", len(dns), len(want))
	}
}

func TestReadRawTunShortQuote(t *testing.T) {
	s, err := Open("testdata/raw.pcap", 0)
	if err != nil {
		t.Fatal(err)
	}
	pkts, _ := readAll(t, s)
	syn := find(t, pkts, "SYN", func(p *Packet) bool { return p.IPVersion == 4 && p.TCPFlags == FlagSYN })
	icmp := find(t, pkts, "ICMP", func(p *Packet) bool { return p.HasQuoted })
	if icmp.ICMPCode != 10 || icmp.Quoted.Seq != syn.Seq || icmp.Quoted.SrcPort != syn.SrcPort || icmp.Quoted.IPID != syn.IPID {
		t.Errorf("got code %d %+v; want 10 quoting seq %d port %d id %d", icmp.ICMPCode, icmp.Quoted, syn.Seq, syn.SrcPort, syn.IPID)
	}
}

func TestReadDamaged(t *testing.T) {
	eth, err := readFileBytes("testdata/eth.pcap")
	if err != nil {
		t.Fatal(err)
	}
	frame := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, []byte("hello"))))
	good := rec{ts: t0, data: frame}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	huge := pcapBytes(false, false, 65535, 1, good)
	huge = append(huge, pcapBytes(false, false, 65535, 1, rec{ts: t0, data: frame})[24:]...)
	copy(huge[24+16+len(frame)+8:], []byte{0xff, 0xff, 0xff, 0xff}) // caplen 4 GB
	tests := []struct {
		name     string
		data     []byte
		openErr  string // want Open to fail with this
		packets  int
		errs     []string // want these errors from Next, in order
		infoErrs int
	}{
		{"not_a_capture", []byte("GET / HTTP/1.1\r\n"), "not a pcap or pcapng file (magic 0x47455420)", 0, nil, 0},
		{"empty_file", nil, "not a pcap or pcapng file (only 0 bytes)", 0, nil, 0},
		{"short_header", eth[:20], "truncated pcap file header: 20 of 24 bytes", 0, nil, 0},
		{"zero_packets", eth[:24], "", 0, nil, 0},
		{"truncated_final_record", eth[:len(eth)-30], "", 58, []string{"frame 59: truncated record: 48 of 78 bytes"}, 1},
		{"truncated_record_header", pcapBytes(false, false, 65535, 1, good, good)[:24+16+len(frame)+5], "", 1, []string{"frame 2: truncated record header: 5 of 16 bytes"}, 1},
		{"absurd_length", huge, "", 1, []string{"frame 2: record length 4294967295 exceeds the maximum 262144"}, 1},
		{"snaplen_zero", pcapBytes(false, false, 0, 1, good, good), "", 2, nil, 0},
		{"over_snaplen_noted_once", pcapBytes(true, false, 40, 1, good, good, good), "", 3, nil, 1},
		{"gzip_cut_short", gz(eth)[:600], "", -1, []string{"gzip data cut short"}, 1},
		{"gzip_not_capture", gz([]byte("hello world")), "not a pcap or pcapng file (magic 0x68656c6c)", 0, nil, 0},
		{"unsupported_link_type", pcapBytes(false, true, 65535, 147, good, good, good), "", 0, []string{"frame 1: unsupported link type 147 (linktype_147): frames skipped"}, 1},
		{"time_backwards_kept_in_order", pcapBytes(false, false, 65535, 1, good, rec{ts: t0.Add(-time.Hour), data: frame}, good), "", 3, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := openBytes(t, tt.data)
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) || !strings.HasPrefix(err.Error(), "mem.pcap: ") {
					t.Fatalf("got %v; want error %q naming mem.pcap", err, tt.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v; want no error", err)
			}
			pkts, errs := readAll(t, s)
			if tt.packets >= 0 && len(pkts) != tt.packets {
				t.Errorf("got %d packets; want %d", len(pkts), tt.packets)
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("got errors %v; want %q", errs, tt.errs)
			}
			for i := range errs {
				if !strings.Contains(errs[i].Error(), tt.errs[i]) || !strings.HasPrefix(errs[i].Error(), "mem.pcap: ") {
					t.Errorf("got %q; want it to contain %q and name the file", errs[i], tt.errs[i])
				}
			}
			in := s.Inputs()[0]
			if len(in.Errors) != tt.infoErrs {
				t.Errorf("got InputInfo.Errors %v; want %d", in.Errors, tt.infoErrs)
			}
			if err := s.Next(&Packet{}); err != io.EOF {
				t.Errorf("after the end: got %v; want io.EOF", err)
			}
		})
	}
}

func TestReadNotesCount(t *testing.T) {
	frame := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	g := rec{ts: t0, data: frame}
	s, _ := openBytes(t, pcapBytes(false, false, 65535, 147, g, g, g))
	readAll(t, s)
	in := s.Inputs()[0]
	if len(in.Errors) != 1 || !strings.HasSuffix(in.Errors[0].Msg, "(3 frames)") || in.Packets != 3 {
		t.Errorf("got %v, %d packets; want one error ending (3 frames), 3 packets", in.Errors, in.Packets)
	}
}

func TestReadBigEndianNano(t *testing.T) {
	frame := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	ts := t0.Add(123456789 * time.Nanosecond)
	s, err := openBytes(t, pcapBytes(true, true, 65535, 1, rec{ts: ts, data: frame[:30], origLen: len(frame)}))
	if err != nil {
		t.Fatal(err)
	}
	pkts, errs := readAll(t, s)
	if len(pkts) != 1 || len(errs) != 0 || !pkts[0].Time.Equal(ts) || !pkts[0].Truncated || s.Inputs()[0].Truncated != 1 {
		t.Fatalf("got %v %v; want one truncated packet at %v", pkts, errs, ts)
	}
}

func TestReadPcapng(t *testing.T) {
	f1 := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	f2 := ipv6h(addrC6, addrS6, ProtoUDP, nil, udph(3, 4, nil))
	var ng ngFile
	ng.shb(false).idb(LinkEthernet, 0, 0).idb(LinkRaw, 0, 9). // second interface: nanoseconds
									epb(0, 1_000_000, f1, len(f1), 7).
									block(0x0BAD, []byte{1, 2, 3, 4}). // unknown block: skipped
									epb(1, 2_000_000_001, f2, len(f2), 7).
									idb(147, 0, 0).
									epb(2, 3, f1, len(f1), 0). // unsupported link type
									isb(0, 5).isb(1, 2).isb(0, 6).
									shb(true).idb(LinkRaw, 64, 0). // new section, other byte order
									epb(0, 4_000_000, f2, len(f2)+10, 0).
									spb(f2)
	s, err := openBytes(t, ng.b)
	if err != nil {
		t.Fatal(err)
	}
	pkts, errs := readAll(t, s)
	in := s.Inputs()[0]
	if len(pkts) != 4 || len(errs) != 1 || in.Packets != 5 {
		t.Fatalf("got %d packets %v errors, %d counted; want 4, 1 (link type 147), 5", len(pkts), errs, in.Packets)
	}
	want := []struct {
		frame   uint64
		iface   int
		id      uint64
		time    time.Time
		srcPort uint16
	}{
		{1, 0, 7, time.Unix(1, 0).UTC(), 1},
		{2, 1, 7, time.Unix(2, 1).UTC(), 3},
		{4, 3, 0, time.Unix(4, 0).UTC(), 3},
		{5, 3, 0, time.Unix(4, 0).UTC(), 3},
	}
	for i, w := range want {
		p := pkts[i]
		if p.Frame != w.frame || p.Interface != w.iface || p.PacketID != w.id || !p.Time.Equal(w.time) || p.SrcPort != w.srcPort {
			t.Errorf("packet %d: got frame %d if %d id %d %v port %d; want %+v", i, p.Frame, p.Interface, p.PacketID, p.Time, p.SrcPort, w)
		}
	}
	if !pkts[2].Truncated || in.Drops != 8 || strings.Join(in.LinkTypes, ",") != "ethernet,raw,linktype_147" {
		t.Errorf("got truncated %v drops %d link types %v; want true 8 ethernet,raw,linktype_147", pkts[2].Truncated, in.Drops, in.LinkTypes)
	}
}

func TestReadPcapngDamaged(t *testing.T) {
	f1 := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	var ng ngFile
	ng.shb(false).idb(LinkEthernet, 0, 0).epb(0, 1, f1, len(f1), 0).epb(0, 2, f1, len(f1), 0)
	full := ng.b
	bad := append([]byte{}, full...)
	copy(bad[len(full)-(len(full)-len(full)/2):], []byte{6, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	var undeclared ngFile
	undeclared.shb(false).epb(3, 1, f1, len(f1), 0)
	tests := []struct {
		name    string
		data    []byte
		packets int
		err     string
	}{
		{"cut_block", full[:len(full)-10], 1, "frame 2: truncated record"},
		{"cut_block_header", full[:len(full)-(12+20+pad4(len(f1)))+6], 1, "frame 2: truncated block header: 6 of 8 bytes"},
		{"undeclared_interface", undeclared.b, 0, "frame 1: packet for undeclared interface 3"},
		{"bad_block_length", func() []byte {
			b := append([]byte{}, full...)
			n := len(b) - (12 + 20 + pad4(len(f1)))
			copy(b[n+4:], []byte{0xff, 0xff, 0xff, 0xf0})
			return b
		}(), 1, "frame 2: bad block length 4043309055"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := openBytes(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			pkts, errs := readAll(t, s)
			if len(pkts) != tt.packets || len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.err) {
				t.Errorf("got %d packets, errors %v; want %d, %q", len(pkts), errs, tt.packets, tt.err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	frame := func(port uint16) []byte {
		return ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(port, 2, nil)))
	}
	a := pcapBytes(false, false, 65535, 1, rec{ts: t0, data: frame(1)}, rec{ts: t0.Add(2 * time.Second), data: frame(2)}, rec{ts: t0.Add(3 * time.Second), data: frame(3)})
	b := pcapBytes(false, false, 65535, 1, rec{ts: t0, data: frame(11)}, rec{ts: t0.Add(time.Second), data: frame(12)})
	sa, _ := NewReader(bytes.NewReader(a), "a.pcap", 0)
	sb, _ := NewReader(bytes.NewReader(b[:len(b)-5]), "b.pcap", 1)
	m := Merge([]Source{sa, sb})
	var got []string
	var errs []error
	for {
		var p Packet
		err := m.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, itoa(uint64(p.Input))+"/"+itoa(p.Frame)+":"+itoa(uint64(p.SrcPort)))
	}
	want := "0/1:1 1/1:11 0/2:2 0/3:3"
	if strings.Join(got, " ") != want || len(errs) != 1 {
		t.Errorf("got %v, errors %v; want %s and one truncated record", got, errs, want)
	}
	in := m.Inputs()
	if len(in) != 2 || in[0].Path != "a.pcap" || in[1].Path != "b.pcap" || len(in[1].Errors) != 1 {
		t.Errorf("got inputs %v; want a.pcap, b.pcap with one error", in)
	}
}

// TestReadPcapngTimeOutOfRange: a 64-bit timestamp beyond what a
// time.Duration and JSON can hold (editcap -t 300000000000 makes year 11533)
// is a damaged frame, noted once, and never reaches the packets or the
// input's first/last times.
func TestReadPcapngTimeOutOfRange(t *testing.T) {
	f1 := ether(etherIPv4, ipv4h(addrC, addrS, ProtoUDP, 1, 0, nil, udph(1, 2, nil)))
	var ng ngFile
	ng.shb(false).idb(LinkEthernet, 0, 0).
		epb(0, 1_000_000, f1, len(f1), 0).
		epb(0, 300_000_000_000*1_000_000, f1, len(f1), 0). // year 11476
		epb(0, 1<<63, f1, len(f1), 0).                     // sec overflows int64 nanoseconds
		epb(0, 2_000_000, f1, len(f1), 0).
		idb(LinkEthernet, 0, 0x80). // units of one second
		epb(1, 1<<63, f1, len(f1), 0)
	s, err := openBytes(t, ng.b)
	if err != nil {
		t.Fatal(err)
	}
	pkts, errs := readAll(t, s)
	in := s.Inputs()[0]
	if len(pkts) != 2 || pkts[0].Frame != 1 || pkts[1].Frame != 4 || in.Packets != 5 {
		t.Fatalf("got %d packets (%v), %d counted; want frames 1 and 4 of 5", len(pkts), pkts, in.Packets)
	}
	if len(errs) != 1 || len(in.Errors) != 1 || !strings.Contains(in.Errors[0].Error(), "mem.pcap: frame 2: timestamp 11476-") ||
		!strings.HasSuffix(in.Errors[0].Msg, "out of range (1678 to 2262): frames skipped (3 frames)") {
		t.Errorf("got errors %v / %v; want one for frame 2 counting 3 frames", errs, in.Errors)
	}
	if !in.First.Equal(time.Unix(1, 0)) || !in.Last.Equal(time.Unix(2, 0)) {
		t.Errorf("got first %v last %v; want 1 s and 2 s", in.First, in.Last)
	}
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, 0)
	if err == nil || err.Error() != dir+": is a directory, not a capture file" {
		t.Errorf("got %v; want %q", err, dir+": is a directory, not a capture file")
	}
}

func readFileBytes(path string) ([]byte, error) { return os.ReadFile(path) }

// TestNextSetsEveryField: a Source fills every field of the packet it is
// given, so a caller may reuse packets without resetting them (the
// pipeline does): frames read into a packet full of an earlier frame's
// fields, and into packets of junk, equal frames read into fresh packets.
func TestNextSetsEveryField(t *testing.T) {
	junk := Packet{Input: 9, Frame: 9, Time: time.Unix(1, 1), CapLen: 9, OrigLen: 9, Truncated: true,
		Interface: 9, IfIndex: 9, Outgoing: true, PacketID: 9, IPVersion: 6,
		Src: netip.MustParseAddr("2001:db8::9"), Dst: netip.MustParseAddr("2001:db8::9"), TTL: 9, IPID: 9,
		Fragment: true, Proto: 9, SrcPort: 9, DstPort: 9, TCPFlags: 9, Seq: 9, Ack: 9, Window: 9, MSS: 9,
		WScale: 9, PayloadLen: 9, Payload: []byte{9}, ICMPType: 9, ICMPCode: 9, HasQuoted: true,
		Quoted: Quoted{IPVersion: 6, Proto: 9, SrcPort: 9, DstPort: 9, Seq: 9, IPID: 9}, DNS: []DNSAnswer{{Name: "junk"}}}
	for _, paths := range [][]string{
		{"testdata/eth.pcap"}, {"testdata/dumpcap.pcapng"}, {"testdata/eth.pcap", "testdata/eth.pcapng"},
		{"../pcaps/captures/mixed-rejects/client.pcap"}, {"../pcaps/captures/ipv6-rejects/client.pcap"},
	} {
		fresh, reused := openAll(t, paths), openAll(t, paths)
		var p, q Packet
		frames := 0
		for {
			p.Reset()
			err := fresh.Next(&p)
			if frames%2 == 0 {
				q = junk
			}
			errQ := reused.Next(&q)
			if err == io.EOF || errQ == io.EOF {
				if err != errQ {
					t.Fatalf("%v: one reader ended before the other", paths)
				}
				break
			}
			if err != nil {
				continue
			}
			frames++
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("%v frame %d: read into a used packet:\n%+v\nfresh:\n%+v", paths, p.Frame, q, p)
			}
		}
		if frames < 5 {
			t.Fatalf("%v: only %d frames compared", paths, frames)
		}
	}
}

func openAll(t *testing.T, paths []string) Source {
	t.Helper()
	var srcs []Source
	for i, p := range paths {
		s, err := Open(p, i)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srcs = append(srcs, s)
	}
	return Merge(srcs)
}
