package report

import (
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/remedy"
)

// The wire types: the JSON report's rows, as strings and numbers (SPEC
// section 3). They are rendered from diagnose's typed values by Build,
// with every address written through the report's redactor, if any.

// Finding is one diagnosis in words: what was seen, why it matters and
// what to change, with the frames that show it.
type Finding struct {
	ID        string              `json:"id"` // F1, F2, ... in report order
	Kind      diagnose.Kind       `json:"kind"`
	Severity  diagnose.Severity   `json:"severity"`
	Service   catalog.ServiceName `json:"service"` // "" when the port is not in the catalog
	Transport catalog.Transport   `json:"transport"`
	Client    string              `json:"client"` // "" for capture-wide findings and findings of several clients
	Server    string              `json:"server"`
	// Clients are all the finding's clients (one by one up to 1000;
	// MoreClients counts further members); Servers its server and any
	// other servers it names (KeyShadows failed over to).
	Clients     []string  `json:"clients"`
	MoreClients int       `json:"more_clients"`
	Servers     []string  `json:"servers"`
	Port        int       `json:"port"` // server port; 0 for capture-wide findings
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	// Count is how many connections, requests or datagrams the finding groups.
	Count          int    `json:"count"`
	Summary        string `json:"summary"`
	Detail         string `json:"detail"`
	Recommendation string `json:"recommendation"`
	// Confidence says how sure the conclusion is, with the reason in Detail.
	Confidence      diagnose.Confidence `json:"confidence"`
	Evidence        []Evidence          `json:"evidence"`
	WiresharkFilter string              `json:"wireshark_filter"`
	// Fixes are the changes that resolve the finding, written for each
	// firewall of settings.firewalls (and for the host a change lives on).
	Fixes []Fix `json:"fixes"`
}

// Evidence lists the frames of one input that show a finding.
type Evidence struct {
	Input  int      `json:"input"` // index into the report's inputs, as everywhere
	Frames []uint64 `json:"frames"`
}

// TCPFlow is one TCP connection as one capture point saw it, with Zeek's
// conn_state and history.
type TCPFlow struct {
	Input       int                 `json:"input"` // index into the report's inputs
	Client      string              `json:"client"`
	ClientPort  int                 `json:"client_port"`
	Server      string              `json:"server"`
	ServerPort  int                 `json:"server_port"`
	Service     catalog.ServiceName `json:"service"`
	ConnState   string              `json:"conn_state"`
	History     string              `json:"history"`
	First       time.Time           `json:"first"`
	Last        time.Time           `json:"last"`
	DurationS   float64             `json:"duration_s"`
	HandshakeS  float64             `json:"handshake_s"` // SYN to SYN-ACK; 0 when not seen
	SYNs        int                 `json:"syns"`
	ClientPkts  uint64              `json:"client_packets"`
	ServerPkts  uint64              `json:"server_packets"`
	ClientBytes uint64              `json:"client_bytes"` // payload bytes
	ServerBytes uint64              `json:"server_bytes"`
	Retrans     int                 `json:"retransmissions"`
	KeepAlives  int                 `json:"keepalives"`
	MaxIdleS    float64             `json:"max_idle_s"`
	ClientTTL   int                 `json:"client_ttl"`
	ServerTTL   int                 `json:"server_ttl"`
	FirstFrame  uint64              `json:"first_frame"`
}

// ServiceRow is the services table: one row per server, port and transport.
type ServiceRow struct {
	Server      string              `json:"server"`
	Port        int                 `json:"port"`
	Transport   catalog.Transport   `json:"transport"`
	Service     catalog.ServiceName `json:"service"`
	Clients     int                 `json:"clients"`
	Connections int                 `json:"connections"`
	// Status in PortQry's words: listening, not_listening, filtered, partial.
	Status diagnose.PortStatus `json:"status"`
}

// HostRow is one host and the roles its traffic shows.
type HostRow struct {
	Addr string `json:"addr"`
	// Name is the first name DNS answers in the capture gave the address;
	// Names lists them all when there are several (shared hosting, a CDN).
	Name  string   `json:"name,omitempty"`
	Names []string `json:"names,omitempty"`
	Roles []string `json:"roles"`
}

// NPASession is a Supportworks main session and its notification channel.
type NPASession struct {
	Client string `json:"client"`
	Server string `json:"server"`
	// Main and Notification name the connections as "client:port -> server:port".
	Main         string              `json:"main"`
	Notification string              `json:"notification"`
	Status       diagnose.NPAStatus  `json:"status"`
	Confidence   diagnose.Confidence `json:"confidence"`
	Why          string              `json:"why"`
	MaxIdleS     float64             `json:"max_idle_s"`
	Pushes       int                 `json:"pushes"`
	Input        int                 `json:"input"`
	CapturePoint string              `json:"capture_point"`
}

