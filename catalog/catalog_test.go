package catalog

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestServiceOverrideMovesPort(t *testing.T) {
	svcs, err := WithOverrides(DefaultServices(), []string{"sw-binary=6001"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCatalog(svcs)
	if s, ok := c.Lookup(6001, TCP, ""); !ok || s.Name != "sw-binary" {
		t.Errorf("got %v %v; want sw-binary on 6001", s, ok)
	}
	if s, ok := c.Lookup(5001, TCP, ""); ok {
		t.Errorf("5001 still maps to %s after the move", s.Name)
	}
	for _, bad := range []string{"sw-binary", "x=0", "x=70000", "x=80/sctp", "=80"} {
		if _, err := WithOverrides(DefaultServices(), []string{bad}); err == nil {
			t.Errorf("%q: got no error; want one", bad)
		}
	}
}

func TestCatalogNamesSharedPorts(t *testing.T) {
	c := NewCatalog(DefaultServices())
	cases := []struct {
		port uint16
		name string
		want string
	}{
		{443, "prs.sassafras.com", "k2-prs"},
		{80, "www.sassafras.com", "k2-version-check"},
		{80, "", "sw-http"},
		{25, "mail.example", "k2-smtp"},
		{19315, "", "k2-shadow"},
	}
	for _, tc := range cases {
		tr := TCP
		if tc.port == 19315 {
			tr = UDP
		}
		s, ok := c.Lookup(tc.port, tr, tc.name)
		if !ok || string(s.Name) != tc.want {
			t.Errorf("port %d name %q: got %v; want %s", tc.port, tc.name, s, tc.want)
		}
	}
}

func TestReadOverridesNamesFileAndLine(t *testing.T) {
	got, err := ReadOverrides(strings.NewReader("# moved ports\n\nsw-binary=6001\nk2-keyserver=29283/udp\n"), "site.txt")
	if err != nil || len(got) != 2 || got[0] != "sw-binary=6001" || got[1] != "k2-keyserver=29283/udp" {
		t.Fatalf("got %v, %v; want the two overrides", got, err)
	}
	_, err = ReadOverrides(strings.NewReader("sw-binary=6001\nsw-sql=port\n"), "site.txt")
	if err == nil || !strings.HasPrefix(err.Error(), "site.txt:2:") {
		t.Errorf("got error %v; want one naming site.txt:2", err)
	}
}

func TestServiceNamesEachOnce(t *testing.T) {
	names := ServiceNames()
	seen := map[ServiceName]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
	for _, s := range DefaultServices() {
		if !seen[s.Name] {
			t.Errorf("%s missing", s.Name)
		}
	}
	if names[0] != SWBinary {
		t.Errorf("got %v first; want the catalog's order", names[0])
	}
}

// TestProfilesWithin: the profiles consistent with a measured bracket are
// those whose timeout is longer than its lower bound and no longer than
// its upper one; a contradiction fits none.
func TestProfilesWithin(t *testing.T) {
	for _, tc := range []struct {
		name         string
		tr           Transport
		above, below time.Duration
		want         []string
	}{
		{"udp_between_20s_and_45s", UDP, 20 * time.Second, 45 * time.Second, []string{"checkpoint", "gcp-nat", "linux", "panos"}},
		{"udp_upper_only_7s", UDP, 0, 7 * time.Second, nil},
		{"udp_lower_only_200s", UDP, 200 * time.Second, 0, []string{"aws-nat", "azure-nat"}},
		{"udp_contradictory", UDP, 8 * time.Second, 7 * time.Second, nil},
		{"tcp_lower_only_2h", TCP, 2 * time.Hour, 0, []string{"linux", "openwrt", "pf", "rfc", "windows"}},
		{"tcp_between_1000s_and_1h", TCP, 1000 * time.Second, time.Hour, []string{"asa", "checkpoint", "fortigate", "gcp-nat", "panos", "srx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProfilesWithin(tc.tr, tc.above, tc.below); !slices.Equal(got, tc.want) {
				t.Errorf("got %v; want %v", got, tc.want)
			}
		})
	}
}
