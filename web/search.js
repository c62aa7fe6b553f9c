// Search: /api/search?q= (region names containing the text), the list of
// the earliest 1000 matches, next / previous navigation. The timeline
// highlights every visible slice whose name contains the text (so merged
// marks and matches beyond the first 1000 are highlighted too).
// A trace opened through its scale index answers a part of the trace at a
// time (searched_until): the list then ends with a button that goes on from
// there, adding the next matches.

import { api } from './api.js';
import { fmtDur, fmtInt, fmtTime } from './format.js';

const LIVE_MS = 250; // typing pause before searching

export class Search {
  /**
   * els: { form, input, prev, next, count, list, total }
   * hooks: { results(answer | null), jump(result), error(err) }
   */
  constructor(els, meta, hooks) {
    this.els = els;
    this.meta = meta;
    this.hooks = hooks;
    this.answer = null;
    this.q = '';
    this.index = -1;
    this.timer = 0;
    this.seq = 0;

    els.form.addEventListener('submit', (e) => e.preventDefault());
    els.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.enter(e.shiftKey);
      } else if (e.key === 'Escape') {
        els.input.value = '';
        this.run('');
        els.input.blur();
      }
    });
    els.input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(els.input.value.trim()), LIVE_MS);
    });
    els.next.addEventListener('click', () => this.next());
    els.prev.addEventListener('click', () => this.prev());
  }

  /** Enter: search if the text changed, else go to the next (shift: previous) match. */
  async enter(back) {
    clearTimeout(this.timer);
    const q = this.els.input.value.trim();
    if (q !== this.q || !this.answer) await this.run(q);
    if (back) this.prev();
    else this.next();
  }

  /** Searches for q from the start (the text box shows q). */
  async search(q) {
    this.els.input.value = q;
    clearTimeout(this.timer);
    await this.run(q);
  }

  async run(q) {
    const seq = ++this.seq;
    this.q = q;
    this.index = -1;
    if (!q) {
      this.answer = null;
      this.render();
      this.hooks.results(null);
      return;
    }
    try {
      const answer = await api.search(q);
      if (seq !== this.seq) return;
      this.answer = answer;
    } catch (e) {
      if (seq !== this.seq) return;
      this.answer = null;
      this.hooks.error(e);
    }
    this.render();
    this.hooks.results(this.answer);
  }

  /** A scale index's answer that stopped before the trace's end. */
  hasMore() {
    const a = this.answer;
    return !!a && a.searched_until != null && a.searched_until <= this.meta.t1;
  }

  /** The next matches, from where the answer stopped (every match before it is listed). */
  async more() {
    const a = this.answer;
    if (!this.hasMore()) return;
    const seq = this.seq;
    try {
      const b = await api.search(this.q, 1000, a.searched_until);
      if (seq !== this.seq) return;
      this.answer = { ...b, results: a.results.concat(b.results), total: a.results.length + b.total };
    } catch (e) {
      if (seq !== this.seq) return;
      this.hooks.error(e);
      return;
    }
    this.render();
    this.hooks.results(this.answer);
  }

  next() { this.go(this.index + 1); }
  prev() { this.go(this.index <= 0 ? this.count() - 1 : this.index - 1); }
  count() { return this.answer ? this.answer.results.length : 0; }

  go(i) {
    const n = this.count();
    if (!n) return;
    this.index = ((i % n) + n) % n;
    this.highlightRow();
    this.hooks.jump(this.answer.results[this.index]);
  }

  render() {
    const { list, total, count, prev, next } = this.els;
    const a = this.answer;
    const n = this.count();
    prev.disabled = next.disabled = n === 0;
    if (!a) {
      count.textContent = '';
      total.textContent = '';
      list.className = 'muted';
      list.textContent = this.q ? 'Search failed.' : 'Type a region name in the search box.';
      return;
    }
    const more = this.hasMore();
    const upTo = more ? ` up to ${fmtTime(a.searched_until - this.meta.t0)}` : '';
    total.textContent = a.total > n ? `${fmtInt(a.total)}${more ? '+' : ''} (first ${fmtInt(n)} listed${upTo})`
      : `${fmtInt(a.total)}${upTo}`;
    this.updateCount();
    if (!n) {
      list.className = 'muted';
      list.textContent = more ? `No region name contains “${a.q}” up to ${fmtTime(a.searched_until - this.meta.t0)}.`
        : `No region name contains “${a.q}”.`;
      if (more) list.append(' ', this.moreButton());
      return;
    }
    list.className = '';
    const table = document.createElement('table');
    table.className = 'grid';
    table.innerHTML = '<thead><tr><th>name</th><th>thread</th><th class="num">start</th><th class="num">duration</th></tr></thead>';
    const body = document.createElement('tbody');
    a.results.forEach((r, i) => {
      const tr = document.createElement('tr');
      tr.dataset.index = String(i);
      tr.dataset.id = r.id;
      const cells = [
        [r.name, 'name'], [r.thread, ''],
        [fmtTime(r.start - this.meta.t0), 'num'], [fmtDur(r.dur), 'num'],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      tr.addEventListener('click', () => this.go(i));
      body.append(tr);
    });
    table.append(body);
    list.replaceChildren(table);
    if (this.hasMore()) list.append(this.moreButton());
  }

  moreButton() {
    const b = document.createElement('button');
    b.id = 'search-more';
    b.textContent = `Search further (from ${fmtTime(this.answer.searched_until - this.meta.t0)})`;
    b.addEventListener('click', () => this.more());
    return b;
  }

  updateCount() {
    const n = this.count();
    this.els.count.textContent = !this.answer ? '' : n === 0 ? 'no match'
      : this.index < 0 ? `${fmtInt(this.answer.total)} found` : `${this.index + 1} / ${fmtInt(n)}`;
  }

  highlightRow() {
    this.updateCount();
    const rows = this.els.list.querySelectorAll('tr.current');
    rows.forEach((r) => r.classList.remove('current'));
    const tr = this.els.list.querySelector(`tr[data-index="${this.index}"]`);
    if (tr) {
      tr.classList.add('current');
      tr.scrollIntoView({ block: 'nearest' });
    }
  }
}
