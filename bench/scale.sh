#!/usr/bin/env bash
# Scale benchmark (issue 15, "Traces of any size"): for synthetic traces of
# EVENTS_LIST events (default "100000000 1000000000"), made by bench/gen_trace
# with the real tracer, one table per size of:
#   - first open: from starting `ctrace view TRACE --port 0` until it has
#     printed its `timeline: URL` line and GET /api/meta answers (any index
#     file next to the trace removed before);
#   - reopen: the same view stopped and started again on the same trace;
#   - each view's peak anonymous memory (RssAnon of /proc/PID/status sampled
#     every 20 ms while it opens and serves: pages of memory-mapped files are
#     page cache and do not count) and its VmHWM (all of RSS) for reference;
#   - /api/slices windows at 2000 px over 5 zoom levels (whole trace, 1/10,
#     1/100, 1/1000, 1/10000), 5 positions each, server-side time from the
#     Server-Timing header: median and max per level, on both views;
#   - /api/search on the reopened view for gen_trace's rarest region name
#     (checkpoint: the first page, then page by page with from =
#     searched_until to the trace's end) and its commonest (step: the first
#     page), server time (a trace opened with the full index answers at once);
#   - /api/analysis (the Analyses panel's answer) over the whole trace and a
#     1 s range in its middle, on both views: wall time, and the parts
#     computed through the scale index (its "scale.computed");
#   - `ctrace stats` over the whole trace and over a 1 s range (--since,
#     --until) in its middle: wall time, peak RssAnon, max RSS (ru_maxrss,
#     the figure /usr/bin/time -f %M prints), and the tables it printed;
#   - `ctrace export TRACE -o /dev/null`: the same (memory flat in length).
# Every measured process runs under a watchdog that kills it when its RssAnon
# passes MEM_CAP_MB (default 6144) or it runs TIME_CAP_S (default 300): the
# table then says "over the cap (killed at N MiB / S s)" and goes on.
# Traces live in a scratch directory under $TMPDIR (or /tmp), removed at exit.
# The trace has just been written, so its pages are in the page cache (the
# caches are not dropped: that would disturb the machine's other users).
# A trace under $CTRACE_SCALE_MIB MiB (default 32) is opened through the
# full index, not the scale index (gen_trace's 100M events make 30-40 MB):
# CTRACE_SCALE_MIB=0 makes every open use the scale index.
#   bash bench/scale.sh [BUILD_DIR]
#   EVENTS_LIST=10000000 bash bench/scale.sh build      (a quick run)
set -euo pipefail
build=${1:-build}
events_list=${EVENTS_LIST:-100000000 1000000000}
mem_cap=${MEM_CAP_MB:-6144}
time_cap=${TIME_CAP_S:-300}
for f in "$build/ctrace" "$build/bench/gen_trace"; do
  [ -x "$f" ] || { echo "scale.sh: $f not found (build first, or pass BUILD_DIR)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ctrace-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
script_dir=$(cd "$(dirname "$0")" && pwd)
echo "scale.sh: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)," \
  "caps: RssAnon $mem_cap MiB, $time_cap s per process; scratch $tmp"
for n in $events_list; do
  dir="$tmp/$n"
  mkdir -p "$dir/trace"
  echo
  echo "== $n events (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  start=$(date +%s.%N)
  if ! "$build/bench/gen_trace" "$dir/trace/trace.ctrace" "$n" >"$dir/gen.out" 2>&1; then
    echo "gen_trace failed:"; cat "$dir/gen.out"; rm -rf "$dir"; continue
  fi
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v s="$(stat -c %s "$dir/trace/trace.ctrace")" \
    'BEGIN { printf "trace: %.1f MB, written by gen_trace in %.1f s\n", s / 1e6, b - a }'
  python3 "$script_dir/scale_measure.py" "$build/ctrace" "$dir/trace/trace.ctrace" "$n" "$mem_cap" "$time_cap"
  rm -rf "$dir"
done
