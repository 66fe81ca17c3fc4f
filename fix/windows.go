package fix

import (
	"fmt"
	"strings"
	"time"

	"github.com/fwdiag/fwdiag/catalog"
	"github.com/fwdiag/fwdiag/remedy"
)

const (
	srcNetFirewallRule = "Microsoft, New-NetFirewallRule (NetSecurity): https://learn.microsoft.com/powershell/module/netsecurity/new-netfirewallrule; netsh advfirewall firewall"
	srcListen          = "Microsoft, Get-NetTCPConnection and Get-NetUDPEndpoint (NetTCPIP): https://learn.microsoft.com/powershell/module/nettcpip/get-nettcpconnection"
	srcKeepAlive       = "Microsoft, TCP/IP registry values, KeepAliveTime (HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters): https://learn.microsoft.com/troubleshoot/windows-server/networking/tcpip-and-nbt-configuration-parameters"
	srcK2Seed          = "K2 seed: Firewall Settings, Windows \"Personal Firewall\" (keyacc32.exe, ks.exe, kr.exe exceptions)"
	srcSWSeed          = "Supportworks seed: Using Supportworks through a Firewall or over VPN/NAT"
)

// The K2 programs the K2 seed asks Windows firewalls to except, where its
// installers put them.
const (
	keyacc32 = `%SystemRoot%\keyacc32.exe`
	ksExe    = `%ProgramFiles%\Sassafras K2\Server\ks.exe`
	krExe    = `%ProgramFiles%\Sassafras K2\Reporter\kr.exe`
)

// psQuote quotes s for PowerShell (single quotes, doubled inside).
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// psAddrs is a PowerShell address list for -RemoteAddress ("Any" none).
func psAddrs(c Change) string {
	src := sources(c)
	if len(src) == 0 {
		return "Any"
	}
	var s []string
	for _, a := range src {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func proto(c Change) string { return strings.ToUpper(string(c.Transport)) }

// serverDevice names the server host for its product.
func serverDevice(c Change) string {
	switch {
	case isSupportworks(c):
		return "Windows Server (Supportworks server)"
	case isK2(c) && c.Service.Name == catalog.K2Reporter:
		return "Windows (KeyReporter host)"
	case isK2(c) && c.Service.Name == catalog.K2Shadow:
		return "Windows (KeyShadow host)"
	case isK2(c):
		return "Windows (KeyServer host)"
	}
	return "Windows server"
}

// k2ServerProgram is the program the K2 seed names for a K2 server port.
func k2ServerProgram(c Change) string {
	if c.Service != nil && c.Service.Name == catalog.K2Reporter {
		return krExe
	}
	return ksExe
}

// windowsServer writes the changes that live on the server itself.
func windowsServer(c Change) []Snippet {
	dev := serverDevice(c)
	head := comment("#", headline(c))
	s := Snippet{Firewall: Windows, Device: dev, Lang: "powershell", Source: srcNetFirewallRule}
	name := objName(c)
	switch c.Action {
	case remedy.ActCheckService:
		s.Source = srcListen
		if c.Transport == catalog.UDP {
			s.Text = head + fmt.Sprintf("Get-NetUDPEndpoint -LocalPort %d -ErrorAction SilentlyContinue |\n", c.Port)
		} else {
			s.Text = head + fmt.Sprintf("Get-NetTCPConnection -LocalPort %d -State Listen -ErrorAction SilentlyContinue |\n", c.Port)
		}
		s.Text += "    Select-Object LocalAddress, LocalPort, OwningProcess, @{Name='Process'; Expression={(Get-Process -Id $_.OwningProcess).ProcessName}}\n"
		switch {
		case isSupportworks(c):
			s.Text += comment("#", "The Supportworks services (their names vary by version):") +
				"Get-Service | Where-Object { $_.DisplayName -like '*Supportworks*' } | Select-Object Name, DisplayName, Status\n"
		case isK2(c):
			prog := "ks"
			if c.Service.Name == catalog.K2Reporter {
				prog = "kr"
			}
			s.Text += comment("#", "The K2 process the seed names for this port:") +
				fmt.Sprintf("Get-Process -Name %s -ErrorAction SilentlyContinue | Select-Object Id, ProcessName, Path\n", prog)
		}
		s.Note = fmt.Sprintf("No firewall change: %s answered as a host does when nothing listens on the port. If nothing is listed, start the service; if it listens on another port or only on another address, point the clients there or tell fwdiag the site's port (--services).", c.Dst)
	case remedy.ActOpenHostFirewall:
		s.Text = head + comment("#", "The server's services talk to each other over TCP on the same computer (Supportworks seed: set up the same rules on the server as on the organisation's firewall).") +
			fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Protocol %s -LocalPort %d -RemoteAddress 127.0.0.1,::1,%s -Action Allow -Profile Any\n",
				psQuote(name+"-local"), proto(c), c.Port, c.Dst)
		if isK2(c) {
			s.Text += fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Program %s -Action Allow -Profile Any\n", psQuote(name+"-program"), psQuote(k2ServerProgram(c)))
		}
		s.Note = "Windows Defender Firewall normally lets loopback traffic through; a third-party firewall or security product on the server may not: add the same exception there. A block rule that matches wins over any allow rule in Windows Defender Firewall (Get-NetFirewallRule -Action Block)."
	case remedy.ActUseTCPNotify:
		s.Lang = "text"
		s.Source = "Supportworks seed: Appendix, The UDP Notification Option on Older Systems"
		s.Text = headline(c) + "\n" +
			"1. Open the Supportworks Server Configuration utility on the server, Communications tab.\n" +
			"2. Set the notification protocol to TCP (the default from 7.4.0; UDP was removed in 7.5.0).\n" +
			"3. Restart the Supportworks server services so that clients log in again.\n" +
			"Each client then opens a second connection to TCP 5001 (the NPA notification socket): firewalls on the path must allow two connections per client.\n"
		s.Note = "No firewall change replaces this: UDP notifications come from the server's port 5001 to a port the client chose, which stateful firewalls and NAT drop once the client's state has gone."
	case remedy.ActAllow:
		s.Text = head + fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Protocol %s -LocalPort %d -RemoteAddress %s -Action Allow -Profile Any\n",
			psQuote(name), proto(c), c.Port, psAddrs(c))
		if isK2(c) {
			s.Source = srcK2Seed + "; " + srcNetFirewallRule
			s.Text += comment("#", "K2 seed: the program exception its installer adds:") +
				fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Program %s -Action Allow -Profile Any\n", psQuote(name+"-program"), psQuote(k2ServerProgram(c)))
		}
		s.Note = "The server's own firewall refused the traffic. A block rule that matches wins over this allow rule (Get-NetFirewallRule -Action Block -Enabled True)."
	default:
		return []Snippet{noConfig(dev, "", fmt.Sprintf("%s is a change on the path, not on the server.", c.Action))}
	}
	if c.Action == remedy.ActAllow {
		s.Text = strings.Replace(s.Text, "\n", "\n"+anySourceNote(c, "#"), 1)
	}
	return []Snippet{s}
}

