// Small canvas charts for the analysis panel, written for it (no library):
//   line     time series or curves; x linear or log10 (MMU), optional area
//            fill and steps (counters)
//   stack    horizontal stacked bars, one per row (time by state)
//   hist     a histogram of log2 buckets, equal-width columns
// chart(spec) returns a <canvas class="chart"> that draws itself at its CSS
// width (and redraws when that changes), on device pixels (crisp on HiDPI).
// Hovering sets the canvas's title to what is under the cursor. After each
// draw, data-marks holds how many lines, bars or segments were drawn (tests).

import { niceStep } from './format.js';

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const AXIS = '#6b7280';
const GRID = 'rgba(17, 24, 39, 0.08)';
const TEXT = '#374151';
const PAD = { top: 8, right: 12, bottom: 20 };

const observer = new ResizeObserver((entries) => {
  for (const e of entries) draw(e.target);
});

/**
 * spec: { kind: 'line' | 'stack' | 'hist', height (CSS px, default 160),
 *         ... what the kind takes (see drawLine, drawStack, drawHist) }
 */
export function chart(spec) {
  const c = document.createElement('canvas');
  c.className = `chart chart-${spec.kind}`;
  c.spec = spec;
  c.style.height = `${chartHeight(spec)}px`;
  c.addEventListener('mousemove', (e) => {
    const r = c.getBoundingClientRect();
    const text = c.hit ? c.hit(e.clientX - r.left, e.clientY - r.top) : '';
    if (c.title !== (text || '')) c.title = text || '';
  });
  observer.observe(c);
  return c;
}

function chartHeight(spec) {
  if (spec.kind === 'stack') return PAD.top + spec.rows.length * (spec.rowH || 18) + PAD.bottom + 2;
  return spec.height || 160;
}

/** Draws c at its current size; nothing while it is not laid out (a hidden tab). */
function draw(c) {
  if (!c.isConnected) { // replaced by the next answer: forget it
    observer.unobserve(c);
    return;
  }
  const w = c.clientWidth, h = chartHeight(c.spec);
  if (!w) return;
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(w * dpr);
  c.height = Math.round(h * dpr);
  const ctx = c.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = FONT;
  const fn = { line: drawLine, stack: drawStack, hist: drawHist }[c.spec.kind];
  const out = fn(ctx, w, h, c.spec);
  c.hit = out.hit;
  c.dataset.marks = String(out.marks);
}

// ---- Axes ----

/**
 * Ticks of a linear axis [lo, hi], about n of them, on a 1-2-5 step (with
 * binary, on a 1-2-5 step of KiB, MiB... so that byte labels are round).
 */
function linearTicks(lo, hi, n, binary = false) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const unit = binary && raw >= 1024 ? 1024 ** Math.floor(Math.log(raw) / Math.log(1024)) : 1;
  const step = niceStep(raw / unit) * unit;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  return out;
}

/** Powers of ten in [lo, hi] (lo > 0), with 2 and 5 times them when there are few decades. */
function logTicks(lo, hi) {
  const out = [];
  const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
  const mult = b - a <= 3 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) {
    for (const m of mult) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

/** The left margin that fits the y labels. */
function yMargin(ctx, labels) {
  return Math.ceil(Math.max(24, ...labels.map((s) => ctx.measureText(s).width)) + 10);
}

function drawYAxis(ctx, left, right, y, ticks, fmt) {
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 1;
  ctx.fillStyle = AXIS;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  ctx.beginPath();
  for (const v of ticks) {
    const py = Math.round(y(v)) + 0.5;
    ctx.moveTo(left, py);
    ctx.lineTo(right, py);
    ctx.fillText(fmt(v), left - 5, py);
  }
  ctx.stroke();
}

function drawXAxis(ctx, left, right, bottom, ticks, x, fmt) {
  ctx.strokeStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, bottom + 0.5);
  ctx.lineTo(right, bottom + 0.5);
  ctx.fillStyle = AXIS;
  ctx.textBaseline = 'top';
  let lastEnd = -Infinity;
  for (const v of ticks) {
    const px = Math.round(x(v)) + 0.5;
    ctx.moveTo(px, bottom);
    ctx.lineTo(px, bottom + 4);
    const s = fmt(v);
    const w = ctx.measureText(s).width;
    const cx = Math.min(Math.max(px, left + w / 2), right - w / 2);
    if (cx - w / 2 < lastEnd + 6) continue; // no overlapping labels
    ctx.textAlign = 'center';
    ctx.fillText(s, cx, bottom + 5);
    lastEnd = cx + w / 2;
  }
  ctx.stroke();
}

// ---- Line ----

/**
 * spec: { series: [{ name, color, points: [[x, y], ...] (x ascending), fill, step }],
 *         x: { log, fmt, min, max }, y: { fmt, min, max, binary (byte ticks) },
 *         hitFmt(series, [x, y]) }
 */
