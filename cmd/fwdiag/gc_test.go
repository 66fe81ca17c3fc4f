package main

import (
	"runtime/debug"
	"testing"
)

// TestBatchGC: analyze runs with the proportional collector off and the
// batch memory limit, puts both back after, and leaves them alone when the
// user set GOGC.
func TestBatchGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	oldPct := debug.SetGCPercent(150)
	oldLim := debug.SetMemoryLimit(1 << 40)
	defer func() { debug.SetGCPercent(oldPct); debug.SetMemoryLimit(oldLim) }()

	restore := batchGC()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("during analyze GOGC is %d; want off (-1)", p)
	}
	if l := debug.SetMemoryLimit(-1); l != batchMemoryLimit {
		t.Errorf("during analyze the memory limit is %d; want %d", l, batchMemoryLimit)
	}
	restore()
	if p := debug.SetGCPercent(-1); p != 150 {
		t.Errorf("after analyze GOGC is %d; want 150 back", p)
	}
	debug.SetGCPercent(150)
	if l := debug.SetMemoryLimit(-1); l != 1<<40 {
		t.Errorf("after analyze the memory limit is %d; want %d back", l, int64(1<<40))
	}

	t.Setenv("GOGC", "100")
	restore = batchGC()
	if p := debug.SetGCPercent(-1); p != 150 {
		t.Errorf("with GOGC set by the user, analyze changed GOGC to %d", p)
	}
	debug.SetGCPercent(150)
	restore()
}
