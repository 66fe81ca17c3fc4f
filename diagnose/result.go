package diagnose

import (
	"net/netip"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
)

// Kind names a diagnosis; its string is the report's contract (SPEC
// section 2): kinds are added, never renamed.
type Kind string

// The finding kinds.
const (
	SynUnanswered          Kind = "syn_unanswered"
	SynReset               Kind = "syn_reset"
	SynICMPRejected        Kind = "syn_icmp_rejected"
	HandshakeIncomplete    Kind = "handshake_incomplete"
	RSTInjected            Kind = "rst_injected"
	SynScan                Kind = "syn_scan"
	SWInternalBlocked      Kind = "sw_internal_blocked"
	NPANotificationMissing Kind = "npa_notification_missing"
	NPANotificationLost    Kind = "npa_notification_lost"
	NPAIdleExceedsTimeout  Kind = "npa_idle_exceeds_timeout"
	NPAOrphanNotification  Kind = "npa_orphan_notification"
	NPAUDPMode             Kind = "npa_udp_mode"
	NPAUDPUnreachable      Kind = "npa_udp_unreachable"
	UDPUnanswered          Kind = "udp_unanswered"
	UDPLateResponse        Kind = "udp_late_response"
	UDPICMPUnreachable     Kind = "udp_icmp_unreachable"
	K2ShadowFailover       Kind = "k2_shadow_failover"
	K2ClientRebind         Kind = "k2_client_rebind"
	SWVersionInferred      Kind = "sw_version_inferred"
	DroppedBetweenCaptures Kind = "dropped_between_captures"
	ResetBetweenCaptures   Kind = "reset_between_captures"
)

// Kinds lists every kind, for the tests that hold the explanations and
// the schema to them.
var Kinds = append([]Kind{SynUnanswered, SynReset, SynICMPRejected, HandshakeIncomplete, RSTInjected, SynScan,
	SWInternalBlocked, NPANotificationMissing, NPANotificationLost, NPAIdleExceedsTimeout, NPAOrphanNotification,
	NPAUDPMode, NPAUDPUnreachable, UDPUnanswered, UDPLateResponse, UDPICMPUnreachable, K2ShadowFailover,
	K2ClientRebind, SWVersionInferred, DroppedBetweenCaptures, ResetBetweenCaptures}, captureKinds...)

