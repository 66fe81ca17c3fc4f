// Package pcaptest reads and writes the small pcap files tests build from
// the lab captures (a capture carried in a tunnel, a run of frames fwdiag
// must not decode), with gopacket's pcapgo as the independent writer and
// reader: one copy of the open/header/loop/check code the tests of
// evidence and pcaps each wrote; and writes synthetic captures for them
// (Synth). It is for tests only.
package pcaptest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/fwdiag/fwdiag/pcaps/synth"
)

// Frame is one captured frame: its capture info and bytes.
type Frame struct {
	CI   gopacket.CaptureInfo
	Data []byte
}

// Read returns the frames of the pcap file at path and its link type.
func Read(t testing.TB, path string) ([]Frame, layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []Frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, r.LinkType()
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, Frame{ci, data})
	}
}

// Write writes frames to a pcap file at path with the given link type.
// A frame whose CaptureInfo has no lengths gets those of its bytes.
func Write(t testing.TB, path string, link layers.LinkType, frames []Frame) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(262144, link); err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		if fr.CI.CaptureLength == 0 && fr.CI.Length == 0 {
			fr.CI.CaptureLength, fr.CI.Length = len(fr.Data), len(fr.Data)
		}
		if err := w.WritePacket(fr.CI, fr.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Serialize builds a frame from layers, lengths and checksums computed.
func Serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Synth writes the pcaps/synth scenario with options o to a pcap file in
// the test's temporary directory and returns its path: a capture of a
// shape the lab cannot record (an hour's worth, a scanner's sweep).
func Synth(t testing.TB, scenario string, o synth.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), scenario+".pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Generate(f, scenario, "pcap", o); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
