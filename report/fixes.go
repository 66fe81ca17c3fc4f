package report

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/remedy"
)

// Fix is one change written in one device's configuration language: the
// lines to paste, the vendor document they follow, and what the device
// cannot do. A finding lists the fixes of the changes that resolve it.
type Fix struct {
	Change   int          `json:"change"`   // the change's n in changes
	Firewall fix.Firewall `json:"firewall"` // the device family (--firewall name)
	Device   string       `json:"device"`   // the device, in words
	Lang     string       `json:"lang"`     // the language of text
	Text     string       `json:"text"`     // ready to paste; "" when the device cannot do it
	Source   string       `json:"source"`   // the vendor document followed
	Note     string       `json:"note"`     // what cannot be done and what instead, or a caveat
}

// DefaultFirewalls are the firewalls a report writes its fixes for when
// none is asked: the device of the timeout profile in force (none for the
// default profile; the changes on a host are written for the host anyway).
func DefaultFirewalls(profile string) []fix.Firewall {
	if f, ok := fix.ForProfile(profile); ok {
		return []fix.Firewall{f}
	}
	return []fix.Firewall{}
}

// RenderFixes writes every change of r for the firewalls fws and lists the
// snippets on the findings each change resolves (replacing those of an
// earlier call), and records fws in the settings. It reads only the
// report's wire values, so it works alike on a report just built, one
// redacted (the snippets name the pseudonyms) and one read back from JSON
// (`fwdiag fix report.json`). A change it cannot read back (an address
// that does not parse) is an error naming the change; the others are
// still written.
func RenderFixes(r *Report, fws []fix.Firewall, o fix.Options) error {
	r.Settings.Firewalls = make([]fix.Firewall, len(fws))
	copy(r.Settings.Firewalls, fws)
	byID := map[string]int{}
	for i := range r.Findings {
		r.Findings[i].Fixes = []Fix{}
		byID[r.Findings[i].ID] = i
	}
	var firstErr error
	for _, c := range r.Changes {
		fc, err := ChangeOf(c)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		var fixes []Fix
		for _, s := range fix.For(fc, fws, o) {
			fixes = append(fixes, Fix{Change: c.N, Firewall: s.Firewall, Device: s.Device, Lang: s.Lang, Text: s.Text, Source: s.Source, Note: s.Note})
		}
		for _, id := range c.Findings {
			if i, ok := byID[id]; ok {
				r.Findings[i].Fixes = append(r.Findings[i].Fixes, fixes...)
			}
		}
	}
	return firstErr
}

// ChangeOf reads a change of the JSON report back into what package fix
// writes from: the remedy (its service looked up in the catalog by name;
// a custom service is left unnamed) and the clients.
func ChangeOf(c Change) (fix.Change, error) {
	bad := func(what, s string) (fix.Change, error) {
		return fix.Change{}, fmt.Errorf("change %d: %s %q is not an address", c.N, what, s)
	}
	r := remedy.Remedy{Action: c.Action, Device: remedy.Device{Kind: c.Device.Kind, Component: c.Device.Component},
		Transport: c.Transport, Port: uint16(c.Port)}
	var err error
	if c.To != "" {
		if r.Dst, err = netip.ParseAddr(c.To); err != nil {
			return bad("to", c.To)
		}
	}
	if c.Device.Addr != "" {
		if r.Device.Addr, err = netip.ParseAddr(c.Device.Addr); err != nil {
			return bad("device addr", c.Device.Addr)
		}
	}
	dur := func(s *float64) time.Duration {
		if s == nil {
			return 0
		}
		return time.Duration(*s * float64(time.Second))
	}
	r.Min = dur(c.MinTimeoutS)
	r.Measured = diagnose.Bracket{Transport: c.Transport, Device: r.Device.Addr, Above: dur(c.MeasuredAboveS), Below: dur(c.MeasuredBelowS)}
	if c.Service != "" {
		if s := catalogServices.ByName(c.Service); len(s) > 0 {
			r.Service = &s[0]
		}
	}
	out := fix.Change{Remedy: r, More: c.MoreClients}
	for _, s := range c.From {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return bad("from", s)
		}
		out.From = append(out.From, a)
	}
	if len(out.From) == 1 {
		out.Src = out.From[0]
	}
	return out, nil
}

// catalogServices is the default catalog, to name a change's service.
var catalogServices = catalog.NewCatalog(catalog.DefaultServices())

// SetFirewalls writes the report's fixes for fws (nil: the profile's
// device) with o, and keeps them for a rebuild (redaction). It is
// RenderFixes for a report whose devices are chosen after it was built,
// as the command line does.
func (r *Report) SetFirewalls(fws []fix.Firewall, o fix.Options) error {
	r.opts.Firewalls, r.opts.Fix = fws, o
	if fws == nil {
		fws = DefaultFirewalls(r.Settings.Profile)
	}
	return RenderFixes(r, fws, o)
}
