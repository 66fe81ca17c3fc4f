package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fwdiag/fwdiag/diagnose"
)

// textWidth is where prose is wrapped.
const textWidth = 100

// WriteText writes the human summary: the verdict first, then findings by
// severity (what was seen, why it matters, what to change, the evidence and
// a Wireshark filter), then the services, NPA sessions, UDP flows and hosts.
func WriteText(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "fwdiag %s\n", r.Tool.Version)
	for _, in := range r.Inputs {
		span := in.Last.Sub(in.First)
		fmt.Fprintf(b, "Input:    %s (%s, %s, %d packets, %s from %s)\n", in.Path, in.Format, orDash(in.LinkType), in.Packets, fmtDur(span), fmtTime(in.First))
	}
	s := r.Settings
	fmt.Fprintf(b, "Timeouts: UDP %s, TCP idle %s (profile %s)\n", Seconds(s.UDPTimeoutS), Seconds(s.TCPIdleTimeoutS), s.Profile)
	for _, e := range r.Errors {
		fmt.Fprintf(b, "Input error: %s\n", e)
	}
	for _, bd := range r.Summary.Bounds {
		fmt.Fprintf(b, "Bounded:  %s\n", boundWords(bd))
	}
	fmt.Fprintf(b, "\nVERDICT: %s\n", r.Summary.Verdict)
	if len(r.Changes) > 0 {
		b.WriteString("\nCHANGES (what to change, in this order)\n")
		for _, c := range r.Changes {
			wrap(b, fmt.Sprintf("  %d. ", c.N), fmt.Sprintf("%s: %s. Resolves %s.", c.Where, c.What, strings.Join(c.Findings, ", ")))
		}
	}

	for _, sev := range []diagnose.Severity{diagnose.Critical, diagnose.Warning, diagnose.Info} {
		var fs []Finding
		for _, f := range r.Findings {
			if f.Severity == sev {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s (%d)\n", strings.ToUpper(string(sev)), len(fs))
		for _, f := range fs {
			writeFinding(b, f)
		}
	}

	if len(r.Services) > 0 {
		b.WriteString("\nSERVICES\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  server\tport\tservice\tclients\tconns\tstatus")
		for _, sv := range r.Services {
			fmt.Fprintf(tw, "  %s\t%d/%s\t%s\t%d\t%d\t%s\n", sv.Server, sv.Port, sv.Transport, sv.Service, sv.Clients, sv.Connections, strings.ToUpper(strings.ReplaceAll(string(sv.Status), "_", " ")))
		}
		tw.Flush()
	}
	if len(r.NPASessions) > 0 {
		b.WriteString("\nNPA SESSIONS (Supportworks main session + notification channel)\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  client\tserver\tstatus\tnotification\tpushes\tmax idle\tconfidence")
		for _, n := range r.NPASessions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Client, n.Server, n.Status, orDash(n.Notification), n.Pushes, Seconds(n.MaxIdleS), n.Confidence)
		}
		tw.Flush()
	}
	if len(r.UDPFlows) > 0 {
		b.WriteString("\nUDP FLOWS\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  client\tserver\tservice\treq\tresp\tmax silence\tlate\ticmp")
		shown := 0
		for _, u := range r.UDPFlows {
			if shown == 30 {
				fmt.Fprintf(tw, "  ... %d more in the JSON report\n", len(r.UDPFlows)-shown)
				break
			}
			fmt.Fprintf(tw, "  %s:%d\t%s:%d\t%s\t%d\t%d\t%s\t%d\t%d\n", u.Client, u.ClientPort, u.Server, u.ServerPort, orDash(string(u.Service)), u.Requests, u.Responses, Seconds(u.MaxSilenceS), u.LateResponses, u.ICMPErrors)
			shown++
		}
		tw.Flush()
	}
	if len(r.Hosts) > 0 {
		b.WriteString("\nHOSTS\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		for _, h := range r.Hosts {
			name := h.Name
			if len(h.Names) > 1 {
				name = strings.Join(h.Names, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", h.Addr, orDash(name), strings.Join(h.Roles, ", "))
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFinding(b *strings.Builder, f Finding) {
	svc := string(f.Service)
	if svc == "" {
		svc = "-"
	}
	fmt.Fprintf(b, "\n[%s] %s  %s  (%s confidence", f.ID, f.Kind, svc, orDash(string(f.Confidence)))
	if f.Count > 1 {
		fmt.Fprintf(b, ", %d occurrences", f.Count)
	}
	b.WriteString(")\n")
	wrap(b, "  ", f.Summary)
	if f.Detail != "" {
		wrap(b, "  Seen: ", f.Detail)
	}
	if f.Recommendation != "" {
		wrap(b, "  Fix:  ", f.Recommendation)
	}
	for _, e := range f.Evidence {
		fmt.Fprintf(b, "  Evidence: %s frames %s\n", e.Input, FrameList(e.Frames, 12))
	}
	if f.WiresharkFilter != "" {
		fmt.Fprintf(b, "  Filter: %s\n", f.WiresharkFilter)
	}
}

// wrap writes text after prefix, wrapped at textWidth, continuation lines
// indented to the prefix's width.
func wrap(b *strings.Builder, prefix, text string) {
	indent := strings.Repeat(" ", len(prefix))
	line, empty := prefix, true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > textWidth {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}

// FrameList renders evidence frame numbers for people, the first most of
// them and a count of the rest. The TUI uses it too.
func FrameList(fr []uint64, most int) string {
	var parts []string
	for i, f := range fr {
		if i == most {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(fr)-most))
			break
		}
		parts = append(parts, fmt.Sprint(f))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func fmtDur(d time.Duration) string {
	return Seconds(d.Seconds())
}

// Seconds formats a duration given in seconds for people: "none",
// "850 ms", "12.0 s", "4.5 min", "1.0 h". The TUI uses it too, so both
// outputs read alike.
func Seconds(s float64) string {
	switch {
	case s <= 0:
		return "none"
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 120:
		return fmt.Sprintf("%.1f min", s/60)
	case s >= 1:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

// boundWords says what a full table means for the reader.
func boundWords(b Bound) string {
	switch b.Table {
	case diagnose.BoundTCP:
		return fmt.Sprintf("%d TCP connections left the live table (cap %d): their findings and counts are kept; the TCP flows table does not list them", b.Summarised, b.Limit)
	case diagnose.BoundUDP:
		return fmt.Sprintf("%d UDP flows left the live table (cap %d): their findings and counts are kept; the UDP flows table does not list them", b.Summarised, b.Limit)
	case diagnose.BoundScan:
		return fmt.Sprintf("more than %d clients made failed attempts: the scan watch started afresh %d times (a scanner is still found; single attempts from a flood are counted, not watched)", b.Limit, b.Summarised)
	case diagnose.BoundK2:
		return fmt.Sprintf("more than %d K2 clients' flows were evicted: %d later flows were judged without their client's earlier ones (rebinds and failovers among them may be missed)", b.Limit, b.Summarised)
	case diagnose.BoundDNS:
		return fmt.Sprintf("%d DNS answers past the names' bounds (%d client lookups) were not kept", b.Summarised, b.Limit)
	case diagnose.BoundClients:
		return fmt.Sprintf("services with more than %d clients: %d further connections are counted, their clients not listed", b.Limit, b.Summarised)
	}
	return fmt.Sprintf("%s: %d summarised (limit %d)", b.Table, b.Summarised, b.Limit)
}
