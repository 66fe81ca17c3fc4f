package flows

// Internals for the external tests of this package.

var Sub = sub

// Listed returns the connections a view would list, in order.
func Listed(a *Analyzer) []*Conn { return a.conns() }

// Live returns the connections in the live table.
func Live(a *Analyzer) []*Conn {
	var out []*Conn
	a.tcp.each(func(c *Conn) { out = append(out, c) })
	return out
}

// LiveUDP counts the UDP flows in the live table.
func LiveUDP(a *Analyzer) int { return a.udp.len() }

// IsEvicted says whether a sweep evicted c.
func IsEvicted(c *Conn) bool { return c.evicted }

// Compare orders two flows as a view lists them.
func Compare(x, y *Conn) int { return x.compare(&y.FlowHead) }

// Probes counts the live probe records (probe.go).
func Probes(a *Analyzer) int { return a.nprobes }

// SetSweepNotes turns the sweeps' notes on the connections (tableSlot.at)
// on or off.
func SetSweepNotes(on bool) { noSweepNotes = !on }
