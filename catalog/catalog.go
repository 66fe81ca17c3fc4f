// Package catalog holds what the products' documents say as data: the
// services and ports of Hornbill Supportworks and Sassafras K2, and the
// firewall timeout profiles with their sources. It does no I/O: overrides
// for sites that moved a default port arrive as an io.Reader that the
// command opened.
package catalog

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Transport is a service's transport protocol; its string is the report's.
type Transport string

// Transport names used in the catalog and in reports.
const (
	TCP Transport = "tcp"
	UDP Transport = "udp"
)

// Product names the product a service belongs to.
type Product string

// Product names.
const (
	Supportworks Product = "supportworks"
	K2           Product = "k2"
	Custom       Product = "custom" // a service declared with --service
)

// ServiceName is a catalog service's name; its string is the report's
// contract (SPEC section 4).
type ServiceName string

// The service names the rules refer to by name.
const (
	SWBinary       ServiceName = "sw-binary"
	SWNotifyUDP    ServiceName = "sw-notify-udp"
	K2KeyServer    ServiceName = "k2-keyserver"
	K2Shadow       ServiceName = "k2-shadow"
	K2Reporter     ServiceName = "k2-reporter"
	K2PRS          ServiceName = "k2-prs"
	K2VersionCheck ServiceName = "k2-version-check"
	K2SMTP         ServiceName = "k2-smtp"
)

// Service is one entry of the service catalog: a port a product listens on,
// with what the seed documents say about it.
type Service struct {
	Name      ServiceName // e.g. "sw-binary", "k2-keyserver"
	Product   Product     // Supportworks or K2 (or Custom)
	Port      uint16
	Transport Transport // TCP or UDP
	// What says what the service is, in the seed's words.
	What string
	// MinVersion and MaxVersion bound the Supportworks versions that use the
	// port ("" = unbounded). Used for version inference.
	MinVersion, MaxVersion string
	// Outbound is true for services reached by the product's hosts on the
	// internet (PRS, version check, mail) rather than served by them.
	Outbound bool
	// Names are DNS names that identify the far end of an outbound service
	// (prs.sassafras.com). A port-80/443 connection is only given the service
	// when its server was named so in a DNS answer in the capture.
	Names []string
	// Source cites the seed rule the entry comes from.
	Source string
}

// portKey packs a port number and transport into the catalog's map key: an
// integer key takes the map's fast path, where a struct with a string is
// hashed field by field, and the catalog is asked for every connection of a
// report.
func portKey(port uint16, transport Transport) uint32 {
	k := uint32(port) << 2
	switch transport {
	case TCP:
		k |= 1
	case UDP:
		k |= 2
	default:
		k |= 3 // checked by ParseService; kept apart all the same
	}
	return k
}

const (
	swSeed = "Supportworks seed: Supportworks Services and Ports"
	k2Seed = "K2 seed: Firewall Settings, Ports"
)

