package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/catalog"
)

// NewCmdProfiles builds `fwdiag profiles`: firewall timeouts with sources.
func NewCmdProfiles(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "profiles",
		Short: "Print the firewall timeout profiles with their sources",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(f.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tUDP\tTCP IDLE\tDEVICE\tNOTE\tSOURCE")
			for _, p := range catalog.Profiles() {
				tcp := "none"
				if p.TCPIdle > 0 {
					tcp = p.TCPIdle.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.UDP, tcp, p.Device, p.Note, p.Source)
			}
			return tw.Flush()
		},
	}
}
