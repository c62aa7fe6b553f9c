#!/usr/bin/env bash
# CPU-profile benchmark (issue "CPU profiles with call stacks"): what
# `ctrace run --cpu-hz N` costs a CPU-bound program that knows nothing of
# ctrace (gzip -6 of a 60 MB file: fixed work, Debian's build without frame
# pointers), at 99 and 999 Hz, beside `perf record -F 999 --call-graph dwarf`
# on the same program where perf runs; the bytes each sample takes in
# FILE.kernel; and how long `ctrace top` takes to name every sample.
#   bash bench/profile.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
# RUNS (default 5) alternated runs of each command; medians.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
cli="$build/ctrace"
[ -x "$cli" ] || { echo "profile.sh: $cli missing: build first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CTRACE_LTTNG=${CTRACE_LTTNG:-0}
head -c 45000000 /dev/urandom | base64 -w 76 >"$tmp/in.txt" # 61 MB
prog="gzip -6 -c $tmp/in.txt"
cmds=("plain=sh -c '$prog >/dev/null'"
  "run=$cli run -o $tmp/r0.ctrace -- sh -c '$prog >/dev/null'"
  "run_99hz=$cli run --cpu-hz 99 -o $tmp/r99.ctrace -- sh -c '$prog >/dev/null'"
  "run_999hz=$cli run --cpu-hz 999 -o $tmp/r999.ctrace -- sh -c '$prog >/dev/null'")
perf_ok=no
if command -v perf >/dev/null && perf record -q -F 999 -o "$tmp/probe.data" -- true 2>/dev/null; then
  perf_ok=yes
  # (its data, ~50 MB of stack copies, on tmpfs: written to disk it would
  # slow the next command down while the kernel writes it back)
  pdata=$(mktemp -p /dev/shm ctrace-bench-perf.XXXXXX)
  trap 'rm -rf "$tmp" "$pdata"' EXIT
  cmds+=("perf_999hz=perf record -q -F 999 --call-graph dwarf -o $pdata -- sh -c '$prog >/dev/null'")
fi
echo "CPU-profile benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $runs alternated runs, medians"
echo "program: $prog"
python3 "$here/alternate.py" "$runs" "${cmds[@]}" >"$tmp/wall"
base=$(sed -n 's/^plain median_ms=\([^ ]*\).*/\1/p' "$tmp/wall")
run0=$(sed -n 's/^run median_ms=\([^ ]*\).*/\1/p' "$tmp/wall")
while read -r label med _; do
  m=${med#median_ms=}
  goal=""
  case $label in run_99hz) goal="(goal: <= 1% over ctrace run)" ;; run_999hz) goal="(goal: <= 3% over ctrace run)" ;; esac
  awk -v l="$label" -v m="$m" -v b="$base" -v r="$run0" -v g="$goal" 'BEGIN {
    printf "%-12s %9.1f ms  %+6.1f%% over plain  %+6.1f%% over ctrace run %s\n", l, m, 100*(m-b)/b, 100*(m-r)/r, g }'
done <"$tmp/wall"
[ $perf_ok = yes ] || echo "(perf record not available or not allowed here: no perf column)"

# Bytes per sample: FILE.kernel with samples against without.
k0=$(stat -c %s "$tmp/r0.ctrace.kernel")
for hz in 99 999; do
  k=$(stat -c %s "$tmp/r$hz.ctrace.kernel")
  n=$("$cli" info "$tmp/r$hz.ctrace.kernel" | awk '$1 == "k_sample" {print $2}')
  awk -v hz="$hz" -v k="$k" -v k0="$k0" -v n="${n:-0}" 'BEGIN {
    printf "%4d Hz: %d samples, FILE.kernel %d bytes (%d without samples): %.1f bytes/sample (goal <= 40)\n",
      hz, n, k, k0, n ? (k - k0) / n : 0 }'
done

# Naming every sample: `ctrace top` (index, symbols, table).
t0=$(date +%s%N)
"$cli" top "$tmp/r999.ctrace" -n 5 >"$tmp/top" 2>/dev/null
t1=$(date +%s%N)
echo "ctrace top over $(head -1 "$tmp/top" | cut -d' ' -f1) samples: $(((t1 - t0) / 1000000)) ms (goal: 100k samples <= 2 s)"
sed -n '2,7p' "$tmp/top"

# A trace of ~100k samples: two processes of tests/progs/cpu_burn burning
# 50 s of CPU each at 999 Hz (about 50 s of wall time on 2 CPUs).
burn="$build/tests/progs/cpu_burn"
if [ -x "$burn" ] && [ "${BIG:-1}" = 1 ]; then
  "$cli" run --cpu-hz 999 -o "$tmp/big.ctrace" -- "$burn" 50000 fork >/dev/null 2>"$tmp/big.err"
  kb=$(cat "$tmp"/big.ctrace.kernel | wc -c)
  t0=$(date +%s%N)
  "$cli" top "$tmp"/big.ctrace* -n 3 >"$tmp/top" 2>/dev/null
  t1=$(date +%s%N)
  n=$(head -1 "$tmp/top" | cut -d' ' -f1)
  echo "ctrace top over $n samples (cpu_burn, 2 processes): $(((t1 - t0) / 1000000)) ms; FILE.kernel $kb bytes"
  sed -n '2,5p' "$tmp/top"
else
  echo "(no $burn, or BIG=0: the 100k-sample figure is skipped)"
fi
