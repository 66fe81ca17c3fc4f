package flows_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/flows/flowtest"
)

const (
	cli = "192.0.2.10:40000"
	srv = "198.51.100.10:5001"
)

var ep = flowtest.EP

const (
	fS  = flowtest.S
	fA  = flowtest.A
	fF  = flowtest.F
	fR  = flowtest.R
	fPA = flowtest.PA
)

func TestConnStateAndHistory(t *testing.T) {
	cases := []struct {
		name    string
		build   func(s *flowtest.Script)
		state   string
		history string
	}{
		{"normal_close", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.Send(true, 100)
			k.Send(false, 200)
			k.Close()
		}, "SF", "ShADadFf"},
		{"no_answer", func(s *flowtest.Script) {
			s.TCP(ep(cli), ep(srv), fS, 1, 0, 0)
		}, "S0", "S"},
		{"rejected", func(s *flowtest.Script) {
			s.TCP(ep(cli), ep(srv), fS, 1, 0, 0)
			s.TCP(ep(srv), ep(cli), fR|fA, 0, 2, 0)
		}, "REJ", "Sr"},
		{"established", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.Send(true, 10)
		}, "S1", "ShADa"},
		{"client_reset", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fR, k.CS, 0, 0)
		}, "RSTO", "ShAR"},
		{"midstream", func(s *flowtest.Script) {
			s.TCP(ep(srv), ep(cli), fPA, 100, 100, 10)
			s.TCP(ep(cli), ep(srv), fA, 100, 110, 0)
		}, "OTH", "^dA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := flowtest.New()
			tc.build(s)
			v := s.Feed(flows.Config{}).View()
			if len(v.Conns) != 1 {
				t.Fatalf("got %d flows; want 1", len(v.Conns))
			}
			c := v.Conns[0]
			if c.ConnState() != tc.state || c.History() != tc.history {
				t.Errorf("got %s %q; want %s %q", c.ConnState(), c.History(), tc.state, tc.history)
			}
		})
	}
}

// TestConnStateAsZeek: conn_state follows Zeek's endpoint states, also
// where the capture missed the SYN, or resets came after the close or
// before the SYN-ACK (each case is a trace of Zeek's test suite or a
// pattern from one).
func TestConnStateAsZeek(t *testing.T) {
	cases := []struct {
		name  string
		build func(s *flowtest.Script)
		state string
	}{
		{"syn_missed_closed", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.TCP(c, sv, fA, 1001, 5001, 0)
			s.TCP(c, sv, fPA, 1001, 5001, 100)
			s.TCP(sv, c, fPA, 5001, 1101, 200)
			s.TCP(c, sv, fF|fA, 1101, 5201, 0)
			s.TCP(sv, c, fF|fA, 5201, 1102, 0)
			s.TCP(c, sv, fA, 1102, 5202, 0)
		}, "SF"},
		{"syn_missed_open", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.TCP(c, sv, fA, 1001, 5001, 0)
			s.TCP(c, sv, fPA, 1001, 5001, 100)
		}, "S1"},
		{"midstream_closed", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fPA, 1001, 5001, 100)
			s.TCP(sv, c, fA, 5001, 1101, 0)
			s.TCP(c, sv, fF|fA, 1101, 5001, 0)
			s.TCP(sv, c, fF|fA, 5001, 1102, 0)
		}, "SF"},
		{"reset_after_both_fins", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.Send(true, 10)
			k.Close()
			s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
		}, "SF"},
		{"reset_before_the_syn_ack", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fS, 1000, 0, 0)
			s.TCP(sv, c, fR|fA, 0, 1000, 0)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.TCP(c, sv, fA, 1001, 5001, 0)
			s.TCP(c, sv, fPA, 1001, 5001, 25)
		}, "REJ"},
		{"syn_ack_then_reset", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fS, 0, 0, 0)
			s.TCP(sv, c, fA, 0, 0, 0)
			s.TCP(c, sv, fR, 0, 0, 0)
		}, "RSTOS0"},
		{"syn_fin_then_reset", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fS, 0, 0, 0)
			s.TCP(sv, c, fA, 0, 0, 0)
			s.TCP(c, sv, fF, 0, 0, 0)
			s.TCP(c, sv, fR, 0, 0, 0)
		}, "OTH"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := oneConn(t, tc.build).ConnState(); got != tc.state {
				t.Errorf("got %s; want %s", got, tc.state)
			}
		})
	}
}

