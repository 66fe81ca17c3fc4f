package fix_test

import (
	"flag"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/diagnose"
	"github.com/fwdiag/fwdiag/fix"
	"github.com/fwdiag/fwdiag/internal/golden"
	"github.com/fwdiag/fwdiag/remedy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	cat     = catalog.NewCatalog(catalog.DefaultServices())
	server4 = netip.MustParseAddr("198.51.100.10")
	server6 = netip.MustParseAddr("2001:db8:100::10")
	client4 = []netip.Addr{netip.MustParseAddr("192.0.2.21"), netip.MustParseAddr("192.0.2.22"), netip.MustParseAddr("192.0.2.23")}
	client6 = []netip.Addr{netip.MustParseAddr("2001:db8:2::21"), netip.MustParseAddr("2001:db8:2::22")}
	natBox  = netip.MustParseAddr("203.0.113.1")
)

func svc(port uint16, tr catalog.Transport) *catalog.Service {
	s, _ := cat.Lookup(port, tr, "")
	return s
}

// change is a fixture change on the path.
func change(a remedy.Action, port uint16, tr catalog.Transport, dst netip.Addr, min time.Duration, from []netip.Addr, more int) fix.Change {
	return fix.Change{Remedy: remedy.Remedy{Action: a, Device: remedy.Device{Kind: remedy.DevPath}, Transport: tr, Port: port,
		Dst: dst, Min: min, Service: svc(port, tr)}, From: from, More: more}
}

func on(c fix.Change, d remedy.Device) fix.Change { c.Device = d; return c }

type fixture struct {
	name string
	c    fix.Change
}