// windowsClient writes the changes on the captured client's own firewall.
func windowsClient(c Change) []Snippet {
	dev := "Windows Defender Firewall (the client)"
	if c.Device.Component != "" {
		dev = fmt.Sprintf("Windows Defender Firewall (the client; %s dropped)", c.Device.Component)
	}
	head := comment("#", headline(c))
	name := objName(c)
	s := Snippet{Firewall: Windows, Device: dev, Lang: "powershell", Source: srcNetFirewallRule}
	k2 := ""
	if isK2(c) {
		s.Source = srcK2Seed + "; " + srcNetFirewallRule
		k2 = comment("#", "K2 seed: keyacc32.exe (the K2 client in the Windows directory) as a program exception; the K2Client installer adds it:") +
			fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Program %s -Action Allow -Profile Any\n", psQuote("K2 KeyAccess (keyacc32.exe)"), psQuote(keyacc32)) +
			comment("#", fmt.Sprintf(`Or, on systems without the cmdlet: netsh advfirewall firewall add rule name="K2 KeyAccess (keyacc32.exe)" dir=in action=allow program="%s" enable=yes`, keyacc32))
	}
	switch c.Action {
	case remedy.ActAllow:
		s.Text = head + k2 + fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Outbound -Protocol %s -RemoteAddress %s -RemotePort %d -Action Allow -Profile Any\n",
			psQuote(name), proto(c), c.Dst, c.Port)
		s.Note = "The client's own firewall dropped the traffic. A block rule that matches wins over any allow rule (Get-NetFirewallRule -Action Block -Enabled True); a third-party firewall needs the same exception."
	case remedy.ActRaiseUDPTimeout:
		s.Text = head + comment("#", "Windows Defender Firewall keeps UDP state about 60 s (90 s per the K2 seed) and has no setting for it:",
			"let the late answers in by rule instead.") + k2 +
			fmt.Sprintf("New-NetFirewallRule -DisplayName %s -Direction Inbound -Protocol UDP -RemoteAddress %s -RemotePort %d -Action Allow -Profile Any\n",
				psQuote(name+"-answers"), c.Dst, c.Port)
		s.Note = "The rule lets in any UDP datagram from the server's port, not only answers: it is what the seed's program exception amounts to."
	default:
		return []Snippet{noConfig(dev, "", fmt.Sprintf("%s is not a change on the client's own firewall.", c.Action))}
	}
	return []Snippet{s}
}

