#!/usr/bin/env bash
# `ctrace run` benchmark: prints the figures issue "Capture without code
# changes" asks for, each the median of RUNS runs (default 5).
#   bash bench/run_overhead.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
#
# 1. What the wrappers add to a call (bench/bench_wrappers.c, a program not
#    built with ctrace): plainly, plainly with an idle second thread (the
#    tracer's writer makes every traced program multi-threaded, and the
#    kernel's fd lookups cost more then), under `ctrace run
#    --no-sched` (the default syscall mode: the wrappers record each call)
#    and under `ctrace run --syscalls=kernel` (the wrappers pass system
#    calls through, the raw_syscalls tracepoints record them).
# 2. Wall time of real programs, plainly, under `ctrace run` (defaults:
#    syscall wrappers, context switches from perf where allowed, heap,
#    locks) and under `ctrace run --syscalls=kernel`: gzip -c of a 100 MB
#    file, sort of 1M lines (sort runs 2 threads here), the pipeline sample
#    (4 threads; instrumented, so its own events are recorded too).
#    Runs alternate plain / traced / traced.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli="$build/ctrace"
bw="$build/bench/bench_wrappers"
for f in "$cli" "$bw" "$build/samples/pipeline"; do
  [ -x "$f" ] || { echo "run_overhead.sh: $f missing: build first (cmake --build $build)" >&2; exit 1; }
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now_ns() { date +%s%N; }

# Which capture modes this machine allows (perf needs root or
# perf_event_paranoid <= 1 for system calls).
"$cli" run -o "$tmp/probe.ctrace" -- true 2>/dev/null
mode=$("$cli" info "$tmp/probe.ctrace" | sed -n 's/^capture: *//p')
kmode=no
"$cli" run -o "$tmp/probe.ctrace" --syscalls=kernel -- true 2>/dev/null && kmode=yes
echo "ctrace run benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), median of $runs runs"
echo "ctrace run captures here: ${mode:-?}; --syscalls=kernel allowed: $kmode"
echo

# ---- 1. wrappers -------------------------------------------------------------------------
calls="write write_tsc read0 mutex malloc"
bench_calls() { # label cmd...
  local label=$1; shift
  : >"$tmp/w.$label"
  for _ in $(seq "$runs"); do "$@" >>"$tmp/w.$label" 2>/dev/null; done
}
bench_calls plain "$bw" -n 500000
bench_calls thread "$bw" -n 500000 --idle-thread
bench_calls preload "$cli" run -o "$tmp/w.ctrace" --no-sched -- "$bw" -n 500000
if [ $kmode = yes ]; then
  bench_calls auto "$cli" run -o "$tmp/w.ctrace" --syscalls=kernel --no-sched -- "$bw" -n 500000
else
  cp "$tmp/w.thread" "$tmp/w.auto" # (shown as +0: not measured)
fi
ns() { sed -n "s/^call=$2 ns=//p" "$tmp/w.$1" | median; }
echo "ns per call (best of 5 passes of 500k calls in each run; median over runs)"
printf '%-8s %8s %14s %22s %22s\n' call plain "+idle thread" "ctrace run (added)" "syscalls=kernel (added)"
for c in $calls; do
  p=$(ns plain "$c"); t=$(ns thread "$c"); w=$(ns preload "$c"); k=$(ns auto "$c")
  [ -n "$p" ] || continue
  printf '%-8s %8.2f %14.2f %12.2f (%+7.2f) %12.2f (%+7.2f)\n' "$c" "$p" "$t" "$w" \
    "$(awk -v a="$w" -v b="$t" 'BEGIN {print a - b}')" "$k" "$(awk -v a="$k" -v b="$t" 'BEGIN {print a - b}')"
done
echo "(added = minus the idle-thread column: what the wrappers and the kernel's recording add"
echo " to a program that is multi-threaded anyway; write and read0 are system calls, mutex is"
echo " an uncontended lock+unlock pair, malloc a malloc(64)+free pair; write_tsc is a write"
echo " between two TSC reads in the program itself: what timing a call costs at the least)"
echo

# ---- 2. wall time ------------------------------------------------------------------------
head -c 75000000 /dev/urandom | base64 -w 76 >"$tmp/in.txt"               # 101 MB
head -c 33000000 /dev/urandom | base64 -w 44 >"$tmp/lines"                      # 1M lines

wall() { # name cmd... : medians of plain, ctrace run, ctrace run --syscalls=kernel
  local name=$1; shift
  : >"$tmp/p"; : >"$tmp/a"; : >"$tmp/k"
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(now_ns); "$@" >/dev/null 2>&1; t1=$(now_ns); echo $(((t1 - t0) / 1000)) >>"$tmp/p"
    t0=$(now_ns); "$cli" run -o "$tmp/r.ctrace" ${run_opts:-} -- "$@" >/dev/null 2>"$tmp/err"; t1=$(now_ns)
    echo $(((t1 - t0) / 1000)) >>"$tmp/a"
    if [ $kmode = yes ]; then
      t0=$(now_ns); "$cli" run -o "$tmp/k.ctrace" --syscalls=kernel -- "$@" >/dev/null 2>"$tmp/err"
      t1=$(now_ns); echo $(((t1 - t0) / 1000)) >>"$tmp/k"
    else
      echo 0 >>"$tmp/k"
    fi
  done
  local p a k size
  p=$(median <"$tmp/p"); a=$(median <"$tmp/a"); k=$(median <"$tmp/k")
  size=$(cat "$tmp"/r.ctrace* 2>/dev/null | wc -c)
  ksize=$(cat "$tmp"/k.ctrace* 2>/dev/null | wc -c)
  awk -v n="$name" -v p="$p" -v a="$a" -v k="$k" -v s="$size" -v ks="$ksize" 'BEGIN {
    printf "%-30s plain %7.3f s | ctrace run %7.3f s (%+5.1f%%), trace %5.0f KiB | --syscalls=kernel %7.3f s (%+5.1f%%), trace %5.0f KiB\n",
      n, p / 1e6, a / 1e6, 100 * (a - p) / p, s / 1024, k / 1e6, (k ? 100 * (k - p) / p : 0), ks / 1024 }'
  rm -f "$tmp"/r.ctrace* "$tmp"/k.ctrace*
}
echo "wall time (median of $runs; overhead against plain)"
wall "gzip -c, 101 MB file" gzip -c "$tmp/in.txt"
wall "sort, 1M lines of 44 chars" sort "$tmp/lines"
wall "pipeline sample -n 50000 -w 2" "$build/samples/pipeline" -n 50000 -w 2
# A program that switches threads 110k times a second: what recording the
# context switches costs, and what is left without them.
run_opts=--no-sched wall "the same, ctrace run --no-sched" "$build/samples/pipeline" -n 50000 -w 2
