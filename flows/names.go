package flows

import (
	"net/netip"
	"slices"
	"time"

	"github.com/fwdiag/fwdiag/dissect"
)

// MaxDNSLookups bounds the client/address pairs whose DNS lookups are
// remembered.
const MaxDNSLookups = 200_000

// Bounds of what the DNS answers leave: a capture of an hour's browsing
// must not grow them without end.
const (
	maxNamesPerAddr   = 8 // names one address is known by
	maxLookupsPerKey  = 4 // a client's recent lookups of one address
	maxLookupKeys     = MaxDNSLookups
	maxNamedAddresses = 200_000
)

// dnsNames keeps what the capture's DNS answers said. Several names often
// share one address (shared hosting, a CDN: prs.sassafras.com and
// www.sassafras.com), so an address keeps every name it had, and each
// client the names it looked up for it, with times: a connection is its
// client's most recent lookup of that address before it (as Zeek and
// Wireshark keep every name an address had).
type dnsNames struct {
	byAddr  map[netip.Addr][]string
	lookups map[lookupKey][]lookup // newest last
	dropped int                    // answers past the bounds, not kept
	// memoAddr's names were byAddr's when last looked up (memo), until the
	// next answer: a flood's attempts to one server asked for them one
	// by one (a twentieth of a SYN flood's time).
	memoAddr  netip.Addr
	memoNames []string
	memo      bool
	// epoch counts the answers (serviceOf's memo).
	epoch uint64
}

type lookupKey struct{ client, addr netip.Addr }

type lookup struct {
	at   int64 // capture time, Unix ns
	name string
}

func newDNSNames() dnsNames {
	return dnsNames{byAddr: map[netip.Addr][]string{}, lookups: map[lookupKey][]lookup{}}
}

// answer records a DNS answer that client received.
func (d *dnsNames) answer(client netip.Addr, ans *dissect.DNSAnswer, t time.Time) {
	d.memo = false
	d.epoch++
	names := d.byAddr[ans.Addr]
	if !slices.Contains(names, ans.Name) {
		if len(names) < maxNamesPerAddr && (names != nil || len(d.byAddr) < maxNamedAddresses) {
			d.byAddr[ans.Addr] = append(names, ans.Name)
		} else {
			d.dropped++
		}
	}
	k := lookupKey{client, ans.Addr}
	l, ok := d.lookups[k]
	if !ok && len(d.lookups) >= maxLookupKeys {
		d.dropped++
		return
	}
	switch n := len(l); {
	case n > 0 && l[n-1].name == ans.Name:
		// The same name again (a TTL refresh, a resolver's retry): the
		// earlier lookup already ranks it first for what follows.
	case n == maxLookupsPerKey:
		copy(l, l[1:]) // the oldest goes; the map's slice is this one
		l[n-1] = lookup{t.UnixNano(), ans.Name}
	default:
		d.lookups[k] = append(l, lookup{t.UnixNano(), ans.Name})
	}
}

// candidates lists the names a connection from client to addr at time at
// may have been made for, the likeliest first: the client's lookups of
// the address before the connection, newest first, then every other name
// of the address in the order first seen.
func (d *dnsNames) candidates(client, addr netip.Addr, at time.Time) []string {
	if !d.memo || d.memoAddr != addr {
		d.memoAddr, d.memoNames, d.memo = addr, d.byAddr[addr], true
	}
	all := d.memoNames
	if len(all) <= 1 {
		return all
	}
	var out []string
	if l := d.lookups[lookupKey{client, addr}]; len(l) > 0 {
		t := at.UnixNano()
		for i := len(l) - 1; i >= 0; i-- {
			if l[i].at <= t && !slices.Contains(out, l[i].name) {
				out = append(out, l[i].name)
			}
		}
	}
	for _, n := range all {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
