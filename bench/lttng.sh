#!/usr/bin/env bash
# LTTng-UST benchmark: prints the figures issue "LTTng-UST" asks for, each the
# median of RUNS runs (default 5), in one run of this script on one machine:
#   1. what the tracepoints add to native recording while LTTng records no
#      ctrace event: bench_record of this build (CTRACE_WITH_LTTNG=ON, the
#      probes loaded) against the same program built with
#      CTRACE_WITH_LTTNG=OFF (BUILD_DIR-nolttng, configured here if missing);
#      tracing on, and tracing off (the macros' disabled branch);
#   2. the same loop recorded by LTTng (an LTTng session with ctrace:*
#      enabled, per-uid buffers of 8 x 8 MiB, no native trace) against the
#      native recording: ns per event and the ratio, with LTTng's discarded
#      events counted by babeltrace2.
#   bash bench/lttng.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build; needs root
#                                        or the tracing group, lttng-tools, babeltrace2)
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
events=${EVENTS:-10000000}
tmp=$(mktemp -d)
session=ctrace-bench-$$
cleanup() { lttng destroy "$session" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
rec="$build/bench/bench_record"
[ -x "$rec" ] && [ -f "$build/libctrace-lttng.so" ] ||
  { echo "lttng.sh: $rec or $build/libctrace-lttng.so missing: build with CTRACE_WITH_LTTNG=ON" >&2; exit 1; }
command -v lttng >/dev/null || { echo "lttng.sh: lttng-tools missing" >&2; exit 1; }

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# A session daemon (the package's service does not run everywhere).
lttng list >/dev/null 2>&1 || lttng-sessiond --daemonize

nol="${build}-nolttng"
if [ ! -x "$nol/bench/bench_record" ]; then
  echo "configuring $nol (CTRACE_WITH_LTTNG=OFF) ..."
  cmake -S "$(dirname "$0")/.." -B "$nol" -DCTRACE_WITH_LTTNG=OFF -DCTRACE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$nol" --target bench_record -j"$(nproc)" >/dev/null
fi

echo "ctrace LTTng benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $events events per run, median of $runs runs"

# 1. Native recording with and without the tracepoints compiled in.
: >"$tmp/with"; : >"$tmp/without"; : >"$tmp/with_off"; : >"$tmp/without_off"
for _ in $(seq "$runs"); do
  CTRACE_LTTNG=1 "$rec" -n "$events" -o "$tmp/b.ctrace" >>"$tmp/with"
  "$nol/bench/bench_record" -n "$events" -o "$tmp/b.ctrace" >>"$tmp/without"
  CTRACE_LTTNG=1 "$rec" -n "$events" --off >>"$tmp/with_off"
  "$nol/bench/bench_record" -n "$events" --off >>"$tmp/without_off"
done
w=$(field ns_per_event <"$tmp/with" | median); wo=$(field ns_per_event <"$tmp/without" | median)
f=$(field ns_per_event <"$tmp/with_off" | median); fo=$(field ns_per_event <"$tmp/without_off" | median)
printf 'native recording, LTTng probes loaded, no session : %.3f ns/event   (runs: %s)\n' "$w" "$(field ns_per_event <"$tmp/with" | xargs)"
printf 'native recording, built without LTTng             : %.3f ns/event   (runs: %s)\n' "$wo" "$(field ns_per_event <"$tmp/without" | xargs)"
printf 'added by the tracepoints while LTTng records none : %+.3f ns/event\n' "$(awk -v a="$w" -v b="$wo" 'BEGIN {print a - b}')"
printf 'tracing off, with / without LTTng                 : %.3f / %.3f ns/event (%+.3f)\n' "$f" "$fo" "$(awk -v a="$f" -v b="$fo" 'BEGIN {print a - b}')"

# 2. The same loop recorded by LTTng.
: >"$tmp/lttng"; : >"$tmp/disc"
for i in $(seq "$runs"); do
  out="$tmp/lt-$i"
  lttng create "$session" --output="$out" >/dev/null
  lttng enable-channel -u big --subbuf-size=8M --num-subbuf=8 --buffers-uid >/dev/null
  lttng enable-event -u 'ctrace:*' -c big >/dev/null
  lttng start >/dev/null
  CTRACE_LTTNG=1 "$rec" -n "$events" --lttng >>"$tmp/lttng"
  lttng stop >/dev/null
  lttng destroy "$session" >/dev/null
  recorded=$(babeltrace2 "$out" 2>"$tmp/bt.err" | wc -l)
  lost=$(sed -n 's/.*[Tt]racer discarded \([0-9]*\) events.*/\1/p' "$tmp/bt.err" | awk '{s+=$1} END {print s+0}')
  echo "$recorded $lost $(du -sb "$out" | cut -f1)" >>"$tmp/disc"
  rm -rf "$out"
done
l=$(field ns_per_event <"$tmp/lttng" | median)
printf 'LTTng-UST recording ctrace:* (no native trace)    : %.3f ns/event   (runs: %s)\n' "$l" "$(field ns_per_event <"$tmp/lttng" | xargs)"
printf 'native recording (same build, from 1.)            : %.3f ns/event\n' "$w"
printf 'ratio LTTng / native                              : %.2fx\n' "$(awk -v a="$l" -v b="$w" 'BEGIN {print a / b}')"
awk -v e="$events" '{r += $1; d += $2; b += $3; n++} END {
  printf "LTTng events recorded / discarded per run        : %.0f / %.0f of %d (%.1f bytes/event on disk)\n",
    r / n, d / n, e, b / (r > 0 ? r : 1) }' "$tmp/disc"
