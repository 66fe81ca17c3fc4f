// Package pipeline runs an analysis end to end: it opens the sources,
// feeds the dissected packets to the flow analyzer, diagnoses the flows and
// assembles the report. It is the only place that knows all of dissect,
// flows, diagnose and report; the commands call it and print.
package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/flows"
	"github.com/fwdiag/fwdiag/report"
)

// Options are the analysis settings shared by analyze, live and tui.
type Options struct {
	Profile      string        // profile name; "" = default
	UDPTimeout   time.Duration // 0 = the profile's
	TCPIdle      time.Duration // 0 = the profile's
	Services     []string      // --service NAME=PORT[/udp] or custom:NAME=PORT[/udp]
	ServicesFile string        // --services FILE, lines in the same format
}

// CustomPrefix marks a --service entry (or --services line) that declares a
// service the catalog does not have: custom:NAME=PORT[/udp]. Without it the
// name must be a catalog service's, so that a typo is refused rather than
// taken for a new service.
const CustomPrefix = "custom:"

// Config turns options into the analyzer's configuration.
func (o Options) Config() (flows.Config, error) {
	name := o.Profile
	if name == "" {
		name = catalog.DefaultProfileName
	}
	p, err := catalog.LookupProfile(name)
	if err != nil {
		return flows.Config{}, err
	}
	if o.UDPTimeout < 0 || o.TCPIdle < 0 {
		return flows.Config{}, errors.New("timeouts must be positive")
	}
	var overrides []string
	if o.ServicesFile != "" {
		more, err := readOverrides(o.ServicesFile)
		if err != nil {
			return flows.Config{}, fmt.Errorf("--services: %w", err)
		}
		overrides = more
	}
	for _, spec := range o.Services {
		spec, err := checkOverride(spec)
		if err != nil {
			return flows.Config{}, err
		}
		overrides = append(overrides, spec)
	}
	svcs, err := catalog.WithOverrides(catalog.DefaultServices(), overrides)
	if err != nil {
		return flows.Config{}, err
	}
	return flows.Config{Catalog: catalog.NewCatalog(svcs), Timeouts: catalog.TimeoutsFor(p, o.UDPTimeout, o.TCPIdle)}, nil
}

// readOverrides reads a --services file: one NAME=PORT[/udp] or
// custom:NAME=PORT[/udp] a line, blank lines and # comments ignored. Errors
// name the file and line.
func readOverrides(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		spec, err := checkOverride(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		out = append(out, spec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// checkOverride checks one --service entry and returns it as
// catalog.WithOverrides takes it (without the custom: mark). A name without
// the mark must be a catalog service's, and a transport given with it one
// the service uses; a name with the mark must not be a catalog service's.
func checkOverride(spec string) (string, error) {
	s := strings.TrimSpace(spec)
	custom := strings.HasPrefix(s, CustomPrefix)
	if custom {
		s = strings.TrimSpace(strings.TrimPrefix(s, CustomPrefix))
	}
	name, _, tr, err := catalog.ParseServiceOverride(s)
	if err != nil {
		return "", err
	}
	var transports []string
	for _, svc := range catalog.DefaultServices() {
		if svc.Name == name && !slices.Contains(transports, string(svc.Transport)) {
			transports = append(transports, string(svc.Transport))
		}
	}
	known := len(transports) > 0
	switch {
	case custom && known:
		return "", fmt.Errorf("service %q: %s is a catalog service: write %s to move it", spec, name, s)
	case custom && !validCustomName(string(name)):
		return "", fmt.Errorf("service %q: a custom service's name holds letters, digits, '-', '_' and '.' only", spec)
	case !custom && !known:
		names := make([]string, 0, 20)
		for _, n := range catalog.ServiceNames() {
			names = append(names, string(n))
		}
		return "", fmt.Errorf("service %q: no catalog service is named %q (known: %s); to declare a new service write %s%s",
			spec, name, strings.Join(names, ", "), CustomPrefix, s)
	case known && tr != "" && !slices.Contains(transports, string(tr)):
		return "", fmt.Errorf("service %q: %s runs over %s only", spec, name, strings.Join(transports, " and "))
	}
	return s, nil
}

func validCustomName(n string) bool {
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return n != ""
}

// InputError is an input that cannot be analysed at all: it names the file
// (and frame, where known). The command exits 2 on it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// OpenFiles opens every path ("-" = stdin) and merges them by timestamp.
func OpenFiles(paths []string) (dissect.Source, error) {
	var srcs []dissect.Source
	for i, p := range paths {
		s, err := dissect.Open(p, i)
		if err != nil {
			for _, o := range srcs {
				o.Close()
			}
			return nil, &InputError{err}
		}
		srcs = append(srcs, s)
	}
	return dissect.Merge(srcs), nil
}

// AnalyzeFiles analyses capture files and returns the report. A file that
// cannot be opened, or inputs that hold no packet at all, give an
// *InputError; a damaged file gives a report of what could be read, with the
// damage in its errors and a capture_truncated finding.
func AnalyzeFiles(paths []string, opts Options, version string) (*report.Report, error) {
	res, inputs, err := DiagnoseFiles(paths, opts)
	if err != nil {
		return nil, err
	}
	return report.Build(res, inputs, version), nil
}

// DiagnoseFiles is AnalyzeFiles up to the typed diagnosis (findings with
// their facts, which remedy and the tests read) and the inputs, before the
// report is built.
func DiagnoseFiles(paths []string, opts Options) (*diagnose.Result, []*dissect.InputInfo, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, nil, err
	}
	src, err := OpenFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	cfg.ComparePoints = len(paths) > 1
	return DiagnoseSource(src, cfg)
}

// AnalyzeSource analyses an opened source (closing it) and returns the report,
// with the same error rules as AnalyzeFiles.
func AnalyzeSource(src dissect.Source, cfg flows.Config, version string) (*report.Report, error) {
	res, inputs, err := DiagnoseSource(src, cfg)
	if err != nil {
		return nil, err
	}
	return report.Build(res, inputs, version), nil
}

// DiagnoseSource is AnalyzeSource up to the typed diagnosis and the
// inputs.
func DiagnoseSource(src dissect.Source, cfg flows.Config) (*diagnose.Result, []*dissect.InputInfo, error) {
	defer src.Close()
	ev := diagnose.NewEvictions()
	cfg.OnEvict = ev
	an := flows.New(cfg)
	runErr := Run(src, an)
	inputs := src.Inputs()
	var total uint64
	for _, in := range inputs {
		total += in.Packets
	}
	if runErr != nil && total == 0 {
		return nil, nil, &InputError{runErr}
	}
	if total == 0 {
		msg := "no packets"
		if len(inputs) == 1 {
			msg = inputs[0].Path + ": the capture holds no packets"
			if len(inputs[0].Errors) > 0 {
				msg = inputs[0].Errors[0].Error()
			}
		} else {
			msg = "none of the inputs holds a packet"
		}
		return nil, nil, &InputError{errors.New(msg)}
	}
	an.Finish()
	return diagnose.Run(an.View(), ev, inputs), inputs, nil
}
