#!/bin/sh
# Regenerates the small synthetic captures in pcaps/captures/synth-*/ with
# the default seed. The output is byte-identical for the same code, so a
# diff after running this means the generator changed.
set -eu
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/fwgen" ./pcaps/synth/cmd/fwgen
for s in npa-idle-2h npa-idle-risk k2-late-7m-15m k2-late-client-side; do
	mkdir -p "pcaps/captures/synth-$s"
	"$bin/fwgen" -scenario "$s" -o "pcaps/captures/synth-$s/capture.pcap"
done
