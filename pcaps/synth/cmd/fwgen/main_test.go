package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/pcaps/synth"
)

// TestBusySiteDefaults checks that -scenario busysite takes its own
// defaults for the flags it shares with volume, and the flags over them.
func TestBusySiteDefaults(t *testing.T) {
	for _, c := range []struct {
		args []string
		edit func(*synth.Options)
	}{
		{nil, func(*synth.Options) {}},
		{[]string{"-scanners", "5", "-flows", "1200", "-sw-clients", "10"}, func(o *synth.Options) { o.Scanners, o.Flows, o.SWClients = 5, 1200, 10 }},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"-scenario", "busysite", "-duration", "1m", "-scan-hosts", "3", "-o", "-"}, c.args...)
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("fwgen %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		o := synth.BusySiteOptions()
		o.Duration, o.ScanHosts = time.Minute, 3
		c.edit(&o)
		var want bytes.Buffer
		if _, err := synth.Generate(&want, "busysite", "pcap", o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want.Bytes()) {
			t.Errorf("fwgen %s: not the capture of %+v", strings.Join(args, " "), o)
		}
	}
}

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