// fixtures are realistic changes per action, as remedy decides them for
// the findings of the lab captures: IPv4 and IPv6, one client, several,
// more than can be named; those whose Device is a host render once.
func fixtures() map[remedy.Action][]fixture {
	const k2, k2shadow, sw = 19283, 19315, 5001
	udp, tcp := catalog.UDP, catalog.TCP
	return map[remedy.Action][]fixture{
		remedy.ActAllow: {
			{"k2_udp_v4_one_client", change(remedy.ActAllow, k2, udp, server4, 0, client4[:1], 0)},
			{"sw_tcp_v6_two_clients", change(remedy.ActAllow, sw, tcp, server6, 0, client6, 0)},
			{"k2_shadow_v4_more_clients", change(remedy.ActAllow, k2shadow, udp, server4, 0, client4, 40)},
			{"sw_tcp_v4_middlebox", on(change(remedy.ActAllow, sw, tcp, server4, 0, client4[:2], 0), remedy.Device{Kind: remedy.DevMiddlebox, Addr: natBox})},
			{"k2_client_host", on(change(remedy.ActAllow, k2, udp, server4, 0, client4[:1], 0), remedy.Device{Kind: remedy.DevClientHost, Component: "WFP ALE"})},
			{"sw_client_host", on(change(remedy.ActAllow, sw, tcp, server6, 0, client6[:1], 0), remedy.Device{Kind: remedy.DevClientHost, Component: "Windows Filtering Platform"})},
			{"k2_server_host", on(change(remedy.ActAllow, k2, tcp, server4, 0, client4[:2], 0), remedy.Device{Kind: remedy.DevServer})},
		},
		remedy.ActAllowTwo: {
			{"sw_v4_two_clients", change(remedy.ActAllowTwo, sw, tcp, server4, 0, client4[:2], 0)},
			{"sw_v6_one_client", change(remedy.ActAllowTwo, sw, tcp, server6, 0, client6[:1], 0)},
			{"sw_v4_more_clients", change(remedy.ActAllowTwo, sw, tcp, server4, 0, client4, 12)},
		},
		remedy.ActRaiseUDPTimeout: {
			{"k2_clients_v4", change(remedy.ActRaiseUDPTimeout, k2, udp, server4, 15*time.Minute, client4, 0)},
			{"k2_v6_one_client", change(remedy.ActRaiseUDPTimeout, k2, udp, server6, 15*time.Minute, client6[:1], 0)},
			{"k2_admin_v4", change(remedy.ActRaiseUDPTimeout, k2, udp, server4, 50*time.Second, client4[:1], 0)},
			{"k2_middlebox_more", on(change(remedy.ActRaiseUDPTimeout, k2, udp, server4, 15*time.Minute, client4, 200), remedy.Device{Kind: remedy.DevMiddlebox, Addr: natBox})},
			{"k2_client_host", on(change(remedy.ActRaiseUDPTimeout, k2, udp, server4, 15*time.Minute, client4[:1], 0), remedy.Device{Kind: remedy.DevClientHost, Component: "WFP ALE"})},
		},
		remedy.ActRaiseTCPIdle: {
			{"sw_npa_v4_one_client", change(remedy.ActRaiseTCPIdle, sw, tcp, server4, 65*time.Minute, client4[:1], 0)},
			{"sw_npa_v6_more_clients", change(remedy.ActRaiseTCPIdle, sw, tcp, server6, 2*time.Hour+10*time.Second, client6, 30)},
			{"k2_admin_tcp_v4", change(remedy.ActRaiseTCPIdle, k2, tcp, server4, 40*time.Minute, client4[:2], 0)},
		},
		remedy.ActCheckService: {
			{"sw_tcp_v4", on(change(remedy.ActCheckService, sw, tcp, server4, 0, client4[:1], 0), remedy.Device{Kind: remedy.DevServer})},
			{"k2_udp_v6", on(change(remedy.ActCheckService, k2, udp, server6, 0, client6[:1], 0), remedy.Device{Kind: remedy.DevServer})},
		},
		remedy.ActOpenHostFirewall: {
			{"sw_text_v4", on(change(remedy.ActOpenHostFirewall, 5005, tcp, server4, 0, nil, 0), remedy.Device{Kind: remedy.DevServer})},
			{"k2_tcp_v4", on(change(remedy.ActOpenHostFirewall, k2, tcp, server4, 0, nil, 0), remedy.Device{Kind: remedy.DevServer})},
		},
		remedy.ActExemptFromReset: {
			{"sw_v4_two_clients", change(remedy.ActExemptFromReset, sw, tcp, server4, 0, client4[:2], 0)},
			{"sw_v6_one_client", change(remedy.ActExemptFromReset, sw, tcp, server6, 0, client6[:1], 0)},
		},
		remedy.ActSymmetricPath: {
			{"sw_v4_one_client", change(remedy.ActSymmetricPath, sw, tcp, server4, 0, client4[:1], 0)},
		},
		remedy.ActUseTCPNotify: {
			{"sw_server", on(change(remedy.ActUseTCPNotify, sw, udp, server4, 0, client4, 0), remedy.Device{Kind: remedy.DevServer})},
		},
		remedy.ActInspect: {
			{"between", on(change(remedy.ActInspect, sw, tcp, server4, 0, client4[:1], 0), remedy.Device{Kind: remedy.DevBetween})},
		},
	}
}

func isHost(c fix.Change) bool {
	return c.Device.Kind == remedy.DevClientHost || c.Device.Kind == remedy.DevServer
}

// show writes snippets as the goldens hold them.
func show(b *strings.Builder, name string, ss []fix.Snippet) {
	fmt.Fprintf(b, "=== %s\n", name)
	if len(ss) == 0 {
		b.WriteString("(nothing to configure)\n")
	}
	for _, s := range ss {
		fmt.Fprintf(b, "--- %s | %s | %s\n", s.Firewall, s.Device, s.Lang)
		b.WriteString(s.Text)
		fmt.Fprintf(b, "source: %s\n", s.Source)
		if s.Note != "" {
			fmt.Fprintf(b, "note: %s\n", s.Note)
		}
	}
	b.WriteString("\n")
}

// goldens renders every fixture: path changes once per firewall (file
// ACTION_FIREWALL), host changes once (file ACTION_host).
func goldens() map[string]string {
	out := map[string]*strings.Builder{}
	get := func(n string) *strings.Builder {
		if out[n] == nil {
			out[n] = &strings.Builder{}
		}
		return out[n]
	}
	for a, fx := range fixtures() {
		for _, f := range fx {
			if isHost(f.c) || a == remedy.ActInspect {
				show(get(fmt.Sprintf("%s_host", a)), f.name, fix.For(f.c, fix.Firewalls(), fix.Options{}))
				continue
			}
			for _, fw := range fix.Firewalls() {
				show(get(fmt.Sprintf("%s_%s", a, fw)), f.name, fix.For(f.c, []fix.Firewall{fw}, fix.Options{}))
			}
		}
	}
	res := map[string]string{}
	for n, b := range out {
		res[n] = b.String()
	}
	return res
}