// DefaultServices returns the built-in catalog: every port of both seeds.
// The slice is freshly allocated; callers may modify it.
func DefaultServices() []Service {
	return []Service{
		{Name: "sw-binary", Product: Supportworks, Port: 5001, Transport: TCP, What: "Supportworks services via binary requests (SwServerService) and TCP NPA notifications", Source: swSeed},
		{Name: "sw-notify-udp", Product: Supportworks, Port: 5001, Transport: UDP, What: "legacy UDP NPA notifications sent from the server's port 5001", MaxVersion: "7.4.1", Source: "Supportworks seed: Appendix, The UDP Notification Option on Older Systems"},
		{Name: "sw-sql", Product: Supportworks, Port: 5002, Transport: TCP, What: "Supportworks SQL server (SwSqlServer)", MaxVersion: "7.5", Source: swSeed},
		{Name: "sw-kbindex", Product: Supportworks, Port: 5003, Transport: TCP, What: "KnowledgeBase index server (SwIndexServer)", MaxVersion: "7.4.1", Source: swSeed},
		{Name: "sw-mail", Product: Supportworks, Port: 5004, Transport: TCP, What: "Supportworks mail services (SwMailService)", MaxVersion: "7.4.1", Source: swSeed},
		{Name: "sw-text", Product: Supportworks, Port: 5005, Transport: TCP, What: "Supportworks services via text-based requests (SwServerService)", Source: swSeed},
		{Name: "sw-messenger", Product: Supportworks, Port: 5006, Transport: TCP, What: "Supportworks Messenger services (SwMessengerService)", Source: swSeed},
		{Name: "sw-calendar", Product: Supportworks, Port: 5008, Transport: TCP, What: "Supportworks calendar services (SwCalendarService)", MaxVersion: "7.4.1", Source: swSeed},
		{Name: "sw-calendar-xmlmc", Product: Supportworks, Port: 5013, Transport: TCP, What: "Supportworks calendar services over XMLMC", MinVersion: "7.4.0", Source: swSeed},
		{Name: "sw-mail-xmlmc", Product: Supportworks, Port: 5014, Transport: TCP, What: "Supportworks mail services over XMLMC", MinVersion: "7.4.0", Source: swSeed},
		{Name: "sw-xmlmc", Product: Supportworks, Port: 5015, Transport: TCP, What: "Supportworks services over XMLMC (SwServerService)", MinVersion: "7.4.0", Source: swSeed},
		{Name: "sw-ftp", Product: Supportworks, Port: 21, Transport: TCP, What: "Supportworks FTP services, My Library (SwFileService), port 21 before 7.4.0", MaxVersion: "7.3.x", Source: swSeed},
		{Name: "sw-ftp", Product: Supportworks, Port: 5021, Transport: TCP, What: "Supportworks FTP services, My Library (SwFileService), port 5021 from 7.4.0", MinVersion: "7.4.0", MaxVersion: "7.4.1", Source: swSeed},
		{Name: "sw-http", Product: Supportworks, Port: 80, Transport: TCP, What: "Supportworks HTTP services (SwHttpServer)", Source: swSeed},
		{Name: "sw-https", Product: Supportworks, Port: 443, Transport: TCP, What: "Supportworks HTTPS services (SwHttpServer)", Source: swSeed},
		{Name: "k2-keyserver", Product: K2, Port: 19283, Transport: UDP, What: "KeyServer: KeyAccess clients, KeyConfigure admin and KeyShadows (UDP)", Source: k2Seed + ", rules 1 and 3"},
		{Name: "k2-keyserver", Product: K2, Port: 19283, Transport: TCP, What: "KeyServer: KeyConfigure admin, report queries (KeyConfigure, KeyReporter, ksODBC)", Source: k2Seed + ", rule 3"},
		{Name: "k2-shadow", Product: K2, Port: 19315, Transport: UDP, What: "KeyShadow: clients after failover, KeyConfigure shadow status", Source: k2Seed + ", rule 2"},
		{Name: "k2-reporter", Product: K2, Port: 80, Transport: TCP, What: "KeyReporter over HTTP (web browsers, KeyConfigure saved reports)", Source: k2Seed},
		{Name: "k2-reporter", Product: K2, Port: 443, Transport: TCP, What: "KeyReporter over HTTPS", Source: k2Seed},
		{Name: "k2-prs", Product: K2, Port: 443, Transport: TCP, Outbound: true, Names: []string{"prs.sassafras.com"}, What: "ks-prs and KeyConfigure to the Product Recognition Service over HTTPS", Source: "K2 seed: Firewall Configuration Rules 4 and 5"},
		{Name: "k2-prs", Product: K2, Port: 80, Transport: TCP, Outbound: true, Names: []string{"prs.sassafras.com"}, What: "ks-prs and KeyConfigure to the Product Recognition Service over HTTP (optional)", Source: "K2 seed: Firewall Configuration Rules 4 and 5"},
		{Name: "k2-version-check", Product: K2, Port: 80, Transport: TCP, Outbound: true, Names: []string{"www.sassafras.com", "sassafras.com"}, What: "KeyConfigure version check and online documentation at www.sassafras.com", Source: "K2 seed: Firewall Configuration Rule 5"},
		{Name: "k2-smtp", Product: K2, Port: 25, Transport: TCP, Outbound: true, What: "KeyServer/KeyShadow status and warning mail", Source: "K2 seed: Firewall Configuration Rule 6"},
	}
}

// ServiceNames returns the names of the built-in services, each once, in
// the order of DefaultServices: the names --service and --services accept
// without the custom: mark.
func ServiceNames() []ServiceName {
	var out []ServiceName
	seen := map[ServiceName]bool{}
	for _, s := range DefaultServices() {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Name)
		}
	}
	return out
}

// Catalog answers which service a port belongs to. It is built once and
// read-only afterwards; it is safe for concurrent readers.
type Catalog struct {
	services []Service
	byPort   map[uint32][]int // indexes into services, most specific first
	// used has a bit per portKey that byPort holds: the flow engine asks
	// about the port of nearly every packet, most of them ephemeral ports
	// no entry uses, and a bit test (32 KB, in cache) answers those
	// without a map lookup (a tenth of a scanner probe's cost).
	used *[1 << 18 / 64]uint64
}

// NewCatalog builds a catalog from services.
func NewCatalog(services []Service) *Catalog {
	c := &Catalog{services: services, byPort: map[uint32][]int{}, used: new([1 << 18 / 64]uint64)}
	for i, s := range services {
		k := portKey(s.Port, s.Transport)
		c.byPort[k] = append(c.byPort[k], i)
		c.used[k>>6] |= 1 << (k & 63)
	}
	return c
}

