package main

import (
	"strings"

	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/pipeline"
	"github.com/fwdiag/fwdiag/report"
	"github.com/spf13/cobra"
)

// fixFlags choose the devices the findings' fixes are written for, and the
// names a Linux snippet uses, for every command that writes a report and
// for `fwdiag fix`.
type fixFlags struct {
	Firewall []string // --firewall NAME[,NAME...]
	Fix      string   // --fix all
	NFTChain string   // --nft-chain "FAMILY TABLE CHAIN"
	IPTChain string   // --iptables-chain CHAIN
}

func addFixFlags(c *cobra.Command, ff *fixFlags) {
	fl := c.Flags()
	var names []string
	for _, f := range fix.Firewalls() {
		names = append(names, string(f))
	}
	fl.StringSliceVar(&ff.Firewall, "firewall", nil, "write the fixes for `NAME`s (comma list): "+strings.Join(names, ", ")+";\ndefault: the --profile's device (none for the default profile)")
	fl.StringVar(&ff.Fix, "fix", "", "`all`: write the fixes for every device fwdiag knows")
	fl.StringVar(&ff.NFTChain, "nft-chain", "", "nftables `\"FAMILY TABLE CHAIN\"` the allow rules go into (default \"inet filter forward\")")
	fl.StringVar(&ff.IPTChain, "iptables-chain", "", "iptables `CHAIN` the allow rules go into (default FORWARD)")
}

// firewalls returns the devices asked for; nil when none is (the
// profile's device then).
func (ff *fixFlags) firewalls() ([]fix.Firewall, error) {
	switch ff.Fix {
	case "":
	case "all":
		return fix.Firewalls(), nil
	default:
		return nil, usageErr("--fix %q: want all (or name devices with --firewall)", ff.Fix)
	}
	if len(ff.Firewall) == 0 {
		return nil, nil
	}
	var out []fix.Firewall
	for _, n := range ff.Firewall {
		if strings.EqualFold(strings.TrimSpace(n), "all") {
			return fix.Firewalls(), nil
		}
		f, err := fix.ParseFirewall(n)
		if err != nil {
			return nil, usageErr("--firewall: %v", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// options returns the snippets' Linux names.
func (ff *fixFlags) options() (fix.Options, error) {
	o := fix.Options{IPTChain: ff.IPTChain}
	if ff.NFTChain != "" {
		p := strings.Fields(ff.NFTChain)
		if len(p) != 3 {
			return o, usageErr("--nft-chain %q: want \"FAMILY TABLE CHAIN\", e.g. \"inet filter forward\"", ff.NFTChain)
		}
		o.NFTFamily, o.NFTTable, o.NFTChain = p[0], p[1], p[2]
	}
	return o, nil
}

// resolve returns the devices and the Linux names asked for.
func (ff *fixFlags) resolve() ([]fix.Firewall, fix.Options, error) {
	fws, err := ff.firewalls()
	if err != nil {
		return nil, fix.Options{}, err
	}
	o, err := ff.options()
	return fws, o, err
}

// apply writes r's fixes for the devices asked for; a report whose
// devices were not named on the command line keeps the profile's.
func (ff *fixFlags) apply(r *report.Report) error {
	fws, o, err := ff.resolve()
	if err != nil || (fws == nil && o == (fix.Options{})) {
		return err
	}
	return r.SetFirewalls(fws, o)
}

// setOn has a live runner's snapshots written with the devices asked for.
func (ff *fixFlags) setOn(r *pipeline.Runner) error {
	fws, o, err := ff.resolve()
	if err != nil {
		return err
	}
	r.SetFirewalls(fws, o)
	return nil
}
