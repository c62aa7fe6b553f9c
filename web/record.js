// The "record N s" control of a view attached to a running process
// (ctrace view --pid: /api/meta has "pprof"). It takes a CPU profile of the
// next N seconds through /debug/pprof/profile?seconds=N, without stopping
// the program: the samples go into the trace the timeline follows, so once
// the live index holds them the page selects that window and opens the
// Analyses panel's CPU flame graph of it; the pprof file itself is offered
// as a download ("pprof" link), for go tool pprof.

const WAIT_INDEX_MS = 5000; // at most, for the live index to hold the recording

export class RecordControl {
  /**
   * parent: the toolbar; meta: /api/meta (kept up to date by the live feed);
   * hooks: { show(t0, t1) (relative ns: select that window, open the CPU tab),
   *          error(err) }
   */
  constructor(parent, meta, hooks) {
    this.meta = meta;
    this.hooks = hooks;
    this.busy = false;
    this.last = null; // { t0, t1, samples } of the latest recording, for tests
    const box = document.createElement('span');
    box.id = 'record';
    box.title = `CPU profile of process ${meta.pprof.pid} over the next seconds, shown without stopping it`;
    this.input = Object.assign(document.createElement('input'), {
      type: 'number', id: 'record-seconds', min: '1', max: String(meta.pprof.max_seconds), step: '1', value: '5',
    });
    this.input.setAttribute('aria-label', 'seconds to record');
    this.button = Object.assign(document.createElement('button'), { type: 'button', id: 'record-btn' });
    this.status = Object.assign(document.createElement('span'), { id: 'record-status' });
    this.link = Object.assign(document.createElement('a'), { id: 'record-pprof', hidden: true, textContent: 'pprof' });
    box.append(this.button, this.input, 's', this.status, this.link);
    parent.insertBefore(box, parent.querySelector('.hint'));
    this.label();
    this.input.addEventListener('input', () => this.label());
    this.button.addEventListener('click', () => this.record());
  }

  seconds() {
    const s = Number(this.input.value);
    return Number.isFinite(s) && s > 0 ? Math.min(s, this.meta.pprof.max_seconds) : 5;
  }

  label() {
    if (!this.busy) this.button.textContent = `record ${this.seconds()} s`;
  }

  /** Records, then shows the window once the live index holds it. */
  async record() {
    if (this.busy) return;
    const s = this.seconds();
    this.busy = true;
    this.button.disabled = true;
    this.button.textContent = `recording ${s} s…`;
    this.status.textContent = '';
    this.link.hidden = true;
    const before = this.meta.cpu ? this.meta.cpu.samples : 0;
    try {
      const res = await fetch(`/debug/pprof/profile?seconds=${s}`);
      if (!res.ok) throw new Error(`${(await res.text()).trim()} (HTTP ${res.status})`);
      const blob = await res.blob();
      const [t0, t1] = (res.headers.get('X-Ctrace-Window') || '').split(' ').map(Number);
      if (!(t1 > t0)) throw new Error('the profile came without its window');
      if (this.link.href) URL.revokeObjectURL(this.link.href);
      this.link.href = URL.createObjectURL(blob);
      this.link.download = `profile-${this.meta.pprof.pid}.pb.gz`;
      this.link.hidden = false;
      await this.indexed(t1, before);
      this.last = { t0, t1, bytes: blob.size };
      this.status.textContent = `CPU ${s} s`;
      // (clamped to the trace: a program that records nothing but its
      // samples ends at its last sample)
      const m = this.meta;
      this.hooks.show(Math.max(t0, m.t0) - m.t0, Math.min(t1, m.t1) - m.t0);
    } catch (e) {
      this.status.textContent = 'failed';
      this.hooks.error(e);
    } finally {
      this.busy = false;
      this.button.disabled = false;
      this.label();
    }
  }

  /**
   * Resolves once the live index (meta, updated by the feed) holds the
   * recording: it reaches t1, or it has more samples than `before` and
   * they stopped growing (a program that records no events of its own).
   */
  indexed(t1, before) {
    const until = performance.now() + WAIT_INDEX_MS;
    let last = -1;
    return new Promise((resolve) => {
      const check = () => {
        const n = this.meta.cpu ? this.meta.cpu.samples : 0;
        const settled = n > before && n === last;
        last = n;
        if (this.meta.t1 >= t1 || settled || performance.now() > until) resolve();
        else setTimeout(check, 300);
      };
      check();
    });
  }
}
