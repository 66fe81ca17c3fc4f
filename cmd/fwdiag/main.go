// Command fwdiag diagnoses what firewalls, NAT and VPNs do to Hornbill
// Supportworks and Sassafras K2 traffic, from captures or live.
package main

import (
	"os"
	"runtime"
	"runtime/debug"
)

// memoryLimit is the soft heap limit the garbage collector works to: the
// flow state is bounded (flows.DefaultMaxConns), so what grows past it is
// garbage, and collecting it sooner keeps a long capture's footprint small.
// GOMEMLIMIT overrides it.
const memoryLimit = 256 << 20

// batchMemoryLimit is the heap budget of one analysis of files, which
// collects garbage only as it nears it (see batchGC). The analysis's live
// heap is a few tens of MB (the flow tables are capped at 16,384 and
// recycle what they evict), so collecting near 128 MB costs a cycle or
// two where it is reached at all (the floods), and keeps the peak within
// issue 15's 128 MB on the busy site and volume captures. (At 112 MB,
// when 100,000 live connections made the live heap ~170 MB on the SYN
// flood, runs were 2-3x slower.)
const batchMemoryLimit = 128 << 20

// batchGC turns the proportional garbage collector off for an analysis of
// files, leaving only the memory limit: the run ends when the report is
// out, so collecting the garbage of a capture that fits in the budget is
// wasted work, and on the 2M-packet bench capture the proportional cycles
// cost about a tenth of the wall time. A capture whose state outgrows the
// budget is collected as before, near the limit (5M packets: 225 MB peak,
// 0.91 -> 0.70 s). collectAnalysis then clears the analysis's garbage
// before the outputs. GOGC or GOMEMLIMIT set by the user win. It returns the
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

// collectAnalysis collects the analysis's garbage once the report is
// built: the analyzer's tables and the findings' working state are
// unreachable by then, and the report's outputs reuse that memory instead
// of adding to the peak. With only the report live the collection takes a
// millisecond or two. The outputs then run with the proportional
// collector back on (unless the user set GOGC): the JSON encoder grows
// its buffers by doubling, to several times the file's size, and with the
// collector off every outgrown buffer stayed until the end (ten hours of
// the busy site: 63 MB peak with the text report, 85 MB with the JSON).
func collectAnalysis() {
	runtime.GC()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(Main(os.Args[1:], defaultFactory()))
}
