// Pieces shared by the analysis tabs: elements, sections, the "not in this
// trace" message, thread-state parts and their legend, share bars.

import { fmtDur, stateInfo } from './format.js';

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** A titled block of a tab: <section class="an-sec"><h3>title</h3>…children</section>. */
export function section(title, ...children) {
  const s = el('section', 'an-sec');
  if (title) s.append(el('h3', null, title));
  s.append(...children.filter(Boolean));
  return s;
}

/** Two scrolling columns side by side. */
export function split(left, right) {
  const d = el('div', 'an-split');
  const a = el('div', 'an-col'), b = el('div', 'an-col');
  a.append(...[left].flat().filter(Boolean));
  b.append(...[right].flat().filter(Boolean));
  d.append(a, b);
  return d;
}

/** What a tab shows when the server's answer lacks its field (older server, or nothing recorded). */
export function notIn(field, what, how) {
  const p = el('p', 'muted not-in');
  p.dataset.missing = field;
  p.textContent = `${what}: not in this trace.${how ? ` ${how}` : ''}`;
  return p;
}

export function empty(text) {
  return el('p', 'muted an-empty', text);
}

/** Thread states as the analysis JSON names them (threads[], by_state{}), in the band's colours. */
export const STATE_KEYS = [
  { key: 'running_ns', state: 'running', label: 'running' },
  { key: 'runnable_ns', state: 'runnable', label: 'runnable' },
  { key: 'syscalls_ns', state: 'syscall', label: 'system calls' },
  { key: 'locks_ns', state: 'lock', label: 'locks' },
  { key: 'sleeping_ns', state: 'sleeping', label: 'sleeping' },
  { key: 'offcpu_ns', state: 'blocked', label: 'off CPU' },
  { key: 'unknown_ns', state: '?', label: 'unknown' },
];

/** The stacked-bar parts of an object with STATE_KEYS fields. */
export function stateParts(o) {
  return STATE_KEYS.filter((s) => o[s.key] != null)
    .map((s) => ({ name: s.label, value: o[s.key], color: stateInfo(s.state).color }));
}

/** A legend of the states present in objs (or all). */
export function stateLegend(objs) {
  const box = el('div', 'an-legend');
  for (const s of STATE_KEYS) {
    if (objs && !objs.some((o) => o && o[s.key] > 0)) continue;
    const item = el('span', 'item');
    const sw = el('span', 'swatch');
    sw.style.setProperty('--c', stateInfo(s.state).color);
    item.append(sw, document.createTextNode(s.label));
    item.title = stateInfo(s.state).text;
    box.append(item);
  }
  return box;
}

/** A legend of named colours: [[label, colour], ...]. */
export function legend(items) {
  const box = el('div', 'an-legend');
  for (const [label, color] of items) {
    const item = el('span', 'item');
    const sw = el('span', 'swatch');
    sw.style.setProperty('--c', color);
    item.append(sw, document.createTextNode(label));
    box.append(item);
  }
  return box;
}

/** A cell with a bar behind the text: value as a share of max. */
export function shareCell(text, value, max) {
  const s = el('span', 'share', text);
  const pct = max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0;
  s.style.setProperty('--pct', `${pct.toFixed(1)}%`);
  return s;
}

/** Duration columns for SortTable: [key, label] → column. */
export const durCol = (key, label, title) => ({ key, label, cls: 'num', title, text: (r) => fmtDur(r[key]) });

/** The window's length in ns (from the answer). */
export function windowNs(a) {
  const w = a.window || {};
  return Math.max(0, (w.until_ns ?? a.span_ns ?? 0) - (w.since_ns ?? 0));
}
