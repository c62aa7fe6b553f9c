// The canvas timeline: view state (the visible time window), drawing of
// one frame from the latest decoded scene, and hit testing. It knows
// nothing about HTTP or the DOM panels; input.js drives it and main.js
// listens to its 'view' event.
//
// Drawing is batched: slices (and tasks, work-item runs, thread states) are
// grouped by fill colour in the scene, so a frame sets each fillStyle once
// and fills one path per colour; no DOM per event.
// Between the moment the view changes and the arrival of the answer for
// the new window, the previous scene is simply drawn at the new scale.
//
// A live trace grows (setEnd); in "follow the present" mode (`following`)
// the view keeps its right edge at the newest event, and any other change
// of the view (zoom, pan, a jump) pauses it: a 'follow' event says so.

import { rowAt, SLICE_H, INSTANT_H, DEPTH_H, STATE_H } from './layout.js';
import { drawSamples } from './samples_lane.js';
import { upperBound } from './scene.js';
import { CATEGORY, colorOf, fmtBytes, fmtDur, fmtInt, niceStep, paler, stateInfo, tickFormat } from './format.js';

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const SMALL_FONT = '10px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const MIN_SPAN = 20;          // ns: the deepest zoom
const LABEL_MIN_PX = 22;      // slices narrower than this get no label
const TICK_PX = 110;          // target distance between labelled ruler ticks
const MAX_FRAME_TIMES = 5000;
/** The critical path's bars, by the first word of a segment's state. */
const PATH_COLORS = {
  running: '#15803d', 'running?': '#15803d', runnable: '#d97706', woken: '#ea580c',
  waiting: '#dc2626', blocked: '#dc2626', idle: '#9ca3af', syscall: '#7c3aed', sleeping: '#7c3aed',
  other: '#6b7280', jump: '#111827', shade: 'rgba(220, 38, 38, 0.08)',
};

const COLORS = {
  text: '#111827',
  process: '#eef1f5',
  rowLine: '#eef0f3',
  grid: 'rgba(17, 24, 39, 0.07)',
  instant: '#b45309',
  log: '#2563eb',
  thread: '#0c8599',       // thread create / start / exit
  sched: '#7048e8',        // a work item blocked
  empty: '#9ca3af',
  dropped: '#dc2626',
  flow: 'rgba(55, 65, 81, 0.4)',
  flowSel: '#1d4ed8',
  match: '#111827',
  select: '#1d4ed8',
  hover: 'rgba(17, 24, 39, 0.75)',
  range: 'rgba(37, 99, 235, 0.09)',
  rangeEdge: 'rgba(37, 99, 235, 0.7)',
  cursor: 'rgba(17, 24, 39, 0.35)',
  searchMark: '#ea580c',
};

export class Timeline extends EventTarget {
  /**
   * els: { ruler, canvas, scroller, wrap, inner } (canvas elements and the
   * scrolling container of the track area); meta: /api/meta; layout: layout.js.
   */
  constructor(els, meta, layout) {
    super();
    this.els = els;
    this.meta = meta;
    this.layout = layout;
    this.dur = Math.max(MIN_SPAN * 50, meta.t1 - meta.t0); // an empty trace still has a ruler
    this.view = { t0: 0, t1: this.dur };   // relative ns
    this.scene = null;
    this.selection = null;  // a picked mark, or a search result shaped like a slice
    this.range = null;      // { t0, t1 } time range selected with shift+drag
    this.path = null;       // a critical path drawn over the rows (showPath)
    this.hover = null;
    this.cursorX = null;    // mouse x over the tracks, for the time cursor
    this.search = null;     // { text: lower-case query, marks: [start of the listed results] }
    this.following = false; // live: the view follows the newest event
    this.showFlows = true;
    this.frameTimes = [];
    this.frames = 0;
    this.stats = {};
    this.width = 1;
    this.height = 1;
    this.dpr = window.devicePixelRatio || 1;
    this.ctx = els.canvas.getContext('2d');
    this.rctx = els.ruler.getContext('2d');
    this.textWidths = new Map();
    this.patterns = new Map(); // hatch patterns of derived states
    this.animators = new Set();
    this.raf = 0;
    this.lastFrameAt = 0;
    els.scroller.addEventListener('scroll', () => this.invalidate(), { passive: true });
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(els.scroller);
    this.resizeObserver.observe(els.wrap);
    this.resize();
  }

  // ---- View ----

  get span() { return this.view.t1 - this.view.t0; }
  nsPerPx() { return this.span / this.width; }
  xOf(t) { return ((t - this.view.t0) * this.width) / this.span; }
  tAt(x) { return this.view.t0 + (x * this.span) / this.width; }

  /**
   * Sets the visible window (relative ns), kept inside the trace (plus 2%).
   * Unless `auto` (the live view moving it), a change pauses following.
   */
  setView(t0, t1, auto = false) {
    const margin = this.dur * 0.02;
    const lo = -margin, hi = this.dur + margin;
    let span = Math.min(Math.max(MIN_SPAN, t1 - t0), hi - lo);
    if (!Number.isFinite(t0) || !Number.isFinite(span)) return;
    t0 = Math.min(Math.max(t0, lo), hi - span);
    if (t0 === this.view.t0 && t0 + span === this.view.t1) return;
    this.view = { t0, t1: t0 + span };
    if (!auto && this.following) this.setFollowing(false);
    this.invalidate();
    this.dispatchEvent(new Event('view'));
  }

