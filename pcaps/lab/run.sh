#!/usr/bin/env bash
# fwdiag capture lab: real captures of Supportworks and K2 traffic through a
# real Linux stateful firewall (nftables + conntrack) in network namespaces.
#
#   run.sh                 all scenarios
#   run.sh SCENARIO...     only these
#   run.sh --list          list scenarios
#
# Needs root. Writes pcaps/captures/<scenario>/{client,server,firewall}.pcap.
# Everything it creates (namespaces fwl-*, processes, temp dir) is removed on
# exit, also on failure; leftovers of a crashed run are removed first.
# Environment: LAB_OUT (output dir), LAB_KEEP_LOGS=1 (copy emulator logs next
# to the captures as lab.log, not committed), GO (go binary), LAB_LIVE_CMD (a
# command run in the client namespace during each scenario, stopped with
# SIGINT, e.g. a live analyzer on eth0), LAB_LOCK_WAIT (seconds to wait for
# another lab run to end; default 0: fail at once), LAB_FW_FIX (an nft file
# loaded with nft -f inside fwl-fw after the scenario's own ruleset and
# conntrack timeouts, before any traffic: a fix under test) and
# LAB_FW_SYSCTL (a file of net.netfilter.* sysctl settings applied inside
# fwl-fw at the same moment); with either, the tshark verification of the
# scenario's fault is skipped (the fix is meant to remove it).
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_DIR/../.." && pwd)
OUT=${LAB_OUT:-$REPO/pcaps/captures}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

NS_CLI=fwl-cli   # client LAN: 192.0.2.0/24, 2001:db8:c::/64
NS_FW=fwl-fw     # router/firewall: nftables + conntrack
NS_SRV=fwl-srv   # server LAN: 198.51.100.0/24, 2001:db8:5::/64
NS_NET=fwl-net   # "internet": 203.0.113.0/24, 2001:db8:1::/64 (prs, www, DNS)
ALL_NS=("$NS_CLI" "$NS_FW" "$NS_SRV" "$NS_NET")

# Addresses (documentation ranges only).
SW=198.51.100.10; KS=198.51.100.20; SHADOW=198.51.100.21
PRS=203.0.113.10; WWW=203.0.113.11; DNS=203.0.113.53
SW6=2001:db8:5::10; KS6=2001:db8:5::20; SHADOW6=2001:db8:5::21
PRS6=2001:db8:1::10; WWW6=2001:db8:1::11; DNS6=2001:db8:1::53
CLI_ADDRS=(10 11 12 50 60 61 62 130 131 160)   # 192.0.2.x; .128/25 is the NATed "branch office"

SCENARIOS=(healthy healthy-midstream sw-host-firewall return-blocked npa-blocked npa-idle-kill npa-reset npa-udp-nat k2-late-udp k2-nat-late k2-tickle k2-failover k2-admin-blocked mixed-rejects prs-blocked ipv6-healthy ipv6-rejects scan-beside-healthy)
declare -A DESC=(
  [healthy]="several SW clients (2 behind one NAT address) with paired NPA sockets, K2 clients answered, KeyConfigure + ks-prs reach DNS/80/443: nothing wrong"
  [healthy-midstream]="healthy SW + K2 traffic, but the capture starts after the sessions are up: no handshakes of the 5001 connections, pairing from data only"
  [npa-reset]="firewall (IPS-style) resets the notification socket of one client at its 3rd push: RST forged towards the server, the client never learns"
  [k2-admin-blocked]="TCP 19283 dropped at the fw: KeyConfigure admin UDP works, its TCP 19283 admin connection does not; KeyAccess UDP unaffected"
  [k2-tickle]="KeyServer tickles silent clients after 7 s; fw UDP timeout 5 s drops the tickles to one client, a per-flow 60 s ct timeout lets the other's through"
  [return-blocked]="the firewall passes a client's SYNs to 5005 but drops everything else it sends there (an asymmetric path); a client scans 30 closed ports; extra client-out.pcap records only what the client sends (a one-way SPAN)"
  [sw-host-firewall]="a host firewall on the Supportworks server drops/resets the server's own connections to 5002/5003 over loopback (extra server-lo.pcap); the network is fine"
  [npa-blocked]="firewall limits each client to one TCP 5001 connection (ct count over 1: drop): the NPA notification SYNs are silently dropped"
  [npa-idle-kill]="notification socket idle 12 s > fw TCP established timeout 8 s, no keepalive: next push dropped and retransmitted (a keepalive client survives)"
  [npa-udp-nat]="legacy UDP notifications from server port 5001: direct client gets them, NATed client's go to the NAT address and draw ICMP port unreachable"
  [k2-nat-late]="KeyAccess client behind the masquerading firewall; KeyServer answers every 3rd request 7 s late, after the 5 s UDP mapping expired: the firewall refuses the late answer with ICMP port unreachable"
  [k2-late-udp]="fw UDP timeout 5 s, KeyServer answers every 3rd request after 8 s: late answers dropped at the fw, clients rebind"
  [k2-failover]="fw drops all UDP to 19283: KeyAccess clients retry, rebind, fail over to the KeyShadow on UDP 19315"
  [mixed-rejects]="5002 dropped, 5005 reset, 5015 icmp admin-prohibited, UDP 19283 to a stopped KeyServer (port unreachable), forged RST on a 5001 session"
  [prs-blocked]="outbound 80/443 to prs/www.sassafras.com dropped after DNS answered: ks-prs and KeyConfigure version check / PRS search fail"
  [ipv6-healthy]="IPv6 only: SW clients with paired NPA sockets, K2 client, KeyConfigure + ks-prs with AAAA answers: nothing wrong"
  [ipv6-rejects]="IPv6: NPA second connection, XMLMC 5015 and UDP 19283 rejected with ICMPv6 admin-prohibited"
  [scan-beside-healthy]="a real nmap SYN scan (nmap -sS) of both servers from 192.0.2.12 beside healthy SW + K2 traffic; the fw drops TCP 1000-1999: one syn_scan, nothing else"
)