function drawLine(ctx, W, H, spec) {
  const pts = spec.series.flatMap((s) => s.points);
  const xs = spec.x, ys = spec.y;
  let x0 = xs.min ?? Math.min(...pts.map((p) => p[0]));
  let x1 = xs.max ?? Math.max(...pts.map((p) => p[0]));
  if (xs.log) x0 = Math.max(x0, 1e-9);
  if (!(x1 > x0)) x1 = xs.log ? x0 * 10 : x0 + 1;
  const y0 = ys.min ?? Math.min(0, ...pts.map((p) => p[1]));
  let y1 = ys.max ?? Math.max(...pts.map((p) => p[1]));
  if (!(y1 > y0)) y1 = y0 + 1;
  const yTicks = linearTicks(y0, y1, Math.max(2, Math.floor((H - PAD.top - PAD.bottom) / 28)), ys.binary);
  if (ys.max == null) y1 = Math.max(y1, yTicks[yTicks.length - 1]);
  const left = yMargin(ctx, yTicks.map(ys.fmt));
  const right = W - PAD.right, top = PAD.top, bottom = H - PAD.bottom;
  const lx0 = Math.log10(x0), lx1 = Math.log10(x1);
  const x = xs.log
    ? (v) => left + ((Math.log10(Math.max(v, x0)) - lx0) / (lx1 - lx0)) * (right - left)
    : (v) => left + ((v - x0) / (x1 - x0)) * (right - left);
  const y = (v) => bottom - ((v - y0) / (y1 - y0)) * (bottom - top);
  drawYAxis(ctx, left, right, y, yTicks.filter((v) => v <= y1), ys.fmt);
  const xTicks = xs.log ? logTicks(x0, x1) : linearTicks(x0, x1, Math.max(2, Math.floor((right - left) / 90)));
  drawXAxis(ctx, left, right, bottom, xTicks, x, xs.fmt);

  let marks = 0;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top - 1, right - left, bottom - top + 2);
  ctx.clip();
  for (const s of spec.series) {
    if (!s.points.length) continue;
    ctx.beginPath();
    let prev = null;
    for (const [vx, vy] of s.points) {
      const px = x(vx), py = y(vy);
      if (!prev) ctx.moveTo(px, py);
      else if (s.step) ctx.lineTo(px, prev[1]);
      ctx.lineTo(px, py);
      prev = [px, py];
    }
    if (s.step && spec.x.max != null) ctx.lineTo(x(spec.x.max), prev[1]);
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    ctx.stroke();
    if (s.fill) {
      const end = s.step && spec.x.max != null ? x(spec.x.max) : prev[0];
      ctx.lineTo(end, bottom);
      ctx.lineTo(x(s.points[0][0]), bottom);
      ctx.closePath();
      ctx.globalAlpha = 0.18;
      ctx.fillStyle = s.color;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    marks += s.points.length;
  }
  ctx.restore();

  const hit = (mx, my) => {
    if (mx < left || mx > right || my < top || my > bottom) return '';
    let best = null, bestD = Infinity;
    for (const s of spec.series) {
      for (const p of s.points) {
        const d = Math.abs(x(p[0]) - mx);
        if (d < bestD) { bestD = d; best = [s, p]; }
      }
    }
    if (!best || bestD > 30) return '';
    return spec.hitFmt ? spec.hitFmt(best[0], best[1]) : `${best[0].name}: ${xs.fmt(best[1][0])} → ${ys.fmt(best[1][1])}`;
  };
  return { hit, marks };
}

// ---- Stacked horizontal bars ----

/**
 * spec: { rows: [{ label, parts: [{ name, value, color }] }], fmt (values),
 *         scale (the value of the full width; default the largest row), rowH }
 */
function drawStack(ctx, W, H, spec) {
  const rowH = spec.rowH || 18;
  const sums = spec.rows.map((r) => r.parts.reduce((a, p) => a + Math.max(0, p.value), 0));
  const scale = spec.scale || Math.max(1, ...sums);
  const labelW = Math.min(W * 0.35, Math.ceil(Math.max(30, ...spec.rows.map((r) => ctx.measureText(r.label).width))) + 8);
  const left = labelW, right = W - PAD.right, top = PAD.top, bottom = top + spec.rows.length * rowH;
  const x = (v) => left + (v / scale) * (right - left);
  const ticks = linearTicks(0, scale, Math.max(2, Math.floor((right - left) / 90)));
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  for (const v of ticks) {
    const px = Math.round(x(v)) + 0.5;
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
  }
  ctx.stroke();
  drawXAxis(ctx, left, right, bottom, ticks, x, spec.fmt);

  let marks = 0;
  const dpr = window.devicePixelRatio || 1;
  const snap = (v) => Math.round(v * dpr) / dpr;
  spec.rows.forEach((r, i) => {
    const ry = top + i * rowH;
    ctx.fillStyle = TEXT;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.fillText(fit(ctx, r.label, labelW - 8), left - 6, ry + rowH / 2);
    let acc = 0;
    for (const p of r.parts) {
      if (!(p.value > 0)) continue;
      const a = snap(x(acc)), b = snap(x(acc + p.value));
      acc += p.value;
      if (b - a <= 0) continue;
      ctx.fillStyle = p.color;
      ctx.fillRect(a, ry + 2, b - a, rowH - 4);
      marks++;
    }
  });

  const hit = (mx, my) => {
    const i = Math.floor((my - top) / rowH);
    const r = spec.rows[i];
    if (!r || my < top) return '';
    let acc = 0;
    const total = sums[i] || 1;
    for (const p of r.parts) {
      if (!(p.value > 0)) continue;
      if (mx >= x(acc) && mx < x(acc + p.value)) {
        return `${r.label} · ${p.name}: ${spec.fmt(p.value)} (${((100 * p.value) / total).toFixed(1)}%)`;
      }
      acc += p.value;
    }
    return `${r.label}: ${spec.fmt(sums[i])}`;
  };
  return { hit, marks };
}

