package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/catalog"
)

func TestConfigServiceNames(t *testing.T) {
	cases := []struct {
		spec string
		want string // "" = accepted
	}{
		{"sw-binary=6001", ""},
		{"k2-shadow=19316/udp", ""},
		{"custom:my-app=7000", ""},
		{"custom: my-app=7000/udp", ""},
		{"bogus=6001", `no catalog service is named "bogus" (known: sw-binary, sw-notify-udp,`},
		{"bogus=6001", "write custom:bogus=6001"},
		{"custom:sw-binary=6001", "sw-binary is a catalog service: write sw-binary=6001 to move it"},
		{"custom:my app=7000", "letters, digits"},
		{"sw-binary=6001/udp", "sw-binary runs over tcp only"},
		{"k2-keyserver=19300/tcp", ""},
		{"sw-binary=x", "not a number"},
	}
	for _, tc := range cases {
		_, err := Options{Services: []string{tc.spec}}.Config()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: got %v; want it accepted", tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v; want an error with %q", tc.spec, err, tc.want)
		}
	}
	for _, n := range catalog.ServiceNames() {
		if _, err := (Options{Services: []string{string(n) + "=6100"}}).Config(); err != nil {
			t.Errorf("catalog service %s refused: %v", n, err)
		}
	}
}

func TestConfigCustomServiceIsInTheCatalog(t *testing.T) {
	cfg, err := Options{Services: []string{"custom:my-app=7000/udp", "sw-binary=6001"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := cfg.Catalog.Lookup(7000, catalog.UDP, ""); !ok || s.Name != "my-app" || s.Product != catalog.Custom {
		t.Errorf("7000/udp: got %+v %v; want the custom service my-app", s, ok)
	}
	if s, ok := cfg.Catalog.Lookup(6001, catalog.TCP, ""); !ok || s.Name != "sw-binary" {
		t.Errorf("6001/tcp: got %+v %v; want sw-binary moved", s, ok)
	}
}

func TestConfigServicesFileNamesTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.txt")
	os.WriteFile(path, []byte("# moved ports\nsw-binary=6001\n\ncustom:my-app=7000\nbogus=6002\n"), 0o644)
	_, err := Options{ServicesFile: path}.Config()
	if err == nil || !strings.Contains(err.Error(), path+":5: ") || !strings.Contains(err.Error(), "custom:bogus=6002") {
		t.Errorf("got %v; want the file, line 5 and the custom: hint", err)
	}
	os.WriteFile(path, []byte("sw-binary=6001\ncustom:my-app=7000\n"), 0o644)
	cfg, err := Options{ServicesFile: path, Services: []string{"sw-binary=6002"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	// The command line wins over the file.
	if s, ok := cfg.Catalog.Lookup(6002, catalog.TCP, ""); !ok || s.Name != "sw-binary" {
		t.Errorf("6002/tcp: got %+v %v; want sw-binary (the command line after the file)", s, ok)
	}
	if _, ok := cfg.Catalog.Lookup(7000, catalog.TCP, ""); !ok {
		t.Error("the file's custom service is missing")
	}
}

func TestConfigServicesFileMissing(t *testing.T) {
	_, err := Options{ServicesFile: "nosuch.txt"}.Config()
	if err == nil || err.Error() != "--services: nosuch.txt: no such file or directory" {
		t.Errorf("got %v", err)
	}
}
