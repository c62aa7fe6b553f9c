#!/usr/bin/env bash
# `ctrace run` benchmark: what recording costs a program that was never built
# with ctrace, each figure the median of RUNS runs (default 5) beside its goal
# (issue "Recording cost where users really run"), so a regression shows at
# a glance.
#   bash bench/run_overhead.sh [BUILD_DIR]      (BUILD_DIR defaults to ./build)
#
# 1. What the wrappers add to one call (bench/bench_wrappers.c: blocks of
#    wrapped calls alternated with blocks of libc's own, in one process):
#    plainly (the noise floor), under a do-nothing forwarding shim
#    (bench/forward_shim.c: what interposing alone costs here), under
#    `ctrace run --no-sched` and `ctrace run` with everything on.
# 2. Wall time of real programs, plainly and under `ctrace run` (defaults:
#    syscall wrappers, context switches from perf where allowed, heap, locks)
#    and --syscalls=kernel where allowed: the pipeline sample's long run
#    (4 threads, 110k context switches a second; instrumented, so its own
#    events are recorded too), gzip -c of a 100 MB file, sort of 1M lines.
# 3. What `ctrace run` adds to a short program (start-up and exit: /usr/bin/true,
#    15 runs alternated), and whether anything of it is left running in its
#    process group when it exits.
set -euo pipefail
build=${1:-build}
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli="$build/ctrace"
bw="$build/bench/bench_wrappers"
shim="$build/bench/libforward_shim.so"
for f in "$cli" "$bw" "$shim" "$build/samples/pipeline"; do
  [ -e "$f" ] || { echo "run_overhead.sh: $f missing: build first (cmake --build $build)" >&2; exit 1; }
done
export CTRACE_LTTNG=${CTRACE_LTTNG:-0} # (a running lttng-sessiond adds its registration: see 3.)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now_ns() { date +%s%N; }
verdict() { # value goal -> "ok" / "OVER"
  awk -v v="$1" -v g="$2" 'BEGIN {print (v <= g ? "ok" : "OVER")}'
}

# Which capture modes this machine allows (perf needs root or
# perf_event_paranoid <= 1 for system calls).
"$cli" run -o "$tmp/probe.ctrace" -- true 2>/dev/null
mode=$("$cli" info "$tmp/probe.ctrace" | sed -n 's/^capture: *//p')
clock=$("$cli" info "$tmp/probe.ctrace" | sed -n '/^clock:/{n;s/^ *//;p}')
kmode=no
"$cli" run -o "$tmp/probe.ctrace" --syscalls=kernel -- true 2>/dev/null && kmode=yes
echo "ctrace run benchmark: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), median of $runs runs"
echo "ctrace run captures here: ${mode:-?}; --syscalls=kernel allowed: $kmode"
echo "clock: ${clock:-?}"
echo

# ---- 1. wrappers -------------------------------------------------------------------------
bench_calls() { # label cmd...
  local label=$1; shift
  : >"$tmp/w.$label"
  for _ in $(seq "$runs"); do "$@" >>"$tmp/w.$label" 2>/dev/null; done
}
bench_calls plain "$bw"
bench_calls shim env LD_PRELOAD="$shim" "$bw"
bench_calls nosched "$cli" run -o "$tmp/w.ctrace" --no-sched -- "$bw"
bench_calls all "$cli" run -o "$tmp/w.ctrace" -- "$bw"
added() { sed -n "s/^call=$2 .*added_ns=//p" "$tmp/w.$1" | median; }
libc() { sed -n "s/^call=$1 libc_ns=\([^ ]*\).*/\1/p" "$tmp/w.plain" | median; }
echo "1. ns added per call (median of $runs runs, each the median of 2000 alternated pairs of blocks)"
printf '%-9s %9s %8s %14s %16s %12s %6s  %s\n' call "libc ns" plain "do-nothing shim" "run --no-sched" "run (all on)" goal ""
for c in write read0 mutex malloc write_tsc; do
  [ -n "$(libc "$c")" ] || continue
  goal=-
  case $c in write) goal=30 ;; mutex) goal=5 ;; malloc) goal=8 ;; esac
  a=$(added all "$c")
  printf '%-9s %9.1f %8.1f %14.1f %16.1f %12.1f %6s  %s\n' "$c" "$(libc "$c")" "$(added plain "$c")" \
    "$(added shim "$c")" "$(added nosched "$c")" "$a" "$goal" \
    "$([ "$goal" = - ] && echo || verdict "$a" "$goal")"
