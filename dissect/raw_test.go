package dissect

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestRawFrame checks that the readers give each frame as captured, under
// its frame number and with its interface's link type, as gopacket's
// readers read the same file.
func TestRawFrame(t *testing.T) {
	for _, name := range []string{"eth.pcap", "eth_nano.pcap", "sll2.pcap", "raw.pcap", "vlan.pcap", "eth.pcapng", "multi.pcapng", "dumpcap.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := "testdata/" + name
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			type frame struct {
				data []byte
				lt   layers.LinkType
			}
			var want []frame
			var read func() ([]byte, gopacket.CaptureInfo, error)
			var linkType func(ci gopacket.CaptureInfo) layers.LinkType
			if bytes.HasSuffix([]byte(name), []byte(".pcapng")) {
				r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
				if err != nil {
					t.Fatal(err)
				}
				read = r.ReadPacketData
				linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
					intf, _ := r.Interface(ci.InterfaceIndex)
					return intf.LinkType
				}
			} else {
				r, err := pcapgo.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				read = r.ReadPacketData
				linkType = func(gopacket.CaptureInfo) layers.LinkType { return r.LinkType() }
			}
			for {
				data, ci, err := read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, frame{data, linkType(ci)})
			}
			src, err := Open(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rf := src.(RawFramer)
			var p Packet
			n := 0
			for {
				err := src.Next(&p)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				raw := rf.RawFrame()
				if p.Frame < 1 || p.Frame > uint64(len(want)) {
					t.Fatalf("frame %d of %d", p.Frame, len(want))
				}
				w := want[p.Frame-1]
				if !bytes.Equal(raw.Data, w.data) || raw.LinkType != int(w.lt) || len(raw.Data) != p.CapLen {
					t.Errorf("frame %d: %d bytes link type %d, gopacket %d bytes link type %d", p.Frame, len(raw.Data), raw.LinkType, len(w.data), w.lt)
				}
			}
			if n == 0 || n != len(want) {
				t.Errorf("%d frames, gopacket read %d", n, len(want))
			}
		})
	}
}