  /** Turns "follow the present" on (and goes there) or off; a 'follow' event tells. */
  setFollowing(on) {
    if (on === this.following) return;
    this.following = on;
    if (on) this.toPresent();
    this.dispatchEvent(new Event('follow'));
  }

  /**
   * The view's right edge to the newest event, keeping its span; a view
   * that showed the trace from its start keeps showing all of it.
   */
  toPresent() {
    const whole = this.view.t0 <= 0 || this.span >= this.dur;
    const span = whole ? this.dur : this.span;
    const t1 = this.dur + span * 0.01; // (a little room after the newest event)
    this.setView(whole ? 0 : t1 - span, t1, true);
  }

  /** New rows (a live trace gained threads, counters or tasks): the same view, redrawn. */
  setLayout(layout) {
    this.layout = layout;
    this.els.inner.style.height = `${Math.max(layout.height, this.height)}px`;
    if (this.hover) this.hover = null;
    this.invalidate();
  }

  /**
   * The trace's start moved by -delta ns (times are relative to it): what
   * is shown stays put, except that a view showing the trace from its start
   * keeps doing so (it widens).
   */
  shift(delta) {
    if (!delta) return;
    const fromStart = this.view.t0 <= 0;
    this.view = { t0: fromStart ? this.view.t0 : this.view.t0 + delta, t1: this.view.t1 + delta };
    if (this.range) this.range = { t0: this.range.t0 + delta, t1: this.range.t1 + delta };
    if (this.selection) this.selection = { ...this.selection, start: this.selection.start + delta };
    if (this.search) this.search = { ...this.search, marks: this.search.marks.map((t) => t + delta) };
    this.hover = null;
    this.scene = null; // its times are relative to the old start: wait for the new window
    this.invalidate();
  }

  /** Zooms by factor (< 1: in) keeping the time under x (CSS px) in place. */
  zoomAt(factor, x = this.width / 2) {
    factor = Math.max(factor, MIN_SPAN / this.span);
    const t = this.tAt(x);
    this.setView(t - (t - this.view.t0) * factor, t + (this.view.t1 - t) * factor);
  }

  panBy(px) {
    const d = px * this.nsPerPx();
    this.setView(this.view.t0 + d, this.view.t1 + d);
  }

  /** Shows [t0, t1] with a margin of pad (fraction of the span) each side. */
  focus(t0, t1, pad = 0.15) {
    const span = Math.max(t1 - t0, MIN_SPAN * 4);
    const mid = (t0 + t1) / 2;
    const half = (span * (1 + 2 * pad)) / 2;
    this.setView(mid - half, mid + half);
  }

  fit() { this.setView(0, this.dur); }

  /** True when the view shows the end of the trace (within 2% of its span). */
  get atEnd() { return this.view.t1 >= this.dur - this.span * 0.02; }

  /**
   * The trace grew (a live view; meta.t1 was updated in place): following
   * the present, the view moves to the new end; paused, it stays where it is.
   */
  setEnd() {
    this.dur = Math.max(MIN_SPAN * 50, this.meta.t1 - this.meta.t0);
    if (this.following) this.toPresent();
  }

  // ---- Frames ----

  resize() {
    const { scroller, wrap, canvas, ruler, inner } = this.els;
    const w = Math.max(1, wrap.clientWidth);
    const h = Math.max(1, scroller.clientHeight);
    this.dpr = window.devicePixelRatio || 1;
    if (w === this.width && h === this.height && canvas.width === Math.round(w * this.dpr)) return;
    this.width = w;
    this.height = h;
    wrap.style.height = `${h}px`;
    inner.style.height = `${Math.max(this.layout.height, h)}px`;
    canvas.style.height = `${h}px`;
    canvas.width = Math.round(w * this.dpr);
    canvas.height = Math.round(h * this.dpr);
    ruler.style.width = `${w}px`;
    ruler.width = Math.round(w * this.dpr);
    ruler.height = Math.round(26 * this.dpr);
    this.draw();
    this.dispatchEvent(new Event('resize'));
  }

  setScene(scene) {
    this.scene = scene;
    this.invalidate();
  }

  /** Schedules one frame (several calls in a frame draw once). */
  invalidate() {
    if (!this.raf) this.raf = requestAnimationFrame((now) => this.frame(now));
  }

  /** fn(now, dt) runs before each frame while it returns true (held keys). */
  addAnimator(fn) {
    this.animators.add(fn);
    this.lastFrameAt = 0;
    this.invalidate();
  }

  frame(now) {
    this.raf = 0;
    const dt = this.lastFrameAt ? Math.min(now - this.lastFrameAt, 50) : 16;
    this.lastFrameAt = now;
    for (const fn of this.animators) if (!fn(now, dt)) this.animators.delete(fn);
    this.draw();
    if (this.animators.size) this.invalidate();
    else this.lastFrameAt = 0;
  }

  draw() {
    const t = performance.now();
    const ctx = this.ctx;
    const top = this.els.scroller.scrollTop;
    const bottom = top + this.height;
    this.stats = {
      slices: 0, labels: 0, highlighted: 0, instants: 0, tasks: 0, counters: 0, flows: 0,
      statesDrawn: 0, derivedDrawn: 0, runsDrawn: 0, syscallsDrawn: 0, waitsDrawn: 0, gcDrawn: 0,
      samplesDrawn: 0,
    };
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, -top * this.dpr);
    ctx.clearRect(0, top, this.width, this.height);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';

