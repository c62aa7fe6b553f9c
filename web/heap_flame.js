// The heap flame graph (ctrace run --heap-rate): what was in use at an
// instant (a click on a heap counter) or allocated in a range (a range
// selected on the timeline), from /api/heap's call tree in bytes, drawn
// with flame.js as the CPU tab draws its samples. The details panel shows
// it (details.js). Its title says how much, in how many objects, and from
// how many samples (estimates unless every allocation was recorded); a
// box's tooltip its bytes and objects; a click zooms into it.
//
// For tests the block carries data-state ("loading", "done", "error",
// "missing": no heap samples), data-kind ("inuse", "allocated"),
// data-bytes and data-objects; its boxes data-name.

import { fmtBytes, fmtInt, fmtTime } from './format.js';
import { el } from './analysis_ui.js';
import { ROW, crumbs, depthOf, ident, injectFlameStyle, label, layout, pathTo, zoomPath } from './flame.js';

/** How values read: bytes, with the objects they are in. */
const BYTES = {
  fmt: (v) => fmtBytes(v),
  what: 'the bytes',
  reset: 'Show every allocation again',
  extra: (n) => (n.objects != null ? ` in ${fmtInt(n.objects)} object${n.objects === 1 ? '' : 's'}` : ''),
};

const HOW = 'Record them with `ctrace run --heap-rate BYTES -o FILE -- PROGRAM` (1: every allocation; default one sample every 512 KiB allocated).';

/**
 * A block that fills itself with the heap flame graph of meta's trace:
 * want { at } (in use at that instant) or { t0, t1 } (allocated in that
 * range), in ns relative to the trace's start.
 */
export function heapFlame(meta, want) {
  injectFlameStyle();
  const box = el('div', 'heap-flame');
  box.dataset.state = 'loading';
  box.append(el('p', 'muted', 'Loading the heap profile…'));
  const abs = (t) => Math.max(0, Math.round(meta.t0 + t));
  const qs = want.at != null ? `at=${abs(want.at)}` : `from=${abs(want.t0)}&to=${abs(Math.max(want.t1, want.t0 + 1))}`;
  load(box, meta, `/api/heap?${qs}`);
  return box;
}

async function load(box, meta, url) {
  let res = null, body = null;
  try {
    res = await fetch(url, { headers: { Accept: 'application/json' } });
    body = await res.json();
  } catch (e) {
    fail(box, 'error', `Heap profile unavailable: ${url}: ${e.message}`);
    return;
  }
  if (res.status === 404) fail(box, 'missing', `Heap samples: not in this trace. ${HOW}`);
  else if (!res.ok) fail(box, 'error', `Heap profile unavailable: ${(body && body.error) || res.statusText}`);
  else draw(box, meta, body, []);
}

function fail(box, state, text) {
  box.dataset.state = state;
  box.replaceChildren(el('p', state === 'missing' ? 'muted not-in' : 'warn', text));
}

/** "in use at T: X MiB in N objects (estimated from K samples)", or the range's. */
function title(meta, h) {
  const objs = `${fmtInt(h.objects)} object${h.objects === 1 ? '' : 's'}`;
  const from = `${fmtInt(h.samples)} sample${h.samples === 1 ? '' : 's'}`;
  const how = h.estimated ? `estimated from ${from}, one every ${fmtBytes(h.rate)} allocated`
    : `exact: ${from}, every allocation`;
  if (h.kind === 'inuse') return `in use at ${fmtTime(h.at - meta.t0)}: ${fmtBytes(h.bytes)} in ${objs} (${how})`;
  const w = h.window;
  return `allocated in ${fmtTime(w.since_ns)} – ${fmtTime(w.until_ns)}: ${fmtBytes(h.bytes)} in ${objs} (${how}); ` +
    `${fmtBytes(h.kept_bytes)} in ${fmtInt(h.kept_objects)} of them still in use at its end`;
}

function draw(box, meta, h, zoom) {
  box.replaceChildren();
  box.dataset.state = 'done';
  box.dataset.kind = h.kind;
  box.dataset.bytes = String(h.bytes);
  box.dataset.objects = String(h.objects);
  const head = el('p', 'heap-title', title(meta, h));
  if (h.problems) head.title = h.problems;
  box.append(head);
  if (!h.root || !h.root.children.length) {
    box.append(el('p', 'muted', h.kind === 'inuse' ? 'No sampled block was in use then.' : 'No sampled allocation in this range.'));
    return;
  }
  const path = zoomPath(h.root, zoom);
  const shown = path[path.length - 1];
  const graph = el('div', 'fg');
  const boxes = [];
  layout(graph, boxes, shown, 0, 0, 1, shown.total, h.root.total, BYTES);
  const rows = depthOf(boxes) + 1;
  graph.style.height = `${rows * ROW}px`;
  graph.dataset.boxes = String(boxes.length);
  const ids = path.slice(1).map(ident);
  graph.addEventListener('click', (e) => {
    const b = e.target.closest('.fg-box');
    if (!b || b.dataset.index == null) return;
    const n = boxes[Number(b.dataset.index)].node;
    if (n.name === '(other)' || n === shown) return;
    draw(box, meta, h, [...ids, ...pathTo(shown, n).map(ident)]);
  });
  box.append(crumbs(path, (i) => draw(box, meta, h, ids.slice(0, i)), BYTES), graph,
    el('p', 'muted an-note', 'Top down: the outermost frames first, under each box what it called; width: share of the bytes. Click a box to zoom into it.'));
  requestAnimationFrame(() => label(graph, boxes));
}

/** Whether meta's trace has heap counters (then it may have heap samples). */
export const hasHeap = (meta) => meta.tracks.some((t) => t.kind === 'counter' && /^heap /.test(t.name));
