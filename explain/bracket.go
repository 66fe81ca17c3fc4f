package explain

import (
	"fmt"
	"strings"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

// Measured words a measured idle timeout as one sentence: which device
// keeps state how long, the profiles consistent with that, and how far it
// is from what the product needs; or, when the evidence contradicts
// itself, that no single timeout explains it. "" when nothing was
// measured.
func Measured(c *Context, b diagnose.Bracket) string {
	if !b.Measured() {
		return ""
	}
	dev, keeps := "The firewalls and NATs on the path", "keep"
	if b.Device.IsValid() {
		dev, keeps = "The device at "+c.A(b.Device), "keeps"
	}
	state, was := "UDP state", "was"
	if b.Transport == TCP {
		state, was = "idle TCP connections", "were"
	}
	if b.Contradicts() {
		return fmt.Sprintf("%s: %s outlived %s of silence on some flows and %s gone after %s on others. No single timeout explains that: different flows get different timeouts (a per-flow or per-rule timeout policy), several stateful devices stand in the way, or something other than a timeout (an IPS rule, a reset) stopped the packets; judge each flow on its own.",
			dev, state, dur(b.Above), was, dur(b.Below))
	}
	s := fmt.Sprintf("%s %s %s for %s (%s)", dev, keeps, state, bounds(b), consistent(b))
	if need := needWords(b); need != "" {
		s += "; " + need
	}
	return s + "."
}

// bounds words a bracket's bounds: "longer than 4.0 s and less than
// 7.0 s", or one of them.
func bounds(b diagnose.Bracket) string {
	switch {
	case b.Above > 0 && b.Below > 0:
		return fmt.Sprintf("longer than %s and less than %s", dur(b.Above), dur(b.Below))
	case b.Above > 0:
		return "longer than " + dur(b.Above)
	}
	return "less than " + dur(b.Below)
}

// measuredNow words what a change's device was measured to keep now (""
// when nothing was measured, or the evidence contradicts itself).
func measuredNow(b diagnose.Bracket) string {
	if w := measuredWords(b); w != "" {
		return " (" + w + ")"
	}
	return ""
}

// measuredWords is measuredNow without its parentheses.
func measuredWords(b diagnose.Bracket) string {
	if !b.Measured() || b.Contradicts() {
		return ""
	}
	return "measured now: " + bounds(b)
}

// prefixed is s after prefix, or "" when s is.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// consistent names the profiles whose timeout lies in the bracket.
func consistent(b diagnose.Bracket) string {
	ps := b.Profiles()
	switch {
	case len(ps) == 0:
		return "none of the known profiles has such a timeout"
	case len(ps) == len(catalog.Profiles())-1:
		return "every known profile fits"
	}
	return "consistent with: " + strings.Join(ps, ", ")
}

// needWords says how far the bracket is from what the product needs (""
// when no need is known).
func needWords(b diagnose.Bracket) string {
	if b.Need == 0 {
		return ""
	}
	who := "KeyAccess clients need more than " + dur(b.Need) + " (K2 seed, rule 1)"
	if b.Product == catalog.Supportworks {
		who = "a Supportworks notification socket needs more than " + dur(b.Need) + " (the 2 h default TCP keepalive)"
	}
	switch {
	case b.Above >= b.Need:
		return who + ": flows here were shown to get that much (a flow that fails needs its own look)"
	case b.Below > 0 && b.Below <= b.Need:
		return fmt.Sprintf("%s, %s as long", who, times(float64(b.Need)/float64(b.Below)))
	}
	return who + ": not shown to last that long"
}

// times words a ratio: "more than 128 times", "more than 1.5 times".
func times(r float64) string {
	if r < 10 {
		return fmt.Sprintf("more than %.1f times", r)
	}
	return fmt.Sprintf("more than %.0f times", r)
}