// TestGolden compares every (action, firewall) rendering with its golden
// file (go test ./fix -update rewrites them after a reviewed change).
func TestGolden(t *testing.T) {
	for name, got := range goldens() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".golden")
			golden.Check(t, path, got, *update, "snippets", "./fix")
		})
	}
}

// TestEveryActionEveryFirewall: each action asked of each firewall either
// writes configuration or says in Note why not; inspect writes nothing.
func TestEveryActionEveryFirewall(t *testing.T) {
	actions := []remedy.Action{remedy.ActAllow, remedy.ActAllowTwo, remedy.ActRaiseUDPTimeout, remedy.ActRaiseTCPIdle,
		remedy.ActCheckService, remedy.ActOpenHostFirewall, remedy.ActExemptFromReset, remedy.ActSymmetricPath,
		remedy.ActUseTCPNotify, remedy.ActInspect}
	fx := fixtures()
	for _, a := range actions {
		if len(fx[a]) == 0 {
			t.Errorf("action %s has no fixture", a)
			continue
		}
		for _, fw := range fix.Firewalls() {
			for _, f := range fx[a] {
				ss := fix.For(f.c, []fix.Firewall{fw}, fix.Options{})
				if a == remedy.ActInspect {
					if ss != nil {
						t.Errorf("%s/%s: inspect wrote %d snippets; want none", f.name, fw, len(ss))
					}
					continue
				}
				if len(ss) == 0 {
					t.Errorf("%s %s/%s: no snippet and no note", a, f.name, fw)
				}
				for _, s := range ss {
					if s.Text == "" && s.Note == "" {
						t.Errorf("%s %s/%s: empty snippet", a, f.name, fw)
					}
					if (s.Text == "") != (s.Lang == "") {
						t.Errorf("%s %s/%s: Lang %q with Text of %d bytes", a, f.name, fw, s.Lang, len(s.Text))
					}
					if s.Device == "" || s.Firewall == "" {
						t.Errorf("%s %s/%s: device %q firewall %q", a, f.name, fw, s.Device, s.Firewall)
					}
					if !isHost(f.c) && s.Firewall != fw && s.Firewall != fix.Windows {
						t.Errorf("%s %s/%s: snippet for %s", a, f.name, fw, s.Firewall)
					}
				}
			}
		}
	}
}

// TestHostChangesOnce: a change on a host is written for that host once,
// whatever firewalls are asked for.
func TestHostChangesOnce(t *testing.T) {
	for _, fx := range fixtures() {
		for _, f := range fx {
			if !isHost(f.c) {
				continue
			}
			all := fix.For(f.c, fix.Firewalls(), fix.Options{})
			none := fix.For(f.c, nil, fix.Options{})
			if len(all) != 1 || len(none) != 1 || all[0] != none[0] || all[0].Firewall != fix.Windows {
				t.Errorf("%s: got %d snippets for all firewalls, %d for none; want the same one Windows snippet", f.name, len(all), len(none))
			}
		}
	}
}

