// Command emu emulates the network behaviour of Hornbill Supportworks and
// Sassafras K2 hosts for the fwdiag capture lab (pcaps/lab/run.sh).
//
// It is one binary with subcommands, standard library only. Every subcommand
// is bounded in time (-dur) and exits by itself; every loop is bounded in
// count and time. The socket patterns follow the seed documents:
//
//	sw-server     Supportworks server: TCP 5001 (binary + NPA), 5005 (text),
//	              5015 (XMLMC), optional extra ports (5002 SQL ...),
//	              UDP notifications from port 5001 (legacy mode)
//	sw-client     Supportworks client: main session, then the NPA
//	              notification socket (TCP) or an announced UDP port
//	ks-server     KeyServer (UDP+TCP 19283) or KeyShadow (-port 19315)
//	ks-client     KeyAccess client: UDP from a dynamic port, rebind on
//	              silence, shadow failover
//	keyconfigure  admin console: DNS, UDP+TCP 19283, HTTP 80 version check,
//	              HTTPS 443 to prs.sassafras.com
//	ks-prs        PRS helper on the KeyServer host: HTTPS 443 to prs
//	web           stand-in for prs.sassafras.com / www.sassafras.com (80/443)
//	dns           DNS resolver answering A/AAAA for the lab names
package main

import (
	"fmt"
	"log"
	"os"
	"sort"
)

type command struct {
	help string
	run  func(args []string) error
}

var commands = map[string]command{
	"sw-server":    {"Supportworks server (TCP 5001/5005/5015, NPA pushes, UDP notifications)", runSWServer},
	"sw-client":    {"Supportworks client (main session + notification socket)", runSWClient},
	"ks-server":    {"KeyServer / KeyShadow (UDP + TCP 19283 or UDP 19315)", runKSServer},
	"ks-client":    {"KeyAccess client (UDP to 19283, rebind, shadow failover)", runKSClient},
	"keyconfigure": {"KeyConfigure admin console (DNS, UDP+TCP 19283, HTTP 80, HTTPS 443)", runKeyConfigure},
	"ks-prs":       {"ks-prs helper: HTTPS (optionally HTTP) to prs.sassafras.com", runKSPRS},
	"web":          {"prs/www.sassafras.com stand-in (HTTP 80, HTTPS 443)", runWeb},
	"dns":          {"DNS resolver with fixed A/AAAA records", runDNS},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: emu SUBCOMMAND [flags]\n\nsubcommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-13s %s\n", n, commands[n].help)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		usage()
		os.Exit(2)
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix(os.Args[1] + " ")
	if err := c.run(os.Args[2:]); err != nil {
		log.Printf("error: %v", err)
		os.Exit(1)
	}
}
