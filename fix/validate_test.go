package fix_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fwdiag/fwdiag/fix"
)

// The snippets for Linux are checked by the tools that will load them,
// each run inside a fresh network namespace (unshare -n) so that the
// host's ruleset and sysctls are never touched: nft -c -f for nftables
// (then a real load, twice, to show the snippet is self-contained and can
// run again), iptables-restore --test (ip6tables-restore for IPv6, then a
// real load after the nfct line when nfct is installed), and sysctl -p for
// the sysctl files. The checks need root and the tools (make tools
// installs them); they skip, saying why, without.

func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace (unshare -n); run as root to check the snippets with nft and iptables-restore")
	}
	for _, tool := range append([]string{"unshare"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make tools installs it); the snippets are not checked", tool)
		}
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace: %v %s", err, out)
	}
}

// inNetns runs a shell script in a fresh network namespace.
func inNetns(script string) (string, error) {
	out, err := exec.Command("unshare", "-n", "sh", "-ec", script).CombinedOutput()
	return string(out), err
}

// linuxSnippets are every snippet of every fixture for Linux firewalls,
// with the default names and with a site's own table and chain.
func linuxSnippets(lang string) map[string]fix.Snippet {
	out := map[string]fix.Snippet{}
	opts := map[string]fix.Options{"default": {}, "site": {NFTFamily: "inet", NFTTable: "site", NFTChain: "input", IPTChain: "INPUT"}}
	for _, fx := range fixtures() {
		for _, f := range fx {
			for on, o := range opts {
				for i, s := range fix.For(f.c, []fix.Firewall{fix.NFTables, fix.IPTables, fix.OpenWrt}, o) {
					if s.Lang == lang {
						out[f.name+"_"+string(f.c.Action)+"_"+on+"_"+string(s.Firewall)+"_"+string(rune('0'+i))] = s
					}
				}
			}
		}
	}
	return out
}

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "snippet")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNFTSnippetsLoad(t *testing.T) {
	need(t, "nft")
	ss := linuxSnippets("nft")
	if len(ss) == 0 {
		t.Fatal("no nft snippet among the fixtures")
	}
	for name, s := range ss {
		t.Run(name, func(t *testing.T) {
			p := write(t, s.Text)
			if out, err := inNetns("nft -c -f " + p); err != nil {
				t.Fatalf("nft -c -f rejects it: %v\n%s\n%s", err, out, s.Text)
			}
			if out, err := inNetns("nft -f " + p + "; nft -f " + p + "; nft list ruleset"); err != nil {
				t.Fatalf("loading it twice fails: %v\n%s\n%s", err, out, s.Text)
			}
		})
	}
}

// TestNFTIntoSiteChain: a snippet loads into a site's existing chain
// with a drop policy and leaves that policy alone.
func TestNFTIntoSiteChain(t *testing.T) {
	need(t, "nft")
	site := write(t, "table inet filter {\n chain forward {\n  type filter hook forward priority filter; policy drop;\n  ct state established,related accept\n }\n}\n")
	for name, s := range linuxSnippets("nft") {
		if !strings.Contains(s.Text, "inet filter forward") {
			continue
		}
		p := write(t, s.Text)
		out, err := inNetns("nft -f " + site + "; nft -f " + p + "; nft list chain inet filter forward")
		if err != nil || !strings.Contains(out, "policy drop") {
			t.Errorf("%s: %v; want the site's policy drop kept:\n%s", name, err, out)
		}
	}
}

func TestIPTablesSnippetsRestore(t *testing.T) {
	need(t, "iptables-restore", "ip6tables-restore")
	_, nfctErr := exec.LookPath("nfct")
	ss := linuxSnippets("iptables-restore")
	if len(ss) == 0 {
		t.Fatal("no iptables snippet among the fixtures")
	}
	for name, s := range ss {
		t.Run(name, func(t *testing.T) {
			restore := "iptables-restore"
			if strings.Contains(s.Text, "ip6tables-restore") {
				restore = "ip6tables-restore"
			}
			p := write(t, s.Text)
			if out, err := inNetns(restore + " --test --noflush " + p); err != nil {
				t.Fatalf("%s --test rejects it: %v\n%s\n%s", restore, err, out, s.Text)
			}
			// The real load needs the chain (INPUT and FORWARD are built
			// in) and, for CT --timeout, the nfct policy.
			pre := ""
			for _, l := range strings.Split(s.Text, "\n") {
				if c, ok := strings.CutPrefix(l, "# nfct "); ok {
					if nfctErr != nil {
						t.Skip("nfct not installed: the CT --timeout rule is checked by --test only")
					}
					pre += "nfct " + c + "\n"
				}
			}
			if out, err := inNetns(pre + restore + " --noflush " + p + "\n" + strings.TrimSuffix(restore, "-restore") + "-save"); err != nil {
				t.Fatalf("loading it fails: %v\n%s\n%s", err, out, s.Text)
			}
		})
	}
}

func TestSysctlSnippetsApply(t *testing.T) {
	need(t, "sysctl", "nft")
	ss := linuxSnippets("sysctl")
	if len(ss) == 0 {
		t.Fatal("no sysctl snippet among the fixtures")
	}
	// A conntrack rule makes the namespace's conntrack sysctls appear.
	ct := write(t, "table inet t {\n chain c {\n  type filter hook input priority filter;\n  ct state established accept\n }\n}\n")
	for name, s := range ss {
		t.Run(name, func(t *testing.T) {
			p := write(t, s.Text)
			if out, err := inNetns("nft -f " + ct + "\nsysctl -p " + p); err != nil {
				t.Fatalf("sysctl -p rejects it: %v\n%s\n%s", err, out, s.Text)
			}
		})
	}
}