// Severity grades a finding; healthy traffic gives nothing above Info.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Rank orders severities: info 0, warning 1, critical 2; -1 unknown.
func (s Severity) Rank() int {
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

// Confidence says how sure a conclusion is (Wireshark: expert info is only
// a hint); the explanation says why.
type Confidence string

// Confidences.
const (
	High   Confidence = "high"
	Medium Confidence = "medium"
	Low    Confidence = "low"
)

// Finding is one diagnosis as typed facts: what kind, between whom, how
// often, with which evidence, and the numbers of its kind (Facts). The
// explain package turns it into words; nothing here is prose. A Finding
// belongs to the Result that holds it and is not changed after Run.
type Finding struct {
	Kind       Kind
	Severity   Severity
	Confidence Confidence
	// Service is the catalog service of the server port (nil: not in the
	// catalog, or a capture-wide finding).
	Service   *catalog.Service
	Transport catalog.Transport
	// Client is the one client (zero for capture-wide findings and for
	// findings merged from many clients, which list Clients).
	Client netip.Addr
	// Clients are the clients of a merged finding with how many members
	// each had, most affected first; MoreClients counts those beyond the
	// list's bound. Rep is one of them, for the address family.
	Clients     []ClientCount
	MoreClients int
	Rep         netip.Addr
	Server      netip.Addr // zero for capture-wide findings
	Port        uint16     // server port; 0 for capture-wide findings
	First, Last time.Time
	// Count is how many connections, requests or datagrams it groups.
	Count int
	// ClientPorts are the members' client ports, sorted (nil when more
	// than 40: a filter naming them would be too long).
	ClientPorts []uint16
	// NClientPorts is how many client ports the members used (counted up
	// to 41: past 40 the finding names none).
	NClientPorts int
	// Inputs is how many inputs (capture files) the members came from.
	Inputs   int
	Evidence []Evidence
	// Samples are numeric facts of the members (silences, idle times,
	// SYN spans), in the order seen, at most maxSamples.
	Samples []time.Duration
	// TTLs are the forged and the genuine TTL (syn_reset, rst_injected).
	TTLs [2]uint8
	// Facts holds the numbers particular to the kind (a *XFacts of this
	// package; nil for kinds with none).
	Facts Facts
}

// ClientCount is one client of a merged finding.
type ClientCount struct {
	Addr netip.Addr
	N    int
}

// Evidence lists the frames of one input that show a finding.
type Evidence struct {
	Input  int // index of the input
	Frames []uint64
}

// Who is a finding's client as prose names it: one address, N clients
// (N > 1), or more than -N clients (N < 0).
type Who struct {
	Addr netip.Addr
	N    int
}

// Who returns the finding's client for prose and filters.
func (f *Finding) Who() Who {
	if f.Clients != nil {
		if f.MoreClients > 0 {
			return Who{f.Rep, -len(f.Clients)}
		}
		return Who{f.Rep, len(f.Clients)}
	}
	return Who{f.Client, 1}
}

// MaxSample is the largest sample (0 none).
func (f *Finding) MaxSample() time.Duration {
	var m time.Duration
	for _, s := range f.Samples {
		m = max(m, s)
	}
	return m
}

// TCPFlow is one TCP connection as one capture point saw it, with Zeek's
// conn_state and history.
type TCPFlow struct {
	Input       int
	Client      netip.AddrPort
	Server      netip.AddrPort
	Service     catalog.ServiceName // catalog service, or the greeting's
	ConnState   string
	History     string
	First, Last time.Time
	Handshake   time.Duration // SYN to SYN-ACK; 0 when not seen
	SYNs        int
	ClientPkts  uint64
	ServerPkts  uint64
	ClientBytes uint64
	ServerBytes uint64
	Retrans     int
	KeepAlives  int
	MaxIdle     time.Duration
	ClientTTL   int
	ServerTTL   int
	FirstFrame  uint64
}

// PortStatus is a service's state in PortQry's words.
type PortStatus string

// Port statuses: listening (answered), not_listening (the host itself
// refused), filtered (no answer, or refused by a middlebox), partial
// (answered some clients, not others).
const (
	Listening    PortStatus = "listening"
	NotListening PortStatus = "not_listening"
	Filtered     PortStatus = "filtered"
	Partial      PortStatus = "partial"
)

// ServiceRow is one row of the services table: a server, port and transport.
type ServiceRow struct {
	Server      netip.Addr
	Port        uint16
	Transport   catalog.Transport
	Service     catalog.ServiceName
	Clients     int
	Connections int
	Status      PortStatus
}

// HostRow is one host and the roles its traffic shows.
type HostRow struct {
	Addr  netip.Addr
	Names []string // from DNS answers in the capture, first seen first
	Roles []string
}

// NPAStatus is the state of a Supportworks notification channel.
type NPAStatus string

// NPA statuses.
const (
	NPAPaired   NPAStatus = "paired"
	NPAMissing  NPAStatus = "missing"
	NPALost     NPAStatus = "lost"
	NPAIdleRisk NPAStatus = "idle_risk"
	NPAUDP      NPAStatus = "udp"
	NPAOrphan   NPAStatus = "orphan"
)

// NPAReason says why a session got its status; explain words it.
type NPAReason int

// NPA reasons.
const (
	WhyPaired            NPAReason = iota // second connection after the main session
	WhyUDPNoMain                          // UDP notifications; main session not in the capture
	WhyUDPMode                            // no second connection; UDP datagrams from 5001
	WhyUDPOthersOnly                      // UDP to other clients, none to this one
	WhyAttemptBlocked                     // the notification socket's attempts failed
	WhyMidstreamNoSocket                  // capture began during the session
	WhyNeverOpened                        // no second connection, no UDP
	WhyOrphanNoMain                       // notification socket, no main session
	WhyOrphanMainEnded                    // its main session ended before it
)

// Conversation names a flow's two ends ("client:port -> server:port").
type Conversation struct {
	Client, Server netip.AddrPort
	UDP            bool
}

// NPASession is a Supportworks main session and its notification channel.
type NPASession struct {
	Client, Server netip.Addr
	// Main and Notification are zero when absent.
	Main, Notification Conversation
	Status             NPAStatus
	Confidence         Confidence
	Why                NPAReason
	// Facts behind Why: the blocked attempts and the state of the first;
	// for a pair, how soon the socket followed and what each side sent.
	Attempts     int
	AttemptState string
	Delay        time.Duration
	ClientMsgs   int
	Midstream    bool // the capture began during the session
	SharedAddr   bool // several clients share the address (NAT)
	MaxIdle      time.Duration
	Pushes       int
	Input        int
	Vantage      uint16 // the capture point that saw it
}

// UDPFlowRow is one client's UDP flow to a service port.
type UDPFlowRow struct {
	Input         int
	Vantage       uint16 // the capture point that saw it
	Client        netip.AddrPort
	Server        netip.AddrPort
	Service       catalog.ServiceName
	Requests      int
	Responses     int
	MaxSilence    time.Duration
	LateResponses int
	ICMPErrors    int
	// Delays counts answer delays by bucket: <1s, <10s, <60s, <5m, <15m, >=15m.
	Delays [6]int
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

// Result is everything an analysis found, as typed values owned by the
// Result (nothing in it points into the analyzer), so it may be kept,
// handed to other goroutines and rendered any number of times.
type Result struct {
	Timeouts    catalog.Timeouts
	Packets     uint64 // frames analysed
	First, Last time.Time
	// Findings are sorted: most severe first, then by first packet.
	Findings []Finding
	TCPFlows []TCPFlow
	// TCPFlowsOmitted counts connections left out of TCPFlows (only the
	// flows of catalog services and those named by a finding are listed when
	// there are many).
	TCPFlowsOmitted int
	// UDPFlowsOmitted counts service flows evicted from the analyzer's
	// live table: the UDP flows table does not list them (their findings
	// and counts are kept).
	UDPFlowsOmitted int
	// Bounds say which of the analysis's bounded tables were full and what
	// was summarised instead of kept one by one (empty: none).
	Bounds      []Bound
	Services    []ServiceRow
	Hosts       []HostRow
	NPASessions []NPASession
	UDPFlows    []UDPFlowRow
	Stats       Stats
	// CapturePoints name the capture points that comparison facts index.
	CapturePoints []CapturePoint
	// Brackets are the idle timeouts the capture measured, per device and
	// transport (bracket.go); empty when no silence was shown outlived or
	// fatal.
	Brackets []Bracket
}

// CapturePoint is where packets were captured: an input and, inside it,
// an interface id, an interface index or (SLL v1) the outgoing direction.
type CapturePoint struct {
	Input, Iface int
	IfIndex      int32
	Outgoing     bool
}

// BoundTable names a bounded table of the analysis.
type BoundTable string

// The bounded tables.
const (
	BoundTCP     BoundTable = "tcp_connections" // live TCP connections
	BoundUDP     BoundTable = "udp_flows"       // live UDP flows
	BoundScan    BoundTable = "scan_watch"      // clients watched for scans
	BoundK2      BoundTable = "k2_clients"      // K2 clients' stories after eviction
	BoundDNS     BoundTable = "dns_names"       // names and lookups from DNS answers
	BoundClients BoundTable = "service_clients" // clients listed per service row
	// BoundMembers: with several capture points, the connections a
	// finding remembers to count once however many points saw them.
	BoundMembers BoundTable = "finding_members"
	// BoundServiceConvs: the same for the services table's conversations.
	BoundServiceConvs BoundTable = "service_conversations"
	// BoundScanAttempts: the same for the scans' attempts.
	BoundScanAttempts BoundTable = "scan_attempts"
)

// Bound says that a table was full: its limit, and how many entries were
// summarised (evicted into counts and findings, or counted without being
// listed) instead of kept one by one.
type Bound struct {
	Table      BoundTable
	Limit      int
	Summarised int
}
