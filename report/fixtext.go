package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fwdiag/fwdiag/fix"
)

// ChangeFixes returns, for each change number, its fixes as the findings
// carry them (each change's snippets once, though several findings list
// them), in the order of the firewalls.
func (r *Report) ChangeFixes() map[int][]Fix {
	out := map[int][]Fix{}
	done := map[int]bool{}
	for _, f := range r.Findings {
		seen := map[int]bool{}
		for _, x := range f.Fixes {
			if done[x.Change] {
				continue
			}
			seen[x.Change] = true
			out[x.Change] = append(out[x.Change], x)
		}
		for n := range seen {
			done[n] = true
		}
	}
	return out
}

// writeFixSection writes FIX: each change in the language of each
// firewall the report was written for, after the CHANGES list that words
// them. With no firewall named it says how to ask for one; the changes on
// a host (the client's or the server's own Windows) are written anyway.
func writeFixSection(b *strings.Builder, r *Report) {
	byChange := r.ChangeFixes()
	if len(r.Changes) == 0 {
		return
	}
	var names []string
	for _, f := range r.Settings.Firewalls {
		names = append(names, string(f))
	}
	title := "FIX (the changes in each device's own language"
	if len(names) > 0 && len(names) < len(fix.Firewalls()) {
		title += ": " + strings.Join(names, ", ") + "; --firewall NAME or --fix all for other devices"
	}
	b.WriteString("\n" + title + ")\n")
	if len(names) == 0 {
		wrap(b, "  ", "No firewall named: give --firewall NAME ("+strings.Join(firewallNames(), ", ")+") or --fix all for the configuration lines, or `fwdiag fix REPORT.json --firewall NAME` later.")
	}
	// A note or a source said once is referred to after: the same caveat
	// under every nftables allow would bury the lines to paste.
	noteAt, sourceSaid := map[string]int{}, map[string]bool{}
	for _, c := range r.Changes {
		for _, x := range byChange[c.N] {
			head := fmt.Sprintf("  %d. %s", c.N, x.Device)
			if x.Lang != "" && x.Text != "" {
				head += " (" + x.Lang + ")"
			}
			b.WriteString(head + "\n")
			for _, l := range strings.Split(strings.TrimRight(x.Text, "\n"), "\n") {
				if l != "" {
					b.WriteString("       " + l + "\n")
				}
			}
			switch n, said := noteAt[x.Note]; {
			case x.Note == "":
			case said:
				fmt.Fprintf(b, "     Note: as for %d.\n", n)
			default:
				noteAt[x.Note] = c.N
				wrap(b, "     Note: ", x.Note)
			}
			if x.Source != "" && !sourceSaid[x.Source] {
				sourceSaid[x.Source] = true
				wrap(b, "     Source: ", x.Source)
			}
		}
	}
}

// firewallNames are the --firewall names.
func firewallNames() []string {
	var out []string
	for _, f := range fix.Firewalls() {
		out = append(out, string(f))
	}
	return out
}

// writeChanges writes CHANGES, the changes worded in order, then FIX.
func writeChanges(b *strings.Builder, r *Report) {
	if len(r.Changes) == 0 {
		return
	}
	b.WriteString("\nCHANGES (what to change, in this order)\n")
	for _, c := range r.Changes {
		wrap(b, fmt.Sprintf("  %d. ", c.N), fmt.Sprintf("%s: %s. Resolves %s.", c.Where, c.What, strings.Join(c.Findings, ", ")))
	}
	writeFixSection(b, r)
}

// WriteFixText writes what `fwdiag fix` prints: the report's verdict, its
// CHANGES and their FIX for the devices the report was written for.
func WriteFixText(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "VERDICT: %s\n", r.Summary.Verdict)
	if len(r.Changes) == 0 {
		b.WriteString("\nNo change to make: no finding asks for one.\n")
	}
	writeChanges(b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadJSON reads a JSON report (fwdiag.report/v1) back, to write its fixes
// again for other devices. A report of another schema is refused.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("not a JSON report: %w", err)
	}
	if r.Schema != SchemaID {
		return nil, fmt.Errorf("schema %q, want %s (a report written by fwdiag analyze --json)", r.Schema, SchemaID)
	}
	return &r, nil
}
