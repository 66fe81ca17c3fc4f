// Command topktmon writes an Ethernet pcap as a Windows pktmon log looks
// after etl2pcapng (see package pktmon), for tests and demonstrations:
//
//	topktmon -host 192.0.2.61 -drop-late-udp 5s in.pcap out.pcapng
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/fwdiag/fwdiag/pcaps/pktmon"
)

func main() {
	host := flag.String("host", "", "the Windows machine's address (packets to it are inbound)")
	late := flag.Duration("drop-late-udp", 0, "drop at WFP inbound UDP after this much silence (0: none)")
	ports := flag.String("drop-tcp-ports", "", "drop at WFP inbound TCP to these ports (comma-separated)")
	flag.Parse()
	if flag.NArg() != 2 || *host == "" {
		fmt.Fprintln(os.Stderr, "usage: topktmon -host ADDR [-drop-late-udp DUR] [-drop-tcp-ports P,P] IN.pcap OUT.pcapng")
		os.Exit(2)
	}
	o := pktmon.Options{DropLateUDP: *late}
	var err error
	if o.Host, err = netip.ParseAddr(*host); err != nil {
		fmt.Fprintln(os.Stderr, "topktmon: -host:", err)
		os.Exit(2)
	}
	for _, s := range strings.Split(*ports, ",") {
		if s == "" {
			continue
		}
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			fmt.Fprintln(os.Stderr, "topktmon: -drop-tcp-ports:", err)
			os.Exit(2)
		}
		o.DropTCPPorts = append(o.DropTCPPorts, uint16(p))
	}
	in, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "topktmon:", err)
		os.Exit(2)
	}
	defer in.Close()
	out, err := os.Create(flag.Arg(1))
	if err != nil {
		fmt.Fprintln(os.Stderr, "topktmon:", err)
		os.Exit(2)
	}
	st, err := pktmon.Convert(in, out, o)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "topktmon:", err)
		os.Exit(1)
	}
	fmt.Printf("%d packets, %d appearances, %d dropped at WFP, %d answers left out\n", st.Packets, st.Appearances, st.Dropped, st.Omitted)
}
