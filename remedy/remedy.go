// Package remedy decides the change each finding asks for, as facts: what
// to do (allow, raise a timeout, check a service...), on which device (the
// path, the middlebox that said so, the server, the client's own
// firewall), for which traffic. It reads the typed findings of diagnose and
// writes no words: explain words a remedy, report gathers findings that ask
// for the same change into one numbered change, and a firewall's own
// configuration language can be written from it.
package remedy

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// Action is what a remedy does.
type Action string

// The actions.
const (
	ActAllow            Action = "allow"                  // let Transport/Port from Src to Dst through
	ActAllowTwo         Action = "allow_two_connections"  // no per-client limit below two connections to Port
	ActRaiseUDPTimeout  Action = "raise_udp_timeout"      // keep UDP state for Dst:Port longer than Min
	ActRaiseTCPIdle     Action = "raise_tcp_idle_timeout" // keep idle established TCP to Dst:Port longer than Min
	ActCheckService     Action = "check_service"          // the service on Dst:Port is not listening
	ActOpenHostFirewall Action = "open_host_firewall"     // the server's own firewall breaks its services
	ActExemptFromReset  Action = "exempt_from_reset"      // a device resets established sessions
	ActSymmetricPath    Action = "symmetric_path"         // both directions through the same stateful devices
	ActUseTCPNotify     Action = "use_tcp_notifications"  // Supportworks: notifications over TCP
	ActInspect          Action = "inspect"                // look at the device between two capture points
)

// DeviceKind says where a remedy applies.
type DeviceKind string

// The places.
const (
	DevPath       DeviceKind = "path"        // every firewall and NAT between Src and Dst
	DevMiddlebox  DeviceKind = "middlebox"   // the device at Addr (it sent ICMP errors or resets)
	DevServer     DeviceKind = "server_host" // the server itself (Dst)
	DevClientHost DeviceKind = "client_host" // the client's own firewall (Component names it)
	DevBetween    DeviceKind = "between"     // the device between two capture points
)

// Device is where a remedy applies.
type Device struct {
	Kind      DeviceKind
	Addr      netip.Addr // DevMiddlebox: its address
	Component string     // DevClientHost: the component that dropped (pktmon)
}

// Remedy is one change a finding asks for.
type Remedy struct {
	Action    Action
	Device    Device
	Transport catalog.Transport
	Port      uint16
	// Src is the client side (zero: the finding's many clients), Dst the
	// server.
	Src, Dst netip.Addr
	// Min is the value a timeout must exceed (ActRaise*), 0 otherwise.
	Min time.Duration
	// Service is the catalog service of Dst:Port (nil none).
	Service *catalog.Service
	// Measured is the device's timeout as the capture measured it
	// (ActRaise*; no bound when nothing was measured): Min is what it
	// must become, Measured what it is.
	Measured diagnose.Bracket
}

// k2ClientTimeout is what the K2 seed asks of every firewall between
// KeyAccess clients and the KeyServer (rule 1): UDP state kept longer
// than the latest answer may come.
const k2ClientTimeout = catalog.K2ClientUDPIdle

// tcpIdleMin is the idle timeout a notification socket on the finding's
// port needs: longer than the idle seen and, for Supportworks, than the
// 2 h default keepalive that keeps a held socket busy (a timeout just
// above the idle measured would fail at the next longer quiet spell).
func tcpIdleMin(f *diagnose.Finding) time.Duration {
	m := f.MaxSample()
	if f.Service != nil {
		m = max(m, catalog.IdleNeed(f.Service.Product, catalog.TCP))
	}
	return m
}

