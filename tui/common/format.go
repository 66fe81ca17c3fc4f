package common

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/fwdiag/fwdiag/report"
)

// Truncate cuts s to at most w terminal cells, marking the cut with "…".
func Truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// Pad truncates or right-pads s to exactly w cells.
func Pad(s string, w int) string {
	s = Truncate(s, w)
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// TruncateMiddle cuts s to at most w cells by taking out its middle, marked
// with "…": an address keeps its first and last groups and its port, which
// tell it from its neighbours.
func TruncateMiddle(s string, w int) string {
	n := ansi.StringWidth(s)
	if n <= w {
		return s
	}
	if w < 5 {
		return Truncate(s, w)
	}
	left := (w - 1) / 2
	right := w - 1 - left
	return ansi.Cut(s, 0, left) + "…" + ansi.TruncateLeft(s, n-right, "")
}

// PadLeft truncates or left-pads s to exactly w cells: numbers line up on
// their last digit.
func PadLeft(s string, w int) string {
	s = Truncate(s, w)
	if n := ansi.StringWidth(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// Mark is the one-cell symbol of a meaning class, so a row reads without
// colour: ✗ critical, ! warning, · info, ✓ ok, a space for none.
func Mark(class string) string {
	switch class {
	case "critical":
		return "✗"
	case "warning":
		return "!"
	case "info":
		return "·"
	case "ok":
		return "✓"
	}
	return " "
}

// Seconds formats a duration in seconds the way the text report does.
func Seconds(s float64) string { return report.Seconds(s) }

// Clock formats an elapsed time as h:mm:ss or m:ss.
func Clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// Bar draws value against limit in w cells: "[#####.....]". A value past
// the limit fills the bar and ends it with "!" so the overrun shows without
// colour. class is "critical" past the limit, "warning" past three
// quarters, "ok" below; "" when there is no limit.
func Bar(value, limit float64, w int) (bar, class string) {
	if w < 3 {
		w = 3
	}
	inner := w - 2
	if limit <= 0 {
		return "[" + strings.Repeat(" ", inner) + "]", ""
	}
	frac := value / limit
	n := int(frac*float64(inner) + 0.5)
	switch {
	case frac > 1:
		return "[" + strings.Repeat("#", inner-1) + "!]", "critical"
	case n > inner:
		n = inner
	}
	class = "ok"
	if frac > 0.75 {
		class = "warning"
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", inner-n) + "]", class
}

// Wrap wraps text to width w, indenting every line with indent.
func Wrap(text string, w int, indent string) string {
	width := w - ansi.StringWidth(indent)
	if width < 10 {
		width = 10
	}
	var b strings.Builder
	for i, para := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && ansi.StringWidth(line)+1+ansi.StringWidth(word) > width {
				b.WriteString(indent + line + "\n")
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		b.WriteString(indent + line)
	}
	return b.String()
}

// WrapAll wraps text to width w like Wrap, but also breaks a word wider
// than the line, so none of the text is cut: a Wireshark filter is shown
// whole.
func WrapAll(text string, w int, indent string) string {
	width := max(w-ansi.StringWidth(indent), 10)
	lines := strings.Split(ansi.Wrap(text, width, ""), "\n")
	for i, l := range lines {
		lines[i] = indent + l
	}
	return strings.Join(lines, "\n")
}

// SeverityTag is the four-letter severity column.
func SeverityTag(sev string) string {
	switch sev {
	case "critical":
		return "CRIT"
	case "warning":
		return "WARN"
	case "info":
		return "INFO"
	}
	return strings.ToUpper(sev)
}

// Hard indents each line of text, keeping its own indentation, and breaks
// a line wider than w into pieces, each continued under it further
// indented, so nothing of a line to paste is lost or reflowed.
func Hard(text string, w int, indent string) string {
	width := max(w-ansi.StringWidth(indent), 10)
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		r := []rune(line)
		b.WriteString(indent + string(r[:min(len(r), width)]))
		for r = r[min(len(r), width):]; len(r) > 0; r = r[min(len(r), width-2):] {
			b.WriteString("\n" + indent + "  " + string(r[:min(len(r), width-2)]))
		}
	}
	return b.String()
}
