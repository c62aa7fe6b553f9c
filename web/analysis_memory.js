// Analysis tabs about memory: GC phases (minimum mutator utilization, as
// `go tool trace` draws it) and the heap (live bytes and allocation rate
// over time, the heap counters' peaks, the regions that allocated most).

import { chart } from './chart.js';
import { SortTable } from './table.js';
import { fmtBytes, fmtDur, fmtInt, fmtTime } from './format.js';
import { el, empty, notIn, section, shareCell, split, windowNs } from './analysis_ui.js';

const pct = (v) => `${Math.round(v * 100)}%`;

// ---- GC / MMU ----

function renderGc({ a }) {
  const m = a.mmu;
  if (!m || !Array.isArray(m.curve)) {
    return notIn('mmu', 'GC phases', 'Programs mark collections and arena resets with ctrace_gc_begin / ctrace_gc_end.');
  }
  const span = windowNs(a);
  const facts = el('p', 'an-facts',
    `${fmtInt(m.phases)} GC phase${m.phases === 1 ? '' : 's'}, ${fmtDur(m.gc_ns)} in all` +
    `${span ? ` (${((100 * m.gc_ns) / span).toFixed(2)}% of the window)` : ''}, over ${fmtInt(m.threads)} thread${m.threads === 1 ? '' : 's'}.`);
  const help = el('p', 'muted an-note',
    'Minimum mutator utilization: for each window length, the smallest share of any window of that length in which the threads ran outside GC phases. 100% everywhere: the program was never stopped for long.');
  if (!m.curve.length) return section('Minimum mutator utilization', facts, empty('No curve: the window is shorter than the GC phases.'));
  const points = m.curve.map((p) => [p.window_ns, p.mmu]).filter((p) => p[0] > 0).sort((x, y) => x[0] - y[0]);
  return section('Minimum mutator utilization', facts, chart({
    kind: 'line', height: 220,
    series: [{ name: 'MMU', color: '#8a5a00', points }],
    x: { log: true, fmt: fmtDur }, y: { min: 0, max: 1, fmt: pct },
    hitFmt: (s, p) => `windows of ${fmtDur(p[0])}: at least ${(p[1] * 100).toFixed(1)}% mutator time`,
  }), help);
}

// ---- Heap ----

function renderHeap({ a, meta, hooks }) {
  const counters = Array.isArray(a.heap) && a.heap.length ? heapTable(a.heap) : null;
  const hs = a.heap_series;
  if (!hs || typeof hs !== 'object') {
    const msg = notIn('heap_series', 'Heap over time', '`ctrace run` records malloc & co.; ctrace_heap_set gives a program\'s own heap.');
    return counters ? split(msg, section('Heap counters', counters)) : msg;
  }
  // times: relative to the trace start (absolute clock times are converted)
  const since = a.window ? a.window.since_ns : 0, until = since + windowNs(a);
  const rel = (t) => (t >= meta.t0 && meta.t0 > until ? t - meta.t0 : t);
  const pts = (list) => (list || []).map(([t, v]) => [rel(t), v]);
  const live = pts(hs.live), rate = pts(hs.alloc_rate);
  const x = { fmt: fmtTime, min: since, max: until };
  const charts = [];
  charts.push(section(`Live bytes${hs.peak_bytes != null ? ` (peak ${fmtBytes(hs.peak_bytes)})` : ''}`, live.length
    ? chart({ kind: 'line', height: 150, series: [{ name: 'live', color: '#1971c2', points: live, fill: true, step: true }],
      x, y: { min: 0, fmt: fmtBytes, binary: true }, hitFmt: (s, p) => `${fmtTime(p[0])}: ${fmtBytes(p[1])} live` })
    : empty('No heap sample in this window.')));
  charts.push(section('Allocation rate', rate.length
    ? chart({ kind: 'line', height: 130, series: [{ name: 'rate', color: '#e8590c', points: rate, fill: true }],
      x, y: { min: 0, fmt: (v) => `${fmtBytes(Math.round(v))}/s`, binary: true }, hitFmt: (s, p) => `${fmtTime(p[0])}: ${fmtBytes(Math.round(p[1]))}/s` })
    : empty('No allocation in this window.')));
  const tables = [];
  const top = hs.top_allocating;
  if (Array.isArray(top)) {
    const max = Math.max(0, ...top.map((r) => r.bytes));
    tables.push(section('Regions that allocated most', top.length ? new SortTable([
      { key: 'region', label: 'region', cls: 'name' },
      { key: 'bytes', label: 'allocated', cls: 'num', text: (r) => shareCell(fmtBytes(r.bytes), r.bytes, max) },
      { key: 'samples', label: 'samples', cls: 'num', text: (r) => fmtInt(r.samples) },
    ], {
      sort: { key: 'bytes', asc: false },
      keyOf: (r) => r.region,
      rowTitle: (r) => `Highlight “${r.region}” on the timeline`,
      pick: (r) => hooks.highlight(r.region),
    }).setRows(top).el : empty('No allocation inside a region in this window.')));
  }
  if (counters) tables.push(section('Heap counters', counters));
  return split(charts, tables);
}

function heapTable(heap) {
  return new SortTable([
    { key: 'counter', label: 'counter', cls: 'name' },
    { key: 'pid', label: 'pid', cls: 'num' },
    { key: 'peak_bytes', label: 'peak', cls: 'num', text: (h) => fmtBytes(h.peak_bytes) },
    { key: 'final_bytes', label: 'at the end', cls: 'num', text: (h) => fmtBytes(h.final_bytes) },
  ], { sort: { key: 'peak_bytes', asc: false } }).setRows(heap).el;
}

export const MEMORY_TABS = [
  { id: 'gc', label: 'GC / MMU', render: renderGc },
  { id: 'heap', label: 'Heap', render: renderHeap },
];
