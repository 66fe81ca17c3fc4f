// Command fwgen writes the synthetic captures of package synth: the
// long-timescale Supportworks NPA and K2 scenarios the netns lab cannot
// wait for, and large captures for benchmarks (volume, busysite).
//
//	go run ./pcaps/synth/cmd/fwgen -scenario NAME -o FILE [flags]
//	go run ./pcaps/synth/cmd/fwgen -list
//
// The same flags always give a byte-identical file.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fwdiag/fwdiag/pcaps/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so the exit code is testable.
func run(args []string, stdout, stderr io.Writer) int {
	d := synth.DefaultOptions()
	fs := flag.NewFlagSet("fwgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("scenario", "", "scenario to generate (see -list)")
	out := fs.String("o", "", "output file (- for stdout)")
	format := fs.String("format", "pcap", "output format: pcap or pcapng")
	list := fs.Bool("list", false, "list scenarios and exit")
	quiet := fs.Bool("q", false, "do not print the summary line")
	o := d
	fs.Uint64Var(&o.Seed, "seed", d.Seed, "random seed")
	fs.IntVar(&o.Packets, "packets", 2_000_000, "volume: stop after this many packets (0: run the whole -duration)")
	bs := synth.BusySiteOptions()
	fs.IntVar(&o.K2Clients, "k2-clients", d.K2Clients, "volume, busysite: KeyAccess clients")
	fs.IntVar(&o.SWClients, "sw-clients", d.SWClients, fmt.Sprintf("volume, busysite (default %d): Supportworks clients (main + NPA pair each)", bs.SWClients))
	fs.IntVar(&o.Flows, "flows", d.Flows, fmt.Sprintf("volume: bulk HTTPS transfers; busysite (default %d): web connections per hour", bs.Flows))
	fs.IntVar(&o.SYNFlood, "syn-flood", 0, "volume: add N SYNs from distinct random sources")
	fs.IntVar(&o.UDPFlood, "udp-flood", 0, "volume: add N datagrams to the KeyServer's UDP 19283 from distinct sources, none answered")
	fs.IntVar(&o.Scanners, "scanners", bs.Scanners, "busysite: vulnerability scanners (0: none), each sweeping -scan-hosts hosts x 200 ports once an hour")
	fs.IntVar(&o.ScanHosts, "scan-hosts", bs.ScanHosts, "busysite: hosts each scanner sweeps")
	fs.DurationVar(&o.Duration, "duration", d.Duration, "volume, busysite: virtual capture length (busysite: its rates are per hour)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fwgen -scenario NAME -o FILE [flags]\n       fwgen -list\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		for _, s := range synth.Scenarios() {
			fmt.Fprintf(stdout, "%-20s %s\n", s.Name, s.Summary)
		}
		return 0
	}
	if *name == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *name == "busysite" {
		// busysite's own defaults for the flags volume shares with it.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["sw-clients"] {
			o.SWClients = bs.SWClients
		}
		if !set["k2-clients"] {
			o.K2Clients = bs.K2Clients
		}
		if !set["flows"] {
			o.Flows = bs.Flows
		}
	}
	if *name != "volume" {
		o.Packets = 0 // the other scenarios are complete stories: never cut them
	}
	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			fmt.Fprintf(stderr, "fwgen: %v\n", err)
			return 2
		}
		w = f
	}
	start := time.Now()
	n, err := synth.Generate(w, *name, *format, o)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fwgen: %v\n", err)
		return 2
	}
	if !*quiet && *out != "-" {
		el := time.Since(start)
		fmt.Fprintf(stderr, "fwgen: %s: %d packets to %s in %s (%.0f packets/s)\n",
			*name, n, *out, el.Round(time.Millisecond), float64(n)/el.Seconds())
	}
	return 0
}
