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

// batchMemoryLimit is the heap budget of one analysis of files, which
// collects garbage only as it nears it (see batchGC).
const batchMemoryLimit = 224 << 20

// batchGC turns the proportional garbage collector off for an analysis of
// files, leaving only the memory limit: the run ends when the report is
// out, so collecting the garbage of a capture that fits in the budget is
// wasted work, and on the 2M-packet bench capture the proportional cycles
// cost about a tenth of the wall time. A capture whose state outgrows the
// budget is collected as before, near the limit (5M packets: 225 MB peak,
// 0.91 -> 0.70 s). GOGC or GOMEMLIMIT set by the user win. It returns the
// function that restores the settings (the tests run many commands in one
// process).
func batchGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	limit := debug.SetMemoryLimit(-1)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(batchMemoryLimit)
	}
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(Main(os.Args[1:], defaultFactory()))
}
