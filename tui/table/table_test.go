package table

import (
	"slices"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/tui/common"
)

func TestWidths(t *testing.T) {
	m := New(common.New(nil), []Column{
		{Title: "CLIENT", Width: 15, Flex: true},
		{Title: "SERVER", Width: 15, Flex: true},
		{Title: "STATUS", Width: 6},
		{Title: "N", Numeric: true, Right: true},
	}, "none")
	m.SetRows([]Row{
		{Key: "a", Cells: []string{strings.Repeat("c", 40), strings.Repeat("s", 30), "not listening", "100000"}},
		{Key: "b", Cells: []string{"192.0.2.1", "192.0.2.2", "ok", "7"}},
	})
	for _, tc := range []struct {
		w    int
		want []int
	}{
		// 3 gutter + 3 spaces + 13 + 6 = 25 taken; the flex columns share 55.
		{80, []int{28, 27, 13, 6}},
		// Room for all: no column wider than its widest cell.
		{250, []int{40, 30, 13, 6}},
		{60, []int{18, 17, 13, 6}},
		// Narrower: the status gives up room for the flex columns to keep
		// their Width, then down to its own Width; the number keeps all of
		// its at every width.
		{52, []int{15, 15, 10, 6}},
		{40, []int{11, 11, 6, 6}},
	} {
		if got := m.Widths(tc.w); !slices.Equal(got, tc.want) {
			t.Errorf("Widths(%d) = %v; want %v", tc.w, got, tc.want)
		}
	}
}

func TestNatural(t *testing.T) {
	in := []string{"192.0.2.130", "192.0.2.9", "10.0.0.1", "192.0.2.10", "Alpha", "alpha2", "alpha10", "a"}
	slices.SortFunc(in, Natural)
	want := []string{"10.0.0.1", "192.0.2.9", "192.0.2.10", "192.0.2.130", "a", "Alpha", "alpha2", "alpha10"}
	if !slices.Equal(in, want) {
		t.Errorf("got %v; want %v", in, want)
	}
}
