#!/usr/bin/env bash
# Check with tshark that each scenario's fault really is in its captures, and
# write pcaps/captures/<scenario>/SCENARIO.md (description + expected fwdiag
# findings + the measured evidence). run.sh calls it after every scenario;
# it can also be run alone:  verify.sh [SCENARIO...]   (no args = all present)
# Exit 1 when an expectation does not hold.
set -uo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${LAB_OUT:-$(cd "$LAB_DIR/.." && pwd)/captures}
command -v tshark >/dev/null || { echo "verify.sh: tshark not installed (apt-get install tshark); skipping" >&2; exit 0; }

FAILS=0
EVID=""

# count FILE FILTER: frames matching a display filter.
count() { tshark -r "$DIR/$1" -Y "$2" 2>/dev/null | wc -l; }

# chk FILE OP N "FILTER" "meaning": OP is eq, ge, le.
chk() {
  local file=$1 op=$2 want=$3 filter=$4 what=$5 got ok=ok
  got=$(count "$file" "$filter")
  case $op in
    eq) ((got == want)) || ok=FAIL ;;
    ge) ((got >= want)) || ok=FAIL ;;
    le) ((got <= want)) || ok=FAIL ;;
  esac
  local sym; case $op in eq) sym="=";; ge) sym=">=";; le) sym="<=";; esac
  [[ $ok == ok ]] || { FAILS=$((FAILS + 1)); echo "  FAIL $SC: $file '$filter' = $got (want $sym $want): $what" >&2; }
  EVID+="| $file | \`$filter\` | $got | $sym $want | $what |"$'\n'
}

SYN='tcp.flags.syn==1 && tcp.flags.ack==0'

# ---------------------------------------------------------------- scenarios
# Each doc_X prints the description; each ev_X runs the checks.