// Services returns the catalog entries sorted by product, port, transport.
func (c *Catalog) Services() []Service {
	out := append([]Service(nil), c.services...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Product != out[j].Product {
			return out[i].Product > out[j].Product
		}
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		return out[i].Transport < out[j].Transport
	})
	return out
}

// Lookup returns the service served on port/transport. name is the DNS name
// the capture gave the server address ("" when unknown); it picks between
// entries that share a port (80 and 443 are used by Supportworks, KeyReporter
// and the outbound Sassafras sites). Outbound entries match only by name.
func (c *Catalog) Lookup(port uint16, transport Transport, name string) (*Service, bool) {
	idx := c.entries(port, transport)
	var fallback *Service
	for _, i := range idx {
		s := &c.services[i]
		if len(s.Names) > 0 {
			for _, n := range s.Names {
				if name == n {
					return s, true
				}
			}
			continue
		}
		if s.Outbound {
			continue
		}
		if fallback == nil {
			fallback = s
		}
	}
	if fallback != nil {
		return fallback, true
	}
	// A port-25 connection is status mail whatever its destination's name.
	for _, i := range idx {
		if s := &c.services[i]; s.Outbound && len(s.Names) == 0 {
			return s, true
		}
	}
	return nil, false
}

// Shared reports whether port/transport is a generic web port that the
// products use alongside everything else (80, 443): a connection to it
// belongs to a product only when the server is known to run that product.
func (c *Catalog) Shared(port uint16, transport Transport) bool {
	for _, i := range c.entries(port, transport) {
		if s := &c.services[i]; s.Port == 80 || s.Port == 443 {
			return true
		}
	}
	return false
}

// LookupProduct returns the entry of product served on port/transport.
func (c *Catalog) LookupProduct(port uint16, transport Transport, product Product) (*Service, bool) {
	for _, i := range c.entries(port, transport) {
		if s := &c.services[i]; s.Product == product && !s.Outbound {
			return s, true
		}
	}
	return nil, false
}

// IsServicePort reports whether any catalog entry uses port/transport.
func (c *Catalog) IsServicePort(port uint16, transport Transport) bool {
	k := portKey(port, transport)
	return c.used[k>>6]&(1<<(k&63)) != 0
}

// entries returns the indexes of the entries on port/transport, most
// specific first.
func (c *Catalog) entries(port uint16, transport Transport) []int {
	k := portKey(port, transport)
	if c.used[k>>6]&(1<<(k&63)) == 0 {
		return nil
	}
	return c.byPort[k]
}

// ByName returns the entries with the given service name.
func (c *Catalog) ByName(name ServiceName) []Service {
	var out []Service
	for _, s := range c.services {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// ParseServiceOverride parses "NAME=PORT[/udp|/tcp]" as given to --service.
// The transport defaults to the one the named service uses in the default
// catalog (TCP when the name is new).
func ParseServiceOverride(spec string) (name ServiceName, port uint16, transport Transport, err error) {
	n0, rest, ok := strings.Cut(strings.TrimSpace(spec), "=")
	name = ServiceName(n0)
	if !ok || name == "" || rest == "" {
		return "", 0, "", fmt.Errorf("service %q: want NAME=PORT[/udp]", spec)
	}
	portStr, tr, hasTr := strings.Cut(rest, "/")
	n, perr := strconv.ParseUint(portStr, 10, 16)
	if perr != nil || n == 0 {
		return "", 0, "", fmt.Errorf("service %q: port %q is not a number from 1 to 65535", spec, portStr)
	}
	if hasTr {
		tr = strings.ToLower(tr)
		if Transport(tr) != TCP && Transport(tr) != UDP {
			return "", 0, "", fmt.Errorf("service %q: transport %q is not tcp or udp", spec, tr)
		}
	}
	return name, uint16(n), Transport(tr), nil
}

// WithOverrides returns a copy of services in which each override moves the
// named service to a new port. An override naming a service that is not in
// the catalog adds a custom TCP (or /udp) service of that name.
func WithOverrides(services []Service, overrides []string) ([]Service, error) {
	out := append([]Service(nil), services...)
	for _, o := range overrides {
		name, port, tr, err := ParseServiceOverride(o)
		if err != nil {
			return nil, err
		}
		moved := false
		for i := range out {
			if out[i].Name != name || (tr != "" && out[i].Transport != tr) {
				continue
			}
			out[i].Port = port
			out[i].Source += " (port moved by --service " + o + ")"
			moved = true
		}
		if !moved {
			if tr == "" {
				tr = TCP
			}
			out = append(out, Service{Name: name, Product: Custom, Port: port, Transport: tr, What: "custom service from --service " + o, Source: "command line"})
		}
	}
	return out, nil
}

// ReadOverrides reads overrides in the --services file format: one
// NAME=PORT[/udp] a line; blank lines and lines starting with # are
// ignored. name labels errors ("FILE:LINE: ..."); the caller opened r.
func ReadOverrides(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if _, _, _, err := ParseServiceOverride(s); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}
