// Command fwdiag diagnoses what firewalls, NAT and VPNs do to Hornbill
// Supportworks and Sassafras K2 traffic, from captures or live.
package main

import (
	"os"
	"runtime/debug"
)

// memoryLimit is the soft heap limit the garbage collector works to: the
// flow state is bounded (flows.DefaultMaxConns), so what grows past it is
// garbage, and collecting it sooner keeps a long capture's footprint small.
// GOMEMLIMIT overrides it.
const memoryLimit = 256 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(Main(os.Args[1:], defaultFactory()))
}
