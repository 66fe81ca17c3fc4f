package dissect

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestPcapgoReasons checks the reasons open.go gives for not reading files
// with gopacket's pcapgo, against the pcapgo in go.mod. When one of these
// fails, pcapgo has changed: update the comment in open.go.
func TestPcapgoReasons(t *testing.T) {
	fr := frameMix()[0].data
	const id = 0x0102030405060708

	t.Run("packet_id_byte_order", func(t *testing.T) {
		for _, be := range []bool{false, true} {
			var f ngFile
			f.shb(be).idb(LinkEthernet, 262144, 0).epb(0, 1, fr, len(fr), id)
			r, err := pcapgo.NewNgReader(bytes.NewReader(f.b), pcapgo.DefaultNgReaderOptions)
			if err != nil {
				t.Fatal(err)
			}
			_, _, opts, err := r.ZeroCopyReadPacketDataWithOptions()
			if err != nil || opts.PacketID == nil || opts.Flags == nil {
				t.Fatalf("big-endian %v: pcapgo: err %v, packet id %v, flags %v", be, err, opts.PacketID, opts.Flags)
			}
			// pcapgo reads the options little-endian whatever the section.
			wantID, wantDir := uint64(id), pcapgo.NgEpbFlagDirectionInbound
			if be {
				wantID, wantDir = 0x0807060504030201, pcapgo.NgEpbFlagDirectionUnknown
			}
			if *opts.PacketID != wantID || opts.Flags.Direction != wantDir {
				t.Errorf("big-endian %v: pcapgo packet id %#x, direction %v; open.go says %#x, %v",
					be, *opts.PacketID, opts.Flags.Direction, wantID, wantDir)
			}
			var p Packet
			if err := mustReader(t, f.b).Next(&p); err != nil || p.PacketID != id {
				t.Errorf("big-endian %v: own reader: packet id %#x, %v; want %#x", be, p.PacketID, err, uint64(id))
			}
		}
	})

	t.Run("option_allocations", func(t *testing.T) {
		// Every EPB of bigCapture has epb_flags and epb_packetid; the
		// options are decoded even for ZeroCopyReadPacketData.
		r, err := pcapgo.NewNgReader(bytes.NewReader(bigCapture(t, true, 2000)), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(1000, func() { r.ZeroCopyReadPacketData() }); n != 2 {
			t.Errorf("pcapgo: %v allocations per packet with two options; open.go says 2", n)
		}
	})

	t.Run("cut_record", func(t *testing.T) {
		cut := pcapBytes(false, false, 65535, LinkEthernet, rec{ts: t0, data: fr})
		cut = cut[:len(cut)-10]
		r, err := pcapgo.NewReader(bytes.NewReader(cut))
		if err != nil {
			t.Fatal(err)
		}
		data, _, err := r.ZeroCopyReadPacketData()
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(data) != len(fr) {
			t.Errorf("pcapgo on a cut record: %d bytes, %v; open.go says a full-length slice and io.ErrUnexpectedEOF", len(data), err)
		}
	})

	t.Run("damaged_record_desyncs", func(t *testing.T) {
		// A packet for an undeclared interface, then a good one.
		var f ngFile
		f.shb(false).idb(LinkEthernet, 262144, 0).epb(3, 1, fr, len(fr), 0).epb(0, 2, fr, len(fr), 0)
		// A record whose captured length exceeds its original length,
		// then a good one.
		pc := pcapBytes(false, false, 65535, LinkEthernet, rec{ts: t0, data: fr, origLen: 10}, rec{ts: t0, data: fr})
		for _, c := range []struct {
			name string
			next func() ([]byte, error)
		}{
			{"pcapng", func() func() ([]byte, error) {
				r, err := pcapgo.NewNgReader(bytes.NewReader(f.b), pcapgo.DefaultNgReaderOptions)
				if err != nil {
					t.Fatal(err)
				}
				return func() ([]byte, error) { d, _, err := r.ZeroCopyReadPacketData(); return d, err }
			}()},
			{"pcap", func() func() ([]byte, error) {
				r, err := pcapgo.NewReader(bytes.NewReader(pc))
				if err != nil {
					t.Fatal(err)
				}
				return func() ([]byte, error) { d, _, err := r.ZeroCopyReadPacketData(); return d, err }
			}()},
		} {
			if _, err := c.next(); err == nil {
				t.Errorf("%s: pcapgo accepted the damaged record", c.name)
			}
			for range 3 {
				if d, err := c.next(); err == nil && bytes.Equal(d, fr) {
					t.Errorf("%s: pcapgo found the good record after the damaged one; open.go says it loses its place", c.name)
				}
			}
		}
		if pkts, _ := readAll(t, mustReader(t, f.b)); len(pkts) != 1 {
			t.Errorf("own pcapng reader: %d packets after the damaged record; want 1", len(pkts))
		}
		if pkts, _ := readAll(t, mustReader(t, pc)); len(pkts) != 2 {
			t.Errorf("own pcap reader: %d packets; want 2", len(pkts))
		}
	})

	t.Run("modified_pcap", func(t *testing.T) {
		// Kuznetzov's modified pcap: its own magic, and 8 more bytes
		// (ifindex, protocol, packet type, pad) in each record header.
		b := pcapBytes(false, false, 65535, LinkEthernet, rec{ts: t0, data: fr})
		mod := append(append(append([]byte{}, b[:24+16]...), 2, 0, 0, 0, 0, 8, 0, 0), fr...)
		copy(mod, []byte{0x34, 0xcd, 0xb2, 0xa1}) // 0xA1B2CD34 little-endian
		if _, err := pcapgo.NewReader(bytes.NewReader(mod)); err == nil {
			t.Error("pcapgo opened a modified pcap file; open.go says it does not")
		}
		s, err := NewReader(bytes.NewReader(mod), "mod.pcap", 0)
		if err != nil {
			t.Fatalf("own reader: %v", err)
		}
		if pkts, errs := readAll(t, s); len(pkts) != 1 || len(errs) != 0 || pkts[0].SrcPort != 40000 {
			t.Errorf("own reader: %d packets, errors %v; want the SYN from port 40000", len(pkts), errs)
		}
	})
}

// BenchmarkReadPcapgo reads the files of BenchmarkReadPcap and
// BenchmarkReadPcapng with pcapgo's zero-copy reads and decodes each frame
// with Decode, as the readers here do, the pcapng one taking the link type
// per interface and the packet id as they do.
func BenchmarkReadPcapgo(b *testing.B) {
	b.Run("pcap", func(b *testing.B) {
		data := bigCapture(b, false, 100_000)
		rd := bytes.NewReader(data)
		open := func() *pcapgo.Reader {
			rd.Reset(data)
			r, err := pcapgo.NewReader(rd)
			if err != nil {
				b.Fatal(err)
			}
			return r
		}
		r := open()
		d := NewDecoder(int(r.LinkType()))
		var p Packet
		b.SetBytes(int64(len(data) / 100_000))
		b.ReportAllocs()
		for b.Loop() {
			fr, ci, err := r.ZeroCopyReadPacketData()
			if err != nil {
				r = open()
				continue
			}
			d.Decode(fr, ci.Timestamp, ci.CaptureLength, ci.Length, &p)
		}
	})
	b.Run("pcapng", func(b *testing.B) {
		data := bigCapture(b, true, 100_000)
		rd := bytes.NewReader(data)
		open := func() *pcapgo.NgReader {
			rd.Reset(data)
			r, err := pcapgo.NewNgReader(rd, pcapgo.NgReaderOptions{WantMixedLinkType: true})
			if err != nil {
				b.Fatal(err)
			}
			return r
		}
		r := open()
		var d Decoder
		var p Packet
		b.SetBytes(int64(len(data) / 100_000))
		b.ReportAllocs()
		for b.Loop() {
			fr, ci, opts, err := r.ZeroCopyReadPacketDataWithOptions()
			if err != nil {
				r = open()
				continue
			}
			p.Interface, p.PacketID = ci.InterfaceIndex, 0
			if opts.PacketID != nil {
				p.PacketID = *opts.PacketID
			}
			d.decode(int(ci.AncillaryData[0].(layers.LinkType)), fr, ci.Timestamp, ci.CaptureLength, ci.Length, &p)
		}
	})
}
