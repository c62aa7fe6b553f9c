#!/usr/bin/env bash
# Tracer-core benchmark: the recording figures, each the median of RUNS runs
# (default 5), beside its goal where an issue set one ("Tracer core";
# "Recording cost where users really run": the automatic clock as cheap as
# the TSC, two threads within 10% of one), so a regression shows at a glance.
#   bash bench/run.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
events=${EVENTS:-50000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rec="$build/bench/bench_record"
cli="$build/ctrace"

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

run_rec() { # label args...
  local label=$1; shift
  : >"$tmp/$label"
  for _ in $(seq "$runs"); do "$rec" "$@" -o "$tmp/b.ctrace" >>"$tmp/$label"; done
}

echo "ctrace tracer-core benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), median of $runs runs"
run_rec off1 -t 1 -n "$events" --off
run_rec on1 -t 1 -n "$events"
run_rec on2 -t 2 -n "$events"
CTRACE_CLOCK=tsc run_rec tsc1 -t 1 -n "$events"
CTRACE_CLOCK=monotonic run_rec mono1 -t 1 -n "$events"
ns1=$(field ns_per_event <"$tmp/on1" | median)
ns2=$(field ns_per_event <"$tmp/on2" | median)
tsc1=$(field ns_per_event <"$tmp/tsc1" | median)
ratio=$(awk -v a="$ns2" -v b="$ns1" 'BEGIN {print a / b}')
auto_vs_tsc=$(awk -v a="$ns1" -v b="$tsc1" 'BEGIN {print a / b}')
verdict() { awk -v v="$1" -v g="$2" 'BEGIN {print (v <= g ? "ok" : "OVER")}'; }
"$rec" -t 1 -n 1000 -o "$tmp/c.ctrace" >/dev/null
echo "clock chosen (auto): $("$cli" info "$tmp/c.ctrace" | sed -n '/^clock:/{s/^clock: *//;N;s/\n */ -- /;p}')"
printf 'record, tracing off, 1 thread : %.3f ns/event\n' "$(field ns_per_event <"$tmp/off1" | median)"
printf 'record, 1 thread, auto clock  : %.3f ns/event   (runs: %s)\n' "$ns1" "$(field ns_per_event <"$tmp/on1" | xargs)"
printf 'record, 1 thread, CTRACE_CLOCK=tsc      : %.3f ns/event; auto / tsc = %.3f (goal 1.05) %s\n' \
  "$tsc1" "$auto_vs_tsc" "$(verdict "$auto_vs_tsc" 1.05)"
printf 'record, 1 thread, CTRACE_CLOCK=monotonic: %.3f ns/event\n' "$(field ns_per_event <"$tmp/mono1" | median)"
printf 'record, 2 threads at once     : %.3f ns/event   (runs: %s)\n' "$ns2" "$(field ns_per_event <"$tmp/on2" | xargs)"
printf '2-thread / 1-thread           : %.3f (goal 1.10) %s\n' "$ratio" "$(verdict "$ratio" 1.10)"
printf 'thread CPU per event 1T / 2T  : %.3f / %.3f ns (writer CPU per event: %.3f / %.3f ns)\n' \
  "$(field cpu_ns_per_event <"$tmp/on1" | median)" "$(field cpu_ns_per_event <"$tmp/on2" | median)" \
  "$(field writer_cpu_ns_per_event <"$tmp/on1" | median)" "$(field writer_cpu_ns_per_event <"$tmp/on2" | median)"
printf 'file bytes/event, 1 thread    : %.4f\n' "$(field bytes_per_event <"$tmp/on1" | median)"
printf 'file bytes/event, 2 threads   : %.4f\n' "$(field bytes_per_event <"$tmp/on2" | median)"
printf 'dropped, 2 threads x %s events: max %s over %s runs\n' "$events" "$(field dropped <"$tmp/on2" | sort -g | tail -1)" "$runs"

# Export: a 2-thread trace of EVENTS events in all, to a file on disk and
# to /dev/null (the converter alone, without the disk).
"$rec" -t 2 -n "$((events / 2))" -o "$tmp/x.ctrace" >/dev/null
for dest in "$tmp/x.json" /dev/null; do
  : >"$tmp/exp"
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$cli" export "$tmp/x.ctrace" -o "$dest"
    cat "$tmp/t" >>"$tmp/exp"
  done
  secs=$(awk '{print $1}' "$tmp/exp" | median)
  rss=$(awk '{print $2}' "$tmp/exp" | median)
  size=$([ "$dest" = /dev/null ] && echo "-" || stat -c %s "$dest")
  awk -v e="$events" -v s="$secs" -v r="$rss" -v d="$dest" -v z="$size" 'BEGIN {
    printf "export %d events -> %-12s: %.2f s = %.2f M events/s, peak RSS %.1f MiB, JSON %s bytes\n",
      e, (d == "/dev/null" ? "/dev/null" : "file"), s, e / s / 1e6, r / 1024, z }'
  rm -f "$tmp/x.json"
done
