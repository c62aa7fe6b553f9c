// The header line (one entry per trace source) and the banner used for
// errors and warnings (truncated traces, dropped events, API failures).

import { fmtDur, fmtInt } from './format.js';

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

/** Fills #sources from /api/meta. */
export function renderSources(box, meta) {
  box.replaceChildren();
  for (const s of meta.sources) {
    const d = el('div', 'source');
    d.title = `${s.path} (${s.format}${s.complete ? '' : ', incomplete'})`;
    d.append(el('b', null, s.process || 'process'), el('span', 'sep', ` pid ${s.pid}`));
    d.append(el('span', 'sep', '·'), el('span', null, baseName(s.path)));
    d.append(el('span', 'sep', '·'), el('span', 'events', `${fmtInt(s.events)} events`));
    d.append(el('span', 'sep', '·'));
    d.append(el('span', s.dropped > 0 ? 'dropped' : null, `${fmtInt(s.dropped)} dropped`));
    if (s.problem) d.append(el('span', 'sep', '·'), el('span', 'problem', `⚠ ${s.problem}`));
    box.append(d);
  }
  const all = el('div', 'source');
  all.append(el('span', 'sep', `${fmtDur(meta.t1 - meta.t0)} · ${meta.tracks.length} tracks`));
  box.append(all);
}

function baseName(p) {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** Warnings worth a banner: problems of the sources, dropped events. */
export function traceWarnings(meta) {
  const w = [];
  for (const s of meta.sources) {
    if (s.problem) w.push(`${baseName(s.path)}: ${s.problem}`);
    if (s.dropped > 0) w.push(`${baseName(s.path)}: ${fmtInt(s.dropped)} events were dropped while recording (red markers on the timeline)`);
  }
  if (meta.events === 0) w.push('This trace holds no events.');
  return w;
}

export class Banner {
  constructor(box) {
    this.box = box;
    this.messages = new Map(); // key → { text, kind }
  }

  /** Shows (or replaces) the message of key; kind 'error' or 'warning'. */
  set(key, text, kind = 'error') {
    this.messages.set(key, { text, kind });
    this.render();
  }

  clear(key) {
    if (this.messages.delete(key)) this.render();
  }

  render() {
    const all = [...this.messages.values()];
    this.box.hidden = all.length === 0;
    this.box.classList.toggle('warning', all.length > 0 && all.every((m) => m.kind === 'warning'));
    this.box.textContent = all.map((m) => (m.kind === 'error' ? `Error: ${m.text}` : `⚠ ${m.text}`)).join('\n');
  }
}
