#!/usr/bin/env bash
# Live view benchmark (issue 15, "Live"): bench/live_emit records ~RATE
# events a second (default 1M) for DURATION seconds (default 60) while `ctrace view
# --follow` follows its trace. Every second: the lag (CLOCK_MONOTONIC now
# minus /api/meta's t1, the time of the last event the index holds: the
# program records all the time, so that is how far behind the view is),
# the events indexed, the index's generation and the view's memory (RSS,
# and its anonymous part). Then the lag's median and worst after the first
# 5 s, and the peak RSS.
# INDEX=scale follows through a scale index kept in memory from the start;
# by default (auto) the view switches to one once the trace passes
# $CTRACE_SCALE_MIB (default 32) MiB; INDEX=full never does.
#   bash bench/live.sh [BUILD_DIR]        (RATE=, DURATION= seconds, THREADS=, INDEX= to change)
set -euo pipefail
build=${1:-build}
rate=${RATE:-1000000}
seconds=${DURATION:-60}
threads=${THREADS:-2}
tmp=$(mktemp -d)
emit=""
server=""
trap 'kill $emit $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
CTRACE_OUT="$tmp/live.ctrace" "$build/bench/live_emit" "$rate" "$seconds" "$threads" &
emit=$!
for _ in $(seq 100); do [ -s "$tmp/live.ctrace" ] && break; sleep 0.05; done
"$build/ctrace" view --follow "$tmp/live.ctrace" --index "${INDEX:-auto}" --port 0 >"$tmp/out" 2>"$tmp/err" &
server=$!
for _ in $(seq 600); do grep -q timeline "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/timeline: //p' "$tmp/out")
python3 - "$url" "$server" "$emit" "$rate" <<'PY'
import json, statistics, sys, time, urllib.request
url, server, emit, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def mem():
    m = {}
    for line in open("/proc/%d/status" % server):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "RssAnon", "VmHWM"):
            m[k] = int(v.split()[0]) // 1024
    return m
def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False
print("rate %.0f events/s; every second: lag (now - /api/meta t1), events indexed, "
      "generation, RSS / anonymous MiB" % rate)
start = time.monotonic()
lags = []
while alive(emit):
    time.sleep(1.0 - (time.monotonic() - start) % 1.0)
    t = time.monotonic_ns()
    meta = json.load(urllib.request.urlopen(url + "api/meta", timeout=30))
    lag = (t - meta["t1"]) / 1e6 if meta["t1"] else float("nan")
    el = time.monotonic() - start
    m = mem()
    if el >= 5 and alive(emit):
        lags.append(lag)
    print("%5.1f s  lag %8.1f ms  events %11d  generation %5d  RSS %5d MiB  anon %5d MiB" %
          (el, lag, meta["events"], (meta.get("live") or {}).get("generation", 0), m.get("VmRSS", 0),
           m.get("RssAnon", 0)), flush=True)
if lags:
    lags.sort()
    print("lag after 5 s: median %.0f ms, p90 %.0f ms, worst %.0f ms over %d samples" %
          (statistics.median(lags), lags[int(0.9 * (len(lags) - 1))], lags[-1], len(lags)))
print("view peak RSS %d MiB" % mem().get("VmHWM", 0))
PY
grep -E "indexed|built whole|cannot index|scale index" "$tmp/err" | head -5 || true
