package flows

import (
	"fmt"
	"testing"
	"time"
)

// benchPackets scripts n NPA pairs with pushes and K2 heartbeats.
func benchPackets(b *testing.B, clients int) *script {
	s := newScript(&testing.T{})
	for i := 0; i < clients; i++ {
		host := fmt.Sprintf("192.0.2.%d", i%250+1)
		m, n := npaPair(s, host, 20000+i, 40000+i)
		for j := 0; j < 5; j++ {
			s.wait(time.Millisecond)
			m.send(true, 60)
			m.send(false, 300)
			n.send(false, 80)
			c, k := ep(fmt.Sprintf("%s:%d", host, 50000+i%10000)), ep("198.51.100.20:19283")
			s.udp(c, k, 40)
			s.udp(k, c, 40)
		}
	}
	return s
}

// BenchmarkAdd measures the flow engine per packet on existing flows.
func BenchmarkAdd(b *testing.B) {
	s := benchPackets(b, 200)
	a := s.feed(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &s.pkts[i%len(s.pkts)]
		a.Add(p)
	}
}

func TestAddAllocatesNothingOnKnownFlows(t *testing.T) {
	s := benchPackets(nil, 20)
	a := s.feed(Config{})
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		a.Add(&s.pkts[i%len(s.pkts)])
		i++
	})
	if allocs != 0 {
		t.Errorf("got %.1f allocations per packet on known flows; want 0", allocs)
	}
}

// BenchmarkResult measures building a report snapshot (the TUI does this a
// few times a second).
func BenchmarkResult(b *testing.B) {
	s := benchPackets(b, 200)
	a := s.feed(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Result(nil)
	}
}