// TestAddressesAndValues: a written snippet names the server and each
// client it is for, no client when written for any source, and the
// timeout it sets.
func TestAddressesAndValues(t *testing.T) {
	for a, fx := range fixtures() {
		for _, f := range fx {
			for _, s := range fix.For(f.c, fix.Firewalls(), fix.Options{}) {
				if s.Text == "" || s.Lang == "text" {
					continue
				}
				where := fmt.Sprintf("%s %s/%s", a, f.name, s.Firewall)
				if s.Lang != "sysctl" && !strings.Contains(s.Text, f.c.Dst.String()) && a != remedy.ActRaiseTCPIdle {
					t.Errorf("%s: server %s missing:\n%s", where, f.c.Dst, s.Text)
				}
				for _, c := range f.c.From {
					has := strings.Contains(s.Text, c.String())
					if f.c.More > 0 && has {
						t.Errorf("%s: client %s named though the change is for any source", where, c)
					}
				}
			}
		}
	}
	// The K2 clients' UDP timeout: 15 minutes gives 960 s where the device
	// default is shorter.
	c := fixtures()[remedy.ActRaiseUDPTimeout][0].c
	for fw, want := range map[fix.Firewall]string{fix.NFTables: "unreplied: 960, replied: 960", fix.IPTables: "unreplied 960 replied 960",
		fix.ASA: "set connection timeout idle 0:16:00", fix.PANOS: "override yes timeout 960", fix.FortiGate: "set udp-idle-timer 960",
		fix.CheckPoint: "session-timeout 960", fix.SRX: "inactivity-timeout 960", fix.PF: "udp.multiple 960", fix.GCPNAT: "--udp-idle-timeout 960s"} {
		ss := fix.For(c, []fix.Firewall{fw}, fix.Options{})
		if len(ss) == 0 || !strings.Contains(ss[0].Text, want) {
			t.Errorf("%s: want %q in:\n%v", fw, want, ss)
		}
	}
	// A K2 admin timeout of 50 s is below FortiGate's default 180 s: the
	// snippet keeps the default rather than shorten it.
	admin := fixtures()[remedy.ActRaiseUDPTimeout][2].c
	if ss := fix.For(admin, []fix.Firewall{fix.FortiGate}, fix.Options{}); !strings.Contains(ss[0].Text, "udp-idle-timer 180") {
		t.Errorf("fortigate admin timeout: got\n%s\nwant udp-idle-timer 180", ss[0].Text)
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct{ min, want time.Duration }{
		{0, time.Minute}, {50 * time.Second, 2 * time.Minute}, {time.Minute, 2 * time.Minute},
		{15 * time.Minute, 16 * time.Minute}, {350 * time.Second, 7 * time.Minute}, {65*time.Minute + time.Second, 67 * time.Minute},
	} {
		if got := fix.Value(tc.min); got != tc.want {
			t.Errorf("Value(%s) = %s; want %s", tc.min, got, tc.want)
		}
	}
	for d := time.Duration(0); d < 3*time.Hour; d += 7*time.Second + 13*time.Millisecond {
		v := fix.Value(d)
		if v <= d || v%time.Minute != 0 || v-d > 2*time.Minute {
			t.Fatalf("Value(%s) = %s: want above it, whole minutes, within 2 minutes", d, v)
		}
	}
}

func TestKeepAliveFor(t *testing.T) {
	for _, tc := range []struct{ idle, want time.Duration }{
		{350 * time.Second, 2 * time.Minute}, {3600 * time.Second, 30 * time.Minute}, {90 * time.Second, 45 * time.Second}, {time.Second, time.Second},
	} {
		if got := fix.KeepAliveFor(tc.idle); got != tc.want || (tc.idle > time.Second && got >= tc.idle) {
			t.Errorf("KeepAliveFor(%s) = %s; want %s", tc.idle, got, tc.want)
		}
	}
}

func TestParseFirewall(t *testing.T) {
	for _, fw := range fix.Firewalls() {
		if got, err := fix.ParseFirewall(strings.ToUpper(string(fw))); err != nil || got != fw {
			t.Errorf("ParseFirewall(%q) = %q, %v; want %q", strings.ToUpper(string(fw)), got, err, fw)
		}
	}
	_, err := fix.ParseFirewall("all")
	if err == nil || !strings.Contains(err.Error(), "nftables") || !strings.Contains(err.Error(), "gcp-nat") {
		t.Errorf("ParseFirewall(all): got %v; want an error listing the names", err)
	}
	if len(fix.Firewalls()) != 13 || !slices.Equal(fix.Firewalls(), fix.Firewalls()) {
		t.Errorf("Firewalls() = %v; want 13 in a fixed order", fix.Firewalls())
	}
}

func TestForProfile(t *testing.T) {
	for _, p := range catalog.Profiles() {
		fw, ok := fix.ForProfile(p.Name)
		switch p.Name {
		case "default", "rfc":
			if ok {
				t.Errorf("ForProfile(%s) = %s; want none", p.Name, fw)
			}
		case "linux":
			if !ok || fw != fix.NFTables {
				t.Errorf("ForProfile(linux) = %s, %v; want nftables", fw, ok)
			}
		default:
			if !ok || string(fw) != p.Name {
				t.Errorf("ForProfile(%s) = %s, %v; want %s", p.Name, fw, ok, p.Name)
			}
		}
	}
}

// TestKeepAliveSupportworksOnly: an idle-TCP change adds the server's
// keepalive for Supportworks only, below the shortest timeout asked.
func TestKeepAliveSupportworksOnly(t *testing.T) {
	fx := fixtures()[remedy.ActRaiseTCPIdle]
	sw := fix.For(fx[0].c, []fix.Firewall{fix.AWSNAT}, fix.Options{})
	last := sw[len(sw)-1]
	if last.Firewall != fix.Windows || !strings.Contains(last.Text, "KeepAliveTime -PropertyType DWord -Value 120000 ") {
		t.Errorf("supportworks behind aws-nat: got %+v; want KeepAliveTime 120000 ms", last)
	}
	for _, s := range fix.For(fx[2].c, fix.Firewalls(), fix.Options{}) {
		if strings.Contains(s.Text, "KeepAliveTime") {
			t.Errorf("k2 admin TCP got a Supportworks keepalive: %s", s.Text)
		}
	}
}

// TestKeepAliveUnderTheMeasuredTimeout: when the capture measured the
// path's idle timeout (an NPA socket dead after 12 s), the keepalive comes
// more often than that, not at half the product's 2 h need.
func TestKeepAliveUnderTheMeasuredTimeout(t *testing.T) {
	c := change(remedy.ActRaiseTCPIdle, 5001, catalog.TCP, server4, 2*time.Hour, client4[:1], 0)
	c.Measured = diagnose.Bracket{Transport: catalog.TCP, Above: 2800 * time.Millisecond, Below: 12 * time.Second}
	sw := fix.For(c, []fix.Firewall{fix.NFTables}, fix.Options{})
	last := sw[len(sw)-1]
	if !strings.Contains(last.Text, "KeepAliveTime -PropertyType DWord -Value 6000 ") {
		t.Errorf("keepalive with the path measured below 12 s: %s; want 6000 ms", last.Text)
	}
}

// TestManyClientsWrittenForAnySource: a change for more clients than a
// snippet names one by one (the busy-site hour: 133 KeyAccess clients) is
// written for any source, with the prefix that covers them all, not one
// access-list line a host.
func TestManyClientsWrittenForAnySource(t *testing.T) {
	var many []netip.Addr
	for i := range fix.MaxNamedSources + 1 {
		many = append(many, netip.AddrFrom4([4]byte{10, 20, byte(i / 4), byte(10 + i)}))
	}
	c := change(remedy.ActRaiseUDPTimeout, 19283, catalog.UDP, server4, 15*time.Minute, many, 0)
	for _, s := range fix.For(c, fix.Firewalls(), fix.Options{}) {
		for _, a := range many {
			if strings.Contains(s.Text, a.String()+" ") || strings.Contains(s.Text, a.String()+"/") || strings.Contains(s.Text, a.String()+",") {
				t.Errorf("%s names client %s one by one:\n%s", s.Firewall, a, s.Text)
				break
			}
		}
	}
	nft := fix.For(c, []fix.Firewall{fix.NFTables}, fix.Options{})[0]
	if !strings.Contains(nft.Text, "All 17 lie in 10.20.0.0/21: narrow the source to it.") || strings.Contains(nft.Text, "ip saddr") {
		t.Errorf("nftables for 17 clients:\n%s\nwant any source and the covering prefix 10.20.0.0/21", nft.Text)
	}
	if fix.For(change(remedy.ActRaiseUDPTimeout, 19283, catalog.UDP, server4, 15*time.Minute, many[:fix.MaxNamedSources], 0),
		[]fix.Firewall{fix.NFTables}, fix.Options{})[0].Text == nft.Text {
		t.Errorf("16 clients are written as for any source; want them named")
	}
}
