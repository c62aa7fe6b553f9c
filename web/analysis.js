// The Analyses panel: /api/analysis (ctrace stats's report) of a window of
// the trace, one tab per analysis. The window is the whole trace, the
// range last selected on the timeline (shift+drag, ruler drag) or, with
// "follow the view", the visible window; the header says which, and
// "Whole trace" goes back. Requests are debounced, one at a time, and an
// answer that is no longer wanted is dropped. Tabs render from the last answer (only the
// open one is built) and keep their own state (sort, selection) across
// answers.

import { api, timings } from './api.js';
import { fmtDur, fmtInt, fmtTime } from './format.js';
import { TIME_TABS } from './analysis_time.js';
import { BLOCKING_TAB } from './analysis_blocking.js';
import { MEMORY_TABS } from './analysis_memory.js';
import { CPU_TAB } from './analysis_cpu.js';
import { COMPARE_TAB } from './analysis_compare.js';

const TABS = [COMPARE_TAB, ...TIME_TABS, BLOCKING_TAB, CPU_TAB, ...MEMORY_TABS]; // (a tab's only(meta): whether it is shown)
const DEBOUNCE_MS = 150;
const LIVE_MS = 1000; // a growing trace is analysed again at most this often
const TOP = 500; // regions asked for (the table shows "N of M")

/** Every part of the analysis, by the name /api/analysis's scale.computed
 * gives it, and what the note calls it. */
const SCALE_PARTS = [
  ['threads', 'threads\' states'], ['regions', 'regions'], ['tasks', 'tasks'],
  ['items', 'work items'], ['blocking', 'blocking'], ['syscalls', 'system calls'],
  ['profiles', 'blocking profiles'], ['mmu', 'GC-like phases'], ['heap', 'the heap'],
  ['cpu', 'CPU samples'],
];

/** The note over a tab of a trace read through its scale index: what is
 * computed for any window, and only what is not. */
export function scaleNote(computed) {
  const have = new Set(String(computed || 'regions').split(','));
  const name = (ps) => ps.map(([, n]) => n).join(', ');
  const done = SCALE_PARTS.filter(([k]) => have.has(k));
  const not = SCALE_PARTS.filter(([k]) => !have.has(k));
  return `Read through the scale index: ${name(done)} computed for any window` +
    (not.length ? `; ${name(not)} need ctrace view --index full TRACE (the whole trace in memory).`
      : '.');
}

export class Analysis {
  /**
   * els: { tabs, body, window, whole, follow, thread, status }
   * hooks: { highlight(name), focus(t0, t1) (relative ns), revealThread(pid, tid),
   *          clearRange(), error(err) }
   */
  constructor(els, meta, hooks) {
    this.els = els;
    this.meta = meta;
    this.hooks = hooks;
    this.range = null;   // { t0, t1 } relative ns, or null: the whole trace
    this.answer = null;
    this.failed = null;
    this.seq = 0;        // of the latest request; older answers are dropped
    this.loads = 0;      // answers shown (tests)
    this.serverMs = null; // handler time of the last answer
    this.renderMs = null; // time to build the open tab
    this.timer = 0;
    this.liveTimer = 0;
    this.inflight = null; // the request being answered
    this.again = false;   // the window changed since it was sent
    this.tab = sessionStorage.getItem('ctrace.analysis.tab') || 'threads';
    if (meta.compare) this.tab = 'compare';
    if (!this.shown(this.tab)) this.tab = 'threads';
    this.state = Object.fromEntries(TABS.map((t) => [t.id, {}]));
    this.buildTabs();
    this.buildThreads();
    els.whole.addEventListener('click', () => {
      els.follow.checked = false;
      this.hooks.clearRange();
      this.setRange(null);
    });
    els.follow.addEventListener('change', () => {
      if (!els.follow.checked) return;
      this.hooks.clearRange();
      this.followView(this.lastView);
    });
    els.thread.addEventListener('change', () => {
      els.thread.blur(); // the timeline's keys work again at once
      this.schedule(true);
    });
    this.showWindow();
  }

