#!/usr/bin/env bash
# livesoak: fwdiag live over a long replay, to show it keeps up and holds
# flat memory for as long as a capture runs (issue 15's live figure).
#
#   sudo scripts/livesoak.sh FILE [MINUTES [PPS]]   (default 30 min, top speed)
#
# tcpreplay --topspeed --loop sends FILE onto one end of a veth pair
# (fwsoak0, in the root namespace) as fast as it can, over and over; fwdiag
# live --no-tui captures on the other end (fwsoak1, inside its own network
# namespace, so that the host's stack never sees the replayed traffic) and
# prints a STATUS line every minute: packets, rate, kernel drops, RSS and
# Go heap. At the end: tcpreplay's own totals, the interface's counters and
# fwdiag's final figures. Nothing of the host is changed but the veth pair
# and the namespace, which a trap removes.
set -euo pipefail
file=${1:?usage: livesoak.sh FILE [MINUTES]}
minutes=${2:-30}
# PPS: replay at this many packets per second instead of as fast as
# tcpreplay can (--topspeed saturates one of two cores by itself).
speed=--topspeed
[ -n "${3:-}" ] && speed="--pps=$3"
[ "$(id -u)" = 0 ] || { echo "livesoak: needs root (veth, namespace, tcpreplay)" >&2; exit 2; }
command -v tcpreplay >/dev/null || { echo "livesoak: needs tcpreplay (apt-get install -y tcpreplay)" >&2; exit 2; }
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/fwdiag
${GO:-go} build -o "$bin" ./cmd/fwdiag
ns=fwsoak
cleanup() {
	[ -n "${replay:-}" ] && kill "$replay" 2>/dev/null || true
	ip link del fwsoak0 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$ns"
ip link add fwsoak0 mtu 9000 type veth peer name fwsoak1 mtu 9000 netns "$ns"
ip link set fwsoak0 up
ip netns exec "$ns" ip link set fwsoak1 up
ip netns exec "$ns" ip link set lo up
out=$(mktemp -d)
echo "livesoak: $file for $minutes min ($speed); output in $out"
ip netns exec "$ns" "$bin" live --no-tui -i fwsoak1 --duration "${minutes}m" --status-every 1m --json "$out/live.json" \
	>"$out/live.txt" 2>"$out/live.err" &
live=$!
sleep 2
tcpreplay "$speed" --loop 0 -q -i fwsoak0 "$file" >"$out/tcpreplay.txt" 2>&1 &
replay=$!
# Follow the status lines as they come.
tail -f "$out/live.txt" --pid "$live" | grep --line-buffered '^STATUS' &
wait "$live" || true
kill -INT "$replay" 2>/dev/null || true
wait "$replay" 2>/dev/null || true
replay=
sleep 1
echo "--- tcpreplay"
grep -E 'Actual|Rated|Statistics|Successful|Failed|Truncated|Retried' "$out/tcpreplay.txt" || tail -5 "$out/tcpreplay.txt"
echo "--- fwsoak1 (receiving end) counters"
ip netns exec "$ns" ip -s link show fwsoak1 | sed -n '3,6p'
echo "--- fwdiag"
grep -E '^(Input|VERDICT)' "$out/live.txt" || true
python3 - "$out/live.json" <<'EOF' || true
import json, sys
r = json.load(open(sys.argv[1]))
for i in r["inputs"]:
    print("input %s: %d packets, kernel drops %s" % (i["path"], i["packets"], i["drops"]))
print("findings:", len(r["findings"]), "bounds:", r["summary"]["bounds"])
EOF
