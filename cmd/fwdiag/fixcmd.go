package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/report"
)

// FixOptions are the flags of `fwdiag fix`.
type FixOptions struct {
	fixFlags
	JSON string
}

// NewCmdFix builds `fwdiag fix REPORT.json`: the changes of a saved report
// written for other devices, so that a ticket's report becomes a change
// later, on a machine without the capture.
func NewCmdFix(f *Factory) *cobra.Command {
	opts := &FixOptions{}
	c := &cobra.Command{
		Use:   "fix REPORT.json",
		Short: "Write the changes of a saved JSON report in a firewall's own language",
		Long: `Write the changes of a JSON report (fwdiag analyze --json) in the configuration
language of a firewall: the CHANGES list and, for each change, the lines to
paste and the vendor document they follow.`,
		Example: `  fwdiag fix report.json --firewall asa
  fwdiag fix report.json --fix all
  fwdiag fix report.json --firewall nftables --nft-chain "inet fw forward" --json fixed.json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("fix: give one JSON report (fwdiag analyze --json FILE)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return fixRun(f, opts, args[0])
		},
	}
	addFixFlags(c, &opts.fixFlags)
	c.Flags().StringVar(&opts.JSON, "json", "", "write the report with its fixes to `PATH` (- = stdout, and then no text)")
	return c
}

func fixRun(f *Factory, opts *FixOptions, path string) error {
	fws, o, err := opts.resolve()
	if err != nil {
		return err
	}
	in := f.In
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return &exitError{2, fmt.Errorf("%s: %w", path, unwrapPath(err))}
		}
		defer fh.Close()
		in = fh
	}
	r, err := report.ReadJSON(in)
	if err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", path, err)}
	}
	if fws == nil {
		fws = r.Settings.Firewalls
	}
	if len(fws) == 0 {
		fws = report.DefaultFirewalls(r.Settings.Profile)
	}
	if err := report.RenderFixes(r, fws, o); err != nil {
		return &exitError{2, fmt.Errorf("%s: %w", path, err)}
	}
	switch opts.JSON {
	case "-":
		return report.WriteJSON(f.Out, r)
	case "":
	default:
		if err := report.WriteFileAtomic(opts.JSON, r); err != nil {
			return &exitError{2, fmt.Errorf("--json %s: %w", opts.JSON, err)}
		}
	}
	return report.WriteFixText(f.Out, r)
}
