#!/usr/bin/env bash
# Flight-recorder benchmark: the same recording loop (bench_record: region
# begin/end pairs, 1 thread) streamed to a file and kept in the flight
# recorder's ring, the ring's bytes against its cap, and how long a dump of
# a full ring takes. Medians of RUNS runs (default 5).
#   bash bench/flight.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
events=${EVENTS:-50000000}
cap=${CAP:-1MiB}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rec="$build/bench/bench_record"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
run_rec() { # label args...
  local label=$1; shift
  : >"$tmp/$label"
  for _ in $(seq "$runs"); do "$rec" "$@" -o "$tmp/b.ctrace" >>"$tmp/$label"; done
}
med() { field "$2" <"$tmp/$1" | median; }

echo "ctrace flight-recorder benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), median of $runs runs, $events events"
run_rec file -t 1 -n "$events"
run_rec win -t 1 -n "$events" --flight 1s
run_rec cap -t 1 -n "$events" --flight "$cap"
printf 'record, file mode            : %.3f ns/event (thread CPU %.3f, writer CPU %.3f ns/event)\n' \
  "$(med file ns_per_event)" "$(med file cpu_ns_per_event)" "$(med file writer_cpu_ns_per_event)"
printf 'record, flight 1s            : %.3f ns/event (thread CPU %.3f, writer CPU %.3f ns/event)\n' \
  "$(med win ns_per_event)" "$(med win cpu_ns_per_event)" "$(med win writer_cpu_ns_per_event)"
printf 'record, flight %-14s: %.3f ns/event (thread CPU %.3f, writer CPU %.3f ns/event)\n' \
  "$cap" "$(med cap ns_per_event)" "$(med cap cpu_ns_per_event)" "$(med cap writer_cpu_ns_per_event)"
printf 'flight 1s     : ring %s B + defs %s B (%s records), ring memory %s B, cap %s B; dump %s B in %s ms\n' \
  "$(med win ring_bytes)" "$(med win defs_bytes)" "$(med win ring_records)" "$(med win ring_alloc)" \
  "$(med win cap_bytes)" "$(med win dump_bytes)" "$(med win dump_ms)"
printf 'flight %-7s: ring %s B + defs %s B (%s records), peak %s B, ring memory %s B, cap %s B; dump of the full ring %s B in %s ms\n' \
  "$cap" "$(med cap ring_bytes)" "$(med cap defs_bytes)" "$(med cap ring_records)" "$(med cap peak_bytes)" \
  "$(med cap ring_alloc)" "$(med cap cap_bytes)" "$(med cap dump_bytes)" "$(med cap dump_ms)"
echo "dropped (max over runs): file $(field dropped <"$tmp/file" | sort -g | tail -1), flight 1s $(field dropped <"$tmp/win" | sort -g | tail -1), flight $cap $(field dropped <"$tmp/cap" | sort -g | tail -1)"