doc_healthy() { cat <<'EOF'
**Firewall**: stateful forward chain (policy drop; `ct state established,related accept`; clients may open anything, servers may reach the internet); 192.0.2.128/25 masqueraded to 198.51.100.1 towards the servers. conntrack UDP 5 s, TCP established 10 s.
**Hosts**: Supportworks server 198.51.100.10 (TCP 5001/5005/5015). SW clients 192.0.2.10, .11, .130, .131 (the last two behind the one NAT address 198.51.100.1): main session on 5001, notification socket on 5001 0.4 s later, a push every 3 s, requests every 3 s; .11 and .131 also use 5005 (text) and 5015 (XMLMC). KeyServer 198.51.100.20 (UDP+TCP 19283), KeyShadow 198.51.100.21 (UDP 19315). KeyAccess clients 192.0.2.60, .61, .160 (NAT) every 3 s, answered at once. KeyConfigure 192.0.2.50: DNS www.sassafras.com, HTTP 80 version check (203.0.113.11), admin UDP+TCP 19283, shadow status UDP 19315, DNS prs.sassafras.com, HTTPS 443 (203.0.113.10). ks-prs on 198.51.100.20: DNS + HTTPS 443 to prs. DNS resolver 203.0.113.53.
**Expected findings** (`--udp-timeout 5s --tcp-idle-timeout 10s`, or defaults): nothing above info. 4 `npa_sessions`, all `paired` (in server.pcap two of them come from 198.51.100.1: pair them by timing, not by address). Info only: `sw_version_inferred` (5015 in use ⇒ 7.4.0 or later). Roles: KeyServer, KeyShadow, admin console 192.0.2.50 (UDP+TCP 19283), `k2-prs` and `k2-version-check` endpoints named by the DNS answers, reachable.
**Must not report**: any `npa_*`, `syn_*`, `udp_*`, `k2_shadow_failover` (the single 19315 exchange is KeyConfigure's shadow status check while 19283 answers), `k2_client_rebind`, `rst_injected`.
EOF
}
ev_healthy() {
  chk client.pcap eq 8 "tcp.dstport==5001 && $SYN" "4 clients x (main + notification)"
  chk server.pcap eq 4 "ip.src==198.51.100.1 && tcp.dstport==5001 && $SYN" "2 NATed clients x 2 connections, one source address"
  chk client.pcap ge 28 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "pushes delivered"
  chk client.pcap eq 0 'tcp.flags.reset==1 || icmp || tcp.analysis.retransmission' "no reset, ICMP or retransmission"
  chk server.pcap eq 0 'tcp.flags.reset==1 || icmp || tcp.analysis.retransmission' "same on the server side"
  chk client.pcap eq 2 'dns.flags.response==1 && dns.a' "DNS answers for www/prs (KeyConfigure)"
  chk server.pcap eq 1 'dns.flags.response==1 && dns.a' "DNS answer for prs (ks-prs)"
  chk client.pcap eq 1 'udp.srcport==19315' "shadow status answer"
  chk client.pcap ge 20 'udp.srcport==19283 && ip.dst!=192.0.2.50' "KeyAccess answers"
}

doc_healthy-midstream() { cat <<'EOF'
**Firewall**: stateful forward chain, no NAT, nothing blocked. conntrack UDP 5 s, TCP established 10 s.
**Hosts**: SW server 198.51.100.10; clients 192.0.2.10, .11, .12 each with main + notification socket (push every 3 s, request every 3 s); KeyAccess 192.0.2.60 to the KeyServer 198.51.100.20. The sessions start ~4 s BEFORE tcpdump: no SYN of any 5001 connection is in the files, each ends with FINs inside the capture.
**Expected findings**: nothing above info. 3 `npa_sessions` `paired`, by data pattern alone (main: client requests + server answers; notification: server-only data, client only ACKs), with lower confidence than with handshakes. Possibly `capture_*` info about the capture starting mid-session.
**Must not report**: `npa_orphan_notification`, `npa_notification_missing`, `handshake_incomplete`, any `syn_*` or `udp_*`.
EOF
}
ev_healthy-midstream() {
  chk client.pcap eq 0 "$SYN" "no handshake in the capture"
  chk client.pcap ge 15 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "pushes on 3 notification sockets"
  chk client.pcap eq 6 'tcp.flags.fin==1 && tcp.srcport==5001' "each of the 6 connections closes inside the capture"
  chk client.pcap eq 0 'tcp.flags.reset==1 || icmp || tcp.analysis.retransmission' "nothing wrong"
}

doc_sw-host-firewall() { cat <<'EOF'
**Firewall**: the network firewall admits everything (stateful, nothing blocked). A HOST firewall on the Supportworks server itself (nftables input hook in the server namespace): `iifname "lo" tcp dport 5002 drop` and `iifname "lo" tcp dport 5003 reject with tcp reset`. This scenario has a fourth file, **server-lo.pcap**: tcpdump on the server's loopback, where the server's connections to itself travel.
**Hosts**: SW server 198.51.100.10 (5001, 5005, 5015, 5002 SQL, 5003 KB index). An internal client on the server host (198.51.100.10 → 198.51.100.10, like the server's own services and detached processes): main session + notification socket over loopback (work), SQL 5002 every 7 s (SYN dropped: 6 SYNs per try), KB index 5003 every 8 s (RST). An ordinary client 192.0.2.10 with main + notification socket over the network (works).
**Expected findings**: on server-lo.pcap: `sw_internal_blocked` 198.51.100.10 → 198.51.100.10:5002 (sw-sql, S0) and :5003 (sw-kbindex, REJ): the server's own services blocked by a host firewall (seed: "Can I run any kind of firewall on the Supportworks server itself?"); its internal NPA session `paired`; `sw_version_inferred` (5002 + 5003 ⇒ up to 7.4.1). On client.pcap, server.pcap, firewall.pcap: nothing above info (192.0.2.10 `paired`): the network is fine, the problem is only visible on the server's loopback.
**Must not report**: `syn_unanswered` / `syn_reset` for 192.0.2.10, anything on the network captures, `npa_notification_missing`.
EOF
}
ev_sw-host-firewall() {
  chk server-lo.pcap ge 6 "tcp.dstport==5002 && $SYN" "internal SQL SYNs, dropped by the host firewall"
  chk server-lo.pcap eq 0 'tcp.srcport==5002' "no answer from 5002"
  chk server-lo.pcap eq 2 'tcp.srcport==5003 && tcp.flags.reset==1' "internal KB index connections reset"
  chk server-lo.pcap eq 2 "tcp.dstport==5001 && $SYN" "internal main + notification socket"
  chk server-lo.pcap ge 5 'tcp.payload contains "NPA seq="' "internal pushes delivered"
  chk client.pcap eq 0 'tcp.flags.reset==1 || icmp || tcp.analysis.retransmission' "the network path is clean"
  chk server.pcap eq 0 'ip.src==198.51.100.10 && ip.dst==198.51.100.10' "loopback traffic is not on the server's network side"
}

doc_return-blocked() { cat <<'EOF'
**Firewall**: before the established accept, `iifname "lan0" tcp dport 5005 tcp flags & syn == 0 drop`: of what a client sends to 5005 only the SYN gets through, as when the two directions of a connection cross different stateful firewalls (an asymmetric path). Everything else is open. conntrack UDP 5 s, TCP 10 s. This scenario has a fourth file, **client-out.pcap**: tcpdump `-Q out` on the client's interface, which records only what the client namespace sends, like a SPAN port mirroring one direction.
**Hosts**: SW server 198.51.100.10. Client 192.0.2.10: main session + notification socket on 5001 (work), 5005 text requests every 6 s: the SYN reaches the server, its SYN-ACK reaches the client, the client's ACK and FIN never reach the server, which retransmits its SYN-ACK. 192.0.2.12 scans 30 closed ports (6000-6029) of the server, which resets each.
**Expected findings**: `handshake_incomplete` 192.0.2.10 → 198.51.100.10:5005 (sw-text) on client.pcap (the server re-sends its SYN-ACK after the client's ACK), server.pcap (no ACK ever arrives) and firewall.pcap; `syn_scan` (info) for 192.0.2.12; with both sides `dropped_between_captures` for what 192.0.2.10 sent to 5005. On client-out.pcap: `capture_one_sided` and no `syn_unanswered` (the answers are on the direction the capture does not see).
**Must not report**: `syn_reset` per scanned port (folded into `syn_scan`), `npa_notification_missing` (192.0.2.10 is paired), anything above info on 5001.
EOF
}
ev_return-blocked() {
  chk client.pcap ge 6 'tcp.srcport==5005 && tcp.flags.syn==1 && tcp.flags.ack==1' "SYN-ACKs, re-sent after the client's ACK"
  chk server.pcap eq 0 'tcp.dstport==5005 && tcp.flags.syn==0' "nothing but SYNs reaches 5005"
  chk client.pcap ge 10 'tcp.dstport==5005 && tcp.flags.syn==0' "the client's ACKs, FINs and retransmissions"
  chk client-out.pcap eq 0 'ip.src==198.51.100.10' "client-out.pcap holds one direction only"
  chk client.pcap eq 30 'tcp.dstport>=6000 && tcp.dstport<=6029 && tcp.flags.syn==1' "scan SYNs"
  chk client.pcap eq 30 'tcp.flags.reset==1 && tcp.srcport>=6000 && tcp.srcport<=6029' "scan answered by resets from the server"
}

doc_npa-blocked() { cat <<'EOF'
**Firewall**: `tcp dport 5001 ct state new add @sw_conn { ip saddr ct count over 1 } drop` (one 5001 connection per client address, counted before NAT), plus the branch office 192.0.2.128/25 masqueraded to 198.51.100.1. conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 198.51.100.10. Clients 192.0.2.10, .11, .130 (NAT): main session works; the notification connection's SYN (0.4 s after login) is dropped; Linux 6.x retries it 5 times 1 s apart (`tcp_syn_linear_timeouts`), the client gives up after ~5 s and carries on without notifications, as the real client does. .11 also uses 5005 (works).
**Expected findings**: `syn_unanswered` for 192.0.2.10, .11, .130 → 198.51.100.10:5001 (sw-binary), one each; `npa_notification_missing` for each of the 3 main sessions, reason: its second 5001 SYN was blocked (client.pcap / firewall.pcap). In server.pcap alone the dropped SYNs are absent: `npa_notification_missing` with reason "the capture cannot tell / client never tried". Info: `sw_version_inferred`.
**Must not report**: `npa_notification_lost`, `syn_reset`, `syn_icmp_rejected`, `rst_injected`, anything about 5005.
EOF
}
ev_npa-blocked() {
  chk client.pcap eq 21 "tcp.dstport==5001 && $SYN" "3 mains + 3 x 6 SYNs of the blocked notification connections"
  chk client.pcap eq 15 "tcp.dstport==5001 && $SYN && tcp.analysis.retransmission" "SYN retransmissions"
  chk server.pcap eq 3 "tcp.dstport==5001 && $SYN" "only the 3 main sessions reach the server"
  chk client.pcap eq 0 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "no push at all"
  chk client.pcap eq 0 'tcp.flags.reset==1 || icmp' "silently dropped: no RST, no ICMP"
}

doc_npa-idle-kill() { cat <<'EOF'
**Firewall**: stateful forward chain, nothing blocked; conntrack TCP established timeout 8 s, `nf_conntrack_tcp_loose=0`, `ct state invalid drop`: once an idle flow's entry expires, its next mid-stream packet is invalid and dropped (it is not picked up again).
**Hosts**: SW server 198.51.100.10 pushes 2 s after registration, then every 12 s. 192.0.2.10: main session (request every 2 s, keeps its entry alive) + notification socket WITHOUT keepalive: idle 12 s > 8 s, so the push at ~14 s and all its retransmissions (RTO backoff) are dropped by the firewall; the client's final FIN is dropped too. 192.0.2.11: the same but TCP keepalive every 3 s on its notification socket (`TCP Keep-Alive` probes, answered): its entry stays, all 3 pushes arrive.
**Expected findings** (`--tcp-idle-timeout 8s`): for 192.0.2.10 → 198.51.100.10:5001: `npa_notification_lost` (push retransmitted, never acknowledged, after ~12 s idle, main session alive) and `npa_idle_exceeds_timeout` (idle 12 s > 8 s, no keepalives). With the default 3600 s timeout `npa_notification_lost` remains. Info: `sw_version_inferred`. With both sides: `dropped_between_captures` for 192.0.2.10's notification socket (the pushes and retransmissions the firewall dropped).
**Must not report**: anything for 192.0.2.11 (keepalives seen, idle ≤ 3 s), `npa_notification_missing`, `syn_*`, `rst_injected`.
EOF
}
ev_npa-idle-kill() {
  chk server.pcap ge 5 'ip.dst==192.0.2.10 && tcp.srcport==5001 && tcp.analysis.retransmission && tcp.len>0' "push retransmitted by the server"
  chk client.pcap eq 1 'ip.dst==192.0.2.10 && tcp.payload contains "NPA seq="' "client .10 got only the first push"
  chk server.pcap ge 2 'ip.dst==192.0.2.10 && tcp.payload contains "NPA seq=" && !tcp.analysis.retransmission' "original pushes sent by the server (2nd one lost)"
  chk client.pcap eq 3 'ip.dst==192.0.2.11 && tcp.payload contains "NPA seq=" && !tcp.analysis.retransmission' "keepalive client .11 got all 3 pushes"
  chk client.pcap ge 5 'ip.src==192.0.2.11 && tcp.analysis.keep_alive' "keepalive probes from .11"
  chk client.pcap eq 0 'ip.src==192.0.2.10 && tcp.analysis.keep_alive' "no keepalive from .10"
}

doc_npa-reset() { cat <<'EOF'
**Firewall**: an IPS-style rule before the established accept: a server push to 192.0.2.10 starting `NPA seq=3 ` is answered by the firewall with `reject with tcp reset` (RST sent to the server, claiming to come from the client; the push is dropped). conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 198.51.100.10, pushes every 3 s. Clients 192.0.2.10 and .11, main + notification sockets. The server's notification socket for .10 dies at the 3rd push (~8.4 s); the client never learns (no RST reaches it): it gets no more pushes while its main session lives to the end; its final FIN hits a closed conntrack entry and is dropped (retransmitted).
**Expected findings**: `rst_injected` for the RST 192.0.2.10 → 198.51.100.10:5001 in server.pcap / firewall.pcap (TTL 64 from the firewall; the real client's packets arrive with TTL 127); `npa_notification_lost` for 192.0.2.10 (notification connection reset by a middlebox while the main session lives). From client.pcap alone: `npa_notification_lost` (pushes stop, the client's FIN is never answered) at lower confidence. Info: `sw_version_inferred`. With both sides: `reset_between_captures` (the RST to the server exists only on the server side) and `dropped_between_captures` for the notification socket's packets after it.
**Must not report**: anything for 192.0.2.11; `npa_notification_missing`; `syn_*`.
EOF
}
ev_npa-reset() {
  chk server.pcap eq 1 'tcp.flags.reset==1 && ip.src==192.0.2.10 && ip.ttl==64' "forged RST, TTL 64"
  chk server.pcap ge 30 'ip.src==192.0.2.10 && ip.ttl==127' "genuine client packets arrive with TTL 127"
  chk client.pcap eq 0 'tcp.flags.reset==1' "the client never sees a RST"
  chk client.pcap eq 2 'ip.dst==192.0.2.10 && tcp.payload contains "NPA seq="' "client .10 got 2 pushes"
  chk client.pcap ge 6 'ip.dst==192.0.2.11 && tcp.payload contains "NPA seq="' "client .11 keeps getting pushes"
}

doc_npa-udp-nat() { cat <<'EOF'
**Firewall**: 192.0.2.128/25 masqueraded to 198.51.100.1; a "reverse" rule admits UDP from 198.51.100.10 port 5001 to 192.0.2.0/25 (what the seed says legacy UDP notifications need). conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 198.51.100.10 in legacy UDP notification mode (≤ 7.4.1): each client binds a UDP port and announces it in `LOGIN user=… udpport=N` on its main 5001 session; the server sends `NPA seq=…` datagrams FROM ITS PORT 5001 to the address it sees (for the NATed client: 198.51.100.1) and port N, every 3 s. 192.0.2.10 (direct) receives them. 192.0.2.130 (NAT) never does: the datagrams go to the firewall's own address with no mapping for that port, and the firewall answers ICMP port unreachable (what really happens on Linux; a firewall with an input drop policy would drop silently).
**Expected findings**: `npa_udp_mode` for both sessions (info/warning: recommend TCP notifications, 7.4.0+); `npa_udp_unreachable` for 192.0.2.130 (as 198.51.100.1 in server.pcap: ICMP port unreachable from the NAT address; the port was announced in LOGIN). `sw_version_inferred`: UDP notifications ⇒ 7.4.1 or earlier.
**Must not report**: `npa_udp_unreachable` for 192.0.2.10, `npa_notification_missing` (UDP mode is the notification channel), `udp_late_response` for the notifications, `syn_*`.
EOF
}
ev_npa-udp-nat() {
  chk server.pcap eq 5 'udp.srcport==5001 && ip.dst==192.0.2.10' "UDP notifications to the direct client"
  chk client.pcap eq 5 'udp.srcport==5001 && ip.dst==192.0.2.10' "all delivered"
  chk server.pcap eq 5 'udp.srcport==5001 && ip.dst==198.51.100.1 && !icmp' "UDP notifications to the NAT address"
  chk server.pcap eq 5 'icmp.type==3 && icmp.code==3 && ip.src==198.51.100.1' "ICMP port unreachable from the NAT address"
  chk client.pcap eq 0 'ip.dst==192.0.2.130 && udp' "nothing reaches the NATed client"
  chk client.pcap eq 2 'tcp.payload contains "LOGIN" && !(tcp.payload contains "udpport=0")' "both logins announce a UDP port"
}

doc_k2-late-udp() { cat <<'EOF'
**Firewall**: stateful forward chain, nothing blocked; conntrack UDP timeout 5 s (`nf_conntrack_udp_timeout` and `_stream`): a server answer after 5 s of silence finds no entry and is dropped (policy drop of new server-to-client traffic).
**Hosts**: KeyServer 198.51.100.20 answers every 3rd request of each client 8 s late. KeyAccess clients 192.0.2.60 and .61 send a request every 2 s from one UDP port and wait up to 10 s for its answer (they would accept the late answer); unanswered, they rebind (new source port) and go on.
**Expected findings** (`--udp-timeout 5s`): in server.pcap / firewall.pcap `udp_late_response` for each 8 s answer (4: 2 per client, silence 8 s > 5 s; with the default 60 s threshold they are not late); in client.pcap `udp_unanswered` (requests 3 and 6 of each client) and `k2_client_rebind` for both clients (3 source ports each). Recommendation: UDP timeout > 15 min for clients. With both sides (client.pcap + server.pcap, or firewall.pcap): `dropped_between_captures` for the late answers to each client (seen at the server, never at the client).
**Must not report**: `k2_shadow_failover`, `udp_icmp_unreachable`, any TCP finding.
EOF
}
ev_k2-late-udp() {
  chk server.pcap eq 4 'udp.srcport==19283 && (udp.payload contains "ACK 3 " || udp.payload contains "ACK 6 ")' "late answers leave the server"
  chk client.pcap eq 0 'udp.srcport==19283 && (udp.payload contains "ACK 3 " || udp.payload contains "ACK 6 ")' "and never reach the clients"
  chk client.pcap eq 16 'udp.dstport==19283' "requests (8 per client)"
  chk client.pcap eq 12 'udp.srcport==19283' "answers received (the 4 late ones missing)"
  chk client.pcap eq 0 'icmp' "no ICMP"
}

doc_k2-nat-late() { cat <<'EOF'
**Firewall**: stateful forward chain, nothing blocked; 192.0.2.128/25 masqueraded to 198.51.100.1 towards the servers; conntrack UDP timeout 5 s. The firewall has no input rules: a datagram to its own address with no conntrack entry and no socket draws ICMP port unreachable from its kernel.
**Hosts**: KeyServer 198.51.100.20 answers every 3rd request 7 s late. KeyAccess client 192.0.2.130 (behind the NAT: the server sees 198.51.100.1) sends a request every 2 s from one UDP port and waits up to 10 s for its answer; unanswered, it rebinds and goes on. After 7 s of silence the NAT mapping is gone: the late answer reaches the firewall's own address and is refused with ICMP port unreachable, quoting the answer.
**Expected findings** (defaults: the ICMP error is proof whatever the timeout): in server.pcap `udp_late_response` for 198.51.100.1 (the client's address as the server sees it) refused by 198.51.100.1 after ~7 s; in firewall.pcap the same, and `dropped_between_captures` (the answers entered on dmz0 and never left on lan0); in client.pcap `udp_unanswered` (some answered) for 192.0.2.130, with its rebinds as evidence. With both sides: the same finding on each side, and the answers missing on the client side.
**Must not report**: `udp_icmp_unreachable` (the error quotes the server's answer, not a request), `k2_shadow_failover`, any TCP finding.
EOF
}
ev_k2-nat-late() {
  chk server.pcap ge 2 'udp.srcport==19283 && (udp.payload contains "ACK 3 " || udp.payload contains "ACK 6 ")' "late answers leave the server"
  chk server.pcap ge 2 'icmp.type==3 && icmp.code==3 && ip.src==198.51.100.1 && udp.srcport==19283' "each refused by the NAT with port unreachable, quoting the answer"
  chk client.pcap eq 0 'udp.srcport==19283 && (udp.payload contains "ACK 3 " || udp.payload contains "ACK 6 ")' "the late answers never reach the client"
  chk client.pcap eq 0 'icmp' "the client sees no ICMP"
}

doc_k2-tickle() { cat <<'EOF'
**Firewall**: stateful forward chain, nothing blocked; conntrack UDP timeout 5 s, except flows from 192.0.2.61 to UDP 19283, which get a 60 s timeout through an nftables `ct timeout` object (`ct timeout set "udp-60s"`): the seed's fix applied to one client.
**Hosts**: KeyServer 198.51.100.20 with `-tickle-after 7s`: a client port silent for 7 s gets one server-originated `TICKLE` datagram from port 19283 (the real server tickles ~7 min after contact; scaled). KeyAccess 192.0.2.60 and .61 send a request every 10 s (answered at once) and acknowledge a tickle at once with `TICKLE-ACK`. The 3 tickles to .60 (7 s of silence > 5 s) are dropped by the firewall: visible in server.pcap and on dmz0 only in firewall.pcap, absent from client.pcap. The 3 tickles to .61 pass and are acknowledged.
**Expected findings** (`--udp-timeout 5s`): `udp_late_response` for the 3 tickles to 192.0.2.60:<port> from 198.51.100.20:19283 (silence ~7 s, never acknowledged; in firewall.pcap seen entering but never leaving). The K2 keep-alive pattern recognised (server tickle after silence). From client.pcap alone: nothing for .60 (the tickles never arrive; requests answered). With both sides: `dropped_between_captures` for the 3 tickles to 192.0.2.60 (seen at the server, never at the client); none for 192.0.2.61.
**Must not report**: the tickles to 192.0.2.61 as dropped (each is acknowledged within ms: the path kept state longer than 7 s; at most an info that they were late yet delivered); `udp_unanswered`, `k2_client_rebind`, `k2_shadow_failover`.
EOF
}
ev_k2-tickle() {
  chk server.pcap eq 3 'ip.dst==192.0.2.60 && udp.payload contains "TICKLE"' "tickles sent to .60"
  chk client.pcap eq 0 'ip.dst==192.0.2.60 && udp.payload contains "TICKLE"' "none arrives"
  chk firewall.pcap eq 3 'ip.dst==192.0.2.60 && udp.payload contains "TICKLE"' "fw: seen once (in on dmz0), never forwarded"
  chk client.pcap eq 3 'ip.dst==192.0.2.61 && udp.payload contains "TICKLE"' "tickles to .61 delivered"
  chk client.pcap eq 3 'udp.payload contains "TICKLE-ACK"' "and acknowledged"
  chk client.pcap eq 6 'udp.srcport==19283 && udp.payload contains " ACK "' "every request answered"
}

doc_k2-failover() { cat <<'EOF'
**Firewall**: `udp dport 19283 drop` from the client LAN (KeyServer blocked). conntrack UDP 5 s, TCP 10 s.
**Hosts**: KeyServer 198.51.100.20 (up, never reached), KeyShadow 198.51.100.21 on UDP 19315. KeyAccess clients 192.0.2.60 and .61 with a shadow hint list: a request every 3 s timeout, each unanswered try from a new source port (3 tries), then the shadow on 19315, answered every 2 s.
**Expected findings**: `udp_unanswered` 192.0.2.60 and .61 → 198.51.100.20:19283 (k2-keyserver, 3 requests each, no ICMP: silently dropped); `k2_client_rebind` for both (new source port after each silence); `k2_shadow_failover` for both → 198.51.100.21:19315 (k2-shadow). server.pcap alone shows only the shadow traffic (the drops happen before it).
**Must not report**: `udp_late_response`, `udp_icmp_unreachable`, any TCP or NPA finding.
EOF
}
ev_k2-failover() {
  chk client.pcap eq 6 'udp.dstport==19283' "requests to the KeyServer"
  chk client.pcap eq 0 'udp.srcport==19283 || icmp' "no answer, no ICMP"
  chk server.pcap eq 0 'udp.port==19283' "nothing reaches the KeyServer"
  chk client.pcap ge 10 'udp.srcport==19315' "shadow answers"
}

doc_k2-admin-blocked() { cat <<'EOF'
**Firewall**: `tcp dport 19283 drop` from the client LAN (the admin rule opened only UDP). conntrack UDP 5 s, TCP 10 s.
**Hosts**: KeyServer 198.51.100.20 (UDP+TCP 19283), KeyShadow 198.51.100.21. KeyConfigure 192.0.2.50: DNS + HTTP 80 to www.sassafras.com (works), admin UDP 19283 (3 answered), admin TCP 19283 (SYN dropped, 6 SYNs in ~5 s), shadow status UDP 19315, DNS + HTTPS 443 to prs.sassafras.com (works). KeyAccess 192.0.2.60 answered normally.
**Expected findings**: `syn_unanswered` 192.0.2.50 → 198.51.100.20:19283 (k2-keyserver TCP: admin / report queries blocked, seed rule 3 needs UDP AND TCP 19283). Role of 192.0.2.50: admin console (UDP + attempted TCP 19283).
**Must not report**: `udp_*` (UDP 19283 works), `k2_shadow_failover` (status check only), anything about 80/443.
EOF
}
ev_k2-admin-blocked() {
  chk client.pcap eq 6 "tcp.dstport==19283 && $SYN" "admin TCP SYNs (1 + 5 retransmissions)"
  chk server.pcap eq 0 'tcp.port==19283' "none reaches the KeyServer"
  chk client.pcap eq 3 'udp.srcport==19283 && ip.dst==192.0.2.50' "admin UDP answered"
  chk client.pcap ge 5 'udp.srcport==19283 && ip.dst==192.0.2.60' "KeyAccess answered"
  chk client.pcap eq 2 'tcp.flags.syn==1 && tcp.flags.ack==1 && (tcp.srcport==80 || tcp.srcport==443)' "web checks work"
}

doc_mixed-rejects() { cat <<'EOF'
**Firewall**: `tcp dport 5002 drop`; `tcp dport 5005 reject with tcp reset`; `tcp dport 5015 reject with icmpx admin-prohibited` (ICMP type 3 code 13); and, before the established accept, an IPS rule `tcp dport 5001 @ih,0,48 "EXPORT" reject with tcp reset`. The KeyServer service is stopped (UDP 19283 closed on 198.51.100.20). conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 198.51.100.10 (5001, 5002, 5005, 5015 listening). 192.0.2.10: paired main + notification, plus 5002 every 8 s (dropped, 6 SYNs each), 5005 every 5 s (RST from the firewall, TTL 64, IP ID 0), 5015 every 6 s (ICMP admin-prohibited from 192.0.2.1, connect fails at once). 192.0.2.11: paired main + notification; at ~9.3 s its request `EXPORT …` draws a RST forged by the firewall in the server's name (TTL 64; the server's packets arrive with TTL 127); the client then closes its notification socket normally; the server never sees the RST (its main session dies silently at its end). 192.0.2.60: KeyAccess to 198.51.100.20:19283, answered by the server host itself with ICMP port unreachable, 4 tries from 4 ports.
**Expected findings**: `syn_unanswered` 192.0.2.10 → :5002 (sw-sql); `syn_reset` → :5005 (sw-text; firewall reject: TTL 64 ≠ server's 127, so also acceptable as `rst_injected` evidence); `syn_icmp_rejected` → :5015 (sw-xmlmc, admin-prohibited, from 192.0.2.1); `rst_injected` 192.0.2.11 ↔ 198.51.100.10:5001 (client side); `udp_icmp_unreachable` + `udp_unanswered` + `k2_client_rebind` 192.0.2.60 → 198.51.100.20:19283 (port unreachable: service not running). `sw_version_inferred`: 5002 + 5015 ⇒ 7.4.0 – 7.5.x. With both sides: `reset_between_captures` (the forged RST to 192.0.2.11 exists only on the client side) and `dropped_between_captures` (the `EXPORT` request the reject rule swallowed).
**Must not report**: `npa_notification_missing` (both clients paired), `npa_notification_lost` for 192.0.2.10; `k2_shadow_failover`.
EOF
}
ev_mixed-rejects() {
  chk client.pcap ge 12 "tcp.dstport==5002 && $SYN" "5002 SYNs, silently dropped"
  chk client.pcap eq 0 'tcp.srcport==5002' "no answer from 5002"
  chk client.pcap eq 3 'tcp.srcport==5005 && tcp.flags.reset==1 && ip.ttl==64' "5005 RSTs from the firewall (TTL 64)"
  chk client.pcap eq 2 'icmp.type==3 && icmp.code==13 && ip.src==192.0.2.1' "5015 ICMP admin-prohibited"
  chk client.pcap eq 1 'tcp.srcport==5001 && tcp.flags.reset==1 && ip.ttl==64' "forged RST on the 5001 session"
  chk client.pcap ge 30 'tcp.srcport==5001 && ip.ttl==127' "genuine server packets: TTL 127"
  chk server.pcap eq 0 'tcp.port==5001 && tcp.flags.reset==1' "the server never sees that RST"
  chk client.pcap eq 4 'icmp.type==3 && icmp.code==3 && ip.src==198.51.100.20' "UDP 19283 port unreachable"
  chk server.pcap eq 0 'tcp.port==5002 || tcp.port==5005 || tcp.port==5015' "rejected/dropped SYNs never reach the server"
}

doc_prs-blocked() { cat <<'EOF'
**Firewall**: `ip daddr { 203.0.113.10, 203.0.113.11 } tcp dport { 80, 443 } drop` (outbound web to the sassafras.com stand-ins); DNS to 203.0.113.53 allowed. conntrack UDP 5 s, TCP 10 s.
**Hosts**: DNS answers prs.sassafras.com = 203.0.113.10, www.sassafras.com = 203.0.113.11. KeyConfigure 192.0.2.50: DNS www → HTTP 80 (dropped, gives up after ~6 s: "slow launch"), admin UDP+TCP 19283 to 198.51.100.20 (works), DNS prs → HTTPS 443 (dropped). ks-prs on the KeyServer 198.51.100.20: DNS prs → HTTPS 443 (dropped) → HTTP 80 fallback (dropped). KeyAccess 192.0.2.60 answered.
**Expected findings**: `syn_unanswered` 192.0.2.50 → 203.0.113.11:80 named `k2-version-check` (www.sassafras.com; consequence: KeyConfigure launches slowly, turn its version check off); `syn_unanswered` 192.0.2.50 → 203.0.113.10:443 and 198.51.100.20 → 203.0.113.10:443 and :80 named `k2-prs` (prs.sassafras.com; consequence: product recognition cannot update). Names come from the DNS answers in the captures.
**Must not report**: anything on 19283 (admin UDP/TCP and KeyAccess work), DNS problems, `udp_*`.
EOF
}
ev_prs-blocked() {
  chk client.pcap eq 2 'dns.flags.response==1 && dns.a' "DNS answered www and prs"
  chk client.pcap eq 6 "ip.dst==203.0.113.11 && tcp.dstport==80 && $SYN" "version check SYNs, unanswered"
  chk client.pcap eq 6 "ip.dst==203.0.113.10 && tcp.dstport==443 && $SYN" "PRS search SYNs, unanswered"
  chk server.pcap eq 12 "ip.dst==203.0.113.10 && $SYN" "ks-prs SYNs to 443 then 80, unanswered"
  chk client.pcap eq 0 '(tcp && (ip.src==203.0.113.10 || ip.src==203.0.113.11)) || icmp' "no answer, no ICMP"
  chk client.pcap eq 1 'tcp.srcport==19283 && tcp.flags.syn==1 && tcp.flags.ack==1' "admin TCP 19283 works"
}

doc_scan-beside-healthy() { cat <<'EOF'
**Firewall**: stateful forward chain (policy drop; clients may open anything), no NAT, and `iifname "lan0" tcp dport 1000-1999 drop`: a filtered range. conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 198.51.100.10 (TCP 5001/5005/5015); clients 192.0.2.10 and .11, main session + notification socket, pushes every 3 s. KeyServer 198.51.100.20 (UDP+TCP 19283); KeyAccess 192.0.2.60 every 3 s, answered. 3 s in, **nmap** on the client LAN (`nmap -sS -p 1-2100,5000-5020,19283 -T4 --max-retries 0 -n -Pn -e eth0 -S 192.0.2.12`) scans both servers: 2,122 ports each. nmap crafts each SYN on a raw socket (one source port, TTLs it picks per probe); the servers' kernels reset the closed ports (TTL 127 at the client), the firewall drops 1000-1999 (no answer), the open ports (5001, 5005, 5015; 19283) answer SYN-ACK, and the scanner's own kernel, which knows nothing of nmap's SYNs, resets them (TTL 128).
**Expected findings**: one `syn_scan` (info) for 192.0.2.12: its failed attempts (closed and filtered ports) counted in it, not reported one by one, and its 4 answered probes (open ports). 2 `npa_sessions` `paired`. Nothing above info: the healthy traffic beside the scan reads as healthy.
**Must not report**: `rst_injected` (the scanner's own kernel resets the SYN-ACKs: nmap's SYN TTLs are not its kernel's, but those resets are no forgery), `syn_unanswered` / `syn_reset` for 192.0.2.12 (the scan's attempts), any `npa_*`, `udp_*`.
EOF
}
ev_scan-beside-healthy() {
  chk client.pcap ge 4244 "ip.src==192.0.2.12 && $SYN" "the scan's SYNs: 2 hosts x 2,122 ports"
  chk client.pcap ge 2200 "ip.dst==192.0.2.12 && tcp.flags.reset==1 && tcp.flags.ack==1" "closed ports reset by the servers"
  chk client.pcap eq 0 "ip.dst==192.0.2.12 && tcp.srcport>=1000 && tcp.srcport<=1999" "the filtered range never answers"
  chk server.pcap eq 0 "ip.src==192.0.2.12 && tcp.dstport>=1000 && tcp.dstport<=1999" "the firewall drops it before the servers"
  chk client.pcap eq 4 "ip.dst==192.0.2.12 && tcp.flags.syn==1 && tcp.flags.ack==1" "open ports: 5001, 5005, 5015, 19283"
  chk client.pcap eq 4 "ip.src==192.0.2.12 && tcp.flags.reset==1 && ip.ttl==128" "the scanner's kernel resets each SYN-ACK"
  chk client.pcap ge 10 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "pushes delivered beside the scan"
  chk client.pcap ge 5 'udp.srcport==19283 && ip.dst==192.0.2.60' "KeyAccess answered"
}

doc_ipv6-healthy() { cat <<'EOF'
**Firewall**: nftables `inet` table, stateful forward chain, nothing blocked, no NAT. conntrack UDP 5 s, TCP 10 s. IPv6 only (the IPv4 addresses exist but carry nothing); ND/MLD packets are link-local noise.
**Hosts**: SW server 2001:db8:5::10; clients 2001:db8:c::10 and ::11, main + notification socket, pushes every 3 s (::11 also 5005 and 5015). KeyServer 2001:db8:5::20, KeyShadow ::21. KeyAccess 2001:db8:c::60. KeyConfigure 2001:db8:c::50: AAAA www → HTTP 80, admin UDP+TCP 19283, shadow status 19315, AAAA prs → HTTPS 443. ks-prs on 2001:db8:5::20: AAAA prs → HTTPS 443. DNS 2001:db8:1::53.
**Expected findings**: nothing above info; 2 `npa_sessions` `paired`; `sw_version_inferred` info; `k2-prs` / `k2-version-check` named from the AAAA answers.
**Must not report**: any `npa_*`, `syn_*`, `udp_*`, `k2_shadow_failover`, `rst_injected`.
EOF
}
ev_ipv6-healthy() {
  chk client.pcap eq 4 "tcp.dstport==5001 && $SYN" "2 clients x 2 connections"
  chk client.pcap ge 10 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "pushes delivered"
  chk client.pcap eq 2 'dns.flags.response==1 && dns.aaaa' "AAAA answers"
  chk client.pcap eq 0 'tcp.flags.reset==1 || icmpv6.type<128 || tcp.analysis.retransmission || ip' "no RST, ICMPv6 error, retransmission or IPv4"
}

doc_ipv6-rejects() { cat <<'EOF'
**Firewall** (inet table): `tcp dport 5001 ct state new add @sw_conn6 { ip6 saddr ct count over 1 } reject with icmpx admin-prohibited`; `tcp dport 5015 reject with icmpx admin-prohibited`; `udp dport 19283 reject with icmpx admin-prohibited` (ICMPv6 type 1 code 1 from 2001:db8:c::1). conntrack UDP 5 s, TCP 10 s.
**Hosts**: SW server 2001:db8:5::10; client 2001:db8:c::10: main session works, its notification connection is rejected (Linux retries once, then the connect fails: 2 SYNs, 2 ICMPv6), XMLMC 5015 every 5 s rejected the same way; it carries on without notifications. KeyAccess 2001:db8:c::60 → KeyServer 2001:db8:5::20:19283: every request answered by ICMPv6 admin-prohibited; 5 tries from 5 source ports (no shadow hint).
**Expected findings**: `syn_icmp_rejected` (admin-prohibited) 2001:db8:c::10 → 2001:db8:5::10:5001 and → :5015; `npa_notification_missing` for the main session of 2001:db8:c::10, reason: the second SYN was rejected; `udp_icmp_unreachable` + `udp_unanswered` + `k2_client_rebind` 2001:db8:c::60 → 2001:db8:5::20:19283. Info: `sw_version_inferred`.
**Must not report**: `syn_unanswered` (every SYN got an ICMPv6), `k2_shadow_failover`, `npa_notification_lost`.
EOF
}
ev_ipv6-rejects() {
  chk client.pcap eq 8 'icmpv6.type==1 && icmpv6.code==1 && tcp' "ICMPv6 admin-prohibited quoting TCP SYNs (5001 x 2, 5015 x 6)"
  chk client.pcap eq 5 'icmpv6.type==1 && icmpv6.code==1 && udp' "ICMPv6 admin-prohibited quoting UDP 19283"
  chk client.pcap eq 5 'udp.dstport==19283 && !icmpv6' "KeyAccess requests (5 source ports)"
  chk server.pcap eq 1 "tcp.dstport==5001 && $SYN" "only the main session reaches the server"
  chk client.pcap eq 0 'tcp.srcport==5001 && tcp.payload contains "NPA seq="' "no notifications"
}

# ---------------------------------------------------------------- main

write_md() {
  local sc=$1 desc=$2
  {
    echo "# Scenario \`$sc\`"
    echo
    echo "$desc."
    echo
    "doc_$sc" | sed 's/$/\n/'
    echo "Reproduce: \`sudo pcaps/lab/run.sh $sc\`. Files: \`client.pcap\` (client LAN side, Ethernet), \`server.pcap\` (server LAN side, Ethernet), \`firewall.pcap\` (\`tcpdump -i any\` in the firewall, Linux SLL2: every forwarded packet appears twice, on its in- and out-interface, NAT applied on the second copy; de-duplicate before calling anything a retransmission)."
    echo
    echo "## Evidence (tshark on these files)"
    echo
    echo "| file | display filter | frames | expected | meaning |"
    echo "|---|---|---|---|---|"
    printf '%s' "$EVID"
  } >"$DIR/SCENARIO.md"
}

main() {
  local list=("$@") sc desc
  if ((${#list[@]} == 0)); then
    for d in "$OUT"/*/; do [[ -f $d/client.pcap ]] && list+=("$(basename "$d")"); done
  fi
  for sc in "${list[@]}"; do
    DIR=$OUT/$sc SC=$sc EVID=""
    declare -F "ev_$sc" >/dev/null || { echo "verify.sh: no checks for $sc" >&2; continue; }
    [[ -f $DIR/client.pcap ]] || { echo "verify.sh: $DIR has no captures" >&2; FAILS=$((FAILS + 1)); continue; }
    local before=$FAILS
    "ev_$sc"
    desc=$("$LAB_DIR/run.sh" --describe "$sc" 2>/dev/null || echo "$sc")
    write_md "$sc" "$desc"
    if ((FAILS == before)); then echo "verify $sc: ok" >&2; else echo "verify $sc: $((FAILS - before)) check(s) failed" >&2; fi
  done
  ((FAILS == 0))
}

main "$@"
