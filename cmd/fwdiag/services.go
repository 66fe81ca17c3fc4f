package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/catalog"
)

// NewCmdServices builds `fwdiag services`: the built-in catalog.
func NewCmdServices(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "services",
		Short: "Print the built-in service/port catalog (from the Supportworks and K2 documents)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(f.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tPORT\tPRODUCT\tVERSIONS\tWHAT")
			for _, s := range catalog.NewCatalog(catalog.DefaultServices()).Services() {
				v := "all"
				switch {
				case s.MinVersion != "" && s.MaxVersion != "":
					v = s.MinVersion + " to " + s.MaxVersion
				case s.MinVersion != "":
					v = "from " + s.MinVersion
				case s.MaxVersion == "7.3.x":
					v = "before 7.4.0"
				case s.MaxVersion != "":
					v = "up to " + s.MaxVersion
				}
				if s.Product == catalog.K2 {
					v = "-"
				}
				what := s.What
				if len(s.Names) > 0 {
					what += " [" + strings.Join(s.Names, ", ") + "]"
				}
				fmt.Fprintf(tw, "%s\t%d/%s\t%s\t%s\t%s\n", s.Name, s.Port, s.Transport, s.Product, v, what)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(f.Out, "\nEvery default port can be changed: declare moved ones with --service NAME=PORT[/udp] or --services FILE,")
			fmt.Fprintln(f.Out, "and a service not listed here with --service custom:NAME=PORT[/udp].")
			return nil
		},
	}
}