// UDPFlowRow is one client's UDP flow to a service port.
type UDPFlowRow struct {
	Input         int                 `json:"input"`
	CapturePoint  string              `json:"capture_point"`
	Client        string              `json:"client"`
	ClientPort    int                 `json:"client_port"`
	Server        string              `json:"server"`
	ServerPort    int                 `json:"server_port"`
	Service       catalog.ServiceName `json:"service"`
	Requests      int                 `json:"requests"`
	Responses     int                 `json:"responses"`
	MaxSilenceS   float64             `json:"max_silence_s"`
	LateResponses int                 `json:"late_responses"`
	ICMPErrors    int                 `json:"icmp_errors"`
	// Delays counts the flow's answers by how long after their request
	// they came.
	Delays AnswerDelays `json:"answer_delays"`
}

// AnswerDelays counts answers by delay after their request.
type AnswerDelays struct {
	Under1s  int `json:"under_1s"`
	Under10s int `json:"under_10s"`
	Under1m  int `json:"under_1m"`
	Under5m  int `json:"under_5m"`
	Under15m int `json:"under_15m"`
	Over15m  int `json:"15m_or_more"`
}

// Buckets returns the counts in order, shortest delay first.
func (d AnswerDelays) Buckets() [6]int {
	return [6]int{d.Under1s, d.Under10s, d.Under1m, d.Under5m, d.Under15m, d.Over15m}
}

// Bound says that a bounded table of the analysis filled up: its limit and
// how many entries were summarised (evicted into counts and findings, or
// counted without being listed) instead of kept one by one.
type Bound struct {
	Table      diagnose.BoundTable `json:"table"`
	Limit      int                 `json:"limit"`
	Summarised int                 `json:"summarised"`
}

// Change is one thing to change, on one device, and the findings it
// resolves: the findings that ask for the same change are one change.
type Change struct {
	N      int           `json:"n"` // 1-based, in the order to make the changes
	Action remedy.Action `json:"action"`
	Device ChangeDevice  `json:"device"`
	// Transport and Port are the traffic; From its clients as the
	// findings list them, MoreClients how many more there are at least
	// (a finding merged from more clients than it lists); To its server.
	Transport   catalog.Transport   `json:"transport"`
	Port        int                 `json:"port"`
	Service     catalog.ServiceName `json:"service"` // the catalog service of to:port; "" none
	From        []string            `json:"from"`
	MoreClients int                 `json:"more_clients"`
	To          string              `json:"to"`
	// MinTimeoutS is the value a timeout must exceed (seconds); null for
	// other actions.
	MinTimeoutS *float64 `json:"min_timeout_s"`
	// MeasuredAboveS and MeasuredBelowS are the device's idle timeout as
	// the capture measured it for this traffic (seconds; null unproven):
	// a keepalive must come more often than the latter.
	MeasuredAboveS *float64 `json:"measured_above_s,omitempty"`
	MeasuredBelowS *float64 `json:"measured_below_s,omitempty"`
	// Findings are the ids of the findings the change resolves.
	Findings []string `json:"findings"`
	Where    string   `json:"where"` // the device, in words
	What     string   `json:"what"`  // the change, in words
}

// ChangeDevice is where a change applies.
type ChangeDevice struct {
	Kind      remedy.DeviceKind `json:"kind"`
	Addr      string            `json:"addr,omitempty"`      // a middlebox's address
	Component string            `json:"component,omitempty"` // the client component that dropped
}

// MeasuredTimeout is an idle timeout the capture measured, for one device
// and transport (diagnose.Bracket): longer than the longest silence state
// outlived, no longer than the shortest after which it was gone.
type MeasuredTimeout struct {
	Transport catalog.Transport `json:"transport"`
	Device    string            `json:"device"` // the middlebox; "" the path
	// LongerThanS and ShorterThanS are the bounds, seconds (null: none).
	LongerThanS   *float64 `json:"longer_than_s"`
	ShorterThanS  *float64 `json:"shorter_than_s"`
	Survived      int      `json:"survived"`
	Died          int      `json:"died"`
	Contradictory bool     `json:"contradictory"`
	// Profiles are those whose timeout lies in the bracket.
	Profiles []string `json:"profiles"`
	NeedS    *float64 `json:"need_s"` // what the product needs, seconds (null: unknown)
	Findings []string `json:"findings"`
	Words    string   `json:"words"`
}