    const ticks = this.ticks();
    this.drawRows(ctx, top, bottom);
    this.drawGrid(ctx, ticks, top);
    this.drawEmptyRows(ctx, top, bottom);
    if (this.scene) {
      this.drawCounters(ctx, top, bottom);
      this.drawTasks(ctx, top, bottom);
      this.drawStates(ctx, top, bottom);
      this.stats.samplesDrawn = drawSamples(this, ctx, top, bottom);
      this.drawRuns(ctx, top, bottom);
      this.drawSlices(ctx, top, bottom);
      this.drawInstants(ctx, top, bottom);
      if (this.showFlows) this.drawFlows(ctx);
    }
    this.drawSelection(ctx);
    if (this.path) this.drawPath(ctx, top, bottom);
    this.drawOverlays(ctx, top);
    this.drawRuler(ticks);

    const ms = performance.now() - t;
    this.frames++;
    if (this.scene) {
      this.frameTimes.push(ms);
      if (this.frameTimes.length > MAX_FRAME_TIMES) this.frameTimes.shift();
    }
    this.dispatchEvent(new CustomEvent('frame', { detail: { ms, hasData: !!this.scene } }));
  }

  // ---- Pieces of a frame ----

  /** Major ticks (labelled) and minor ticks of the ruler for the view. */
  ticks() {
    const step = Math.max(1, niceStep((this.span * TICK_PX) / this.width));
    const mant = Math.round(step / 10 ** Math.floor(Math.log10(step)));
    const minor = step / (mant === 2 ? 4 : 5);
    const fmt = tickFormat(step, Math.max(Math.abs(this.view.t0), Math.abs(this.view.t1)));
    const major = [];
    for (let t = Math.ceil(this.view.t0 / step) * step; t <= this.view.t1; t += step) major.push(t);
    const minors = [];
    for (let t = Math.ceil(this.view.t0 / minor) * minor; t <= this.view.t1; t += minor) minors.push(t);
    return { step, major, minors, fmt };
  }

  drawRows(ctx, top, bottom) {
    ctx.fillStyle = COLORS.process;
    ctx.beginPath();
    for (const r of this.layout.rows) {
      if (r.kind === 'process' && r.y + r.h >= top && r.y <= bottom) ctx.rect(0, r.y, this.width, r.h);
    }
    ctx.fill();
    ctx.strokeStyle = COLORS.rowLine;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const r of this.layout.rows) {
      if (r.y < top || r.y > bottom) continue;
      ctx.moveTo(0, r.y + 0.5);
      ctx.lineTo(this.width, r.y + 0.5);
    }
    ctx.stroke();
  }

  drawGrid(ctx, ticks, top) {
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const t of ticks.major) {
      const x = Math.round(this.xOf(t)) + 0.5;
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + this.height);
    }
    ctx.stroke();
  }

  /** The drawn extent [x0, x1] of a mark at the current scale (at least 1 px;
   * a merged mark covers its whole bucket). */
  extent(m) {
    const k = this.width / this.span;
    let x0 = (m.start - this.view.t0) * k;
    let w = m.dur * k;
    if (m.merged > 1 && this.scene) w = Math.max(w, this.scene.window.bucket * k);
    return [x0, x0 + Math.max(w, 1)];
  }

  drawSlices(ctx, top, bottom) {
    const W = this.width, dpr = this.dpr;
    const search = this.search;
    const labels = [];
    const matches = [];
    const accents = {}; // category → [x, y, w, alpha...]: the dark top edge of syscalls, waits, GC
    for (const g of this.scene.groups.values()) {
      // the server's test: the name contains the text, ignoring case
      const match = !search || g.name.toLowerCase().includes(search.text);
      const acc = CATEGORY[g.cat] ? (accents[g.cat] || (accents[g.cat] = [])) : null;
      ctx.globalAlpha = match ? 1 : 0.25;
      ctx.fillStyle = g.style;
      ctx.beginPath();
      let n = 0;
      // Narrow marks that touch (zoomed out: one per pixel) are joined into
      // one rectangle, on device pixels: far fewer edges to fill.
      let rx0 = 0, rx1 = -Infinity, ry = NaN;
      for (const s of g.slices) {
        if (s.y + SLICE_H < top || s.y > bottom) continue;
        let [x0, x1] = this.extent(s);
        if (x1 < 0 || x0 > W) continue;
        x0 = Math.max(x0, -1);
        x1 = Math.min(x1, W + 1);
        // a 1 px gap separates wide neighbours of the same colour
        const w = x1 - x0 > 4 ? x1 - x0 - 1 : x1 - x0;
        n++;
        if (w < 3) {
          const a = Math.round(x0 * dpr) / dpr, b = Math.max(Math.round((x0 + w) * dpr) / dpr, a + 1 / dpr);
          if (s.y === ry && a <= rx1) {
            rx1 = Math.max(rx1, b);
            continue;
          }
          if (rx1 > -Infinity) ctx.rect(rx0, ry, rx1 - rx0, SLICE_H);
          rx0 = a;
          rx1 = b;
          ry = s.y;
        } else {
          ctx.rect(x0, s.y, w, SLICE_H);
          if (acc) acc.push(x0, s.y, w, match); // the edge only where it can be seen
          if (w >= LABEL_MIN_PX && s.merged === 1) labels.push(s, x0, w, match);
        }
        if (search && match) matches.push(x0, s.y, w);
      }
      if (rx1 > -Infinity) ctx.rect(rx0, ry, rx1 - rx0, SLICE_H);
      if (n) ctx.fill();
      this.stats.slices += n;
      if (g.cat === 'syscall') this.stats.syscallsDrawn += n;
      else if (g.cat === 'wait') this.stats.waitsDrawn += n;
      else if (g.cat === 'gc') this.stats.gcDrawn += n;
    }
    // System calls, waits and GC phases: a dark edge along the top, so they
    // read as what they are whatever their hue.
    for (const [cat, a] of Object.entries(accents)) {
      for (const pass of [true, false]) {
        ctx.globalAlpha = pass ? 1 : 0.25;
        ctx.fillStyle = CATEGORY[cat].accent;
        ctx.beginPath();
        let n = 0;
        for (let i = 0; i < a.length; i += 4) {
          if (a[i + 3] !== pass) continue;
          ctx.rect(a[i], a[i + 1], a[i + 2], 2);
          n++;
        }
        if (n) ctx.fill();
      }
    }
    ctx.globalAlpha = 1;

    // Labels: one text colour for all; dimmed ones (not matching) after.
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = 'center';
    for (const pass of [true, false]) {
      ctx.globalAlpha = pass ? 1 : 0.45;
      for (let i = 0; i < labels.length; i += 4) {
        if (labels[i + 3] !== pass) continue;
        const s = labels[i], x0 = Math.max(labels[i + 1], 0), x1 = Math.min(labels[i + 1] + labels[i + 2], W);
        const text = this.fitText(ctx, s.name, x1 - x0 - 6);
        if (!text) continue;
        ctx.fillText(text, (x0 + x1) / 2, s.y + SLICE_H / 2 + 0.5);
        this.stats.labels++;
      }
    }
    ctx.globalAlpha = 1;

    // Search matches: outlined.
    if (matches.length) {
      ctx.strokeStyle = COLORS.match;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < matches.length; i += 3) {
        ctx.rect(matches[i] + 0.5, matches[i + 1] + 0.5, Math.max(matches[i + 2] - 1, 0.5), SLICE_H - 1);
      }
      ctx.stroke();
      this.stats.highlighted = matches.length / 3;
    }
  }

  /** Width of text in the context's current font (cached per font). */
  textWidth(ctx, text) {
    let cache = this.textWidths.get(ctx.font);
    if (!cache) this.textWidths.set(ctx.font, (cache = new Map()));
    let w = cache.get(text);
    if (w === undefined) {
      w = ctx.measureText(text).width;
      if (cache.size > 5000) cache.clear();
      cache.set(text, w);
    }
    return w;
  }

  /** name, or a prefix of it with an ellipsis, that fits in px; null if none does. */
  fitText(ctx, name, px) {
    if (px < 8) return null;
    const w = this.textWidth(ctx, name);
    if (w <= px) return name;
    const n = Math.floor((name.length * px) / w) - 1;
    return n >= 2 ? `${name.slice(0, n)}…` : null;
  }

  drawInstants(ctx, top, bottom) {
    const W = this.width;
    const paths = { instant: [], log: [], thread: [], sched: [], ctrace: [] };
    const dropLabels = [];
    for (const [track, th] of this.scene.threads) {
      const row = this.layout.byTrack.get(track);
      if (!row || row.y + row.h < top || row.y > bottom) continue;
      const arr = th.instants;
      for (let i = Math.max(0, upperBound(arr, this.view.t0 - 4 * this.nsPerPx()) - 1); i < arr.length; i++) {
        const m = arr[i];
        if (m.start > this.view.t1) break;
        const x = this.xOf(m.start);
        if (x < -5 || x > W + 5) continue;
        const kind = Object.hasOwn(paths, m.cat) ? m.cat : 'instant';
        paths[kind].push(x, m.y, row);
        if (kind === 'ctrace') dropLabels.push(x, m.y, m.dropped);
      }
    }
    for (const [kind, style] of [['instant', COLORS.instant], ['log', COLORS.log], ['thread', COLORS.thread],
      ['sched', COLORS.sched], ['ctrace', COLORS.dropped]]) {
      const p = paths[kind];
      if (!p.length) continue;
      ctx.fillStyle = style;
      ctx.beginPath();
      for (let i = 0; i < p.length; i += 3) {
        const x = p[i], y = p[i + 1];
        const r = kind === 'ctrace' ? 5 : 4;
        ctx.moveTo(x - r, y);
        ctx.lineTo(x + r, y);
        ctx.lineTo(x, y + INSTANT_H - 1); // fill() closes it (closePath() is slow on big paths)
      }
      ctx.fill();
      this.stats.instants += p.length / 3;
    }
    // Dropped events: a red line through the whole thread row, and the count.
    const d = paths.ctrace;
    if (d.length) {
      ctx.strokeStyle = COLORS.dropped;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let i = 0; i < d.length; i += 3) {
        const x = Math.round(d[i]) + 0.5, row = d[i + 2];
        ctx.moveTo(x, row.y + 1);
        ctx.lineTo(x, row.y + row.h - 1);
      }
      ctx.stroke();
      // "N dropped" beside a marker when it fits before the next one
      ctx.fillStyle = COLORS.dropped;
      ctx.font = SMALL_FONT;
      ctx.textAlign = 'left';
      for (let i = 0; i < dropLabels.length; i += 3) {
        const x = dropLabels[i], y = dropLabels[i + 1], n = dropLabels[i + 2];
        const next = i + 3 < dropLabels.length && dropLabels[i + 4] === y ? dropLabels[i + 3] : W;
        if (!n) continue;
        const room = next - x - 12;
        const text = [`${fmtInt(n)} dropped`, fmtInt(n)].find((t) => this.textWidth(ctx, t) <= room);
        if (text) ctx.fillText(text, x + 6, y + 4);
      }
      ctx.font = FONT;
    }
  }

  /** The hatch of a derived state: its colour, paler, with diagonal stripes. */
  hatch(ctx, name) {
    let p = this.patterns.get(name);
    if (!p) {
      const color = stateInfo(name).color;
      const c = document.createElement('canvas');
      c.width = c.height = 6;
      const g = c.getContext('2d');
      g.fillStyle = paler(color, 0.6);
      g.fillRect(0, 0, 6, 6);
      g.strokeStyle = paler(color, 0.15);
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(-1, 7);
      g.lineTo(7, -1);
      g.moveTo(-1, 1);
      g.lineTo(1, -1);
      g.moveTo(5, 7);
      g.lineTo(7, 5);
      g.stroke();
      p = ctx.createPattern(c, 'repeat');
      this.patterns.set(name, p);
    }
    return p;
  }

  /** The thread-state band: one fill per state (and per derived state). */
  drawStates(ctx, top, bottom) {
    const W = this.width, dpr = this.dpr;
    for (const g of this.scene.stateGroups.values()) {
      ctx.fillStyle = g.derived ? this.hatch(ctx, g.name) : stateInfo(g.name).color;
      ctx.beginPath();
      let n = 0;
      // on device pixels, touching ones joined (as slices)
      let rx0 = 0, rx1 = -Infinity, ry = NaN;
      for (const m of g.states) {
        if (m.y + STATE_H < top || m.y > bottom) continue;
        let [x0, x1] = this.extent(m);
        if (x1 < 0 || x0 > W) continue;
        const a = Math.round(Math.max(x0, -1) * dpr) / dpr;
        const b = Math.max(Math.round(Math.min(x1, W + 1) * dpr) / dpr, a + 1 / dpr);
        n++;
        if (m.y === ry && a <= rx1) {
          rx1 = Math.max(rx1, b);
          continue;
        }
        if (rx1 > -Infinity) ctx.rect(rx0, ry, rx1 - rx0, STATE_H);
        rx0 = a;
        rx1 = b;
        ry = m.y;
      }
      if (rx1 > -Infinity) ctx.rect(rx0, ry, rx1 - rx0, STATE_H);
      if (n) ctx.fill();
      this.stats.statesDrawn += n;
      if (g.derived) this.stats.derivedDrawn += n;
    }
  }

  /** The runs of user-level work items: a lane of the thread row, coloured and labelled by item. */
  drawRuns(ctx, top, bottom) {
    const W = this.width;
    const labels = [];
    for (const [style, g] of this.scene.runGroups) {
      ctx.fillStyle = style;
      ctx.beginPath();
      let n = 0;
      for (const m of g.runs) {
        if (m.y + m.h < top || m.y > bottom) continue;
        let [x0, x1] = this.extent(m);
        if (x1 < 0 || x0 > W) continue;
        x0 = Math.max(x0, -1);
        x1 = Math.min(x1, W + 1);
        const w = x1 - x0 > 4 ? x1 - x0 - 1 : x1 - x0;
        ctx.rect(x0, m.y, w, m.h);
        n++;
        if (w >= LABEL_MIN_PX && m.merged === 1) labels.push(m, x0, w);
      }
      if (n) ctx.fill();
      this.stats.runsDrawn += n;
    }
    if (labels.length) {
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'center';
      for (let i = 0; i < labels.length; i += 3) {
        const m = labels[i], x0 = Math.max(labels[i + 1], 0), x1 = Math.min(labels[i + 1] + labels[i + 2], W);
        const text = this.fitText(ctx, m.name, x1 - x0 - 6);
        if (text) ctx.fillText(text, (x0 + x1) / 2, m.y + m.h / 2 + 0.5);
      }
    }
  }

  /** Threads that recorded nothing to draw (e.g. only heap counters): say so rather than leave a blank row. */
  drawEmptyRows(ctx, top, bottom) {
    ctx.fillStyle = COLORS.empty;
    ctx.font = SMALL_FONT;
    ctx.textAlign = 'left';
    for (const r of this.layout.rows) {
      if (r.kind !== 'thread' || !r.empty || r.y + r.h < top || r.y > bottom) continue;
      ctx.fillText('no slices, states or instants on this thread', 8, r.y + r.h / 2 + 0.5);
    }
    ctx.font = FONT;
  }

  drawTasks(ctx, top, bottom) {
    const W = this.width;
    const labels = [];
    for (const [style, g] of this.scene.taskGroups) {
      ctx.fillStyle = style;
      ctx.beginPath();
      let n = 0;
      for (const k of g.tasks) {
        if (k.y + k.h < top || k.y > bottom) continue;
        let [x0, x1] = this.extent(k);
        if (x1 < 0 || x0 > W) continue;
        x0 = Math.max(x0, -1);
        x1 = Math.min(x1, W + 1);
        const w = x1 - x0 > 4 ? x1 - x0 - 1 : x1 - x0;
        ctx.rect(x0, k.y, w, k.h);
        n++;
        if (k.h >= 9 && w >= LABEL_MIN_PX && k.merged === 1) labels.push(k, x0, w);
      }
      if (n) ctx.fill();
      this.stats.tasks += n;
    }
    if (labels.length) {
      ctx.font = SMALL_FONT;
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = 'center';
      for (let i = 0; i < labels.length; i += 3) {
        const k = labels[i], x0 = Math.max(labels[i + 1], 0), x1 = Math.min(labels[i + 1] + labels[i + 2], W);
        const text = this.fitText(ctx, k.name, x1 - x0 - 6);
        if (text) ctx.fillText(text, (x0 + x1) / 2, k.y + k.h / 2 + 0.5);
      }
      ctx.font = FONT;
    }
  }

  drawCounters(ctx, top, bottom) {
    const W = this.width;
    const end = Math.min(this.scene.window.t1, this.dur);
    for (const [track, pts] of this.scene.counters) {
      const row = this.layout.byTrack.get(track);
      if (!row || row.y + row.h < top || row.y > bottom || !pts.length) continue;
      const lo = Math.min(0, row.min), hi = Math.max(row.max, lo + 1e-9);
      const base = row.y + row.h - 4, hgt = row.h - 12;
      const yOf = (v) => base - ((v - lo) / (hi - lo)) * hgt;
      const first = Math.max(0, upperBound(pts, this.view.t0) - 1);
      const c = colorOf(row.name);
      // min..max of each bucket: a pale band
      ctx.fillStyle = `hsl(${c.hue} 55% 85%)`;
      ctx.beginPath();
      const area = new Path2D();
      let x = Math.max(this.xOf(pts[first].start), -1);
      area.moveTo(x, base);
      let n = 0;
      for (let i = first; i < pts.length; i++) {
        const p = pts[i];
        const x0 = Math.max(this.xOf(p.start), -1);
        if (x0 > W + 1) break;
        const x1 = Math.min(this.xOf(i + 1 < pts.length ? pts[i + 1].start : end), W + 1);
        ctx.rect(x0, yOf(p.max), Math.max(x1 - x0, 1), Math.max(yOf(p.min) - yOf(p.max), 1));
        area.lineTo(x0, yOf(p.value));
        area.lineTo(x1, yOf(p.value));
        x = x1;
        n++;
      }
      area.lineTo(x, base);
      area.closePath();
      ctx.fill();
      ctx.fillStyle = `hsl(${c.hue} 55% 55% / 0.55)`;
      ctx.fill(area);
      ctx.strokeStyle = `hsl(${c.hue} 60% 35%)`;
      ctx.lineWidth = 1;
      ctx.stroke(area);
      this.stats.counters += n;
      // scale
      ctx.fillStyle = '#6b7280';
      ctx.font = SMALL_FONT;
      ctx.textAlign = 'left';
      ctx.fillText(`max ${row.bytes ? fmtBytes(row.max) : row.max}`, 4, row.y + 7);
      ctx.font = FONT;
    }
  }

  /** y of a flow end: the middle of the slice level it starts or ends in. */
  flowY(track, depth) {
    const row = this.layout.byTrack.get(track);
    if (!row || row.kind !== 'thread') return null;
    if (depth < 0 || depth >= row.depth) return row.instY + INSTANT_H / 2;
    return row.sliceY + depth * DEPTH_H + SLICE_H / 2;
  }

  drawFlows(ctx) {
    const W = this.width;
    const sel = this.selection && this.selection.kind === 'slice' ? this.selection : null;
    const inSel = (track, depth, t) =>
      sel && sel.track === track && sel.depth === depth && t >= sel.start && t <= sel.start + sel.dur;
    const normal = new Path2D(), heads = new Path2D(), bold = new Path2D(), boldHeads = new Path2D();
    let n = 0;
    for (const f of this.scene.flows) {
      const x0 = this.xOf(f.t0), x1 = this.xOf(f.t1);
      if ((x0 < 0 && x1 < 0) || (x0 > W && x1 > W)) continue;
      const y0 = this.flowY(f.track0, f.depth0), y1 = this.flowY(f.track1, f.depth1);
      if (y0 == null || y1 == null) continue;
      const hot = inSel(f.track0, f.depth0, f.t0) || inSel(f.track1, f.depth1, f.t1);
      const path = hot ? bold : normal;
      const dx = Math.min(Math.max(Math.abs(x1 - x0) / 2, 8), 80);
      path.moveTo(x0, y0);
      path.bezierCurveTo(x0 + dx, y0, x1 - dx, y1, x1 - 4, y1);
      const head = hot ? boldHeads : heads;
      head.moveTo(x1, y1);
      head.lineTo(x1 - 6, y1 - 3.5);
      head.lineTo(x1 - 6, y1 + 3.5);
      n++;
    }
    // the more arrows, the fainter each (hundreds would hide the slices)
    ctx.globalAlpha = n <= 60 ? 1 : Math.max(0.35, Math.sqrt(60 / n));
    ctx.lineWidth = 1;
    ctx.strokeStyle = COLORS.flow;
    ctx.fillStyle = COLORS.flow;
    ctx.stroke(normal);
    ctx.fill(heads);
    ctx.globalAlpha = 1;
    ctx.lineWidth = 2;
    ctx.strokeStyle = COLORS.flowSel;
    ctx.fillStyle = COLORS.flowSel;
    ctx.stroke(bold);
    ctx.fill(boldHeads);
    this.stats.flows = n;
  }

  /** Outline of a selected or hovered mark (which may be absent from the scene). */
  outline(ctx, m, style, width) {
    const row = this.layout.byTrack.get(m.track);
    if (!row) return;
    ctx.strokeStyle = style;
    ctx.lineWidth = width;
    if (m.kind === 'slice' || m.kind === 'task' || m.kind === 'state' || m.kind === 'sched') {
      const y = m.kind === 'slice' ? row.sliceY + m.depth * DEPTH_H : m.y;
      const h = m.kind === 'slice' ? SLICE_H : m.h;
      let [x0, x1] = this.extent(m);
      if (x1 < -10 || x0 > this.width + 10) return;
      x0 = Math.max(x0, -2);
      x1 = Math.min(x1, this.width + 2);
      ctx.strokeRect(x0 - width / 2, y - width / 2, x1 - x0 + width, h + width);
    } else if (m.kind === 'instant') {
      const x = this.xOf(m.start);
      ctx.beginPath();
      ctx.arc(x, row.instY + INSTANT_H / 2 - 1, 6, 0, 2 * Math.PI);
      ctx.stroke();
    } else if (m.kind === 'counter') {
      const x = Math.round(this.xOf(m.start)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, row.y + 2);
      ctx.lineTo(x, row.y + row.h - 2);
      ctx.stroke();
    }
  }

  /** A critical path (critical_path.js): segments { track, start, dur, state }
   * relative to the trace start, or null to remove it. */
  showPath(segs) {
    this.path = segs && segs.length ? segs : null;
    this.invalidate();
  }

  /** The path: each segment's row shaded over its time, with a bar along
   * the row's bottom coloured by what the thread was doing, and a dashed
   * line where the path moves to another thread. */
  drawPath(ctx, top, bottom) {
    const W = this.width;
    let prev = null;
    ctx.lineWidth = 1.5;
    for (const s of this.path) {
      const row = this.layout.byTrack.get(s.track);
      if (!row) { prev = null; continue; }
      const x0 = Math.max(this.xOf(s.start), -2), x1 = Math.min(this.xOf(s.start + s.dur), W + 2);
      const y = row.y + row.h - 5;
      if (x1 >= 0 && x0 <= W && row.y + row.h >= top && row.y <= bottom) {
        const w = Math.max(2, x1 - x0);
        ctx.fillStyle = PATH_COLORS.shade;
        ctx.fillRect(x0, row.y, w, row.h);
        ctx.fillStyle = PATH_COLORS[s.state.split(' ')[0]] || PATH_COLORS.other;
        ctx.fillRect(x0, y, w, 4);
      }
      if (prev && prev !== row && x0 >= 0 && x0 <= W) {
        ctx.strokeStyle = PATH_COLORS.jump;
        ctx.setLineDash([3, 2]);
        ctx.beginPath();
        ctx.moveTo(Math.round(x0) + 0.5, prev.y + prev.h - 3);
        ctx.lineTo(Math.round(x0) + 0.5, y + 2);
        ctx.stroke();
        ctx.setLineDash([]);
      }
      prev = row;
    }
    this.stats.pathDrawn = this.path.length;
  }

  drawSelection(ctx) {
    if (this.hover && this.hover !== this.selection) this.outline(ctx, this.hover, COLORS.hover, 1);
    if (this.selection) this.outline(ctx, this.selection, COLORS.select, 2);
  }

  drawOverlays(ctx, top) {
    if (this.range) {
      const x0 = this.xOf(this.range.t0), x1 = this.xOf(this.range.t1);
      ctx.fillStyle = COLORS.range;
      ctx.fillRect(x0, top, x1 - x0, this.height);
      ctx.strokeStyle = COLORS.rangeEdge;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(Math.round(x0) + 0.5, top);
      ctx.lineTo(Math.round(x0) + 0.5, top + this.height);
      ctx.moveTo(Math.round(x1) + 0.5, top);
      ctx.lineTo(Math.round(x1) + 0.5, top + this.height);
      ctx.stroke();
    }
    if (this.cursorX != null) {
      ctx.strokeStyle = COLORS.cursor;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(Math.round(this.cursorX) + 0.5, top);
      ctx.lineTo(Math.round(this.cursorX) + 0.5, top + this.height);
      ctx.stroke();
    }
  }

  drawRuler(ticks) {
    const ctx = this.rctx, W = this.width, H = 26;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#fafbfc';
    ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = '#9ca3af';
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const t of ticks.minors) {
      const x = Math.round(this.xOf(t)) + 0.5;
      ctx.moveTo(x, H - 4);
      ctx.lineTo(x, H);
    }
    for (const t of ticks.major) {
      const x = Math.round(this.xOf(t)) + 0.5;
      ctx.moveTo(x, 3);
      ctx.lineTo(x, H);
    }
    ctx.stroke();
    ctx.font = FONT;
    ctx.fillStyle = '#374151';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    for (const t of ticks.major) ctx.fillText(ticks.fmt(t), Math.round(this.xOf(t)) + 4, 10);

    // Search results (the first 1000) as marks along the bottom.
    if (this.search && this.search.marks.length) {
      ctx.fillStyle = COLORS.searchMark;
      ctx.beginPath();
      for (const t of this.search.marks) {
        const x = this.xOf(t);
        if (x >= -2 && x <= W + 2) ctx.rect(Math.round(x) - 1, H - 6, 2, 6);
      }
      ctx.fill();
    }

    // The selected range and its length.
    if (this.range) {
      const x0 = this.xOf(this.range.t0), x1 = this.xOf(this.range.t1);
      ctx.fillStyle = 'rgba(37, 99, 235, 0.18)';
      ctx.fillRect(x0, 0, x1 - x0, H);
      const label = fmtDur(this.range.t1 - this.range.t0);
      const w = ctx.measureText(label).width + 10;
      const cx = Math.min(Math.max((x0 + x1) / 2, w / 2), W - w / 2);
      ctx.fillStyle = '#1d4ed8';
      ctx.fillRect(cx - w / 2, 13, w, 13);
      ctx.fillStyle = '#fff';
      ctx.textAlign = 'center';
      ctx.fillText(label, cx, 19.5);
    }
  }

  // ---- Hit testing ----

  /** The mark under (x, y) (CSS px in the canvas, y as on screen), or null. */
  pick(x, y) {
    if (!this.scene) return null;
    const ly = y + this.els.scroller.scrollTop;
    const row = rowAt(this.layout, ly);
    if (!row) return null;
    const t = this.tAt(x);
    const tol = 3 * this.nsPerPx();
    if (row.kind === 'thread') {
      const th = this.scene.threads.get(row.track);
      if (!th) return null;
      if (row.sampleY != null && ly >= row.sampleY - 1 && ly < row.instY) {
        return this.nearest(th.samples, t, tol, false); // (a merged mark covers its bucket)
      }
      if (row.stateY != null && ly < row.instY) {
        // the band is thin: the gap below it and a pixel above count too
        return ly >= row.stateY - 1 ? this.nearest(th.states, t, tol, false) : null;
      }
      if (ly < row.instY + INSTANT_H) return this.nearest(th.instants, t, 5 * this.nsPerPx(), true);
      if (row.schedY != null && ly < row.sliceY) {
        return ly <= row.schedY + SLICE_H ? this.nearest(th.runs, t, tol, false) : null;
      }
      if (ly < row.sliceY) return null;
      const depth = Math.floor((ly - row.sliceY) / DEPTH_H);
      if (depth >= row.depth || ly - row.sliceY - depth * DEPTH_H > SLICE_H) return null;
      return this.nearest(th.depths[depth] || [], t, tol, false);
    }
    if (row.kind === 'tasks') {
      const lane = Math.floor((ly - row.laneY) / row.laneH);
      const tt = this.scene.tasks.get(row.track);
      if (!tt || lane < 0 || lane >= row.lanes) return null;
      return this.nearest(tt.lanes[lane] || [], t, tol, false);
    }
    if (row.kind === 'counter') {
      const pts = this.scene.counters.get(row.track) || [];
      const i = upperBound(pts, t) - 1;
      if (i < 0) return null;
      const p = pts[i];
      const next = i + 1 < pts.length ? pts[i + 1].start : Math.min(this.scene.window.t1, this.dur);
      if (t > next) return null;
      return { kind: 'counter', track: row.track, name: row.name, start: p.start, dur: next - p.start,
        value: p.value, min: p.min, max: p.max, bucket: this.scene.window.bucket, at: t };
    }
    return null;
  }

  /** In a start-sorted array, the mark whose drawn extent contains t (or
   * lies within tol of it, nearest first). Points (instants) by distance. */
  nearest(arr, t, tol, points) {
    let best = null, bestD = Infinity;
    const i = upperBound(arr, t + tol);
    for (let j = i - 1; j >= 0; j--) {
      const m = arr[j];
      const [x0, x1] = this.extent(m);
      const s = this.tAt(x0), e = points ? m.start : this.tAt(x1);
      const d = t < s ? s - t : t > e ? t - e : 0;
      if (d <= tol && d < bestD) {
        best = m;
        bestD = d;
        if (d === 0 && !points) break;
      }
      // marks of one depth (or lane) do not overlap: earlier ones end earlier
      if (e < t - tol) break;
    }
    return best;
  }

  /** Slices drawn now, in client coordinates (tests and debugging). */
  visibleSlices() {
    if (!this.scene) return [];
    const r = this.els.canvas.getBoundingClientRect();
    const top = this.els.scroller.scrollTop;
    const out = [];
    for (const g of this.scene.groups.values()) {
      for (const s of g.slices) {
        const [x0, x1] = this.extent(s);
        const y = s.y - top;
        if (x1 < 0 || x0 > this.width || y < 0 || y + SLICE_H > this.height) continue;
        const a = Math.max(x0, 0), b = Math.min(x1, this.width);
        out.push({ id: s.id, name: s.name, cat: s.cat, track: s.track, depth: s.depth, merged: s.merged,
          start: s.start, dur: s.dur, x: r.left + (a + b) / 2, y: r.top + y + SLICE_H / 2, w: b - a });
      }
    }
    return out;
  }

  /** States (kind "state"), work-item runs (kind "sched") or CPU samples
   * (kind "sample") drawn now, in client coordinates. */
  visibleMarks(kind) {
    if (!this.scene) return [];
    const r = this.els.canvas.getBoundingClientRect();
    const top = this.els.scroller.scrollTop;
    const out = [];
    for (const th of this.scene.threads.values()) {
      for (const m of kind === 'state' ? th.states : kind === 'sample' ? th.samples : th.runs) {
        const [x0, x1] = this.extent(m);
        const y = m.y - top;
        if (x1 < 0 || x0 > this.width || y < 0 || y + m.h > this.height) continue;
        const a = Math.max(x0, 0), b = Math.min(x1, this.width);
        out.push({ id: m.id, name: m.name, track: m.track, merged: m.merged, derived: m.derived, cpu: m.cpu,
          start: m.start, dur: m.dur, x: r.left + (a + b) / 2, y: r.top + y + m.h / 2, w: b - a });
      }
    }
    return out;
  }
}
