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
	var seenIn, missIn []string
	toServer, toClient := x.ToServer, x.ToClient
	for v := range x.SeenAt {
		seenIn = append(seenIn, c.capturePoint(v))
	}
	for v := range x.MissingAt {
		missIn = append(missIn, c.capturePoint(v))
	}
	sort.Strings(seenIn)
	sort.Strings(missIn)
	label := serviceLabel(f.Service, f.Port, f.Transport)
	var way string
	switch {
	case toServer > 0 && toClient > 0:
		way = fmt.Sprintf("%d from %s to %s and %d back", toServer, c.who(f), c.A(f.Server), toClient)
	case toServer > 0:
		way = fmt.Sprintf("from %s to %s", c.who(f), c.A(f.Server))
	default:
		way = fmt.Sprintf("from %s to %s", c.A(f.Server), c.who(f))
	}
	n := plural(f.Count, "packet", "packets")
	filter := betweenFilter(c, f)
	if f.Kind == diagnose.ResetBetweenCaptures {
		resets := plural(f.Count, "reset", "resets")
		summary := fmt.Sprintf("%s %s: %s %s seen on one side of the firewall only", c.who(f), label, resets, way)
		detail := fmt.Sprintf("%s %s %s in %s but not in %s, which recorded the rest of this connection at the time: the reset was made between the two capture points (a firewall, IPS or proxy), or the genuine one was dropped there.",
			capitalize(plural(f.Count, "TCP reset", "TCP resets")), way, appear(f.Count), strings.Join(seenIn, ", "), strings.Join(missIn, ", "))
		return Text{summary, detail, "Find the device between the two capture points that resets this connection.", filter}
	}
	summary := fmt.Sprintf("%s %s: %s %s seen on one side of the firewall never reached the other", c.who(f), label, n, way)
	detail := fmt.Sprintf("%s %s %s in %s but not in %s, which recorded the rest of this flow at the time (matched by IP ID, TCP sequence numbers and payload, so NAT does not hide them): the device between the two capture points dropped %s.",
		capitalize(n), way, appear(f.Count), strings.Join(seenIn, ", "), strings.Join(missIn, ", "), them(f.Count))
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
