#!/usr/bin/env bash
# make bench: generate a large realistic capture once, then measure on the
# same file and machine: fwdiag analyze, tshark conversation statistics (what
# a user would run instead) and tcpdump -r (the read-speed floor).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKETS=${BENCH_PACKETS:-2000000}
DIR=${BENCH_DIR:-/tmp/fwdiag-bench}
FILE=$DIR/volume-$PACKETS.pcap
mkdir -p "$DIR"
go build -o "$DIR/fwdiag" ./cmd/fwdiag
go build -o "$DIR/fwgen" ./pcaps/synth/cmd/fwgen
if [ ! -s "$FILE" ]; then
  echo "generating $FILE ($PACKETS packets)..."
  "$DIR/fwgen" -scenario volume -packets "$PACKETS" -o "$FILE"
fi
size=$(stat -c %s "$FILE")
cat "$FILE" > /dev/null # warm the page cache so every tool reads from memory

# run NAME CMD...: best wall seconds of $RUNS runs and peak RSS (KB) of CMD.
# The best of several runs is the figure least disturbed by other work on a
# shared 2-core machine.
RUNS=${BENCH_RUNS:-3}
run() {
  local name=$1; shift
  local start end best="" t
  for _ in $(seq "$RUNS"); do
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$DIR/$name.rss" "$@" > "$DIR/$name.out" 2> "$DIR/$name.err" || { echo "$name failed:"; tail -3 "$DIR/$name.err"; exit 1; }
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
  done
  echo "$best" > "$DIR/$name.sec"
}
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null
run fwdiag "$DIR/fwdiag" analyze "$FILE"
run fwdiag-json "$DIR/fwdiag" analyze --json "$DIR/report.json" "$FILE"
run tcpdump tcpdump -n -r "$FILE" -w /dev/null
if command -v tshark >/dev/null; then
  RUNS=1 run tshark tshark -n -r "$FILE" -q -z conv,tcp -z conv,udp
fi

printf '\n%s: %d packets, %.0f MB, on %s (%s cores)\n' "$FILE" "$PACKETS" "$(echo "$size/1000000" | bc -l)" "$(uname -m)" "$(nproc)"
printf 'best of %s runs (tshark: 1)\n' "$RUNS"
printf '%-12s %10s %12s %10s %10s\n' tool seconds packets/s MB/s "peak RSS"
for t in fwdiag fwdiag-json tcpdump tshark; do
  [ -f "$DIR/$t.sec" ] || continue
  s=$(cat "$DIR/$t.sec"); rss=$(cat "$DIR/$t.rss")
  printf '%-12s %10.2f %12.0f %10.0f %8d MB\n' "$t" "$s" "$(echo "$PACKETS/$s" | bc -l)" "$(echo "$size/1000000/$s" | bc -l)" $((rss/1024))
done
f=$(cat "$DIR/fwdiag.sec"); d=$(cat "$DIR/tcpdump.sec")
printf '\nfwdiag analysis rate = %.0f%% of tcpdump raw read rate (target >= 60%%)\n' "$(echo "100*$d/$f" | bc -l)"
if [ -f "$DIR/tshark.sec" ]; then
  printf 'fwdiag is %.1fx faster than tshark -z conv (target >= 50x)\n' "$(echo "$(cat "$DIR/tshark.sec")/$f" | bc -l)"
fi
printf '(fwdiag = full analysis with the text report; fwdiag-json also writes the %d MB JSON report)\n' $(( $(stat -c %s "$DIR/report.json") / 1000000 ))
printf 'fwdiag peak RSS %d MB (target < 256 MB)\n' $(( $(cat "$DIR/fwdiag.rss") / 1024 ))
rm -f "$DIR"/*.sec
