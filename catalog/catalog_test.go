package catalog

import (
	"strings"
	"testing"
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