// TestHistoryAsZeek: the history has Zeek's letters by Zeek's rules: t only
// for payload sent again (not a SYN, SYN-ACK or FIN, which are written
// again only with another sequence number), again at the 10th; no letter
// of its own for a keep-alive; d only for a segment without SYN, FIN or
// RST; a capture's copy of a packet is a packet to Zeek.
func TestHistoryAsZeek(t *testing.T) {
	cases := []struct {
		name    string
		build   func(s *flowtest.Script)
		history string
	}{
		{"handshake_retransmitted", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fS, 1000, 0, 0)
			s.Wait(time.Second)
			s.TCP(c, sv, fS, 1000, 0, 0)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.Wait(time.Second)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.TCP(c, sv, fA, 1001, 5001, 0)
		}, "ShA"},
		{"fin_retransmitted", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.Send(true, 10)
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 0)
			s.Wait(200 * time.Millisecond)
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 0)
			s.TCP(k.Srv, k.C, fF|fA, k.SS, k.CS+1, 0)
			s.TCP(k.C, k.Srv, fA, k.CS+1, k.SS+1, 0)
		}, "ShADaFf"},
		{"payload_retransmitted", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.PushLost(50, 3)
		}, "ShAdt"},
		{"payload_retransmitted_ten_times", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.PushLost(50, 10)
		}, "ShAdtt"},
		{"keep_alives", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			k.Send(true, 100)
			k.KeepAlive()
			s.TCP(k.C, k.Srv, fA, k.CS-1, k.SS, 1) // one byte: payload sent again
		}, "ShADaT"},
		{"fin_with_data", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 10)
			s.TCP(k.Srv, k.C, fF|fA, k.SS, k.CS+11, 0)
			s.TCP(k.C, k.Srv, fA, k.CS+11, k.SS+1, 0)
		}, "ShAFf"},
		{"fin_with_another_sequence_number", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 0)
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 10)
		}, "ShAFF"},
		{"resets_with_other_sequence_numbers", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
			s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
			s.TCP(k.Srv, k.C, fR, k.SS+100, 0, 0)
		}, "ShArr"},
		{"copy_in_the_capture", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 7
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 7
		}, "ShADT"},
		{"zero_window_in_the_syn_ack", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(c, sv, fS, 1000, 0, 0)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0).Window = 0
			s.TCP(c, sv, fA, 1001, 5001, 0)
		}, "ShwA"},
		{"zero_windows_in_the_connection", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			for i := 0; i < 10; i++ {
				s.TCP(k.Srv, k.C, fA, k.SS, k.CS, 0).Window = 0
			}
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 0)
			s.TCP(k.Srv, k.C, fA, k.SS, k.CS+1, 0).Window = 0 // after the peer's FIN: no w
		}, "ShAawwF"},
		{"syn_ack_first", func(s *flowtest.Script) {
			c, sv := ep(cli), ep(srv)
			s.TCP(sv, c, fS|fA, 5000, 1001, 0)
			s.TCP(c, sv, fA, 1001, 5001, 0)
			s.TCP(c, sv, fPA, 1001, 5001, 100)
		}, "^hAD"},
		{"syn_with_fin", func(s *flowtest.Script) {
			s.TCP(ep(cli), ep(srv), fS|fF, 1000, 0, 0)
		}, "Q"},
		{"fin_with_rst", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fF|fR|fA, k.CS, k.SS, 0)
		}, "ShAI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := oneConn(t, tc.build).History(); got != tc.history {
				t.Errorf("got %q; want %q", got, tc.history)
			}
		})
	}
}

func TestRetransmissionAndKeepAlive(t *testing.T) {
	s := flowtest.New()
	k := s.Open(cli, srv)
	k.Send(true, 100)
	k.KeepAlive()
	k.KeepAlive()
	k.PushLost(50, 3)
	c := s.Feed(flows.Config{}).View().Conns[0]
	if ka, re := c.Dir[0].KeepAlives+c.Dir[1].KeepAlives, c.Dir[0].Retrans+c.Dir[1].Retrans; ka != 2 || re != 3 {
		t.Errorf("got %d keep-alives %d retransmissions; want 2 and 3", ka, re)
	}
}

func TestSubMatchesTimeSub(t *testing.T) {
	base := time.Date(2026, 3, 2, 9, 0, 0, 999_999_999, time.UTC)
	for _, u := range []time.Time{
		base, base.Add(1), base.Add(-1), base.Add(15 * time.Minute), base.Add(-2 * time.Hour),
		base.Add(-999_999_999), time.Unix(0, 0), time.Unix(1<<40, 7), time.Unix(-1<<40, 0), {},
	} {
		if got, want := flows.Sub(base, u), base.Sub(u); got != want {
			t.Errorf("sub(%v, %v) = %v; time.Sub says %v", base, u, got, want)
		}
		if got, want := flows.Sub(u, base), u.Sub(base); got != want {
			t.Errorf("sub(%v, %v) = %v; time.Sub says %v", u, base, got, want)
		}
	}
}

