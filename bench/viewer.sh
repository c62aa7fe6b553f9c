#!/usr/bin/env bash
# Viewer benchmark (issue "Viewer server and browser timeline"): a synthetic
# trace of EVENTS events (default 10M) made by bench/gen_trace with the real
# tracer; `ctrace view` indexes it (time and bytes per event, as it prints
# them); then windowed requests at 2000 px over zoom levels from the whole
# trace down to 1/10000 of it, 5 runs each, server-side time from the
# Server-Timing header (answer + zstd encoding). With node and the browser
# test's modules present, also first paint and pan/zoom frame times in
# headless Chromium.
#   bash bench/viewer.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
events=${EVENTS:-10000000}
tmp=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$build/bench/gen_trace" "$tmp/big.ctrace" "$events"
"$build/ctrace" view "$tmp/big.ctrace" --port 0 >"$tmp/out" 2>"$tmp/err" &
server=$!
for _ in $(seq 600); do grep -q timeline "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/timeline: //p' "$tmp/out")
grep "indexed" "$tmp/err"
rss=$(awk '/VmHWM/ {print $2}' /proc/$server/status)
echo "server peak RSS after indexing: $((rss / 1024)) MiB"
python3 - "$url" <<'PY'
import json, statistics, sys, urllib.request
url = sys.argv[1]
meta = json.load(urllib.request.urlopen(url + "api/meta"))
t0, t1 = meta["t0"], meta["t1"]
print("index: %d events, %d bytes = %.1f bytes/event" % (meta["events"], meta["index_bytes"],
      meta["index_bytes"] / meta["events"]))
worst = 0
for frac in (1, 2, 10, 100, 1000, 10000):
    span = (t1 - t0) // frac
    times, sizes = [], []
    for k in range(5):
        a = t0 + (t1 - t0 - span) * k // 4
        req = urllib.request.Request("%sapi/slices?t0=%d&t1=%d&px=2000" % (url, a, a + span),
                                     headers={"Accept-Encoding": "zstd"})
        r = urllib.request.urlopen(req)
        body = r.read()
        times.append(float(r.headers["Server-Timing"].split("dur=")[1]))
        sizes.append(len(body))
    worst = max(worst, max(times))
    print("window 1/%-5d at 2000 px: median %6.1f ms, max %6.1f ms server-side, %7d bytes (zstd)"
          % (frac, statistics.median(times), max(times), statistics.median(sizes)))
print("slowest window request: %.1f ms" % worst)
PY
if command -v node >/dev/null && [ -d tests/browser/node_modules/playwright-core ] && [ -f bench/viewer_browser.mjs ]; then
  node bench/viewer_browser.mjs "$url"
fi
