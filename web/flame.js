// A flame graph of a top-down call tree as /api/cpu and /api/heap answer
// it ({name, file, line, inlined, total, self, children}): the outermost
// frames are the top row; under each box, what it called, each box as wide
// as its share of the shown root (inlined frames paler, "(other)" grey).
// Boxes are DOM elements laid out in percent, each with its tooltip; a
// zoom is a path of node identities from the root, kept across answers.
// The CPU tab (analysis_cpu.js) counts samples with it, the heap flame
// graph (heap_flame.js) bytes: `unit` says how a value reads.

import { fmtInt, hash32 } from './format.js';
import { el } from './analysis_ui.js';

export const ROW = 18;             // px per row of the graph
const MIN_SHARE = 1 / 4000;       // boxes narrower than this share of the shown root are not drawn
const LABEL_PX = 34;              // a name is written inside a box at least this wide

/** How values read: the CPU tab's samples (the default). */
export const SAMPLES = {
  fmt: (v) => `${fmtInt(v)} samples`,
  what: 'the samples',
  reset: 'Show every sample again',
  extra: () => '',
};

/**
 * Boxes of node n and its subtree at depth d into graph (and boxes: {el,
 * node, w, d}), x and w as shares of the shown root.
 */
export function layout(graph, boxes, n, d, x, w, shownTotal, allTotal, unit = SAMPLES) {
  const b = el('div', `fg-box${n.inlined ? ' inl' : ''}${n.name === '(other)' ? ' other' : ''}`);
  b.style.left = `${(x * 100).toFixed(4)}%`;
  b.style.width = `${(w * 100).toFixed(4)}%`;
  b.style.top = `${d * ROW}px`;
  b.style.background = colour(n);
  b.dataset.name = n.name;
  b.dataset.index = String(boxes.length);
  b.title = tooltip(n, shownTotal, allTotal, unit);
  boxes.push({ el: b, node: n, w, d });
  graph.append(b);
  let cx = x;
  for (const k of n.children || []) {
    const kw = k.total / shownTotal;
    if (kw >= MIN_SHARE) layout(graph, boxes, k, d + 1, cx, kw, shownTotal, allTotal, unit);
    cx += kw;
  }
}

/** Names inside the boxes wide enough, once the graph has its width. */
export function label(graph, boxes) {
  const px = graph.clientWidth;
  for (const b of boxes) if (b.w * px >= LABEL_PX) b.el.textContent = b.node.name;
}

export const depthOf = (boxes) => boxes.reduce((m, b) => Math.max(m, b.d), 0);

export function tooltip(n, shownTotal, allTotal, unit = SAMPLES) {
  const pct = (v, of) => `${((100 * v) / Math.max(1, of)).toFixed(2)}%`;
  const where = n.file ? `${n.file}${n.line ? `:${n.line}` : ''}` : 'source not known';
  const lines = [`${n.name}${n.inlined ? ' (inlined)' : ''}`];
  if (n.name === '(other)') lines.push(`${fmtInt(n.folded || 0)} calls, each under 0.1% of ${unit.what}`);
  else lines.push(where);
  lines.push(`${unit.fmt(n.total)}${unit.extra(n)}, ${pct(n.total, allTotal)} of all` +
    (shownTotal !== allTotal ? `, ${pct(n.total, shownTotal)} of the zoomed` : ''));
  if (n.self) lines.push(`self: ${unit.fmt(n.self)} (${pct(n.self, allTotal)})`);
  return lines.join('\n');
}

/** Warm colours by function name; inlined frames paler, folded ones grey. */
function colour(n) {
  if (n.name === '(other)') return '#d4d4d8';
  if (n.name === 'all') return '#c7d2e0';
  const h = hash32(n.name);
  const hue = 8 + (h % 48), sat = 62 + ((h >>> 8) % 25), light = 58 + ((h >>> 16) % 12);
  return `hsl(${hue} ${sat}% ${n.inlined ? light + 14 : light}%)`;
}

// ---- Zoom: a path of nodes from the root, kept as names across answers ----

export const ident = (n) => `${n.name}\u0000${n.file || ''}\u0000${n.inlined ? 1 : 0}`;

/** The nodes from root along the identities in zoom (as far as they go). */
export function zoomPath(root, zoom) {
  const path = [root];
  for (const id of zoom) {
    const next = (path[path.length - 1].children || []).find((k) => ident(k) === id);
    if (!next) break;
    path.push(next);
  }
  return path;
}

/** The nodes below from down to n (n last), or [] if n is not under from. */
export function pathTo(from, n) {
  for (const k of from.children || []) {
    if (k === n) return [k];
    const p = pathTo(k, n);
    if (p.length) return [k, ...p];
  }
  return [];
}

/** The path's bar: "reset", then each node (click: zoom there, zoomTo(i)). */
export function crumbs(path, zoomTo, unit = SAMPLES) {
  const bar = el('div', 'an-seg fg-crumbs');
  const reset = el('button', '', 'reset');
  reset.type = 'button';
  reset.title = unit.reset;
  reset.disabled = path.length === 1;
  reset.addEventListener('click', () => zoomTo(0));
  bar.append(reset);
  path.forEach((n, i) => {
    if (i) bar.append(el('span', 'muted', '›'));
    const b = el('button', i === path.length - 1 ? 'on' : '', n.name);
    b.type = 'button';
    b.title = `${tooltip(n, n.total, path[0].total, unit)}\n(click: zoom here)`;
    b.addEventListener('click', () => zoomTo(i));
    bar.append(b);
  });
  return bar;
}

let styled = false;
export function injectFlameStyle() {
  if (styled) return;
  styled = true;
  const s = document.createElement('style');
  s.textContent = `
.fg { position: relative; width: 100%; min-width: 300px; margin: 4px 0; font-size: 11px; }
.fg-box { position: absolute; height: ${ROW - 1}px; box-sizing: border-box; border-right: 1px solid rgba(255,255,255,.7);
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; line-height: ${ROW - 1}px; padding: 0 3px;
  color: #1f2328; cursor: pointer; }
.fg-box:hover { outline: 1px solid #111; z-index: 1; }
.fg-box.other { cursor: default; font-style: italic; }
.fg-crumbs { flex-wrap: wrap; }
.fg-crumbs button { max-width: 22em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }`;
  document.head.append(s);
}