// TestConnsListsEachConnectionOnce: the report's connection list (kept in
// creation order beside the hash table) holds every live connection and
// every one replaced by a new connection on the same ports, once each, in
func TestConnsListsEachConnectionOnce(t *testing.T) {
	s := flowtest.New()
	// Port reuse: the same ports twice, a fresh SYN after the first closed.
	k := s.Open("192.0.2.30:40000", srv)
	k.Send(true, 10)
	k.Close()
	s.Wait(time.Second)
	c, sv := ep("192.0.2.30:40000"), ep(srv)
	s.TCP(c, sv, fS, 7000, 0, 0) // a new initial sequence number
	s.TCP(sv, c, fS|fA, 9000, 7001, 0)
	s.TCP(c, sv, fA, 7001, 9001, 0)
	// Enough refused attempts to make the capped analyzer sweep.
	for i := 0; i < 300; i++ {
		c := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)}), 1024)
		s.TCP(c, ep("198.51.100.10:5005"), fS, uint32(i), 0, 0)
		s.TCP(ep("198.51.100.10:5005"), c, fR|fA, 0, uint32(i)+1, 0)
		s.Wait(10 * time.Millisecond)
	}
	for _, limit := range []int{0, 50} {
		a := s.Feed(flows.Config{MaxConns: limit})
		got := flows.Listed(a)
		want := 0
		evicted := 0
		seen := map[*flows.Conn]bool{}
		for _, c := range flows.Live(a) {
			want++
			seen[c] = false
		}
		for _, c := range got {
			if flows.IsEvicted(c) {
				evicted++
			}
			if done, live := seen[c]; live && done {
				t.Errorf("MaxConns %d: connection %v listed twice", limit, c.Client)
			}
			seen[c] = true
		}
		for c, listed := range seen {
			if !listed {
				t.Errorf("MaxConns %d: live connection %v not listed", limit, c.Client)
			}
		}
		// The first connection on the reused ports is no longer in the
		// table but must still be listed.
		if len(got) != want+1 || evicted != 0 {
			t.Errorf("MaxConns %d: %d listed, want %d live + 1 replaced; %d evicted listed", limit, len(got), want, evicted)
		}
		if !slices.IsSortedFunc(got, flows.Compare) {
			t.Errorf("MaxConns %d: not in FlowHead order", limit)
		}
		if limit > 0 && want >= 300 {
			t.Errorf("MaxConns %d: no sweep happened (%d live)", limit, want)
		}
	}
}

// TestCaptureDuplicates: a packet seen twice by the capture (same IP ID,
// flags, numbers and length within 50 ms) counts once; a packet that only
// shares the IP ID with the one before (a sender that sets the same ID on
// every packet) is a packet of its own.
func TestCaptureDuplicates(t *testing.T) {
	cases := []struct {
		name       string
		build      func(s *flowtest.Script)
		dups, rsts int
		fins       int
		retrans    int
	}{
		{"syn_then_rst_same_ip_id", func(s *flowtest.Script) {
			s.TCP(ep(cli), ep(srv), fS, 0, 0, 0).IPID = 1
			s.TCP(ep(cli), ep(srv), fR, 0, 0, 0).IPID = 1
		}, 0, 1, 0, 0},
		{"ack_then_fin_same_ip_id", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fA, k.CS, k.SS, 0).IPID = 1
			s.TCP(k.C, k.Srv, fF|fA, k.CS, k.SS, 0).IPID = 1
		}, 0, 0, 1, 0},
		{"copy_with_ip_id_zero", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 0
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 0
		}, 1, 0, 0, 0},
		{"copy_of_data", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 7
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 7
		}, 1, 0, 0, 0},
		{"retransmission_with_ip_id_zero", func(s *flowtest.Script) {
			k := s.Open(cli, srv)
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 0
			s.Wait(200 * time.Millisecond)
			s.TCP(k.C, k.Srv, fPA, k.CS, k.SS, 100).IPID = 0
		}, 0, 0, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := flowtest.New()
			tc.build(s)
			c := s.Feed(flows.Config{}).View().Conns[0]
			d := &c.Dir[0]
			if c.Dups != tc.dups || d.RST != tc.rsts || d.FIN != tc.fins || d.Retrans != tc.retrans {
				t.Errorf("got %d duplicates, %d resets, %d FINs, %d retransmissions; want %d, %d, %d, %d",
					c.Dups, d.RST, d.FIN, d.Retrans, tc.dups, tc.rsts, tc.fins, tc.retrans)
			}
		})
	}
}

// TestResetsKeptByTTL: a side's first reset and its first reset with
// another TTL are kept, whatever comes after: diagnosis judges every reset
// by them, not only by the last.
func TestResetsKeptByTTL(t *testing.T) {
	s := flowtest.New()
	k := s.Open(cli, srv)
	srvIP := k.Srv.Addr()
	for _, ttl := range []uint8{46, 46, 49, 250, 49} { // frames 4 to 8
		s.TTL[srvIP] = ttl
		s.TCP(k.Srv, k.C, fR, k.SS, 0, 0)
	}
	d := &s.Feed(flows.Config{}).View().Conns[0].Dir[1]
	if r := d.Resets; d.RST != 5 || r[0].TTL != 46 || r[0].Frame != 4 || r[1].TTL != 49 || r[1].Frame != 6 {
		t.Errorf("got %d resets, kept %+v; want 5, TTL 46 at frame 4 and TTL 49 at frame 6", d.RST, r)
	}
}

// oneConn scripts a case that makes exactly one connection and returns it.
func oneConn(t *testing.T, build func(*flowtest.Script)) *flows.Conn {
	t.Helper()
	s := flowtest.New()
	build(s)
	v := s.Feed(flows.Config{}).View()
	if len(v.Conns) != 1 {
		t.Fatalf("got %d flows; want 1", len(v.Conns))
	}
	return v.Conns[0]
}
