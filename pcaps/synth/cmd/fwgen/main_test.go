package main

import (
	"bytes"
	"testing"
)

func TestUDPFloodFlag(t *testing.T) {
	var a, b, errb bytes.Buffer
	base := []string{"-scenario", "volume", "-packets", "0", "-duration", "1m", "-k2-clients", "5", "-sw-clients", "5", "-flows", "10", "-o", "-"}
	if run(base, &a, &errb) != 0 || run(append(base, "-udp-flood", "1000"), &b, &errb) != 0 {
		t.Fatalf("fwgen failed: %s", errb.String())
	}
	// Each flood datagram: 14 + 20 + 8 + payload bytes, plus a 16-byte record header.
	if b.Len() <= a.Len()+1000*58 {
		t.Errorf("-udp-flood 1000 adds %d bytes: want 1000 datagrams", b.Len()-a.Len())
	}
}
