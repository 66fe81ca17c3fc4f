// Package report turns a diagnosis into the JSON report of SPEC section 3
// and the text summary. Its functions are pure: they read a
// diagnose.Result and the inputs' descriptions and write nothing but their
// output.
package report

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	_ "embed"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/dissect"
	"github.com/fwdiag/fwdiag/explain"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/remedy"
)

// SchemaID names the report format; it changes only on incompatible changes.
const SchemaID = "fwdiag.report/v1"

// Schema is the JSON Schema (draft 2020-12) of the report.
//
//go:embed schema.json
var Schema []byte

// Report is the JSON report attached to a support ticket. It holds no
// payload bytes: only addresses, ports, counts, times and frame numbers.
type Report struct {
	Schema          string       `json:"schema"`
	Tool            Tool         `json:"tool"`
	Inputs          []Input      `json:"inputs"`
	Settings        Settings     `json:"settings"`
	Summary         Summary      `json:"summary"`
	Hosts           []HostRow    `json:"hosts"`
	Services        []ServiceRow `json:"services"`
	NPASessions     []NPASession `json:"npa_sessions"`
	UDPFlows        []UDPFlowRow `json:"udp_flows"`
	TCPFlows        []TCPFlow    `json:"tcp_flows"`
	TCPFlowsOmitted int          `json:"tcp_flows_omitted"`
	UDPFlowsOmitted int          `json:"udp_flows_omitted"`
	Findings        []Finding    `json:"findings"`
	// Changes are what to change, first: the findings' remedies, those
	// asking for the same change gathered into one.
	Changes []Change `json:"changes"`
	// Errors lists problems reading the inputs, each naming file and frame.
	Errors []string `json:"errors"`
	// Measured are the idle timeouts the capture measured (none: omitted).
	Measured []MeasuredTimeout `json:"measured_timeouts,omitempty"`

	// res and inputs are what the report was built from (nil for a report
	// read back from JSON), kept to build it again redacted.
	res    *diagnose.Result
	inputs []*dissect.InputInfo
	opts   Options
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Input describes one capture file.
type Input struct {
	Path      string    `json:"path"`
	Format    string    `json:"format"`
	LinkType  string    `json:"link_type"` // link types joined by ","
	Packets   uint64    `json:"packets"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Truncated uint64    `json:"truncated"`
	Drops     *int64    `json:"drops"` // packets the capturing kernel dropped; null unknown
}

// Settings are the thresholds the analysis used and where they came from.
type Settings struct {
	Profile          string  `json:"profile"`
	UDPTimeoutS      float64 `json:"udp_timeout_s"`
	TCPIdleTimeoutS  float64 `json:"tcp_idle_timeout_s"`
	UDPTimeoutSource string  `json:"udp_timeout_source"`
	TCPTimeoutSource string  `json:"tcp_idle_timeout_source"`
	// Firewalls are the devices the findings' fixes are written for.
	Firewalls []fix.Firewall `json:"firewalls"`
}

// Summary is the verdict and the finding counts by severity.
type Summary struct {
	Verdict string                    `json:"verdict"`
	Counts  map[diagnose.Severity]int `json:"counts"`
	Packets uint64                    `json:"packets"`
	Start   time.Time                 `json:"start"`
	End     time.Time                 `json:"end"`
	// Stats are capture-wide counts an independent tool can check.
	Stats diagnose.Stats `json:"stats"`
	// Bounds list the analysis's bounded tables that filled up, and what
	// was summarised instead of kept one by one.
	Bounds []Bound `json:"bounds"`
}

// Options are how a report is built.
type Options struct {
	Version string // the tool's version
	// Redactor, when set, writes every address as its pseudonym, in the
	// tables, the findings' words and their filters alike.
	Redactor *Redactor
	// Firewalls are the devices to write the fixes for; nil: the timeout
	// profile's device (DefaultFirewalls).
	Firewalls []fix.Firewall
	// Fix tunes the snippets' Linux table and chain names.
	Fix fix.Options
}

// Build assembles the report. version is the tool's version.
func Build(res *diagnose.Result, inputs []*dissect.InputInfo, version string) *Report {
	return BuildWith(res, inputs, Options{Version: version})
}

// BuildWith assembles the report from the typed result: the explain
// package words each finding, and each address is written once, through
// the redactor when there is one.
func BuildWith(res *diagnose.Result, inputs []*dissect.InputInfo, o Options) *Report {
	r := &Report{
		Schema: SchemaID, Tool: Tool{Name: "fwdiag", Version: o.Version},
		Inputs: []Input{}, TCPFlowsOmitted: res.TCPFlowsOmitted, UDPFlowsOmitted: res.UDPFlowsOmitted, Errors: []string{},
		res: res, inputs: inputs, opts: o,
	}
	addr := func(a netip.Addr) string { return a.String() }
	if o.Redactor != nil {
		addr = func(a netip.Addr) string { return o.Redactor.Addr(a).String() }
	}
	str := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return addr(a)
	}
	t := res.Timeouts
	r.Settings = Settings{Profile: t.Profile, UDPTimeoutS: t.UDP.Seconds(), TCPIdleTimeoutS: t.TCPIdle.Seconds(), UDPTimeoutSource: t.UDPSource, TCPTimeoutSource: t.TCPSource}
	ctx := &explain.Context{Timeouts: t, Addr: addr, CapturePoints: res.CapturePoints}
	for _, in := range inputs {
		ctx.Inputs = append(ctx.Inputs, in.Path)
		r.Inputs = append(r.Inputs, Input{Path: in.Path, Format: in.Format, LinkType: strings.Join(in.LinkTypes, ","), Packets: in.Packets,
			First: in.First, Last: in.Last, Truncated: in.Truncated})
		if in.Drops >= 0 {
			d := in.Drops
			r.Inputs[len(r.Inputs)-1].Drops = &d
		}
		for _, e := range in.Errors {
			msg := e.Error()
			if o.Redactor != nil {
				msg = o.Redactor.Text(msg)
			}
			r.Errors = append(r.Errors, msg)
		}
	}
	counts := map[diagnose.Severity]int{diagnose.Info: 0, diagnose.Warning: 0, diagnose.Critical: 0}
	r.Findings = make([]Finding, 0, len(res.Findings))
	ids := map[string]bool{}
	for i := range res.Findings {
		f := &res.Findings[i]
		txt := explain.Finding(ctx, f)
		w := Finding{ID: findingID(f, ids), Kind: f.Kind, Severity: f.Severity, Transport: f.Transport,
			Client: str(f.Client), Server: str(f.Server), Port: int(f.Port), FirstSeen: f.First, LastSeen: f.Last, Count: f.Count,
			Summary: txt.Summary, Detail: txt.Detail, Recommendation: txt.Fix, Confidence: f.Confidence,
			Evidence: []Evidence{}, WiresharkFilter: txt.Filter}
		if f.Service != nil {
			w.Service = f.Service.Name
		}
		w.Clients, w.Servers, w.MoreClients = []string{}, []string{}, f.MoreClients
		if f.Client.IsValid() {
			w.Clients = append(w.Clients, addr(f.Client))
		}
		for _, cc := range f.Clients {
			w.Clients = append(w.Clients, addr(cc.Addr))
		}
		if f.Server.IsValid() {
			w.Servers = append(w.Servers, addr(f.Server))
		}
		for _, s := range otherServers(f) {
			w.Servers = append(w.Servers, addr(s))
		}
		for _, e := range f.Evidence {
			ev := Evidence{Input: e.Input, Frames: e.Frames}
			if ev.Frames == nil {
				ev.Frames = []uint64{}
			}
			w.Evidence = append(w.Evidence, ev)
		}
		counts[f.Severity]++
		r.Findings = append(r.Findings, w)
	}
	r.Changes = buildChanges(ctx, res, r.Findings, addr)
	fws := o.Firewalls
	if fws == nil {
		fws = DefaultFirewalls(t.Profile)
	}
	// Every address in a change parses: the report wrote them.
	_ = RenderFixes(r, fws, o.Fix)
	r.Measured = measured(ctx, res, r.Findings, str)
	r.TCPFlows = make([]TCPFlow, len(res.TCPFlows))
	for i := range res.TCPFlows {
		c := &res.TCPFlows[i]
		r.TCPFlows[i] = TCPFlow{Input: c.Input, Client: addr(c.Client.Addr()), ClientPort: int(c.Client.Port()),
			Server: addr(c.Server.Addr()), ServerPort: int(c.Server.Port()), Service: c.Service, ConnState: c.ConnState,
			History: c.History, First: c.First, Last: c.Last, DurationS: c.Last.Sub(c.First).Seconds(), HandshakeS: c.Handshake.Seconds(),
			SYNs: c.SYNs, ClientPkts: c.ClientPkts, ServerPkts: c.ServerPkts, ClientBytes: c.ClientBytes, ServerBytes: c.ServerBytes,
			Retrans: c.Retrans, KeepAlives: c.KeepAlives, MaxIdleS: c.MaxIdle.Seconds(), ClientTTL: c.ClientTTL, ServerTTL: c.ServerTTL,
			FirstFrame: c.FirstFrame}
	}
	r.UDPFlows = make([]UDPFlowRow, len(res.UDPFlows))
	for i := range res.UDPFlows {
		u := &res.UDPFlows[i]
		r.UDPFlows[i] = UDPFlowRow{Input: u.Input, Client: addr(u.Client.Addr()), ClientPort: int(u.Client.Port()),
			Server: addr(u.Server.Addr()), ServerPort: int(u.Server.Port()), Service: u.Service, Requests: u.Requests,
			Responses: u.Responses, MaxSilenceS: u.MaxSilence.Seconds(), LateResponses: u.LateResponses, ICMPErrors: u.ICMPErrors,
			Delays: AnswerDelays{u.Delays[0], u.Delays[1], u.Delays[2], u.Delays[3], u.Delays[4], u.Delays[5]}, CapturePoint: ctx.CapturePoint(u.Vantage)}
	}
	r.Services = make([]ServiceRow, len(res.Services))
	for i, s := range res.Services {
		r.Services[i] = ServiceRow{Server: addr(s.Server), Port: int(s.Port), Transport: s.Transport, Service: s.Service,
			Clients: s.Clients, Connections: s.Connections, Status: s.Status}
	}
	r.Hosts = make([]HostRow, len(res.Hosts))
	for i, h := range res.Hosts {
		r.Hosts[i] = HostRow{Addr: addr(h.Addr), Roles: h.Roles}
		if len(h.Names) > 0 {
			r.Hosts[i].Name = h.Names[0]
		}
		if len(h.Names) > 1 {
			r.Hosts[i].Names = h.Names
		}
	}
	conv := func(c diagnose.Conversation) string {
		if !c.Client.IsValid() {
			return ""
		}
		s := ctx.AP(c.Client) + " -> " + ctx.AP(c.Server)
		if c.UDP {
			s += " udp"
		}
		return s
	}
	r.NPASessions = make([]NPASession, len(res.NPASessions))
	for i := range res.NPASessions {
		n := &res.NPASessions[i]
		r.NPASessions[i] = NPASession{Client: addr(n.Client), Server: addr(n.Server), Main: conv(n.Main), Notification: conv(n.Notification),
			Status: n.Status, Confidence: n.Confidence, Why: explain.NPAWhy(n), MaxIdleS: n.MaxIdle.Seconds(), Pushes: n.Pushes, Input: n.Input, CapturePoint: ctx.CapturePoint(n.Vantage)}
	}
	r.Summary = Summary{Counts: counts, Packets: res.Packets, Start: res.First, End: res.Last, Stats: res.Stats, Bounds: []Bound{}}
	for _, b := range res.Bounds {
		r.Summary.Bounds = append(r.Summary.Bounds, Bound(b))
	}
	r.Summary.Verdict = Verdict(r)
	return r
}

// Verdict is the one-line conclusion: the worst severity and what it is.
func Verdict(r *Report) string {
	c := r.Summary.Counts
	switch {
	case c[diagnose.Critical] > 0:
		return fmt.Sprintf("CRITICAL: %s; %s", countLine(c), r.Findings[0].Summary)
	case c[diagnose.Warning] > 0:
		return fmt.Sprintf("WARNING: %s; %s", countLine(c), r.Findings[0].Summary)
	case r.Summary.Packets == 0:
		return "EMPTY: the capture holds no packets"
	}
	return fmt.Sprintf("OK: no problem found in %s (%s, %s)", explain.Plural(int(r.Summary.Packets), "packet", "packets"),
		explain.Plural(len(r.TCPFlows)+r.TCPFlowsOmitted, "TCP connection", "TCP connections"), explain.Plural(len(r.UDPFlows), "UDP service flow", "UDP service flows"))
}

func countLine(c map[diagnose.Severity]int) string {
	var parts []string
	for _, s := range []diagnose.Severity{diagnose.Critical, diagnose.Warning, diagnose.Info} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as indented JSON: the bytes
// json.Encoder with SetIndent("", "  ") writes (writeJSONPlain; the test
// holds them equal), faster (writejson.go).
func WriteJSON(w io.Writer, r *Report) error {
	b, err := marshalJSON(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// writeJSONPlain is WriteJSON on one goroutine, as encoding/json writes it.
func writeJSONPlain(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Clone returns a deep copy of r (through its JSON form, which is all a
// report holds), so a copy can be redacted while the original is shown.
func Clone(r *Report) *Report {
	b, err := json.Marshal(r)
	if err != nil {
		return r
	}
	var c Report
	if err := json.Unmarshal(b, &c); err != nil {
		return r
	}
	c.res, c.inputs = r.res, r.inputs // immutable: shared
	return &c
}

// buildChanges gathers the findings' remedies: the same action on the same
// device for the same traffic to the same server is one change, for all
// the clients of the findings that ask for it, with the largest timeout
// they need. Changes come in the order of their first finding (the most
// severe first).
func buildChanges(ctx *explain.Context, res *diagnose.Result, wire []Finding, addr func(netip.Addr) string) []Change {
	type key struct {
		action    remedy.Action
		device    remedy.Device
		transport catalog.Transport
		port      uint16
		dst       netip.Addr
	}
	type acc struct {
		r        remedy.Remedy
		srcs     []netip.Addr
		seen     map[netip.Addr]bool
		more     int // clients beyond the lists, at least
		findings []string
	}
	var order []key
	accs := map[key]*acc{}
	admins := map[netip.Addr]bool{}
	for _, h := range res.Hosts {
		if slices.Contains(h.Roles, "k2-admin") {
			admins[h.Addr] = true
		}
	}
	admin := func(a netip.Addr) bool { return admins[a] }
	for i := range res.Findings {
		f := &res.Findings[i]
		for _, r := range remedy.ForHosts(f, admin) {
			k := key{r.Action, r.Device, r.Transport, r.Port, r.Dst}
			a := accs[k]
			if a == nil {
				a = &acc{r: r, seen: map[netip.Addr]bool{}}
				accs[k] = a
				order = append(order, k)
			}
			a.r.Min = max(a.r.Min, r.Min)
			a.more = max(a.more, f.MoreClients)
			clients := []netip.Addr{r.Src}
			if !r.Src.IsValid() {
				clients = clients[:0]
				for _, cc := range f.Clients {
					clients = append(clients, cc.Addr)
				}
			}
			for _, c := range clients {
				if c.IsValid() && !a.seen[c] {
					a.seen[c] = true
					a.srcs = append(a.srcs, c)
				}
			}
			if n := len(a.findings); n == 0 || a.findings[n-1] != wire[i].ID {
				a.findings = append(a.findings, wire[i].ID)
			}
		}
	}
	// A device that said it refused the traffic (its ICMP errors) is the
	// firewall on the path that needs the change: the same change asked
	// of "every firewall between" for the same traffic is folded into it,
	// one change for one cause. Its own address among the sources is the
	// NAT's outside address, not a client it sees: left out.
	for _, k := range order {
		if k.device.Kind != remedy.DevMiddlebox {
			continue
		}
		pk := k
		pk.device = remedy.Device{Kind: remedy.DevPath}
		p, m := accs[pk], accs[k]
		if p == nil {
			continue
		}
		m.r.Min = max(m.r.Min, p.r.Min)
		m.more = max(m.more, p.more)
		for _, c := range p.srcs {
			if !m.seen[c] {
				m.seen[c] = true
				m.srcs = append(m.srcs, c)
			}
		}
		for _, id := range p.findings {
			if !slices.Contains(m.findings, id) {
				m.findings = append(m.findings, id)
			}
		}
		delete(accs, pk)
	}
	for _, a := range accs {
		if a.r.Device.Kind == remedy.DevMiddlebox {
			a.srcs = slices.DeleteFunc(a.srcs, func(c netip.Addr) bool { return c == a.r.Device.Addr })
		}
	}
	order = slices.DeleteFunc(order, func(k key) bool { return accs[k] == nil })
	out := make([]Change, 0, len(order))
	for i, k := range order {
		a := accs[k]
		sort.Slice(a.srcs, func(x, y int) bool { return a.srcs[x].Less(a.srcs[y]) })
		where, what := explain.Change(ctx, &a.r, a.srcs, a.more)
		c := Change{N: i + 1, Action: a.r.Action, Device: ChangeDevice{Kind: a.r.Device.Kind, Component: a.r.Device.Component},
			Transport: a.r.Transport, Port: int(a.r.Port), From: []string{}, MoreClients: a.more, To: addr(a.r.Dst), Findings: a.findings, Where: where, What: what}
		if a.r.Service != nil {
			c.Service = a.r.Service.Name
		}
		if a.r.Device.Addr.IsValid() {
			c.Device.Addr = addr(a.r.Device.Addr)
		}
		for _, s := range a.srcs {
			c.From = append(c.From, addr(s))
		}
		if a.r.Min > 0 {
			s := a.r.Min.Seconds()
			c.MinTimeoutS = &s
		}
		c.MeasuredAboveS, c.MeasuredBelowS = secs(a.r.Measured.Above), secs(a.r.Measured.Below)
		out = append(out, c)
	}
	return out
}

// measured words the result's brackets, each with the findings that
// carry it.
func measured(ctx *explain.Context, res *diagnose.Result, wire []Finding, str func(netip.Addr) string) []MeasuredTimeout {
	var out []MeasuredTimeout
	for _, b := range res.Brackets {
		m := MeasuredTimeout{Transport: b.Transport, Device: str(b.Device), LongerThanS: secs(b.Above), ShorterThanS: secs(b.Below),
			Survived: b.Survived, Died: b.Died, Contradictory: b.Contradicts(), Profiles: b.Profiles(), NeedS: secs(b.Need),
			Findings: []string{}, Words: explain.Measured(ctx, b)}
		if m.Profiles == nil {
			m.Profiles = []string{}
		}
		for i := range res.Findings {
			if fb, ok := res.Findings[i].Bracket(); ok && fb.Transport == b.Transport && fb.Device == b.Device {
				m.Findings = append(m.Findings, wire[i].ID)
			}
		}
		out = append(out, m)
	}
	return out
}

// otherServers are the servers a finding names besides its own: the
// KeyShadows its clients failed over to, a scan's hosts (up to
// diagnose's 1,000; its words say how many more).
func otherServers(f *diagnose.Finding) []netip.Addr {
	var m map[netip.Addr]int
	switch x := f.Facts.(type) {
	case *diagnose.ScanFacts:
		m = x.Hosts
	case *diagnose.FailoverFacts:
		m = x.Shadows
	case *diagnose.UDPUnansweredFacts:
		m = x.Shadows
	case *diagnose.UDPLateFacts:
		m = x.Shadows
	case *diagnose.ICMPFacts:
		m = x.Shadows
	}
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// InputPath names input i ("input N" when unknown).
func (r *Report) InputPath(i int) string {
	if i >= 0 && i < len(r.Inputs) {
		return r.Inputs[i].Path
	}
	return fmt.Sprintf("input %d", i+1)
}

// findingID is a finding's stable id: derived from what it is about (kind,
// client, server, port, transport, service; the input for findings about
// the capture), not from its place in the report, so the same finding has
// the same id in every snapshot and every run over the same capture. The
// real addresses are hashed, so a redacted report keeps the ids. Taken
// ids get a longer hash, then a suffix.
func findingID(f *diagnose.Finding, taken map[string]bool) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%d|%s|", f.Kind, f.Client, f.Server, f.Port, f.Transport)
	if f.Service != nil {
		h.Write([]byte(f.Service.Name))
	}
	if !f.Server.IsValid() && !f.Client.IsValid() {
		for _, e := range f.Evidence {
			fmt.Fprintf(h, "|%d", e.Input)
		}
		if x, ok := f.Facts.(*diagnose.CaptureFacts); ok {
			fmt.Fprintf(h, "|in%d", x.Input)
		}
	}
	sum := fmt.Sprintf("%016x", h.Sum64())
	id := "F" + sum[:6]
	if taken[id] {
		id = "F" + sum[:10]
	}
	for n := 2; taken[id]; n++ {
		id = fmt.Sprintf("F%s-%d", sum[:10], n)
	}
	taken[id] = true
	return id
}

// secs is a duration in seconds for the JSON; nil (null) when zero.
func secs(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	s := d.Seconds()
	return &s
}
