package explain

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fwdiag/fwdiag/diagnose"
)

func textScan(c *Context, f *diagnose.Finding) Text {
	x := factsOf[diagnose.ScanFacts](f)
	var kinds, svcs []string
	hosts := len(x.Hosts)
	for k, v := range x.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
	}
	for s := range x.Services {
		svcs = append(svcs, string(s))
	}
	sort.Strings(kinds)
	sort.Strings(svcs)
	hostWords := Plural(hosts, "host", "hosts")
	if x.MoreHosts > 0 {
		hostWords = fmt.Sprintf("more than %d hosts", hosts)
	}
	summary := fmt.Sprintf("%s scanned %s: %s that failed", c.who(f), hostWords, Plural(f.Count, "connection attempt", "connection attempts"))
	detail := fmt.Sprintf("%s tried to connect to many ports (%s) and was refused or ignored: a port scan (or a misconfigured client), not a product connection. The attempts are not reported one by one: they are left out of the TCP flows table (counted as omitted), the services table, the hosts' roles, version inference and NPA pairing.",
		c.who(f), strings.Join(kinds, ", "))
	if x.Answered > 0 {
		detail += fmt.Sprintf(" %s answered (open ports).", Plural(x.Answered, "probe was", "probes were"))
	}
	if len(svcs) > 0 {
		detail += " Product ports among them: " + strings.Join(svcs, ", ") + "."
	}
	rec := fmt.Sprintf("Nothing to open for the products. If %s is not a known scanner, find out what it is.", c.who(f))
	ipf := ipField(f.Who().Addr)
	return Text{summary, detail, rec, fmt.Sprintf("(%s.src==%s && tcp.flags.syn==1 && tcp.flags.ack==0) || (%s.dst==%s && (tcp.flags.reset==1 || tcp.flags.syn==1))", ipf, c.who(f), ipf, c.who(f))}
}