// For decides the changes a finding asks for (none for findings that
// describe the capture, a scanner or a version).
func For(f *diagnose.Finding) []Remedy {
	r := Remedy{Transport: f.Transport, Port: f.Port, Src: f.Client, Dst: f.Server, Service: f.Service, Device: Device{Kind: DevPath}}
	isK2 := f.Service != nil && f.Service.Product == catalog.K2
	one := func(a Action) []Remedy { r.Action = a; return []Remedy{r} }
	switch x := f.Facts.(type) {
	case *diagnose.SynUnansweredFacts:
		if len(x.DroppedAt) > 0 {
			r.Device = Device{Kind: DevClientHost, Component: diagnose.Components(x.DroppedAt)[0]}
		}
		return one(ActAllow)
	case *diagnose.SynResetFacts:
		if x.Forged > 0 {
			return one(ActAllow)
		}
		r.Device = Device{Kind: DevServer}
		return one(ActCheckService)
	case *diagnose.HandshakeFacts:
		return one(ActSymmetricPath)
	case *diagnose.RSTInjectedFacts:
		return one(ActExemptFromReset)
	case *diagnose.StatesFacts:
		r.Device = Device{Kind: DevServer}
		return one(ActOpenHostFirewall)
	case *diagnose.NPAMissingFacts:
		if x.Midstream > 0 && x.Blocked == 0 {
			return nil // only a hint
		}
		return one(ActAllowTwo)
	case *diagnose.NPALostFacts:
		// Pushes that died into a forgotten connection ask for a longer
		// idle timeout; a socket torn down by a reset while its main
		// session lived asks that the resets stop (a longer timeout
		// would not help: an IPS rule or a session limit sent it).
		var out []Remedy
		if x.Unacked+x.ClientUnacked > 0 || x.Reset == 0 {
			r.Action, r.Min, r.Measured = ActRaiseTCPIdle, tcpIdleMin(f), x.Bracket
			out = append(out, r)
		}
		if x.Reset > 0 {
			rr := r
			rr.Action, rr.Min, rr.Measured = ActExemptFromReset, 0, diagnose.Bracket{}
			out = append(out, rr)
		}
		return out
	case *diagnose.NPAUDPFacts:
		r.Device = Device{Kind: DevServer}
		return one(ActUseTCPNotify)
	case *diagnose.UDPUnansweredFacts:
		if x.SomeAnswered > 0 {
			r.Min, r.Measured = f.MaxSample(), x.Bracket
			if isK2 {
				r.Min = k2ClientTimeout
			}
			return one(ActRaiseUDPTimeout)
		}
		return one(ActAllow)
	case *diagnose.UDPLateFacts:
		if f.Severity == diagnose.Info {
			return nil // every late datagram got through
		}
		r.Min, r.Measured = f.MaxSample(), x.Bracket
		if isK2 {
			r.Min = max(r.Min, k2ClientTimeout)
		}
		if len(x.DroppedAt) > 0 {
			r.Device = Device{Kind: DevClientHost, Component: diagnose.Components(x.DroppedAt)[0]}
		}
		if len(x.DroppedAt) == 0 && len(x.From) == 1 {
			// The device that refused the late answers said so itself,
			// even when it is the client's address (a NAT in front of it).
			for m := range x.From {
				if m != f.Server {
					r.Device = Device{Kind: DevMiddlebox, Addr: m}
				}
			}
		}
		return one(ActRaiseUDPTimeout)
	case *diagnose.ICMPFacts:
		if m, ok := soleMiddlebox(x.From, f); ok {
			r.Device = Device{Kind: DevMiddlebox, Addr: m}
			return one(ActAllow)
		}
		if _, fromServer := x.From[f.Server]; fromServer {
			// The server itself refused: nothing listens, or its own
			// firewall rejects (a filter's code).
			r.Device = Device{Kind: DevServer}
			if x.Filter == 0 {
				return one(ActCheckService)
			}
		}
		return one(ActAllow)
	case *diagnose.BetweenFacts:
		r.Device = Device{Kind: DevBetween}
		return one(ActInspect)
	}
	switch f.Kind {
	case diagnose.NPAIdleExceedsTimeout:
		r.Min = tcpIdleMin(f)
		return one(ActRaiseTCPIdle)
	case diagnose.K2ClientRebind:
		r.Min = k2ClientTimeout
		return one(ActRaiseUDPTimeout)
	case diagnose.K2ShadowFailover:
		return one(ActAllow)
	}
	return nil
}

// soleMiddlebox returns the one device, neither end, that sent a
// finding's ICMP errors.
func soleMiddlebox(from map[netip.Addr]int, f *diagnose.Finding) (netip.Addr, bool) {
	if len(from) != 1 {
		return netip.Addr{}, false
	}
	for a := range from {
		if a != f.Server && a != f.Client {
			return a, true
		}
	}
	return netip.Addr{}, false
}
