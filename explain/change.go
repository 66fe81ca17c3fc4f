package explain

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/fwdiag/fwdiag/remedy"
)

// Change words a remedy as one line: where, then what. srcs are the
// clients it is for (those of every finding that asks for it; many are
// counted, not named), more the clients beyond them (at least).
func Change(c *Context, r *remedy.Remedy, srcs []netip.Addr, more int) (where, what string) {
	from := "its clients"
	switch {
	case more > 0:
		from = fmt.Sprintf("more than %d clients", len(srcs))
	case len(srcs) == 1:
		from = c.A(srcs[0])
	case len(srcs) > 1 && len(srcs) <= 3:
		var s []string
		for _, a := range srcs {
			s = append(s, c.A(a))
		}
		from = strings.Join(s, ", ")
	case len(srcs) > 3:
		from = fmt.Sprintf("%d clients", len(srcs))
	}
	dst := c.A(r.Dst)
	proto := strings.ToUpper(string(r.Transport))
	label := fmt.Sprintf("%s %d", proto, r.Port)
	if r.Service != nil {
		label = fmt.Sprintf("%s %d (%s)", proto, r.Port, r.Service.Name)
	}
	switch r.Device.Kind {
	case remedy.DevMiddlebox:
		where = fmt.Sprintf("The firewall or NAT at %s (it sent the ICMP errors)", c.A(r.Device.Addr))
	case remedy.DevServer:
		where = "The server " + dst
	case remedy.DevClientHost:
		where = fmt.Sprintf("The firewall of the captured client (%q dropped)", r.Device.Component)
	case remedy.DevBetween:
		where = "The device between the capture points"
	default:
		where = fmt.Sprintf("Every firewall and NAT between %s and %s", from, dst)
	}
	switch r.Action {
	case remedy.ActAllow:
		what = fmt.Sprintf("allow %s from %s to %s", label, from, dst)
	case remedy.ActAllowTwo:
		what = fmt.Sprintf("allow each client two concurrent connections to %s on %s (no per-client limit below two: main session and notification socket)", dst, label)
	case remedy.ActRaiseUDPTimeout:
		what = fmt.Sprintf("keep UDP state for %s %s longer than %s%s", dst, label, dur(r.Min), measuredNow(r.Measured))
	case remedy.ActRaiseTCPIdle:
		what = fmt.Sprintf("keep idle established %s to %s longer than %s%s, or have the server send TCP keepalives more often than the firewall's timeout", label, dst, dur(r.Min), measuredNow(r.Measured))
	case remedy.ActCheckService:
		what = fmt.Sprintf("check that %s listens on %s", label, dst)
	case remedy.ActOpenHostFirewall:
		what = fmt.Sprintf("open its own firewall to its own services (%s over loopback)", label)
	case remedy.ActExemptFromReset:
		what = fmt.Sprintf("stop resetting established %s sessions between %s and %s (IPS signature, session limit, idle timeout with reset)", label, from, dst)
	case remedy.ActSymmetricPath:
		what = fmt.Sprintf("let both directions of %s between %s and %s through the same stateful devices", label, from, dst)
	case remedy.ActUseTCPNotify:
		what = "switch Supportworks notifications to TCP (Server Configuration, Communications tab; 7.4.0 and later)"
	case remedy.ActInspect:
		what = fmt.Sprintf("check its state table, rules and rate limits for %s to %s", label, dst)
	default:
		what = string(r.Action)
	}
	return where, what
}
