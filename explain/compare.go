package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
)

var compareTexts = map[diagnose.Kind]textFunc{
	diagnose.DroppedBetweenCaptures: textBetween,
	diagnose.ResetBetweenCaptures:   textBetween,
}

func textBetween(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.BetweenFacts](f)
	label := serviceLabel(f.Service, f.Port, f.Transport)
	noun, nouns := "packet", "packets"
	if f.Kind == diagnose.ResetBetweenCaptures {
		noun, nouns = "TCP reset", "TCP resets"
	}
	// Which way the packets went, and which capture point saw them and
	// which did not: one clause per way.
	ends := func(dir uint8) (string, string) {
		if dir == 0 {
			return c.who(f), c.A(f.Server)
		}
		return c.A(f.Server), c.who(f)
	}
	ways := make([]diagnose.BetweenWay, 0, len(x.Ways))
	for w := range x.Ways {
		ways = append(ways, w)
	}
	sort.Slice(ways, func(i, j int) bool {
		a, b := ways[i], ways[j]
		if a.Dir != b.Dir {
			return a.Dir < b.Dir
		}
		if a.Seen != b.Seen {
			return a.Seen < b.Seen
		}
		return a.Missing < b.Missing
	})
	var clauses []string
	for _, w := range ways {
		from, to := ends(w.Dir)
		n := x.Ways[w]
		clauses = append(clauses, fmt.Sprintf("%s from %s to %s %s in %s but not in %s",
			Plural(n, noun, nouns), from, to, appear(n), c.CapturePoint(w.Seen), c.CapturePoint(w.Missing)))
	}
	var split string
	switch {
	case x.ToServer > 0 && x.ToClient > 0:
		split = fmt.Sprintf(" (%d from %s to %s, %d back)", x.ToServer, c.who(f), c.A(f.Server), x.ToClient)
	case x.ToServer > 0:
		split = fmt.Sprintf(" from %s to %s", c.who(f), c.A(f.Server))
	default:
		split = fmt.Sprintf(" from %s to %s", c.A(f.Server), c.who(f))
	}
	seen := capitalize(strings.Join(clauses, "; "))
	filter := betweenFilter(c, f)
	if f.Kind == diagnose.ResetBetweenCaptures {
		summary := fmt.Sprintf("%s %s: %s%s seen on one side of the firewall only", c.who(f), label, Plural(f.Count, "reset", "resets"), split)
		detail := fmt.Sprintf("%s; the other side recorded the rest of this connection at the time: the reset was made between the two capture points (a firewall, IPS or proxy), or the genuine one was dropped there.", seen)
		return Text{summary, detail, "Find the device between the two capture points that resets this connection.", filter}
	}
	summary := fmt.Sprintf("%s %s: %s%s seen on one side of the firewall never reached the other", c.who(f), label, Plural(f.Count, "packet", "packets"), split)
	detail := fmt.Sprintf("%s; the other side recorded the rest of this flow at the time (packets matched by IP ID, TCP sequence numbers and payload, so NAT does not hide them): the device between the two capture points dropped %s.",
		seen, them(f.Count))
	rec := "Look at what the device between the capture points does to this flow at those times: its state table (an idle timeout that expired), a rule, or a rate limit."
	return Text{summary, detail, rec, filter}
}

// betweenFilter selects a comparison finding's packets: exactly its frames
// when one capture holds them all, else the flow on the service port.
func betweenFilter(c *Context, f *diagnose.Finding) string {
	if len(f.Evidence) == 1 && len(f.Evidence[0].Frames) <= 40 {
		fr := f.Evidence[0].Frames
		nums := make([]string, len(fr))
		for i, n := range fr {
			nums[i] = fmt.Sprint(n)
		}
		return fmt.Sprintf("frame.number in {%s}", strings.Join(nums, ", "))
	}
	return flowFilter(c, f, catalog.Transport(f.Transport))
}
