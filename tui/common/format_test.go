package common

import "testing"

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		name         string
		value, limit float64
		bar, class   string
	}{
		{"empty", 0, 60, "[..........]", "ok"},
		{"half", 30, 60, "[#####.....]", "ok"},
		{"near_limit", 50, 60, "[########..]", "warning"},
		{"past_limit", 90, 60, "[#########!]", "critical"},
		{"no_limit", 90, 0, "[          ]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bar, class := Bar(tc.value, tc.limit, 12)
			if bar != tc.bar || class != tc.class {
				t.Errorf("got %q %q; want %q %q", bar, class, tc.bar, tc.class)
			}
		})
	}
}

func TestPadAndWrap(t *testing.T) {
	if got := Pad("192.0.2.130", 6); got != "192.0…" {
		t.Errorf("got %q; want %q", got, "192.0…")
	}
	for _, tc := range [][3]any{
		{"198.51.100.20:19283", 14, "198.51…0:19283"},
		{"2001:db8:ffff:ffff:ffff:ffff:ffff:1001", 21, "2001:db8:f…:ffff:1001"},
		{"192.0.2.1", 9, "192.0.2.1"},
	} {
		if got := TruncateMiddle(tc[0].(string), tc[1].(int)); got != tc[2] {
			t.Errorf("TruncateMiddle(%q, %d) = %q; want %q", tc[0], tc[1], got, tc[2])
		}
	}
	if got := Pad("ab", 4); got != "ab  " {
		t.Errorf("got %q; want %q", got, "ab  ")
	}
	if got, want := Wrap("one two three four", 12, "  "), "  one two\n  three four"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}