// windowsPath writes a path change for a Windows Defender Firewall: the
// server's own for allow, the clients' for a UDP timeout.
func windowsPath(c Change) Snippet {
	switch c.Action {
	case remedy.ActAllow:
		s := windowsServer(c)[0]
		s.Device = "Windows Defender Firewall (the server " + c.Dst.String() + ")"
		s.Note = "Written for the server's own firewall. A block rule that matches wins over this allow rule (Get-NetFirewallRule -Action Block -Enabled True)."
		return s
	case remedy.ActRaiseUDPTimeout:
		s := windowsClient(Change{Remedy: c.Remedy, From: c.From, More: c.More})[0]
		s.Device = "Windows Defender Firewall (the clients)"
		return s
	case remedy.ActRaiseTCPIdle:
		return noConfig("Windows Defender Firewall", srcNetFirewallRule, "Windows Defender Firewall keeps TCP state as long as the socket lives: it does not time out idle connections, so it is not the device to change.")
	case remedy.ActAllowTwo:
		return noConfig("Windows Defender Firewall", srcNetFirewallRule, "Windows Defender Firewall has no per-client connection limit: look at the firewalls and NAT between the clients and the server.")
	case remedy.ActExemptFromReset:
		return noConfig("Windows Defender Firewall", srcNetFirewallRule, "Windows Defender Firewall drops silently and does not reset established connections: the resets come from another device (an IPS, a firewall's idle timeout with reset, a NAT that lost the state).")
	case remedy.ActSymmetricPath:
		return noConfig("Windows Defender Firewall", srcNetFirewallRule, symmetricNote(c, "A host firewall sees both directions of its own connections; the asymmetry is in the network."))
	}
	return hostOnly(c, "Windows Defender Firewall")
}

// keepAlive is the Supportworks server's TCP keepalive: below the shortest
// idle timeout of the firewalls asked (their catalog defaults) and below
// the idle time the finding saw die, so that the NPA socket is never idle
// that long.
func keepAlive(c Change, fws []Firewall) Snippet {
	bound := c.Min
	for _, fw := range fws {
		if p, err := catalog.LookupProfile(profileOf(fw)); err == nil && p.TCPIdle > 0 && (bound <= 0 || p.TCPIdle < bound) {
			bound = p.TCPIdle
		}
	}
	if b := c.Measured.Below; b > 0 && (bound <= 0 || b < bound) {
		// The capture measured the path's timeout: shorter than any
		// default.
		bound = b
	}
	ka := KeepAliveFor(bound)
	ms := int64(ka / time.Millisecond)
	text := comment("#", headline(c),
		fmt.Sprintf("TCP keepalive every %s, below the %s a firewall on the path may allow an idle connection (Windows default: 2 hours).", dur(ka), dur(bound)),
		"Takes effect after a restart of the server.") +
		"New-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters' -Name KeepAliveTime -PropertyType DWord -Value " + fmt.Sprint(ms) + " -Force\n"
	return Snippet{Firewall: Windows, Device: "Windows Server (Supportworks server)", Lang: "powershell", Text: text, Source: srcKeepAlive + "; " + srcSWSeed,
		Note: "KeepAliveTime only applies to sockets that enable SO_KEEPALIVE; the seed does not say whether Supportworks enables it on the NPA socket. Check a capture after the restart: a keepalive is a segment with no data (or one byte) every KeepAliveTime on an idle 5001 connection. If none appears, raise the firewalls' idle timeouts instead."}
}

// KeepAliveFor is the keepalive interval kept under a firewall idle
// timeout: half of it, rounded down to a whole minute when that leaves at
// least one, else half in whole seconds (at least 1 s).
func KeepAliveFor(idle time.Duration) time.Duration {
	h := idle / 2
	if h >= time.Minute {
		return h / time.Minute * time.Minute
	}
	return max(h/time.Second*time.Second, time.Second)
}
