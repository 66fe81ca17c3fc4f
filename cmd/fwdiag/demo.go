package main

import (
	"bytes"
	_ "embed"

	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/pipeline"
)

// demoCapture is a capture from the lab (pcaps/lab), recorded by tcpdump
// through a real nftables firewall: see demo.md beside it for what it holds.
//
//go:embed demo.pcap.gz
var demoCapture []byte

// demoName is the name the demo capture goes by in reports.
const demoName = "demo.pcap.gz (built in)"

// DemoOptions are the demo command's parsed arguments.
type DemoOptions struct{ reportFlags }

// NewCmdDemo builds `fwdiag demo`: analyze the capture embedded in the binary.
func NewCmdDemo(f *Factory, runF func(*DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Analyze a lab capture built into the binary (a firewall blocking Supportworks and K2)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			cfg, err := opts.Opts.Config()
			if err != nil {
				return err
			}
			src, err := dissect.NewReader(bytes.NewReader(demoCapture), demoName, 0)
			if err != nil {
				return err
			}
			r, err := pipeline.AnalyzeSource(src, cfg, f.Version)
			if err != nil {
				return err
			}
			return opts.emit(f, r)
		},
	}
	addReportFlags(c, &opts.reportFlags)
	addEvidenceFlags(c, &opts.reportFlags)
	opts.evidenceOpen = func(path string, index int) (dissect.Source, error) {
		return dissect.NewReader(bytes.NewReader(demoCapture), demoName, index)
	}
	return c
}
