package dissect

import (
	"reflect"
	"testing"
)

// TestPacketLayout: the fields the flow engine reads of every packet lie in
// the first three cache lines of a Packet, and the rarely read after them
// (Packet's doc comment says why): a field added or moved among the hot
// ones that pushes one past the third line fails here.
func TestPacketLayout(t *testing.T) {
	hot := []string{"Time", "Frame", "Input", "Interface", "PacketID", "IfIndex", "IPVersion", "Proto", "TCPFlags", "TTL",
		"Src", "Dst", "SrcPort", "DstPort", "Seq", "Ack", "Window", "MSS", "PayloadLen", "Payload", "DNS",
		"IPID", "WScale", "Truncated", "Outgoing", "Fragment", "Dropped", "HasQuoted"}
	const lines = 3 * 64
	ty := reflect.TypeOf(Packet{})
	for _, name := range hot {
		f, ok := ty.FieldByName(name)
		if !ok {
			t.Errorf("Packet has no field %s", name)
			continue
		}
		if end := f.Offset + f.Type.Size(); end > lines {
			t.Errorf("Packet.%s ends at byte %d, past the first %d bytes the flow engine reads", name, end, lines)
		}
	}
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		isHot := false
		for _, h := range hot {
			isHot = isHot || h == f.Name
		}
		if !isHot && f.Offset < lines && f.Type.Size() > 8 {
			t.Errorf("Packet.%s (%d bytes, rarely read) lies among the hot fields at byte %d", f.Name, f.Type.Size(), f.Offset)
		}
	}
}
