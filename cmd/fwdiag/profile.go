package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// Developer hooks for performance work, read from the environment so the
// command line stays the user's: FWDIAG_CPUPROFILE=FILE writes a CPU
// profile of the whole run (analyze or live), FWDIAG_MEMPROFILE=FILE an allocation profile at
// its end, FWDIAG_PHASES=1 the wall time of reading and of output to
// standard error.
type devProfile struct {
	cpu   *os.File
	start time.Time
	read  time.Duration
}

func startProfile() *devProfile {
	p := &devProfile{start: time.Now()}
	if name := os.Getenv("FWDIAG_CPUPROFILE"); name != "" {
		if f, err := os.Create(name); err == nil && pprof.StartCPUProfile(f) == nil {
			p.cpu = f
		}
	}
	return p
}

// readDone marks the end of the analysis of the inputs. With
// FWDIAG_HEAPPROFILE=FILE it writes what is live then (after a collection:
// the report and what it holds).
func (p *devProfile) readDone() {
	p.read = time.Since(p.start)
	if name := os.Getenv("FWDIAG_HEAPPROFILE"); name != "" {
		if f, err := os.Create(name); err == nil {
			runtime.GC()
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}

func (p *devProfile) stop() {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		p.cpu.Close()
	}
	if name := os.Getenv("FWDIAG_MEMPROFILE"); name != "" {
		if f, err := os.Create(name); err == nil {
			runtime.GC()
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	if os.Getenv("FWDIAG_PHASES") != "" {
		total := time.Since(p.start)
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(os.Stderr, "fwdiag: phases: analysis %.3f s, output %.3f s; allocated %d MB in %d objects, heap in use %d MB, sys %d MB, %d GCs\n",
			p.read.Seconds(), (total - p.read).Seconds(), m.TotalAlloc>>20, m.Mallocs, m.HeapInuse>>20, m.Sys>>20, m.NumGC)
		if b, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "RssFile") {
					fmt.Fprintln(os.Stderr, "fwdiag:", l)
				}
			}
		}
	}
}
