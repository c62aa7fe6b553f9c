// The summary table: /api/summary (regions by name over the whole trace or
// the visible window), sortable by any column; a click on a row searches
// for that name.

import { api } from './api.js';
import { fmtDur, fmtInt } from './format.js';

const COLUMNS = [
  { key: 'name', label: 'region', text: (r) => r.name, cls: 'name' },
  { key: 'count', label: 'count', text: (r) => fmtInt(r.count), cls: 'num' },
  { key: 'total_ns', label: 'total', text: (r) => fmtDur(r.total_ns), cls: 'num' },
  { key: 'self_ns', label: 'self', text: (r) => fmtDur(r.self_ns), cls: 'num' },
  { key: 'mean_ns', label: 'mean', text: (r) => fmtDur(r.mean_ns), cls: 'num' },
  { key: 'min_ns', label: 'min', text: (r) => fmtDur(r.min_ns), cls: 'num' },
  { key: 'p50_ns', label: 'p50', text: (r) => fmtDur(r.p50_ns), cls: 'num' },
  { key: 'p90_ns', label: 'p90', text: (r) => fmtDur(r.p90_ns), cls: 'num' },
  { key: 'p99_ns', label: 'p99', text: (r) => fmtDur(r.p99_ns), cls: 'num' },
  { key: 'max_ns', label: 'max', text: (r) => fmtDur(r.max_ns), cls: 'num' },
];

export class Summary {
  /** hooks: { pickName(name), error(err) } */
  constructor(box, meta, hooks) {
    this.box = box;
    this.meta = meta;
    this.hooks = hooks;
    this.rows = [];
    this.sort = { key: 'total_ns', asc: false };
    this.seq = 0;
    this.scope = null;
  }

  /** Loads the whole trace (range null) or regions starting in [t0, t1] (relative ns). */
  async load(range = null) {
    const seq = ++this.seq;
    this.scope = range;
    try {
      const a = range
        ? await api.summary(this.meta.t0 + Math.max(0, Math.floor(range.t0)), this.meta.t0 + Math.max(0, Math.ceil(range.t1)))
        : await api.summary();
      if (seq !== this.seq) return;
      this.rows = a.regions || [];
      this.render();
    } catch (e) {
      if (seq !== this.seq) return;
      this.box.className = 'warn';
      this.box.textContent = `Summary unavailable: ${e.message}`;
      this.hooks.error(e);
    }
  }

  sorted() {
    const { key, asc } = this.sort;
    const dir = asc ? 1 : -1;
    return [...this.rows].sort((a, b) => {
      const x = a[key], y = b[key];
      return (typeof x === 'string' ? x.localeCompare(y) : x - y) * dir;
    });
  }

  render() {
    if (!this.rows.length) {
      this.box.className = 'muted';
      this.box.textContent = this.scope ? 'No region starts in the visible window.' : 'This trace has no regions.';
      return;
    }
    this.box.className = '';
    const table = document.createElement('table');
    table.className = 'grid';
    const head = document.createElement('tr');
    for (const c of COLUMNS) {
      const th = document.createElement('th');
      th.textContent = c.label;
      th.className = `sortable ${c.cls === 'num' ? 'num' : ''}`;
      th.dataset.key = c.key;
      th.title = `Sort by ${c.label}`;
      if (this.sort.key === c.key) th.classList.add('sorted', ...(this.sort.asc ? ['asc'] : []));
      th.addEventListener('click', () => {
        this.sort = { key: c.key, asc: this.sort.key === c.key ? !this.sort.asc : c.key === 'name' };
        this.render();
      });
      head.append(th);
    }
    const thead = document.createElement('thead');
    thead.append(head);
    const body = document.createElement('tbody');
    for (const r of this.sorted()) {
      const tr = document.createElement('tr');
      tr.title = `Search for “${r.name}”`;
      for (const c of COLUMNS) {
        const td = document.createElement('td');
        td.textContent = c.text(r);
        td.className = c.cls;
        tr.append(td);
      }
      tr.addEventListener('click', () => this.hooks.pickName(r.name));
      body.append(tr);
    }
    table.append(thead, body);
    this.box.replaceChildren(table);
  }
}
