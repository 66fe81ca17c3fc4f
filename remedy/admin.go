package remedy

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// k2AdminTimeout is what the K2 seed asks for the response path back to
// KeyConfigure (rule 3): "normal UDP timeouts of at least 1 minute".
const k2AdminTimeout = time.Minute

// ForHosts is For knowing which clients are KeyConfigure admin computers
// (admin reports whether an address is one): a UDP timeout change to the
// KeyServer for admin computers only needs 1 minute (K2 seed, rule 3),
// not the 15 minutes KeyAccess clients need (rule 1), unless the capture
// showed a longer silence. A change for any KeyAccess client, or for more
// clients than the finding names, keeps the 15 minutes.
func ForHosts(f *diagnose.Finding, admin func(netip.Addr) bool) []Remedy {
	rs := For(f)
	if admin == nil || f.Service == nil || f.Service.Product != catalog.K2 || f.Transport != catalog.UDP || f.Port != 19283 || !allAdmin(f, admin) {
		return rs
	}
	for i := range rs {
		if rs[i].Action == ActRaiseUDPTimeout {
			rs[i].Min = max(f.MaxSample(), k2AdminTimeout)
		}
	}
	return rs
}

// allAdmin reports whether every client of f is an admin computer.
func allAdmin(f *diagnose.Finding, admin func(netip.Addr) bool) bool {
	if f.MoreClients > 0 {
		return false
	}
	n := 0
	if f.Client.IsValid() {
		if !admin(f.Client) {
			return false
		}
		n++
	}
	for _, c := range f.Clients {
		if !admin(c.Addr) {
			return false
		}
		n++
	}
	return n > 0
}