done
echo "(write, read0: system calls; mutex: an uncontended lock+unlock pair; malloc: malloc(64)+free;"
echo " write_tsc: libc's write between two TSC reads in the program, against libc's write alone:"
echo " what timing a system call costs here whoever does it. The shim column is what interposing"
echo " costs before any recording: on a VM each system call empties the first-level caches, and"
echo " every line a wrapper touches after it is fetched again.)"
echo

# ---- 2. wall time ------------------------------------------------------------------------
head -c 75000000 /dev/urandom | base64 -w 76 >"$tmp/in.txt" # 101 MB
head -c 33000000 /dev/urandom | base64 -w 44 >"$tmp/lines"  # 1M lines

wall() { # goal% name cmd... : medians of plain, ctrace run, ctrace run --syscalls=kernel
  local goal=$1 name=$2; shift 2
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
  local p a k size ksize pct
  p=$(median <"$tmp/p"); a=$(median <"$tmp/a"); k=$(median <"$tmp/k")
  size=$(cat "$tmp"/r.ctrace* 2>/dev/null | wc -c)
  ksize=$(cat "$tmp"/k.ctrace* 2>/dev/null | wc -c)
  pct=$(awk -v a="$a" -v p="$p" 'BEGIN {print 100 * (a - p) / p}')
  awk -v n="$name" -v p="$p" -v a="$a" -v k="$k" -v s="$size" -v ks="$ksize" -v pct="$pct" \
    -v goal="$goal" -v ok="$([ "$goal" = - ] && echo || verdict "$pct" "$goal")" 'BEGIN {
    printf "%-30s plain %7.3f s | ctrace run %7.3f s (%+5.1f%%, goal %s%%) %-4s trace %5.0f KiB | --syscalls=kernel %7.3f s (%+5.1f%%)\n",
      n, p / 1e6, a / 1e6, pct, goal, ok, s / 1024, k / 1e6, (k ? 100 * (k - p) / p : 0) }'
  rm -f "$tmp"/r.ctrace* "$tmp"/k.ctrace*
}
echo "2. wall time (median of $runs; overhead against plain)"
wall 5 "pipeline sample -n 50000 -w 2" "$build/samples/pipeline" -n 50000 -w 2
# The same without context switches (110k a second): what recording them costs.
run_opts=--no-sched wall - "the same, ctrace run --no-sched" "$build/samples/pipeline" -n 50000 -w 2
wall - "gzip -c, 101 MB file" gzip -c "$tmp/in.txt"
wall - "sort, 1M lines of 44 chars" sort "$tmp/lines"
echo

# ---- 3. start-up and exit ----------------------------------------------------------------
echo "3. what ctrace run adds to a short program (/usr/bin/true, 15 runs alternated)"
starts=("plain=/usr/bin/true" "run=$cli run -o $tmp/t.ctrace -- /usr/bin/true"
  "run_nosched=$cli run -o $tmp/t.ctrace --no-sched -- /usr/bin/true")
[ $kmode = yes ] && starts+=("run_kernel=$cli run -o $tmp/t.ctrace --syscalls=kernel -- /usr/bin/true")
python3 "$here/alternate.py" 15 "${starts[@]}" >"$tmp/start"
base=$(sed -n 's/^plain median_ms=\([^ ]*\).*/\1/p' "$tmp/start")
while read -r label med _ left; do
  [ "$label" = plain ] && { printf '%-32s %7.2f ms\n' "/usr/bin/true" "${med#median_ms=}"; continue; }
  m=${med#median_ms=}
  add=$(awk -v m="$m" -v b="$base" 'BEGIN {print m - b}')
  goal=-; [ "$label" = run ] && goal=10
  case $label in run) what="ctrace run" ;; run_nosched) what="ctrace run --no-sched" ;;
    *) what="ctrace run --syscalls=kernel" ;; esac
  printf '%-32s %7.2f ms: +%6.2f ms (goal %s ms) %-4s left running after exit: %s of 15\n' \
    "$what" "$m" "$add" "$goal" "$([ "$goal" = - ] && echo || verdict "$add" "$goal")" \
    "${left#left_running=}"
done <"$tmp/start"
echo "(with --syscalls=kernel, closing the tracepoints' events waits for the kernel to"
echo " unregister them: about one RCU grace period. CTRACE_LTTNG=0 here; where an LTTng session"
echo " daemon runs, liblttng-ust registers each traced process with it at start.)"