/** s shortened with an ellipsis to fit w pixels. */
function fit(ctx, s, w) {
  if (ctx.measureText(s).width <= w) return s;
  let n = s.length;
  while (n > 1 && ctx.measureText(`${s.slice(0, n)}…`).width > w) n--;
  return `${s.slice(0, n)}…`;
}

// ---- Histogram of log2 buckets ----

/**
 * spec: { bins: [{ lo, hi, count }] (non-empty buckets; the gaps between
 *         them are drawn empty), color, fmtX (bucket bounds), fmtY (counts),
 *         markers: [{ value, label }] (vertical lines, e.g. percentiles) }
 */
function drawHist(ctx, W, H, spec) {
  const cols = fillGaps(spec.bins);
  const maxC = Math.max(1, ...cols.map((c) => c.count));
  const yTicks = linearTicks(0, maxC, Math.max(2, Math.floor((H - PAD.top - PAD.bottom) / 28)))
    .filter((v) => Number.isInteger(v));
  const yMax = Math.max(maxC * 1.08, yTicks[yTicks.length - 1]);
  const left = yMargin(ctx, yTicks.map(spec.fmtY));
  const right = W - PAD.right, top = PAD.top + 10, bottom = H - PAD.bottom;
  const cw = (right - left) / Math.max(1, cols.length);
  const y = (v) => bottom - (v / yMax) * (bottom - top);
  drawYAxis(ctx, left, right, y, yTicks, spec.fmtY);

  let marks = 0;
  ctx.fillStyle = spec.color;
  cols.forEach((c, i) => {
    if (!c.count) return;
    const a = left + i * cw + (cw > 6 ? 1 : 0), b = left + (i + 1) * cw - (cw > 6 ? 1 : 0);
    const t = Math.min(y(c.count), bottom - 2); // a bucket of few stays visible
    ctx.fillRect(a, t, Math.max(1, b - a), bottom - t);
    marks++;
  });
  // bucket bounds under the column edges
  drawXAxis(ctx, left, right, bottom, cols.map((_, i) => i).concat(cols.length), (i) => left + i * cw,
    (i) => spec.fmtX(i < cols.length ? cols[i].lo : cols[cols.length - 1].hi));

  // where a value falls: its column, then log-interpolated within it
  const xOf = (v) => {
    const i = cols.findIndex((c) => v < c.hi);
    if (i < 0) return right;
    const c = cols[i];
    const f = c.lo > 0 ? Math.log(v / c.lo) / Math.log(c.hi / c.lo) : (v - c.lo) / (c.hi - c.lo);
    return left + (i + Math.min(Math.max(f, 0), 1)) * cw;
  };
  ctx.setLineDash([3, 3]);
  ctx.strokeStyle = '#111827';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillStyle = '#111827';
  let lastEnd = -Infinity, row = 0;
  for (const m of spec.markers || []) {
    if (m.value == null) continue;
    const px = Math.round(xOf(m.value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    // a label that would overlap the previous one goes a line lower, right of its line
    const w = ctx.measureText(m.label).width;
    row = px - w / 2 < lastEnd + 3 ? row + 1 : 0;
    if (row) {
      ctx.textAlign = 'left';
      ctx.fillText(m.label, px + 3, top + row * 12);
      ctx.textAlign = 'center';
    } else {
      ctx.fillText(m.label, px, top - 1);
    }
    lastEnd = row ? px + 3 + w : px + w / 2;
  }
  ctx.setLineDash([]);

  const hit = (mx, my) => {
    const i = Math.floor((mx - left) / cw);
    const c = cols[i];
    if (!c || my < PAD.top || my > bottom) return '';
    return `${spec.fmtX(c.lo)} – ${spec.fmtX(c.hi)}: ${spec.fmtY(c.count)}`;
  };
  return { hit, marks };
}

/** The buckets from the first to the last, with the empty ones in between (each twice the last). */
export function fillGaps(bins) {
  const sorted = [...bins].sort((a, b) => a.lo - b.lo);
  const out = [];
  for (const b of sorted) {
    const prev = out[out.length - 1];
    if (prev) {
      let lo = prev.hi;
      while (lo < b.lo && out.length < 200) {
        const hi = Math.min(b.lo, lo > 0 ? lo * 2 : 1);
        out.push({ lo, hi, count: 0 });
        lo = hi;
      }
    }
    out.push({ lo: b.lo, hi: b.hi, count: b.count });
  }
  return out;
}
