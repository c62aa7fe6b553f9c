// The CPU tab: a flame graph of the CPU samples (`ctrace run --cpu-hz N`)
// of the panel's window and thread, from /api/cpu's top-down call tree.
// The outermost frames are the top row; under each box, what it called,
// each box as wide as its share of the samples (inlined frames paler). A
// box's tooltip gives its function, file:line, samples and share; a click
// zooms into its subtree (the path to it above, each part clickable),
// "reset" goes back. The tree is fetched by the tab itself (the panel's
// /api/analysis answer does not hold it), once per window and thread, and
// kept in the tab's state; the graph is flame.js's.
// A region menu keeps only the samples taken inside regions of one name.
// Below the graph, the same samples bottom up (cpu_bottomup.js), and the
// source view (cpu_source.js) of the function last clicked, in the graph
// (which also zooms) or in the table.

import { fmtInt } from './format.js';
import { el, empty, section, split } from './analysis_ui.js';
import { ROW, crumbs, depthOf, ident, injectFlameStyle, label, layout, pathTo, zoomPath } from './flame.js';
import { bottomUpTable, injectBottomUpStyle } from './cpu_bottomup.js';
import { openSource, refreshSource, sourceView } from './cpu_source.js';

const HOW = 'Record them with `ctrace run --cpu-hz 999 -o FILE -- PROGRAM`: the samples go to FILE.kernel, which `ctrace view FILE` reads with FILE.';

function renderCpu({ a, state, query }) {
  injectFlameStyle();
  injectBottomUpStyle();
  const q = query ? { ...query() } : {};
  state.regions = regionNames(a);
  if (state.region && !state.regions.includes(state.region)) state.region = '';
  if (state.region) q.region = state.region;
  state.q = q;
  state.source = state.source || {};
  // asked again when the window, the thread or the analysed trace (a live one grows) changes
  const rest = [a && a.window ? a.window.until_ns : null, a ? a.events : null];
  state.keyOf = (qq) => JSON.stringify([qq, ...rest]);
  const key = state.keyOf(q);
  const box = el('div', 'cpu-tab');
  state.target = box;
  if (state.key === key && (state.answer || state.error)) {
    draw(box, state);
  } else {
    box.append(empty('Loading the CPU samples…'));
    if (state.key !== key) load(state, key, q);
  }
  return box;
}

async function load(state, key, q) {
  state.key = key;
  state.answer = null;
  state.error = null;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v != null && v !== '') qs.set(k, String(v));
  const t = performance.now();
  let res = null, body = null, error = null;
  try {
    res = await fetch(`/api/cpu${qs.toString() ? `?${qs}` : ''}`, { headers: { Accept: 'application/json' } });
    body = await res.json();
  } catch (e) {
    error = { status: res ? res.status : 0, message: `/api/cpu: ${e.message}` };
  }
  if (state.key !== key) return; // another window was asked for meanwhile
  if (!error && !res.ok) error = { status: res.status, message: (body && body.error) || res.statusText };
  state.error = error;
  state.answer = error ? null : body;
  const h = res && res.headers.get('Server-Timing');
  const m = h && /handler;dur=([\d.]+)/.exec(h);
  state.serverMs = m ? Number(m[1]) : null;
  state.fetchMs = performance.now() - t;
  if (state.target) draw(state.target, state);
}

function draw(box, state) {
  box.replaceChildren();
  const t = performance.now();
  if (state.error) {
    if (state.error.status === 404) {
      const p = el('p', 'muted not-in', `CPU samples: not in this trace. ${HOW}`);
      p.dataset.missing = 'cpu';
      box.append(p);
    } else {
      box.append(el('p', 'warn', `CPU profile unavailable: ${state.error.message}`));
    }
    return;
  }
  const c = state.answer;
  const secs = (c.samples * c.period_ns) / 1e9;
  const facts = el('p', 'an-facts', `${fmtInt(c.samples)} samples at ${c.hz} Hz (${secs.toFixed(2)} s of CPU)` +
    (c.partial ? `; ${fmtInt(c.partial)} (${((100 * c.partial) / Math.max(1, c.samples)).toFixed(1)}%) not unwound to their outermost frame` : '') +
    (state.serverMs != null ? ` · ${state.serverMs.toFixed(0)} ms on the server` : ''));
  if (c.problems) facts.title = c.problems;
  if (!c.samples || !c.root || !c.root.children.length) {
    box.append(section('CPU flame graph', facts, regionMenu(state, box),
      empty('No CPU sample in this window (or of this thread, or region).')));
    return;
  }
  const path = zoomPath(c.root, state.zoom || []);
  state.zoom = path.slice(1).map(ident);
  const shown = path[path.length - 1];
  const graph = el('div', 'fg');
  const boxes = [];
  layout(graph, boxes, shown, 0, 0, 1, shown.total, c.root.total);
  const rows = depthOf(boxes) + 1;
  graph.style.height = `${rows * ROW}px`;
  graph.dataset.rows = String(rows);
  graph.dataset.boxes = String(boxes.length);
  graph.addEventListener('click', (e) => {
    const b = e.target.closest('.fg-box');
    if (!b || b.dataset.index == null) return;
    const n = boxes[Number(b.dataset.index)].node;
    if (n.name === '(other)') return;
    if (n.name !== 'all') openSource(state.source, n, state.q);
    if (n !== shown) state.zoom = [...state.zoom, ...pathTo(shown, n).map(ident)];
    draw(box, state);
  });
  refreshSource(state.source, state.q);
  const table = bottomUpTable(c.root, c.samples, (r) => openSource(state.source, r, state.q));
  box.append(section('CPU flame graph', facts, regionMenu(state, box), crumbs(path, (i) => { state.zoom = state.zoom.slice(0, i); draw(box, state); }), graph,
    el('p', 'muted an-note', 'Top down: the outermost frames first, under each box what it called; width: share of the samples. Paler: inlined. Click a box to zoom into it and see its source.')),
  split(section('Bottom up', table, el('p', 'muted an-note', 'Functions by flat samples (the innermost frame); cum: on the stack. Click a row: its callers, and its source.')),
    sourceView(state.source)));
  // names where they fit, once the graph has its width
  requestAnimationFrame(() => label(graph, boxes));
  state.renderMs = performance.now() - t;
  state.drawn = boxes.length;
}

/** Names of the regions of the analysed window, most time first (at most 200). */
function regionNames(a) {
  const rs = a && Array.isArray(a.regions) ? a.regions : [];
  return [...new Set(rs.map((r) => r.name).filter(Boolean))].slice(0, 200);
}

/** The region menu: only the samples taken inside regions of that name. */
function regionMenu(state, box) {
  if (!state.regions.length) return null;
  const bar = el('label', 'an-seg cpu-region', 'Region: ');
  const sel = el('select');
  sel.id = 'cpu-region';
  sel.append(new Option('every sample', ''));
  for (const n of state.regions) sel.append(new Option(n, n));
  sel.value = state.region || '';
  sel.title = 'Only the samples taken while a region of this name was open on their thread';
  sel.addEventListener('change', () => {
    state.region = sel.value;
    const q = { ...state.q };
    delete q.region;
    if (state.region) q.region = state.region;
    state.q = q;
    box.replaceChildren(empty('Loading the CPU samples…'));
    load(state, state.keyOf(q), q);
  });
  bar.append(sel);
  return bar;
}

export const CPU_TAB = { id: 'cpu', label: 'CPU', render: renderCpu };