  get window() {
    const w = this.answer && this.answer.window;
    return w ? { t0: w.since_ns, t1: w.until_ns } : null;
  }

  buildTabs() {
    this.buttons = new Map();
    for (const t of TABS) {
      if (!this.shown(t.id)) continue;
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = t.label;
      b.dataset.tab = t.id;
      b.setAttribute('role', 'tab');
      b.addEventListener('click', () => this.select(t.id));
      this.buttons.set(t.id, b);
      this.els.tabs.append(b);
    }
    this.markTab();
  }

  /** The thread filter's options (names not listed yet are added at the end). */
  buildThreads() {
    const have = new Set([...this.els.thread.options].map((o) => o.value));
    const names = [...new Set(this.meta.tracks.filter((t) => t.kind === 'thread').map((t) => t.name))].sort();
    for (const n of names) {
      if (have.has(n)) continue;
      const o = document.createElement('option');
      o.value = n;
      o.textContent = n;
      this.els.thread.append(o);
    }
  }

  markTab() {
    for (const [id, b] of this.buttons) {
      b.classList.toggle('on', id === this.tab);
      b.setAttribute('aria-selected', String(id === this.tab));
    }
  }

  /** Whether the tab of this id is there for this trace. */
  shown(id) {
    const t = TABS.find((x) => x.id === id);
    return !!t && (!t.only || t.only(this.meta));
  }

  /** Opens a tab. */
  select(id) {
    if (!this.shown(id)) return;
    this.tab = id;
    sessionStorage.setItem('ctrace.analysis.tab', id);
    this.markTab();
    this.render();
  }

  /** A range selected on the timeline (relative ns), or null: the whole trace. */
  setRange(r) {
    const dur = this.meta.t1 - this.meta.t0;
    let next = null;
    if (r) {
      const t0 = Math.max(0, Math.floor(r.t0)), t1 = Math.min(dur, Math.ceil(r.t1));
      if (t1 > t0 && (t0 > 0 || t1 < dur)) next = { t0, t1 };
    }
    if (r && this.els.follow.checked && r.fromView !== true) this.els.follow.checked = false;
    if (same(next, this.range) && (this.answer || this.timer)) return;
    this.range = next;
    this.showWindow();
    this.schedule();
  }

  /** The visible window changed: followed when "follow the view" is on. */
  followView(view) {
    this.lastView = view;
    if (view && this.els.follow.checked) this.setRange({ ...view, fromView: true });
  }

  /** Asks again. */
  reload() { this.schedule(true); }

  /**
   * A live trace grew: new threads join the thread list, and the whole
   * trace is analysed again (at most once a second: a big trace takes the
   * server a while). A selected range stays as it is; "follow the view"
   * follows the view as it moves.
   */
  liveUpdate() {
    this.buildThreads();
    if (this.range) return;
    this.showWindow();
    if (this.liveTimer) return;
    this.liveTimer = setTimeout(() => {
      this.liveTimer = 0;
      if (!this.range) this.schedule(true);
    }, LIVE_MS);
  }

  schedule(now = false) {
    clearTimeout(this.timer);
    this.els.status.textContent = 'loading…';
    this.timer = setTimeout(() => { this.timer = 0; this.load(); }, now ? 0 : DEBOUNCE_MS);
  }

  /**
   * Asks for the current window. One request at a time (an analysis of a
   * big trace takes the server a while): asked again meanwhile, the answer
   * in flight is dropped and the latest window asked for once it is in.
   */
  async load() {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.inflight = this.fetch();
    try {
      await this.inflight;
    } finally {
      this.inflight = null;
    }
    if (this.again) {
      this.again = false;
      await this.load();
    }
  }

