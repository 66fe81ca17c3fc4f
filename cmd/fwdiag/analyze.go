package main

import (
	"slices"

	"github.com/spf13/cobra"

	"github.com/fwdiag/fwdiag/pipeline"
)

// AnalyzeOptions are the analyze command's parsed arguments.
type AnalyzeOptions struct {
	Files []string
	reportFlags
}

// NewCmdAnalyze builds `fwdiag analyze`. runF replaces the run function in
// tests of flag parsing.
func NewCmdAnalyze(f *Factory, runF func(*AnalyzeOptions) error) *cobra.Command {
	opts := &AnalyzeOptions{}
	c := &cobra.Command{
		Use:   "analyze [flags] FILE...",
		Short: "Analyze pcap/pcapng captures (gzip ok, - for stdin) and print the diagnosis",
		Example: `  fwdiag analyze client.pcap
  fwdiag analyze --json report.json client.pcap server.pcapng.gz
  tcpdump -w - -i eth0 port 5001 | fwdiag analyze -
  fwdiag analyze --profile asa --fail-on critical capture.pcap
  fwdiag analyze --redact --json report.json --evidence evidence.pcapng client.pcap`,
		Args: requireFiles("analyze"),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Files = args
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return analyzeRun(f, opts)
		},
	}
	addReportFlags(c, &opts.reportFlags)
	addEvidenceFlags(c, &opts.reportFlags)
	return c
}

func analyzeRun(f *Factory, opts *AnalyzeOptions) error {
	if err := checkFiles(opts.Files); err != nil {
		return err
	}
	if opts.Evidence != "" && slices.Contains(opts.Files, "-") {
		return usageErr("--evidence reads the inputs again: standard input (-) cannot be; save it to a file first")
	}
	defer batchGC()()
	prof := startProfile()
	defer prof.stop()
	r, err := pipeline.AnalyzeFiles(opts.Files, opts.Opts, f.Version)
	if err != nil {
		return err
	}
	prof.readDone()
	collectAnalysis()
	return opts.emit(f, r)
}
