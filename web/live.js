// Live views (ctrace view --follow, ctrace run --view, --lttng-live): the
// server pushes an "update" event over /api/events (Server-Sent Events)
// each time it has rebuilt its index or the state changed; the page then
// asks /api/meta again and grows the timeline in place. If the event
// stream cannot be had (an old proxy, the server's cap on streams), it
// polls /api/meta every second instead.

import { api } from './api.js';

const POLL_MS = 1000;

export class LiveFeed {
  /**
   * meta: /api/meta as the page has it (meta.live: { state, generation, mode });
   * apply(m): called with each newer /api/meta, one at a time (may be async);
   * hooks: { error(e), ok() } about fetching it.
   */
  constructor(meta, apply, hooks) {
    this.meta = meta;
    this.apply = apply;
    this.hooks = hooks;
    this.es = null;
    this.transport = null;  // 'events' or 'polling'
    this.messages = 0;      // update events received
    this.refreshes = 0;     // /api/meta answers applied
    this.busy = false;      // a refresh in flight
    this.again = false;     // asked again meanwhile
    this.timer = 0;
    this.lastEvent = null;  // data of the last update event
  }

  get done() {
    const s = this.meta.live && this.meta.live.state;
    return s !== 'following';
  }

  start() {
    if (this.done) return;
    if (typeof EventSource !== 'function') {
      this.poll();
      return;
    }
    const es = new EventSource('/api/events');
    this.es = es;
    this.transport = 'events';
    es.addEventListener('update', (e) => {
      this.messages++;
      let d = null;
      try {
        d = JSON.parse(e.data);
      } catch {
        return;
      }
      this.lastEvent = d;
      const l = this.meta.live;
      if (d.generation !== l.generation || d.state !== l.state) this.refresh();
    });
    es.addEventListener('error', () => {
      // CONNECTING: the browser tries again by itself (the server's retry hint);
      // CLOSED: it gave up (an HTTP error such as 503): poll instead.
      if (es.readyState === EventSource.CLOSED && !this.done) {
        this.es = null;
        this.poll();
      }
    });
  }

  stop() {
    if (this.es) this.es.close();
    this.es = null;
    clearTimeout(this.timer);
  }

  poll() {
    this.transport = 'polling';
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      await this.refresh();
      if (!this.done) this.poll();
    }, POLL_MS);
  }

  /** Asks /api/meta; a newer generation or state is applied. One at a time. */
  async refresh() {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        let m;
        try {
          m = await api.meta();
          this.hooks.ok();
        } catch (e) {
          this.hooks.error(e);
          break;
        }
        if (!m.live) break;
        const l = this.meta.live;
        if (m.live.generation !== l.generation || m.live.state !== l.state || m.live.problem !== l.problem) {
          await this.apply(m);
          this.refreshes++;
        }
      } while (this.again);
    } finally {
      this.busy = false;
    }
    if (this.done) this.stop(); // (nothing will change any more)
  }
}
