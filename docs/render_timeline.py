#!/usr/bin/env python3
"""Renders a Chrome trace-event JSON (as `ctrace export` writes it) into a
small static SVG timeline: one row per thread, nested regions as bars
coloured by name, counters as step lines, flows as arrows. Used for the
README's picture of the pipeline sample; the interactive viewer is `ctrace
view`.

    python3 docs/render_timeline.py pipeline.json docs/pipeline-timeline.svg [T0_MS T1_MS]
"""
import colorsys
import hashlib
import json
import sys
from xml.sax.saxutils import escape

W, ROW, LANE, LEFT, TOP = 1100, 64, 11, 110, 28


def colour(name):
    h = int(hashlib.md5(name.encode()).hexdigest()[:6], 16) / 0xFFFFFF
    r, g, b = colorsys.hls_to_rgb(h, 0.62, 0.55)
    return "#%02x%02x%02x" % (int(r * 255), int(g * 255), int(b * 255))


def main():
    data = json.load(open(sys.argv[1]))
    evs = data["traceEvents"]
    names, order = {}, {}
    for e in evs:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        if e["ph"] == "M" and e["name"] == "thread_sort_index":
            order[e["tid"]] = e["args"]["sort_index"]
    timed = [e for e in evs if e["ph"] != "M"]
    t_start = min(e["ts"] for e in timed)
    t0 = t_start + (float(sys.argv[3]) * 1000 if len(sys.argv) > 4 else 0)
    t1 = t_start + float(sys.argv[4]) * 1000 if len(sys.argv) > 4 else max(e["ts"] for e in timed)
    tids = sorted({e["tid"] for e in timed}, key=lambda t: order.get(t, 0))
    row = {t: i for i, t in enumerate(tids)}
    x = lambda ts: LEFT + (ts - t0) / (t1 - t0) * (W - LEFT - 10)
    height = TOP + ROW * len(tids) + 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">' % (W, height),
           '<rect width="100%" height="100%" fill="white"/>']
    # time axis
    span_ms = (t1 - t0) / 1000
    step = 10 ** len(str(int(span_ms))) / 10
    while span_ms / step < 4:
        step /= 2
    k = 0.0
    while k <= span_ms:
        px = x(t0 + k * 1000)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (px, TOP - 6, px, height - 10))
        out.append('<text x="%.1f" y="%d" fill="#555">%g ms</text>' % (px + 2, TOP - 10, round(k, 3)))
        k += step
    stacks, flows_s = {}, {}
    for t in tids:
        y = TOP + row[t] * ROW
        out.append('<text x="4" y="%d" fill="#222">%s</text>' % (y + 14, escape(str(names.get(t, t)))))
        out.append('<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#eee"/>' % (y + ROW - 2, W, y + ROW - 2))
    for e in timed:
        t, ph, y0 = e["tid"], e["ph"], TOP + row[e["tid"]] * ROW
        if ph == "B":
            stacks.setdefault(t, []).append(e)
        elif ph == "E" and stacks.get(t):
            b = stacks[t].pop()
            if e["ts"] < t0 or b["ts"] > t1:
                continue
            depth = len(stacks[t])
            xa, xb = x(max(b["ts"], t0)), x(min(e["ts"], t1))
            out.append('<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s"><title>%s</title></rect>'
                       % (xa, y0 + 2 + depth * LANE, max(xb - xa, 0.4), LANE - 1, colour(b["name"]), escape(b["name"])))
            if xb - xa > 6 * len(b["name"]):
                out.append('<text x="%.1f" y="%d" font-size="9">%s</text>' % (xa + 2, y0 + 10 + depth * LANE, escape(b["name"])))
        elif ph == "s":
            flows_s[e["id"]] = e
        elif ph == "f" and e["id"] in flows_s:
            s = flows_s.pop(e["id"])
            if t0 <= s["ts"] <= t1 and t0 <= e["ts"] <= t1:
                ys, yf = TOP + row[s["tid"]] * ROW + 4, y0 + 4
                out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-opacity="0.35" stroke-width="0.7"/>'
                           % (x(s["ts"]), ys, x(e["ts"]), yf))
    out.append("</svg>")
    open(sys.argv[2], "w").write("\n".join(out))


if __name__ == "__main__":
    main()
