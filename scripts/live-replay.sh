#!/usr/bin/env bash
# Live capture keeps up? Replay a capture with tcpreplay onto one end of a
# veth pair (in a namespace of our own) while `fwdiag live` captures on the
# other end, then compare what was sent, what fwdiag saw, and the kernel's
# drop counter. Root only. Usage: scripts/live-replay.sh [CAPTURE] [MBPS]
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-/tmp/fwdiag-bench/volume-200000.pcap}
RATE=${2:-topspeed}
NS=fwdrp$$
DIR=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
command -v tcpreplay >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null
go build -o "$DIR/fwdiag" ./cmd/fwdiag
if [ ! -s "$CAP" ]; then
  go run ./pcaps/synth/cmd/fwgen -scenario volume -packets 200000 -o "$CAP" >/dev/null
fi
ip netns add "$NS"
ip -n "$NS" link add rp0 type veth peer name rp1
ip -n "$NS" link set rp0 up
ip -n "$NS" link set rp1 up
# fwdiag live with the catch-all filter: every replayed packet counts.
ip netns exec "$NS" "$DIR/fwdiag" live --no-tui -i rp1 --bpf 'ip or ip6' --duration 600s --json "$DIR/r.json" > "$DIR/live.out" 2>&1 &
LIVE=$!
sleep 1
if [ "$RATE" = topspeed ]; then speed=--topspeed; else speed="--mbps=$RATE"; fi
ip netns exec "$NS" tcpreplay -q -i rp0 $speed "$CAP" > "$DIR/replay.out" 2>&1
sleep 2
kill -INT "$LIVE"; wait "$LIVE" || true
sent=$(grep -o 'Successful packets: *[0-9]*' "$DIR/replay.out" | grep -o '[0-9]*$' || grep -o 'Actual: [0-9]* packets' "$DIR/replay.out" | grep -o '[0-9]*' | head -1)
python3 - "$DIR/r.json" "$sent" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); sent = int(sys.argv[2] or 0)
inp = r["inputs"][0]
print(f"replayed {sent} packets; fwdiag saw {inp['packets']}; kernel drops {inp['drops']}")
print("OK: no loss" if inp["packets"] >= sent and inp["drops"] == 0 else "LOSS")
PY
grep -E 'Actual|Rated' "$DIR/replay.out" | head -2
