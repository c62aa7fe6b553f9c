// Level-of-detail loading: the UI never downloads the whole trace. After
// each view change (debounced) it asks /api/slices for the visible window
// widened by half a span each side (so a pan shows real data at once), with
// px scaled so that one bucket is one CSS pixel of the canvas. At most one
// request is in flight: changes meanwhile only remember the latest view,
// which is fetched when the answer arrives (never an aborted request).

import { api } from './api.js';
import { buildScene } from './scene.js';

const DEBOUNCE_MS = 70;
const MARGIN = 0.5;   // extra fetched on each side, as a fraction of the visible span
const MAX_PX = 20000; // the server's limit

/** An answer for rows that have changed since it was asked (live views). */
class Stale extends Error {}

export class Loader extends EventTarget {
  constructor(meta, layout) {
    super();
    this.meta = meta;
    this.layout = layout;
    this.dur = Math.max(0, meta.t1 - meta.t0);
    this.timer = 0;
    this.inflight = false;
    this.wanted = null;      // { t0, t1, width } of the latest view
    this.lastKey = '';       // the window of the last request sent
    this.lastFetchMs = 0;    // round trip of the last /api/slices (ms)
    this.lastDecodeMs = 0;
    this.requests = 0;
    this.epoch = 0;          // of the layout; an answer asked for on an older one is dropped
  }

  /** Nothing asked for and nothing in flight: the scene matches the view. */
  get idle() {
    return !this.inflight && !this.wanted;
  }

  /** The fetch window for a view (relative ns) drawn on width CSS px. */
  windowFor(view, width) {
    const span = Math.max(1, view.t1 - view.t0);
    const t0 = Math.max(0, Math.floor(view.t0 - span * MARGIN));
    const t1 = Math.min(this.dur, Math.ceil(view.t1 + span * MARGIN));
    const px = Math.min(MAX_PX, Math.max(1, Math.round((width * Math.max(t1 - t0, 1)) / span)));
    return { t0, t1: Math.max(t0, t1), px };
  }

  /** The trace grew (live; meta.t1 updated in place): the next want() fetches even an unchanged window. */
  setEnd() {
    this.dur = Math.max(0, this.meta.t1 - this.meta.t0);
    this.lastKey = '';
  }

  /**
   * New rows (a live trace gained threads, counters or tasks; track ids may
   * have changed too): the next answer is laid out on them.
   */
  setLayout(layout) {
    this.layout = layout;
    this.lastKey = '';
    this.epoch++;
  }

  /** Asks for the data of this view; immediate when `now`, else debounced. */
  want(view, width, now = false) {
    this.wanted = { t0: view.t0, t1: view.t1, width: Math.max(1, Math.round(width)) };
    clearTimeout(this.timer);
    if (now) this.flush();
    else this.timer = setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  async flush() {
    if (this.inflight || !this.wanted) return;
    const w = this.windowFor(this.wanted, this.wanted.width);
    this.wanted = null;
    const key = `${w.t0}:${w.t1}:${w.px}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.inflight = true;
    this.requests++;
    const t = performance.now();
    const epoch = this.epoch;
    try {
      const answer = await api.slices(this.meta.t0 + w.t0, this.meta.t0 + w.t1, w.px);
      this.lastFetchMs = performance.now() - t;
      if (epoch !== this.epoch) throw new Stale();
      const d = performance.now();
      const scene = buildScene(answer, this.meta, this.layout);
      this.lastDecodeMs = performance.now() - d;
      scene.fetchMs = this.lastFetchMs;
      this.dispatchEvent(new CustomEvent('scene', { detail: scene }));
    } catch (e) {
      this.lastKey = ''; // let the same window be asked again
      if (!(e instanceof Stale)) this.dispatchEvent(new CustomEvent('error', { detail: e }));
    } finally {
      this.inflight = false;
    }
    if (this.wanted) this.flush();
  }
}
