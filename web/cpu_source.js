// The CPU tab's source view: a sampled function's source lines from
// /api/source, each with its flat and cum samples, the hot lines shaded by
// their share (the hottest marked), and on demand ("assembly") its machine
// instructions under the source lines they came from, each with its
// samples (/api/source's asm=1). A source file that is not on this machine
// is said, and the sampled lines are listed by number. The function comes
// from a click on the flame graph or the bottom-up table; the samples are
// the tab's (window, thread, region).

import { fmtInt } from './format.js';
import { el, empty, section } from './analysis_ui.js';

/** Opens fn (a node or row: { name, file }) in the view; params: the tab's query. */
export function openSource(state, fn, params) {
  state.fn = { name: fn.name, file: fn.file || null };
  state.asm = false;
  load(state, params);
}

/** The tab's window, thread or region changed: the function shown is asked again for it. */
export function refreshSource(state, params) {
  if (state.fn && JSON.stringify(params) !== JSON.stringify(state.params)) load(state, params);
}

async function load(state, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') qs.set(k, String(v));
  qs.set('fn', state.fn.name);
  if (state.fn.file) qs.set('file', state.fn.file);
  if (state.asm) qs.set('asm', '1');
  const key = qs.toString();
  state.key = key;
  state.params = params;
  state.answer = null;
  state.error = null;
  if (state.box) show(state);
  let res = null, body = null, error = null;
  try {
    res = await fetch(`/api/source?${key}`, { headers: { Accept: 'application/json' } });
    body = await res.json();
  } catch (e) {
    error = `/api/source: ${e.message}`;
  }
  if (state.key !== key) return; // another function was asked for meanwhile
  if (!error && !res.ok) error = (body && body.error) || res.statusText;
  state.error = error;
  state.answer = error ? null : body;
  state.loads = (state.loads || 0) + 1;
  if (state.box) show(state);
}

/** The view's element (kept in state.box: answers arriving later fill it). */
export function sourceView(state) {
  injectStyle();
  state.box = el('div', 'cpu-src');
  show(state);
  return section('Source', state.box);
}

function show(state) {
  const box = state.box;
  box.replaceChildren();
  if (!state.fn) {
    box.append(empty('Click a box of the flame graph or a row of the table to see its source, line by line.'));
    return;
  }
  if (state.error) {
    box.append(el('p', 'warn src-error', `${state.fn.name}: ${state.error}`));
    return;
  }
  const s = state.answer;
  if (!s) {
    box.append(empty(`Loading the source of ${state.fn.name}…`));
    return;
  }
  const pct = (v) => `${((100 * v) / Math.max(1, s.samples)).toFixed(1)}%`;
  const head = el('div', 'an-seg src-head');
  head.append(el('b', 'src-fn', s.function), el('span', 'muted src-file', s.file),
    el('span', 'muted', `flat ${fmtInt(s.flat)} (${pct(s.flat)}), cum ${fmtInt(s.cum)} (${pct(s.cum)}) samples`));
  const asm = el('button', state.asm ? 'on' : '', 'assembly');
  asm.type = 'button';
  asm.dataset.asm = state.asm ? '1' : '0';
  asm.title = 'The machine instructions of the function, each with its samples, under their source lines';
  asm.addEventListener('click', () => { state.asm = !state.asm; load(state, state.params); });
  head.append(asm);
  box.append(head);
  if (s.others && s.others.length) {
    box.append(el('p', 'muted', `Also sampled under this name: ${s.others.map((o) => o.file || '?').join(', ')}`));
  }
  if (s.source_missing) {
    const p = el('p', 'warn src-missing', `The source file is not here (${s.source_missing}); the lines with samples:`);
    box.append(p);
  }
  box.append(linesTable(s));
  if (state.asm) box.append(s.asm ? asmTable(s.asm) : el('p', 'warn src-asm-error', `No assembly: ${s.asm_error || 'not sent'}`));
}

/** A colour for a share of the hottest (0..1): white to orange. */
const heat = (f) => (f > 0 ? `rgba(249, 115, 22, ${(0.12 + 0.5 * f).toFixed(3)})` : '');

function linesTable(s) {
  const t = el('table', 'grid src-lines');
  const max = Math.max(0, ...s.lines.map((l) => l.flat));
  const maxCum = Math.max(0, ...s.lines.map((l) => l.cum));
  const hot = s.lines.find((l) => (max ? l.flat === max : maxCum && l.cum === maxCum));
  const head = el('tr');
  for (const [x, c] of [['line', 'num'], ['flat', 'num'], ['cum', 'num'], ['source', '']]) head.append(el('th', c, x));
  const thead = el('thead');
  thead.append(head);
  const body = el('tbody');
  for (const l of s.lines) {
    const tr = el('tr', `src-line${l === hot ? ' hot' : ''}`);
    tr.dataset.line = String(l.line);
    tr.dataset.flat = String(l.flat);
    tr.dataset.cum = String(l.cum);
    tr.append(el('td', 'num muted', String(l.line)), el('td', 'num', l.flat ? fmtInt(l.flat) : '.'),
      el('td', 'num', l.cum ? fmtInt(l.cum) : '.'), el('td', 'src-text', l.text != null ? l.text : ''));
    tr.style.background = heat(max ? l.flat / max : maxCum ? (0.4 * l.cum) / maxCum : 0);
    body.append(tr);
  }
  t.append(thead, body);
  return t;
}

function asmTable(a) {
  const t = el('table', 'grid src-asm');
  const max = Math.max(0, ...a.instructions.map((i) => i.flat));
  const body = el('tbody');
  let last = null;
  for (const i of a.instructions) {
    const where = `${i.file || '?'}:${i.line || '?'}${i.function && i.function !== a.container ? ` (inlined ${i.function})` : ''}`;
    if (where !== last) {
      const h = el('tr', 'src-asm-line');
      const td = el('td', 'muted', where);
      td.colSpan = 4;
      h.append(td);
      body.append(h);
      last = where;
    }
    const tr = el('tr', 'src-insn');
    tr.append(el('td', 'num', i.flat ? fmtInt(i.flat) : '.'), el('td', 'num', i.cum ? fmtInt(i.cum) : '.'),
      el('td', 'muted src-addr', i.addr), el('td', 'src-text', i.text));
    tr.style.background = heat(max ? i.flat / max : 0);
    body.append(tr);
  }
  const cap = el('caption', 'muted', `${fmtInt(a.count)} instructions of ${a.container}${a.truncated ? ' (the first 20,000 shown)' : ''}`);
  t.append(cap, body);
  return t;
}

let styled = false;
function injectStyle() {
  if (styled) return;
  styled = true;
  const s = document.createElement('style');
  s.textContent = `
.src-head { flex-wrap: wrap; align-items: baseline; gap: 8px; }
.src-file { font-family: var(--mono); font-size: 11px; }
.src-lines, .src-asm { width: 100%; font-size: 11px; }
.src-lines td, .src-asm td { padding-top: 0; padding-bottom: 0; }
.src-text { font-family: var(--mono); white-space: pre; }
.src-addr { font-family: var(--mono); }
.src-line.hot td { font-weight: 700; }
.src-asm caption { text-align: left; }
.src-asm-line td { padding-top: 4px; font-family: var(--mono); }`;
  document.head.append(s);
}
