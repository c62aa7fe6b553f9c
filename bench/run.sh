#!/usr/bin/env bash
# Tracer-core benchmark: prints the figures issue "Tracer core" asks for, each
# the median of RUNS runs (default 5).
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
ns1=$(field ns_per_event <"$tmp/on1" | median)
ns2=$(field ns_per_event <"$tmp/on2" | median)
printf 'record, tracing off, 1 thread : %.3f ns/event\n' "$(field ns_per_event <"$tmp/off1" | median)"
printf 'record, 1 thread              : %.3f ns/event   (runs: %s)\n' "$ns1" "$(field ns_per_event <"$tmp/on1" | xargs)"
printf 'record, 2 threads at once     : %.3f ns/event   (runs: %s)\n' "$ns2" "$(field ns_per_event <"$tmp/on2" | xargs)"
printf '2-thread / 1-thread           : %.3f\n' "$(echo "$ns2 / $ns1" | bc -l)"
printf 'file bytes/event, 1 thread    : %.4f\n' "$(field bytes_per_event <"$tmp/on1" | median)"
printf 'file bytes/event, 2 threads   : %.4f\n' "$(field bytes_per_event <"$tmp/on2" | median)"
printf 'dropped, 2 threads x %s events: max %s over %s runs\n' "$events" "$(field dropped <"$tmp/on2" | sort -g | tail -1)" "$runs"

# Export: the 2-thread trace of the last run (2 x EVENTS events).
"$rec" -t 2 -n "$((events / 2))" -o "$tmp/x.ctrace" >/dev/null
: >"$tmp/exp"
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$cli" export "$tmp/x.ctrace" -o "$tmp/x.json"
  cat "$tmp/t" >>"$tmp/exp"
done
secs=$(awk '{print $1}' "$tmp/exp" | median)
rss=$(awk '{print $2}' "$tmp/exp" | median)
printf 'export %s events             : %.2f s = %.2f M events/s, peak RSS %.1f MiB, JSON %s bytes\n' \
  "$events" "$secs" "$(echo "$events / $secs / 1000000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" \
  "$(stat -c %s "$tmp/x.json")"