  async fetch() {
    const seq = ++this.seq;
    const r = this.range;
    const params = { top: TOP };
    if (r) {
      // integer ns: the server takes no fractions
      params.t0 = this.meta.t0 + Math.max(0, Math.floor(r.t0));
      params.t1 = this.meta.t0 + Math.max(0, Math.ceil(r.t1));
    }
    if (this.els.thread.value) params.thread = this.els.thread.value;
    try {
      const a = await api.analysis(params);
      if (seq !== this.seq || this.again) return;
      this.answer = a;
      this.answerRange = r;
      this.failed = null;
      this.loads++;
      const t = timings.byPath['/api/analysis'];
      this.serverMs = t ? t.serverMs : null;
      this.els.status.textContent = t && t.serverMs != null ? `${t.serverMs.toFixed(1)} ms` : '';
      this.els.status.title = 'time the server took for this analysis';
    } catch (e) {
      if (seq !== this.seq || this.again) return;
      this.answer = null;
      this.failed = e.message;
      this.els.status.textContent = '';
      this.hooks.error(e);
    }
    this.showWindow();
    this.render();
  }

  showWindow() {
    const r = this.range;
    const box = this.els.window;
    box.replaceChildren();
    if (!r) {
      box.textContent = `whole trace (${fmtDur(this.meta.t1 - this.meta.t0)})`;
    } else {
      box.textContent = `${fmtTime(r.t0)} – ${fmtTime(r.t1)} (${fmtDur(r.t1 - r.t0)})`;
    }
    const w = this.answer && this.answer.window;
    if (w && w.events != null && same(this.answerRange, r)) { // the answer is that of this window
      const note = document.createElement('span');
      note.className = w.dropped ? 'warn' : 'muted';
      note.textContent = ` · ${fmtInt(w.events)} events${w.dropped ? `, ${fmtInt(w.dropped)} dropped` : ''}`;
      note.title = w.dropped ? 'events were dropped in this window: the figures miss them' : 'events in the window';
      box.append(note);
    }
    box.dataset.t0 = r ? String(r.t0) : '';
    box.dataset.t1 = r ? String(r.t1) : '';
    box.title = r ? `Analyses of ${this.els.follow.checked ? 'the visible window' : 'the selected range'}; “Whole trace” goes back`
      : 'Select a range on the timeline (shift+drag, or drag on the ruler) to analyse it alone';
    this.els.whole.disabled = !r;
  }

  render() {
    const t0 = performance.now();
    const body = this.els.body;
    const tab = TABS.find((t) => t.id === this.tab);
    body.dataset.tab = tab.id;
    if (this.failed) {
      body.className = 'warn';
      body.textContent = `Analysis unavailable: ${this.failed}`;
      return;
    }
    if (!this.answer) return;
    body.className = '';
    const ctx = {
      a: this.answer, meta: this.meta, state: this.state[tab.id],
      hooks: { ...this.hooks, pprofUrl: (type) => this.pprofUrl(type) },
      query: () => this.windowParams(), // for tabs that ask the server themselves (CPU)
    };
    let node;
    try {
      node = tab.render(ctx);
    } catch (e) {
      // a malformed answer must not take the panel (or the page) down
      console.warn(`analysis tab ${tab.id}:`, e);
      body.className = 'warn';
      body.textContent = `This analysis could not be shown: ${e.message}`;
      return;
    }
    if (this.answer.scale) { // (a trace opened through its scale index: some parts only)
      const note = document.createElement('p');
      note.className = 'muted an-note scale-note';
      note.textContent = scaleNote(this.answer.scale.computed);
      const wrap = document.createElement('div');
      wrap.append(note, node);
      node = wrap;
    }
    const top = body.scrollTop;
    body.replaceChildren(node);
    body.scrollTop = top;
    this.renderMs = performance.now() - t0;
  }

  /** The window (absolute ns) and thread of the panel as query parameters. */
  windowParams() {
    const p = {};
    if (this.range) {
      p.t0 = this.meta.t0 + Math.max(0, Math.floor(this.range.t0));
      p.t1 = this.meta.t0 + Math.max(0, Math.ceil(this.range.t1));
    }
    if (this.els.thread.value) p.thread = this.els.thread.value;
    return p;
  }

  /** /api/pprof for this window (and thread). */
  pprofUrl(type) {
    return `/api/pprof?${new URLSearchParams({ type, ...this.windowParams() })}`;
  }
}

const same = (a, b) => (a === b) || (a && b && a.t0 === b.t0 && a.t1 === b.t1);
