#!/usr/bin/env bash
# Heap-profile benchmark: what sampling allocations with their call stacks
# costs an allocation-heavy loop (bench/bench_heap.c: malloc(64)+free pairs,
# one thread and two), under `ctrace run --heap-rate R` for R = 0 (sampling
# off: the heap counters alone), 524288 (the default, 512 KiB), 65536 and 1
# (every allocation unwound and recorded), and without ctrace.
#   bash bench/heap.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
# RUNS rounds (default 31); each round runs every configuration once, in
# turn, so a slow spell of the machine touches them alike. A run gives the
# median of its 50 blocks' thread CPU time per pair. Printed per
# configuration: the min, median and max over the runs, and the overhead
# against --heap-rate 0 twice: between the fastest runs of each (the runs
# the machine's neighbours disturbed least: on a shared VM the same run
# takes 1x or 2x for whole seconds at a time) and as the median (and
# spread) of the ratios within each round. PAIRS malloc+free pairs a thread
# and run (default 4000000); rate 1 does PAIRS/100 (each pair is a stack
# walk and two events).
# CALLGRIND=1 also counts, with valgrind's callgrind, the instructions per
# pair in the loop's thread at rates 0, 524288 and 65536 (-n 2M minus -n 1M,
# so start-up cancels): repeatable where the times are not.
# Prints the numbers; asserts nothing.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-31}
pairs=${PAIRS:-4000000}
bytes=${BYTES:-64}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli="$build/ctrace"
bh="$build/bench/bench_heap"
for f in "$cli" "$bh"; do
  [ -x "$f" ] || { echo "heap.sh: $f missing: build first (cmake --build $build)" >&2; exit 1; }
done
export CTRACE_LTTNG=${CTRACE_LTTNG:-0}

configs=(plain 0 524288 65536 1)
one_run() { # config threads -> ns per pair
  local c=$1 t=$2 n=$pairs
  [ "$c" = 1 ] && n=$((pairs / 100))
  if [ "$c" = plain ]; then
    "$bh" -t "$t" -n "$n" -s "$bytes"
  else
    "$cli" run -o "$tmp/h.ctrace" --heap-rate "$c" -- "$bh" -t "$t" -n "$n" -s "$bytes" 2>"$tmp/err" ||
      { cat "$tmp/err" >&2; exit 1; }
    rm -f "$tmp"/h.ctrace*
  fi | sed -n 's/.* ns_per_pair=\([^ ]*\).*/\1/p'
}

echo "ctrace heap-profile benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "malloc($bytes)+free pairs, ns of thread CPU time per pair; $runs rounds alternated, $pairs pairs a thread a run ($((pairs / 100)) at rate 1)"
for t in 1 2; do
  : >"$tmp/res"
  for r in $(seq "$runs"); do
    for c in "${configs[@]}"; do
      echo "$r $c $(one_run "$c" "$t")" >>"$tmp/res"
    done
  done
  echo
  printf '%d thread%s  ns/pair of the %d runs: min  median     max   overhead vs --heap-rate 0: of the minima | paired rounds: median (min to max)\n' \
    "$t" "$([ "$t" = 1 ] && echo " " || echo s)" "$runs"
  awk -v order="${configs[*]}" '
    function med(a, n,   i, j, x) { # sorts a[1..n] (insertion), returns the median
      for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { v[$2, $1] = $3; rounds[$1] = 1 }
    END {
      nc = split(order, cs, " ")
      for (k = 1; k <= nc; k++) {
        c = cs[k]; n = 0; m = 0
        for (r in rounds) {
          a[++n] = v[c, r]
          if (c != "plain" && c != "0") o[++m] = 100 * (v[c, r] / v["0", r] - 1)
        }
        x = med(a, n)
        lo[c] = a[1]
        label = c == "plain" ? "without ctrace" : "--heap-rate " c
        line = sprintf("  %-20s %18.2f %7.2f %7.2f", label, a[1], x, a[n])
        if (m)
          line = line sprintf("   %+30.1f%% | %+8.1f%% (%+.1f%% to %+.1f%%)", 100 * (a[1] / lo["0"] - 1), med(o, m), o[1], o[m])
        print line
      }
    }' "$tmp/res"
done

[ "${CALLGRIND:-0}" = 1 ] || exit 0
command -v valgrind >/dev/null || { echo "heap.sh: CALLGRIND=1 needs valgrind" >&2; exit 1; }
instr() { # rate pairs -> instructions executed in bench_heap's loop threads
  rm -f "$tmp"/cg.*
  valgrind --tool=callgrind --trace-children=yes --toggle-collect=worker \
    --callgrind-out-file="$tmp/cg.%p" -q "$cli" run -o "$tmp/h.ctrace" --heap-rate "$1" -- \
    "$bh" -n "$2" -b 10 >/dev/null 2>&1
  rm -f "$tmp"/h.ctrace*
  cat "$tmp"/cg.* | sed -n 's/^totals: //p' | sort -g | tail -1
}
echo
echo "instructions per malloc+free pair in the loop's thread (callgrind, 1 thread)"
for c in 0 524288 65536; do
  a=$(instr "$c" 1000000)
  b=$(instr "$c" 2000000)
  per=$(awk -v a="$a" -v b="$b" 'BEGIN {print (b - a) / 1100000}') # 10% more: the warm-up block
  [ "$c" = 0 ] && base=$per
  awk -v c="$c" -v p="$per" -v z="$base" 'BEGIN {
    printf "  --heap-rate %-8s %7.1f%s\n", c, p, c == 0 ? "" : sprintf("   %+.1f%%", 100 * (p / z - 1)) }'
done