TMP=""
PIDS=()      # emulators (servers and clients) started by this script
CAP_PIDS=()  # tcpdump processes

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ------------------------------------------------------------------ setup

need_tools() {
  [[ $(id -u) == 0 ]] || die "run as root (network namespaces, nftables, tcpdump)"
  local missing=()
  command -v tcpdump >/dev/null || missing+=(tcpdump)
  command -v nft >/dev/null || missing+=(nftables)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v ethtool >/dev/null || missing+=(ethtool)
  # nmap only for the scenario that scans (the fix loop runs others).
  if [[ " $* " == *" scan-beside-healthy "* ]]; then
    command -v nmap >/dev/null || missing+=(nmap)
  fi
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; }
  fi
  [[ -x $GO ]] || die "go toolchain not found (set GO=/path/to/go)"
}

build_emu() {
  TMP=$(mktemp -d /tmp/fwdiag-lab.XXXXXX)
  log "building emulators into $TMP"
  (cd "$REPO" && "$GO" build -o "$TMP/emu" ./pcaps/lab/emu)
}

# kill_pids SIG PID...: signal our own processes, by id, then wait for them.
kill_pids() {
  local sig=$1; shift
  local p
  for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

teardown() {
  if ((${#PIDS[@]})); then kill_pids TERM "${PIDS[@]}"; fi
  if ((${#CAP_PIDS[@]})); then kill_pids INT "${CAP_PIDS[@]}"; fi
  PIDS=(); CAP_PIDS=()
  local ns p
  for ns in "${ALL_NS[@]}"; do
    if ip netns list | grep -qw "$ns"; then
      # Leftovers of a crashed run: only processes inside our own lab
      # namespaces, by id.
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

on_exit() {
  local rc=$?
  teardown
  [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
  ((rc == 0)) || log "failed (exit $rc); everything torn down"
  exit $rc
}

# topology V6: build the four namespaces. V6=1 enables IPv6 (else disabled,
# so IPv4 captures carry no ND/MLD chatter).
topology() {
  local v6=$1 ns
  teardown
  TIMEOUTS_SET=0; rm -f "$TMP/fix.log"
  for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    if [[ $v6 == 1 ]]; then
      nsx "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.all.disable_ipv6=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
        net.ipv6.conf.default.accept_ra=0
    else
      nsx "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
    fi
  done
  # Windows-like hosts (TTL / hop limit 128); the firewall and the internet
  # side keep Linux's 64, so a RST forged by the firewall stands out.
  for ns in "$NS_CLI" "$NS_SRV"; do
    nsx "$ns" sysctl -qw net.ipv4.ip_default_ttl=128
    [[ $v6 == 1 ]] && nsx "$ns" sysctl -qw net.ipv6.conf.default.hop_limit=128 net.ipv6.conf.all.hop_limit=128
  done
  # veth pairs created directly in their namespaces: host side eth0, fw side lan0/dmz0/wan0.
  ip link add eth0 netns "$NS_CLI" type veth peer name lan0 netns "$NS_FW"
  ip link add eth0 netns "$NS_SRV" type veth peer name dmz0 netns "$NS_FW"
  ip link add eth0 netns "$NS_NET" type veth peer name wan0 netns "$NS_FW"
  local dev
  for pair in "$NS_CLI:eth0" "$NS_SRV:eth0" "$NS_NET:eth0" "$NS_FW:lan0" "$NS_FW:dmz0" "$NS_FW:wan0"; do
    ns=${pair%%:*}; dev=${pair#*:}
    nsx "$ns" ethtool -K "$dev" tx off rx off gro off gso off tso off >/dev/null 2>&1 ||
      log "ethtool -K $ns/$dev: some offloads could not be changed"
    nsx "$ns" ip link set "$dev" up
  done
  # Firewall addresses.
  nsx "$NS_FW" ip addr add 192.0.2.1/24 dev lan0
  nsx "$NS_FW" ip addr add 198.51.100.1/24 dev dmz0
  nsx "$NS_FW" ip addr add 203.0.113.1/24 dev wan0
  # Clients.
  local a
  for a in "${CLI_ADDRS[@]}"; do nsx "$NS_CLI" ip addr add "192.0.2.$a/24" dev eth0; done
  nsx "$NS_CLI" ip route add default via 192.0.2.1
  # Servers: Supportworks, KeyServer, KeyShadow.
  for a in "$SW" "$KS" "$SHADOW"; do nsx "$NS_SRV" ip addr add "$a/24" dev eth0; done
  nsx "$NS_SRV" ip route add default via 198.51.100.1
  # Internet: prs, www, DNS resolver.
  for a in "$PRS" "$WWW" "$DNS"; do nsx "$NS_NET" ip addr add "$a/24" dev eth0; done
  nsx "$NS_NET" ip route add default via 203.0.113.1
  if [[ $v6 == 1 ]]; then
    nsx "$NS_FW" ip -6 addr add 2001:db8:c::1/64 dev lan0 nodad
    nsx "$NS_FW" ip -6 addr add 2001:db8:5::1/64 dev dmz0 nodad
    nsx "$NS_FW" ip -6 addr add 2001:db8:1::1/64 dev wan0 nodad
    for a in 10 11 50 60 61; do nsx "$NS_CLI" ip -6 addr add "2001:db8:c::$a/64" dev eth0 nodad; done
    nsx "$NS_CLI" ip -6 route add default via 2001:db8:c::1
    for a in "$SW6" "$KS6" "$SHADOW6"; do nsx "$NS_SRV" ip -6 addr add "$a/64" dev eth0 nodad; done
    nsx "$NS_SRV" ip -6 route add default via 2001:db8:5::1
    for a in "$PRS6" "$WWW6" "$DNS6"; do nsx "$NS_NET" ip -6 addr add "$a/64" dev eth0 nodad; done
    nsx "$NS_NET" ip -6 route add default via 2001:db8:1::1
    nsx "$NS_FW" sysctl -qw net.ipv6.conf.all.forwarding=1
  fi
  nsx "$NS_FW" sysctl -qw net.ipv4.ip_forward=1
}

# conntrack_timeouts UDP TCP_ESTABLISHED: per-netns sysctls in the firewall.
conntrack_timeouts() {
  nsx "$NS_FW" sysctl -qw \
    net.netfilter.nf_conntrack_udp_timeout="$1" \
    net.netfilter.nf_conntrack_udp_timeout_stream="$1" \
    net.netfilter.nf_conntrack_tcp_timeout_established="$2" \
    net.netfilter.nf_conntrack_tcp_loose=0
  TIMEOUTS_SET=1
}
TIMEOUTS_SET=0

# apply_fix: the fix under test (LAB_FW_FIX, LAB_FW_SYSCTL), on top of the
# scenario's firewall. Called at the end of firewall(), i.e. after the
# scenario's ruleset and its conntrack timeouts (every scenario sets those
# first; checked) and before start_captures and the emulators. Only the
# fwl-fw namespace is touched: nft and sysctl run inside it, and only
# net.netfilter.* keys (per-namespace sysctls) are accepted.
apply_fix() {
  [[ -n ${LAB_FW_FIX:-}${LAB_FW_SYSCTL:-} ]] || return 0
  ((TIMEOUTS_SET)) || die "fix hook: the scenario set its firewall before its conntrack timeouts"
  if [[ -n ${LAB_FW_SYSCTL:-} ]]; then
    [[ -r $LAB_FW_SYSCTL ]] || die "LAB_FW_SYSCTL=$LAB_FW_SYSCTL: cannot read it"
    local line key val
    while IFS= read -r line || [[ -n $line ]]; do
      line=${line%%#*}; line=${line%%;*}
      line=$(sed -E 's/^[[:space:]]*(sysctl[[:space:]]+(-[qw]+[[:space:]]+)*)?//; s/[[:space:]]*$//' <<<"$line")
      [[ -n $line ]] || continue
      key=$(sed -E 's/[[:space:]]*=.*//' <<<"$line"); val=$(sed -E 's/^[^=]*=[[:space:]]*//' <<<"$line")
      [[ $line == *=* && $key =~ ^net\.netfilter\.[a-z0-9_.]+$ ]] ||
        die "LAB_FW_SYSCTL: '$line' is not a net.netfilter.* setting (only the firewall namespace's conntrack sysctls may be changed)"
      log "fix hook: sysctl $key=$val in $NS_FW"
      nsx "$NS_FW" sysctl -qw "$key=$val" >/dev/null || die "LAB_FW_SYSCTL: sysctl -w $key=$val failed"
    done <"$LAB_FW_SYSCTL"
  fi
  if [[ -n ${LAB_FW_FIX:-} ]]; then
    [[ -r $LAB_FW_FIX ]] || die "LAB_FW_FIX=$LAB_FW_FIX: cannot read it"
    log "fix hook: nft -f $LAB_FW_FIX in $NS_FW:"
    sed 's/^/    /' "$LAB_FW_FIX" >&2
    local err
    err=$(nsx "$NS_FW" nft -f "$LAB_FW_FIX" 2>&1) || die "LAB_FW_FIX: nft -f failed: $err"
  fi
  { echo "== fix: ${LAB_FW_FIX:-} ${LAB_FW_SYSCTL:-}"
    [[ -n ${LAB_FW_SYSCTL:-} ]] && cat "$LAB_FW_SYSCTL"
    [[ -n ${LAB_FW_FIX:-} ]] && cat "$LAB_FW_FIX"
    echo "== nft ruleset after the fix"; nsx "$NS_FW" nft list ruleset
    echo "== conntrack sysctls after the fix"; nsx "$NS_FW" sysctl -a 2>/dev/null | grep -E '^net\.netfilter\.nf_conntrack_(udp|tcp)_timeout'
  } >"$TMP/fix.log" 2>&1 || true
}

# firewall PRE RULES NAT [SETS]: load the stateful ruleset. PRE goes before
# "ct state established accept" (rules that hit established flows), RULES
# after the invalid/non-SYN drops, NAT in postrouting.
firewall() {
  local pre=$1 rules=$2 nat=$3 sets=${4:-}
  nsx "$NS_FW" nft -f - <<EOF
flush ruleset
table inet lab {
$sets
  chain forward {
    type filter hook forward priority filter; policy drop;
$pre
    ct state established,related accept
    ct state invalid counter drop comment "mid-stream packet without a conntrack entry (tcp_loose=0)"
    tcp flags & (fin|syn|rst|ack) != syn ct state new counter drop
$rules
    iifname "lan0" ct state new accept comment "clients may open connections"
    iifname "dmz0" oifname "wan0" ct state new accept comment "servers may reach the internet"
    counter comment "policy drop"
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
$nat
  }
}
EOF
  nsx "$NS_FW" conntrack -F >/dev/null 2>&1 || true
  apply_fix
}

NAT_BRANCH='    ip saddr 192.0.2.128/25 oifname "dmz0" masquerade comment "branch office behind one NAT address"'

# ------------------------------------------------------------------ run helpers

start_captures() {
  local dir=$1
  [[ ${CAPTURE_KEEP_LOGS:-0} == 1 ]] || rm -f "$TMP"/log.*
  rm -f "$TMP"/tcpdump.*.log
  mkdir -p "$dir"
  rm -f "$dir"/client.pcap "$dir"/server.pcap "$dir"/firewall.pcap "$dir"/server-lo.pcap "$dir"/client-out.pcap
  local spec ns ifc file extra
  for spec in "$NS_CLI:eth0:client" "$NS_SRV:eth0:server" "$NS_FW:any:firewall" ${EXTRA_CAPS:-}; do
    IFS=: read -r ns ifc file <<<"$spec"
    extra=()
    [[ $ifc == any ]] && extra=(-y LINUX_SLL2)
    # IFACE/out records only what the host sends (tcpdump -Q out): the view
    # of a SPAN port that mirrors one direction.
    if [[ $ifc == */out ]]; then ifc=${ifc%/out}; extra=(-Q out); fi
    ip netns exec "$ns" tcpdump -Z root -U -n -i "$ifc" "${extra[@]}" -w "$dir/$file.pcap" >"$TMP/tcpdump.$file.log" 2>&1 &
    CAP_PIDS+=($!)
  done
  if [[ -n ${LAB_LIVE_CMD:-} ]]; then
    # A live analyzer on the client side, e.g.
    # LAB_LIVE_CMD='fwdiag live --no-tui -i eth0 --json /tmp/live.json':
    # started with the captures, stopped with SIGINT like tcpdump.
    ip netns exec "$NS_CLI" bash -c "exec $LAB_LIVE_CMD" >"$TMP/live.log" 2>&1 &
    CAP_PIDS+=($!)
    sleep 1
  fi
  local f ok
  for f in client server firewall ${EXTRA_CAPS:+$(for e in $EXTRA_CAPS; do echo "${e##*:}"; done)}; do
    ok=0
    for _ in $(seq 50); do
      if grep -q "listening on" "$TMP/tcpdump.$f.log" 2>/dev/null; then ok=1; break; fi
      sleep 0.1
    done
    ((ok)) || die "tcpdump ($f) did not start: $(cat "$TMP/tcpdump.$f.log")"
  done
  sleep 0.3
}

stop_captures() {
  sleep 1.5   # let the last answers/retransmissions land
  kill_pids INT "${CAP_PIDS[@]}"
  CAP_PIDS=()
  local f
  for f in client server firewall ${EXTRA_CAPS:+$(for e in $EXTRA_CAPS; do echo "${e##*:}"; done)}; do
    { grep -h "packets" "$TMP/tcpdump.$f.log" || true; } | tr "\n" " " | sed "s/^/  $f: /" >&2; echo >&2
  done
}

# bg NS NAME EMU-ARGS...: start an emulator in a namespace; log to $TMP.
bg() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$TMP/emu" "$@" >"$TMP/log.$name" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//[-.]/_}=$!"
}

# wait_for MAXSECONDS NAME...: wait for emulators (clients) to exit by themselves.
wait_for() {
  local max=$1; shift
  local n p end=$((SECONDS + max))
  for n in "$@"; do
    p=$(eval echo "\$PID_${n//[-.]/_}")
    while kill -0 "$p" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
    if kill -0 "$p" 2>/dev/null; then log "$n still running after ${max}s: stopping it"; kill_pids TERM "$p"; fi
    wait "$p" 2>/dev/null || log "$n exited with an error (see log)"
  done
}

# finish DIR: stop captures and servers, keep logs if asked.
finish() {
  local dir=$1
  stop_captures
  kill_pids TERM "${PIDS[@]}"
  PIDS=()
  nsx "$NS_FW" nft list ruleset >"$TMP/ruleset" 2>/dev/null || true
  if [[ ${LAB_KEEP_LOGS:-0} == 1 ]]; then
    { for f in "$TMP"/log.* "$TMP"/live.log; do [[ -f $f ]] || continue; echo "== ${f##*/}"; cat "$f"; done
      [[ -f $TMP/fix.log ]] && cat "$TMP/fix.log"
      echo "== nft ruleset at the end"; cat "$TMP/ruleset"; } >"$dir/lab.log"
  fi
  chmod 644 "$dir"/*.pcap
}

servers_v4() {  # servers_v4 DUR [sw-server extra args...]
  local dur=$1; shift
  bg "$NS_SRV" sw-server sw-server -addrs "$SW" -dur "$dur" "$@"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS" -dur "$dur"
  bg "$NS_NET" web web -addrs "$PRS,$WWW" -dur "$dur"
  bg "$NS_NET" dns dns -addrs "$DNS" -rr "prs.sassafras.com=$PRS,$PRS6" -rr "www.sassafras.com=$WWW,$WWW6" -dur "$dur"
  sleep 0.5
}

# ------------------------------------------------------------------ scenarios

sc_healthy() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" "" "$NAT_BRANCH"
  start_captures "$1"
  servers_v4 40s -push-every 3s
  bg "$NS_SRV" shadow ks-server -addrs "$SHADOW" -port 19315 -tcp=false -name KeyShadow -dur 40s
  local c
  for c in 10 11 130 131; do
    bg "$NS_CLI" "sw$c" sw-client -local 192.0.2.$c -server "$SW" -user "user$c" -req-every 3s -dur 24s \
      $([[ $c == 11 || $c == 131 ]] && echo "-text-every 9s -xmlmc-every 11s")
    sleep 0.3
  done
  for c in 60 61 160; do
    bg "$NS_CLI" "ka$c" ks-client -local 192.0.2.$c -server "$KS" -host "pc$c" -every 3s -timeout 3s -dur 22s
  done
  bg "$NS_CLI" kc keyconfigure -local 192.0.2.50 -ks "$KS" -shadow "$SHADOW"
  bg "$NS_SRV" prs ks-prs -local "$KS"
  wait_for 40 sw10 sw11 sw130 sw131 ka60 ka61 ka160 kc prs
  finish "$1"
}

sc_sw_host_firewall() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" "" ""
  # The host firewall on the Supportworks server itself (seed: "Can I run any
  # kind of firewall on the Supportworks server itself?").
  nsx "$NS_SRV" nft -f - <<'EOF'
table inet host {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "lo" tcp dport 5002 counter drop comment "host firewall: SQL server port not allowed"
    iifname "lo" tcp dport 5003 counter reject with tcp reset comment "host firewall: index server port not allowed"
  }
}
EOF
  EXTRA_CAPS="$NS_SRV:lo:server-lo" start_captures "$1"
  servers_v4 35s -extra-ports 5002,5003
  # SwServerService-like internal client on the server host, to its own address.
  bg "$NS_SRV" internal sw-client -local "$SW" -server "$SW" -user swserver -req-every 3s -dur 20s -sql-every 7s -kb-every 8s
  sleep 0.3
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -req-every 3s -dur 20s
  wait_for 35 internal sw10
  EXTRA_CAPS="$NS_SRV:lo:server-lo" finish "$1"
}

sc_return_blocked() {
  topology 0
  conntrack_timeouts 5 10
  # Before the established accept: of what a client sends to 5005 only the
  # SYN gets through, as when the two directions of a connection cross
  # different stateful firewalls and one of them never saw the SYN.
  firewall '    iifname "lan0" tcp dport 5005 tcp flags & syn == 0 counter drop comment "return path: only SYNs reach 5005"' "" ""
  EXTRA_CAPS="$NS_CLI:eth0/out:client-out" start_captures "$1"
  servers_v4 30s
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -req-every 3s -dur 18s -text-every 6s
  sleep 0.3
  # A port scan from 192.0.2.12: 30 closed ports on the Supportworks server,
  # one connect each (0.3 s timeout), from its own address.
  ip netns exec "$NS_CLI" python3 -c '
import socket, time
for p in range(6000, 6030):
    s = socket.socket(); s.settimeout(0.3); s.bind(("192.0.2.12", 0))
    try: s.connect(("198.51.100.10", p))
    except OSError: pass
    s.close(); time.sleep(0.1)
' >"$TMP/log.scan" 2>&1 &
  local scan=$!
  wait_for 30 sw10
  wait "$scan" || true
  EXTRA_CAPS="$NS_CLI:eth0/out:client-out" finish "$1"
}

sc_npa_blocked() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" \
    '    iifname "lan0" tcp dport 5001 ct state new add @sw_conn { ip saddr ct count over 1 } counter drop comment "max 1 connection per client to 5001"' \
    "$NAT_BRANCH" \
    '  set sw_conn { type ipv4_addr; size 1024; flags dynamic; }'
  start_captures "$1"
  servers_v4 30s
  local c
  for c in 10 11 130; do
    bg "$NS_CLI" "sw$c" sw-client -local 192.0.2.$c -server "$SW" -user "user$c" -req-every 3s -dur 18s \
      $([[ $c == 11 ]] && echo "-text-every 7s")
    sleep 0.3
  done
  wait_for 30 sw10 sw11 sw130
  finish "$1"
}

sc_npa_idle_kill() {
  topology 0
  conntrack_timeouts 5 8
  firewall "" "" ""
  start_captures "$1"
  servers_v4 45s -push-first 2s -push-every 12s
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -req-every 2s -dur 33s
  sleep 0.3
  bg "$NS_CLI" sw11 sw-client -local 192.0.2.11 -server "$SW" -user user11 -req-every 2s -dur 33s -keepalive 3s
  wait_for 45 sw10 sw11
  finish "$1"
}

sc_healthy_midstream() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" "" ""
  # Sessions start before the capture: the analyzer sees no SYN for them.
  rm -f "$TMP"/log.* "$TMP"/tcpdump.*.log
  servers_v4 35s -push-every 3s
  local c
  for c in 10 11 12; do
    bg "$NS_CLI" "sw$c" sw-client -local 192.0.2.$c -server "$SW" -user "user$c" -req-every 3s -dur 22s
    sleep 0.3
  done
  bg "$NS_CLI" ka60 ks-client -local 192.0.2.60 -server "$KS" -host pc60 -every 3s -timeout 3s -dur 20s
  sleep 4
  CAPTURE_KEEP_LOGS=1 start_captures "$1"
  wait_for 35 sw10 sw11 sw12 ka60
  finish "$1"
}

sc_npa_reset() {
  topology 0
  conntrack_timeouts 5 10
  # "NPA seq=3 " at payload offset 0 of a server push to 192.0.2.10.
  firewall \
    '    iifname "dmz0" ip daddr 192.0.2.10 tcp sport 5001 @ih,0,80 0x4e5041207365713d3320 counter reject with tcp reset comment "IPS kills the notification stream"' \
    "" ""
  start_captures "$1"
  servers_v4 35s -push-first 2s -push-every 3s
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -req-every 2s -dur 22s
  sleep 0.3
  bg "$NS_CLI" sw11 sw-client -local 192.0.2.11 -server "$SW" -user user11 -req-every 2s -dur 22s
  wait_for 35 sw10 sw11
  finish "$1"
}

sc_k2_admin_blocked() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" '    iifname "lan0" tcp dport 19283 counter drop comment "admin TCP to the KeyServer not opened"' ""
  start_captures "$1"
  servers_v4 35s
  bg "$NS_SRV" shadow ks-server -addrs "$SHADOW" -port 19315 -tcp=false -name KeyShadow -dur 35s
  bg "$NS_CLI" kc keyconfigure -local 192.0.2.50 -ks "$KS" -shadow "$SHADOW"
  bg "$NS_CLI" ka60 ks-client -local 192.0.2.60 -server "$KS" -host pc60 -every 3s -timeout 3s -dur 18s
  wait_for 35 kc ka60
  finish "$1"
}

sc_npa_udp_nat() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" \
    '    iifname "dmz0" ip saddr 198.51.100.10 udp sport 5001 ip daddr 192.0.2.0/25 accept comment "legacy UDP notifications to the LAN"' \
    "$NAT_BRANCH"
  start_captures "$1"
  servers_v4 30s -push-first 2s -push-every 3s
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -notify udp -req-every 3s -dur 16s
  sleep 0.3
  bg "$NS_CLI" sw130 sw-client -local 192.0.2.130 -server "$SW" -user user130 -notify udp -req-every 3s -dur 16s
  wait_for 30 sw10 sw130
  finish "$1"
}

sc_k2_late_udp() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" "" ""
  start_captures "$1"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS" -late-every 3 -late-delay 8s -dur 45s
  sleep 0.5
  local c
  for c in 60 61; do
    bg "$NS_CLI" "ka$c" ks-client -local 192.0.2.$c -server "$KS" -host "pc$c" -every 2s -timeout 10s -dur 32s
    sleep 0.7
  done
  wait_for 45 ka60 ka61
  finish "$1"
}

sc_k2_nat_late() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" "" "$NAT_BRANCH"
  start_captures "$1"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS" -late-every 3 -late-delay 7s -dur 40s
  sleep 0.5
  bg "$NS_CLI" ka130 ks-client -local 192.0.2.130 -server "$KS" -host pc130 -every 2s -timeout 10s -dur 30s
  wait_for 45 ka130
  finish "$1"
}

sc_k2_tickle() {
  topology 0
  conntrack_timeouts 5 10
  # 192.0.2.61's flows get a 60 s UDP timeout (nftables ct timeout object):
  # the fix the seed asks for, applied to one client only.
  firewall "" \
    '    iifname "lan0" ip saddr 192.0.2.61 udp dport 19283 ct state new ct timeout set "udp-60s"' \
    "" \
    '  ct timeout udp-60s { protocol udp; l3proto ip; policy = { unreplied: 60, replied: 60 }; }'
  start_captures "$1"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS" -tickle-after 7s -dur 31s
  sleep 0.5
  local c
  for c in 60 61; do
    bg "$NS_CLI" "ka$c" ks-client -local 192.0.2.$c -server "$KS" -host "pc$c" -every 10s -timeout 3s -dur 29s
    sleep 0.3
  done
  wait_for 40 ka60 ka61
  finish "$1"
}

sc_k2_failover() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" '    iifname "lan0" udp dport 19283 counter drop comment "KeyServer blocked"' ""
  start_captures "$1"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS" -dur 30s
  bg "$NS_SRV" shadow ks-server -addrs "$SHADOW" -port 19315 -tcp=false -name KeyShadow -dur 30s
  sleep 0.5
  local c
  for c in 60 61; do
    bg "$NS_CLI" "ka$c" ks-client -local 192.0.2.$c -server "$KS" -shadow "$SHADOW" -host "pc$c" \
      -every 2s -timeout 3s -fail-after 3 -dur 20s
    sleep 0.7
  done
  wait_for 30 ka60 ka61
  finish "$1"
}

sc_mixed_rejects() {
  topology 0
  conntrack_timeouts 5 10
  firewall \
    '    iifname "lan0" tcp dport 5001 @ih,0,48 0x4558504f5254 counter reject with tcp reset comment "IPS: kill EXPORT requests on established sessions"' \
    '    iifname "lan0" tcp dport 5002 counter drop
    iifname "lan0" tcp dport 5005 counter reject with tcp reset
    iifname "lan0" tcp dport 5015 counter reject with icmpx admin-prohibited' \
    ""
  start_captures "$1"
  # KeyServer service stopped: UDP 19283 closed on its host. 5002 listens.
  bg "$NS_SRV" sw-server sw-server -addrs "$SW" -extra-ports 5002 -dur 30s
  sleep 0.5
  bg "$NS_CLI" sw10 sw-client -local 192.0.2.10 -server "$SW" -user user10 -req-every 3s -dur 18s \
    -sql-every 8s -text-every 5s -xmlmc-every 6s
  sleep 0.3
  bg "$NS_CLI" sw11 sw-client -local 192.0.2.11 -server "$SW" -user user11 -req-every 3s -dur 18s -export-at 7s
  bg "$NS_CLI" ka60 ks-client -local 192.0.2.60 -server "$KS" -host pc60 -every 2s -timeout 2s -max 4 -dur 15s
  wait_for 30 sw10 sw11 ka60
  finish "$1"
}

sc_prs_blocked() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" \
    "    ip daddr { $PRS, $WWW } tcp dport { 80, 443 } counter drop comment \"outbound web to sassafras.com blocked\"" \
    ""
  start_captures "$1"
  servers_v4 40s
  bg "$NS_CLI" kc keyconfigure -local 192.0.2.50 -ks "$KS"
  bg "$NS_SRV" prs ks-prs -local "$KS" -http-fallback
  bg "$NS_CLI" ka60 ks-client -local 192.0.2.60 -server "$KS" -host pc60 -every 3s -timeout 3s -dur 20s
  wait_for 40 kc prs ka60
  finish "$1"
}

# A vulnerability scanner on the client LAN beside healthy product traffic:
# nmap crafts its SYNs on a raw socket (TTLs it picks per probe, one source
# port), the scanned servers' kernels reset the closed ports, the firewall
# drops a range silently, and the scanner's own kernel resets the SYN-ACKs
# of the open ports (it knows nothing of nmap's SYNs).
sc_scan_beside_healthy() {
  topology 0
  conntrack_timeouts 5 10
  firewall "" \
    '    iifname "lan0" tcp dport 1000-1999 counter drop comment "a filtered range: the scan meets silence"' \
    ""
  start_captures "$1"
  servers_v4 30s -push-every 3s
  local c
  for c in 10 11; do
    bg "$NS_CLI" "sw$c" sw-client -local 192.0.2.$c -server "$SW" -user "user$c" -req-every 3s -dur 20s
    sleep 0.3
  done
  bg "$NS_CLI" ka60 ks-client -local 192.0.2.60 -server "$KS" -host pc60 -every 3s -timeout 3s -dur 18s
  sleep 3
  log "nmap -sS of $SW and $KS from 192.0.2.12"
  nsx "$NS_CLI" nmap -sS -p 1-2100,5000-5020,19283 -T4 --max-retries 0 -n -Pn -e eth0 -S 192.0.2.12 "$SW" "$KS" \
    >"$TMP/log.nmap" 2>&1 || die "nmap failed: $(cat "$TMP/log.nmap")"
  grep -E '^[0-9]+/tcp +open' "$TMP/log.nmap" | tr -s ' ' | sed 's/^/  nmap: /' >&2 || true
  wait_for 30 sw10 sw11 ka60
  finish "$1"
}

servers_v6() {
  local dur=$1; shift
  bg "$NS_SRV" sw-server sw-server -addrs "$SW6" -dur "$dur" "$@"
  bg "$NS_SRV" ks-server ks-server -addrs "$KS6" -dur "$dur"
  bg "$NS_SRV" shadow ks-server -addrs "$SHADOW6" -port 19315 -tcp=false -name KeyShadow -dur "$dur"
  bg "$NS_NET" web web -addrs "$PRS6,$WWW6" -dur "$dur"
  bg "$NS_NET" dns dns -addrs "$DNS6" -rr "prs.sassafras.com=$PRS,$PRS6" -rr "www.sassafras.com=$WWW,$WWW6" -dur "$dur"
  sleep 0.5
}

sc_ipv6_healthy() {
  topology 1
  conntrack_timeouts 5 10
  firewall "" "" ""
  start_captures "$1"
  servers_v6 35s -push-every 3s
  local c
  for c in 10 11; do
    bg "$NS_CLI" "sw$c" sw-client -local 2001:db8:c::$c -server "$SW6" -user "user$c" -req-every 3s -dur 20s \
      $([[ $c == 11 ]] && echo "-text-every 7s -xmlmc-every 9s")
    sleep 0.3
  done
  bg "$NS_CLI" ka60 ks-client -local 2001:db8:c::60 -server "$KS6" -host pc60 -every 3s -timeout 3s -dur 18s
  bg "$NS_CLI" kc keyconfigure -6 -local 2001:db8:c::50 -dns "$DNS6" -ks "$KS6" -shadow "$SHADOW6"
  bg "$NS_SRV" prs ks-prs -6 -local "$KS6" -dns "$DNS6"
  wait_for 35 sw10 sw11 ka60 kc prs
  finish "$1"
}

sc_ipv6_rejects() {
  topology 1
  conntrack_timeouts 5 10
  firewall "" \
    '    iifname "lan0" tcp dport 5001 ct state new add @sw_conn6 { ip6 saddr ct count over 1 } counter reject with icmpx admin-prohibited comment "max 1 connection per client to 5001"
    iifname "lan0" tcp dport 5015 counter reject with icmpx admin-prohibited
    iifname "lan0" udp dport 19283 counter reject with icmpx admin-prohibited' \
    "" \
    '  set sw_conn6 { type ipv6_addr; size 1024; flags dynamic; }'
  start_captures "$1"
  servers_v6 30s
  bg "$NS_CLI" sw10 sw-client -local 2001:db8:c::10 -server "$SW6" -user user10 -req-every 3s -dur 16s -xmlmc-every 5s
  bg "$NS_CLI" ka60 ks-client -local 2001:db8:c::60 -server "$KS6" -host pc60 -every 2s -timeout 2s -max 5 -dur 16s
  wait_for 30 sw10 ka60
  finish "$1"
}

# ------------------------------------------------------------------ main

list() {
  local s
  for s in "${SCENARIOS[@]}"; do printf '%-14s %s\n' "$s" "${DESC[$s]}"; done
}

main() {
  if [[ ${1:-} == --list || ${1:-} == -l ]]; then list; exit 0; fi
  if [[ ${1:-} == --describe ]]; then [[ -n ${DESC[${2:-}]:-} ]] && echo "${DESC[$2]}"; exit 0; fi
  if [[ ${1:-} == -h || ${1:-} == --help ]]; then sed -n '2,14p' "$0"; exit 0; fi
  local run=("$@") s
  ((${#run[@]})) || run=("${SCENARIOS[@]}")
  for s in "${run[@]}"; do [[ -n ${DESC[$s]:-} ]] || die "unknown scenario '$s' (run.sh --list)"; done
  need_tools "${run[@]}"
  # One lab at a time (the namespace names are fixed).
  local lockdir=/run/lock
  [[ -d $lockdir && -w $lockdir ]] || lockdir=/tmp
  exec 9>"$lockdir/fwdiag-lab.lock"
  if ! flock -n 9; then
    ((${LAB_LOCK_WAIT:-0} > 0)) || die "another lab run is active"
    log "another lab run is active: waiting up to ${LAB_LOCK_WAIT}s for it"
    flock -w "$LAB_LOCK_WAIT" 9 || die "another lab run is still active after ${LAB_LOCK_WAIT}s"
  fi
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  teardown   # leftovers of a crashed run: namespaces, their processes, temp dirs
  rm -rf /tmp/fwdiag-lab.??????
  build_emu
  local t0 bad=()
  for s in "${run[@]}"; do
    t0=$SECONDS
    log "scenario $s: ${DESC[$s]}"
    "sc_${s//-/_}" "$OUT/$s"
    teardown
    log "scenario $s done in $((SECONDS - t0))s: $(cd "$OUT/$s" && ls -l *.pcap | awk '{printf "%s %d B  ", $9, $5}')"
    # tshark checks + SCENARIO.md; a fix under test is meant to remove the
    # fault they look for.
    if [[ -n ${LAB_FW_FIX:-}${LAB_FW_SYSCTL:-} ]]; then
      log "scenario $s ran with a fix (LAB_FW_FIX/LAB_FW_SYSCTL): tshark verification skipped"
    else
      LAB_OUT=$OUT "$LAB_DIR/verify.sh" "$s" || bad+=("$s")
    fi
  done
  [[ -z $(ip netns list | grep -E '^fwl-' || true) ]] || die "namespaces left behind"
  ((${#bad[@]} == 0)) || die "captures made, but tshark verification failed for: ${bad[*]}"
  log "all done: ${run[*]}"
}

main "$@"
