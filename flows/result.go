package flows

import "time"

// Severity levels, lowest first.
const (
	Info     = "info"
	Warning  = "warning"
	Critical = "critical"
)

// SeverityRank orders severities: info 0, warning 1, critical 2; -1 unknown.
func SeverityRank(s string) int {
	switch s {
	case Info:
		return 0
	case Warning:
		return 1
	case Critical:
		return 2
	}
	return -1
}

// Finding is one diagnosis: what was seen, why it matters and what to change,
// with the frames that show it. Its JSON form is the report contract (SPEC §3).
type Finding struct {
	ID        string    `json:"id"`       // F1, F2, ... in report order
	Kind      string    `json:"kind"`     // a kind from SPEC §2
	Severity  string    `json:"severity"` // info, warning, critical
	Service   string    `json:"service"`  // catalog name; "" when the port is not in the catalog
	Transport string    `json:"transport"`
	Client    string    `json:"client"` // client address ("" for capture-wide findings)
	Server    string    `json:"server"`
	Port      int       `json:"port"` // server port; 0 for capture-wide findings
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Count is how many connections, requests or datagrams the finding groups.
	Count          int    `json:"count"`
	Summary        string `json:"summary"`
	Detail         string `json:"detail"`
	Recommendation string `json:"recommendation"`
	// Confidence says how sure the conclusion is: high, medium or low, with
	// the reason in Detail (Wireshark: expert info is only a hint).
	Confidence      string     `json:"confidence"`
	Evidence        []Evidence `json:"evidence"`
	WiresharkFilter string     `json:"wireshark_filter"`
}

// Evidence lists the frames of one input that show a finding.
type Evidence struct {
	InputIndex int      `json:"-"`
	Input      string   `json:"input"` // the input's path, filled by the report
	Frames     []uint64 `json:"frames"`
}

// TCPFlow is one TCP connection as one vantage point saw it, with Zeek's
// conn_state and history.
type TCPFlow struct {
	Input       int       `json:"input"` // index into the report's inputs
	Client      string    `json:"client"`
	ClientPort  int       `json:"client_port"`
	Server      string    `json:"server"`
	ServerPort  int       `json:"server_port"`
	Service     string    `json:"service"`
	ConnState   string    `json:"conn_state"`
	History     string    `json:"history"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	DurationS   float64   `json:"duration_s"`
	HandshakeS  float64   `json:"handshake_s"` // SYN to SYN-ACK; 0 when not seen
	SYNs        int       `json:"syns"`
	ClientPkts  uint64    `json:"client_packets"`
	ServerPkts  uint64    `json:"server_packets"`
	ClientBytes uint64    `json:"client_bytes"` // payload bytes
	ServerBytes uint64    `json:"server_bytes"`
	Retrans     int       `json:"retransmissions"`
	KeepAlives  int       `json:"keepalives"`
	MaxIdleS    float64   `json:"max_idle_s"`
	ClientTTL   int       `json:"client_ttl"`
	ServerTTL   int       `json:"server_ttl"`
	FirstFrame  uint64    `json:"first_frame"`
}

// ServiceRow is the services table: one row per server, port and transport.
type ServiceRow struct {
	Server      string `json:"server"`
	Port        int    `json:"port"`
	Transport   string `json:"transport"`
	Service     string `json:"service"`
	Clients     int    `json:"clients"`
	Connections int    `json:"connections"`
	// Status in PortQry's words: listening (answered), not_listening (the
	// host itself refused), filtered (no answer, or refused by a middlebox),
	// partial (answered some clients, not others).
	Status string `json:"status"`
}

// HostRow is one host and the roles its traffic shows.
type HostRow struct {
	Addr  string   `json:"addr"`
	Name  string   `json:"name,omitempty"` // from DNS answers in the capture
	Roles []string `json:"roles"`
}

// NPASession is a Supportworks main session and its notification channel.
type NPASession struct {
	Client string `json:"client"`
	Server string `json:"server"`
	// Main and Notification name the connections as "client:port -> server:port".
	Main         string `json:"main"`
	Notification string `json:"notification"`
	// Status: paired, missing, lost, idle_risk, udp, orphan.
	Status     string  `json:"status"`
	Confidence string  `json:"confidence"`
	Why        string  `json:"why"`
	MaxIdleS   float64 `json:"max_idle_s"`
	Pushes     int     `json:"pushes"`
	Input      int     `json:"input"`
}

// UDPFlowRow is one client's UDP flow to a service port.
type UDPFlowRow struct {
	Input         int     `json:"input"`
	Client        string  `json:"client"`
	ClientPort    int     `json:"client_port"`
	Server        string  `json:"server"`
	ServerPort    int     `json:"server_port"`
	Service       string  `json:"service"`
	Requests      int     `json:"requests"`
	Responses     int     `json:"responses"`
	MaxSilenceS   float64 `json:"max_silence_s"`
	LateResponses int     `json:"late_responses"`
	ICMPErrors    int     `json:"icmp_errors"`
	// Delays counts answer delays by bucket: <1s, <10s, <60s, <5m, <15m, >=15m.
	Delays [6]int `json:"answer_delays"`
}

// Result is everything an analysis found. It is a plain value: the report
// package renders it, the TUI shows snapshots of it.
type Result struct {
	Timeouts    Timeouts
	Packets     uint64 // frames analysed
	First, Last time.Time
	Findings    []Finding
	TCPFlows    []TCPFlow
	// TCPFlowsOmitted counts connections left out of TCPFlows (only the
	// flows of catalog services and those named by a finding are listed when
	// there are many).
	TCPFlowsOmitted int
	Services        []ServiceRow
	Hosts           []HostRow
	NPASessions     []NPASession
	UDPFlows        []UDPFlowRow
	// Counts by finding severity.
	Counts map[string]int
	Stats  Stats
}

// Stats are capture-wide counts, in the terms tshark uses, so that an
// independent tool can check them on the same file.
type Stats struct {
	TCPConnections     int    `json:"tcp_connections"`     // per capture point
	UDPFlows           int    `json:"udp_flows"`           // every UDP flow, service or not
	TCPRetransmissions int    `json:"tcp_retransmissions"` // tcp.analysis.retransmission (SYNs included)
	SYNRetransmissions int    `json:"syn_retransmissions"` // repeated SYNs
	TCPResets          int    `json:"tcp_resets"`          // segments with RST set
	ICMPErrors         uint64 `json:"icmp_errors"`         // ICMP/ICMPv6 error messages
	Duplicates         int    `json:"duplicates"`          // capture duplicates ignored
	Fragments          uint64 `json:"fragments"`
}
