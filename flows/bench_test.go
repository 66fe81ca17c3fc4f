package flows_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

// benchPackets scripts n NPA pairs with pushes and K2 heartbeats.
func benchPackets(clients int) *flowtest.Script {
	s := flowtest.New()
	for i := 0; i < clients; i++ {
		host := fmt.Sprintf("192.0.2.%d", i%250+1)
		m := s.Open(fmt.Sprintf("%s:%d", host, 20000+i), srv)
		m.Send(false, 30)
		m.Send(true, 60)
		s.Wait(200 * time.Millisecond)
		n := s.Open(fmt.Sprintf("%s:%d", host, 40000+i), srv)
		n.Send(false, 30)
		n.Send(true, 40)
		for j := 0; j < 5; j++ {
			s.Wait(time.Millisecond)
			m.Send(true, 60)
			m.Send(false, 300)
			n.Send(false, 80)
			c, k := flowtest.EP(fmt.Sprintf("%s:%d", host, 50000+i%10000)), flowtest.EP("198.51.100.20:19283")
			s.UDP(c, k, 40)
			s.UDP(k, c, 40)
		}
	}
	return s
}

// BenchmarkAdd measures the flow engine per packet on existing flows.
func BenchmarkAdd(b *testing.B) {
	s := benchPackets(200)
	a := s.Feed(flows.Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &s.Pkts[i%len(s.Pkts)]
		a.Add(p)
	}
}

func TestAddAllocatesNothingOnKnownFlows(t *testing.T) {
	s := benchPackets(20)
	a := s.Feed(flows.Config{})
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		a.Add(&s.Pkts[i%len(s.Pkts)])
		i++
	})
	if allocs != 0 {
		t.Errorf("got %.1f allocations per packet on known flows; want 0", allocs)
	}
}

// BenchmarkView measures handing the state to diagnosis (the TUI does
// this a few times a second).
func BenchmarkView(b *testing.B) {
	s := benchPackets(200)
	a := s.Feed(flows.Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.View()
	}
}
