#!/usr/bin/env bash
# `ctrace stats` benchmark (issue 6: <= 3 s and <= 32 bytes per event on a
# 10M-event trace): a synthetic trace of EVENTS events (default 10M) made by
# bench/gen_trace with the real tracer, then the wall time and peak RSS of
# `ctrace stats` on it (indexing included), and the peak RSS per event.
#   bash bench/stats.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
events=${EVENTS:-10000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench/gen_trace" "$tmp/big.ctrace" "$events" >/dev/null
indexed=$("$build/ctrace" stats "$tmp/big.ctrace" --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["events"])')
/usr/bin/time -f '%e s %M KiB' -o "$tmp/time" "$build/ctrace" stats "$tmp/big.ctrace" >"$tmp/out"
read -r secs _ kib _ <"$tmp/time"
echo "trace: $indexed events, $(stat -c %s "$tmp/big.ctrace") bytes"
echo "ctrace stats: $secs s, peak RSS $kib KiB"
awk -v k="$kib" -v n="$indexed" 'BEGIN { printf "memory: %.1f bytes/event (peak RSS / events)\n", k * 1024 / n }'
