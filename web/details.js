// The details panel: what was clicked (a slice, a system call, a wait, a
// thread state, a work item's run, a CPU sample, an instant, log, task,
// counter point, or a time range). Marks with an id are described by /api/slice?id=; counter
// points and ranges from what the view holds. A heap counter's point shows
// what was in use at the time clicked, a range offers what was allocated
// in it (heap_flame.js). Fields carry data-field (and data-ns for times)
// for tests.

import { api } from './api.js';
import { criticalPath } from './critical_path.js';
import { sampleStack, sliceCpu } from './details_cpu.js';
import { hasHeap, heapFlame } from './heap_flame.js';
import { CATEGORY, fmtBytes, fmtDur, fmtInt, fmtTime, sliceColor, stateInfo } from './format.js';

function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

export class Details {
  /** hooks: { select(id) } — e.g. to follow a parent link; showPath(segments | null): draw a critical path. */
  constructor(box, meta, hooks) {
    this.box = box;
    this.meta = meta;
    this.hooks = hooks;
    this.token = 0;
  }

  clear() {
    this.token++;
    this.box.className = 'muted';
    this.box.textContent = 'Click a slice, a thread state, an instant, a task or a counter.';
  }

  /** A list of rows: add(label, value, field, ns). */
  list() {
    const dl = node('dl', 'kv');
    const add = (label, value, field, ns) => {
      if (value == null || value === '') return null;
      const dd = node('dd');
      if (value instanceof Node) dd.append(value);
      else dd.textContent = String(value);
      if (field) dd.dataset.field = field;
      if (ns != null) dd.dataset.ns = String(ns);
      dl.append(node('dt', null, label), dd);
      return dd;
    };
    return { dl, add };
  }

  title(name, kind, cat, derived) {
    const t = node('span');
    const sw = node('span', `swatch${derived ? ' derived' : ''}`);
    sw.style.setProperty('--c', kind === 'state' ? stateInfo(name).color : sliceColor(name, cat).fill);
    t.append(sw, document.createTextNode(name));
    t.title = kind;
    return t;
  }

  /** The start relative to the trace and in absolute clock ns. */
  when(abs) {
    const rel = abs - this.meta.t0;
    const s = node('span');
    s.append(document.createTextNode(`${fmtTime(rel)} `), node('span', 'muted mono', `(${fmtInt(abs)} ns)`));
    return s;
  }

  /** A mark from the timeline or a search result. */
  async show(mark) {
    const token = ++this.token;
    if (mark.kind === 'counter') return this.showCounter(mark);
    this.box.className = '';
    this.box.textContent = '';
    this.box.append(node('div', 'muted', `${mark.name} — loading…`));
    let d;
    try {
      d = await api.slice(mark.id);
    } catch (e) {
      if (token !== this.token) return;
      this.box.textContent = '';
      this.box.append(node('div', 'warn', `Cannot describe ${mark.id}: ${e.message}`));
      return;
    }
    if (token !== this.token) return; // another selection meanwhile
    this.render(d, mark);
  }

  render(d, mark) {
    const { dl, add } = this.list();
    this.box.textContent = '';
    this.box.dataset.id = d.id;
    const args = d.args || {};
    const derived = d.kind === 'state' && /wrappers/.test(args.from || '');
    add('name', this.title(d.name, d.kind, d.cat, derived), 'name').classList.add('title');
    add('kind', d.cat && d.cat !== d.kind ? `${d.kind} (${d.cat})` : d.kind, 'kind');
    if (d.kind === 'state') {
      add('meaning', derived && d.name === 'running' ? 'not in a blocking call (no scheduler data)' : stateInfo(d.name).text, 'meaning');
    } else if (d.kind === 'sched') {
      add('meaning', 'a user-level work item running on this thread', 'meaning');
    } else if (d.kind === 'sample') {
      add('meaning', `where the thread was when it had used ${fmtDur(d.period_ns)} more CPU (ctrace run --cpu-hz)`, 'meaning');
    } else if (CATEGORY[d.cat]) {
      add('category', CATEGORY[d.cat].label, 'category');
    }
    add('start', this.when(d.start), 'start', d.start - this.meta.t0);
    if (d.kind !== 'instant' && d.kind !== 'log' && d.kind !== 'sample') {
      add('duration', `${fmtDur(d.dur)}${d.unfinished ? ' (unfinished: never ended)' : ''}`, 'dur', d.dur);
    }
    if (d.self != null) add('self time', `${fmtDur(d.self)}  (${d.children} child${d.children === 1 ? '' : 'ren'})`, 'self', d.self);
    if (d.kind === 'task') {
      add('began on', d.thread, 'thread');
      add('ended on', d.end_thread || (d.unfinished ? '—' : d.thread), 'end_thread');
      add('task id', d.task, 'task');
      if (d.parent_task) add('parent task', d.parent_task, 'parent_task');
      add('lane', d.lane, 'lane');
    } else {
      add('thread', `${d.thread}  (tid ${d.tid}, pid ${d.pid})`, 'thread');
    }
    if (d.depth != null) add('depth', d.depth, 'depth');
    if (d.parent) {
      const a = node('button', 'link', d.parent_name || d.parent);
      a.type = 'button';
      a.addEventListener('click', () => this.hooks.select(d.parent));
      add('parent', a, 'parent');
    }
    const site = d.site ? `${d.site.file}:${d.site.line}${d.site.func ? ` (${d.site.func})` : ''}` : '—';
    if (d.site || (d.kind === 'slice' && !CATEGORY[d.cat])) add('call site', site, 'site').classList.add('mono');
    if (d.task && typeof d.task === 'object') add('task', `${d.task.name || 'task'} (id ${d.task.id})`, 'task');
    if (args.message != null) add('message', args.message, 'message');
    if (args.dropped != null) add('dropped', `${fmtInt(args.dropped)} events`, 'dropped').classList.add('warn');
    const shown = new Set(['message', 'dropped']);
    // A thread state: its CPU and where it comes from.
    if (d.kind === 'state') {
      if (args.cpu != null) add('CPU', args.cpu, 'cpu');
      add('from', args.from, 'from');
      shown.add('cpu').add('from');
    }
    // A system call: name, number, argument and result.
    if (args.syscall != null) {
      add('system call', `${args.syscall}${args.nr != null ? `  (nr ${args.nr})` : ''}`, 'syscall').classList.add('mono');
      if (args.arg != null) add('first argument', `${args.arg}${Math.abs(args.arg) >= 4096 ? ` (0x${BigInt.asUintN(64, BigInt(Math.trunc(args.arg))).toString(16)})` : ''}`, 'arg').classList.add('mono');
      if (args.error != null) add('result', `error ${args.error}`, 'error').classList.add('warn');
      else if (args.return != null) add('result', `returned ${args.return}${args.return >= 1024 && /^(read|write|pread64|pwrite64|recvfrom|sendto|readv|writev)$/.test(args.syscall) ? ` (${fmtBytes(args.return)})` : ''}`, 'return');
      if (args['recorded by'] != null) add('recorded by', args['recorded by'] === 'kernel' ? 'the kernel (raw_syscalls)' : 'the LD_PRELOAD wrapper', 'recorded_by');
      ['syscall', 'nr', 'arg', 'error', 'return', 'recorded by'].forEach((k) => shown.add(k));
    }
    // A wait: the object and who released it (the arrow comes from there).
    if (args['released by'] != null || (d.cat === 'wait' && args.object != null)) {
      if (args.object != null) add('object', args.object, 'object').classList.add('mono');
      const by = args['released by'];
      add('released by', by == null ? '—'
        : `${by}${args['released by tid'] != null ? `  (tid ${args['released by tid']})` : ''}`, 'released_by');
      ['object', 'released by', 'released by tid'].forEach((k) => shown.add(k));
    }
    const rest = Object.entries(args).filter(([k]) => !shown.has(k));
    if (rest.length) {
      const inner = this.list();
      for (const [k, v] of rest) inner.add(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
      add('args', inner.dl, 'args');
    } else if (!CATEGORY[d.cat] && d.kind !== 'state' && d.kind !== 'sched' && d.kind !== 'sample') {
      add('args', '{}', 'args').classList.add('muted');
    }
    add('id', d.id, 'id').classList.add('mono', 'muted');
    this.box.append(dl);
    if (d.kind === 'sample') this.box.append(sampleStack(d));
    if (d.cpu) this.box.append(sliceCpu(d));
    if ((d.kind === 'slice' || d.kind === 'task') && this.hooks.showPath) this.box.append(criticalPath(this.meta, d.id, this.hooks));
    if (mark && mark.merged > 1) {
      const what = { state: 'states', sched: 'runs', sample: 'samples' }[mark.kind] || 'slices';
      const which = mark.kind === 'sample' ? 'first' : 'longest';
      this.box.append(node('p', 'note',
        `At this zoom level the mark stands for ${fmtInt(mark.merged)} ${what}; this is the ${which} of them. Zoom in to see them all.`));
    }
  }

  showCounter(m) {
    const { dl, add } = this.list();
    this.box.className = '';
    this.box.textContent = '';
    delete this.box.dataset.id;
    add('name', this.title(m.name, 'counter'), 'name').classList.add('title');
    add('kind', 'counter', 'kind');
    add('at', this.when(this.meta.t0 + m.start), 'start', m.start);
    const bytes = / bytes\b/.test(m.name);
    add('value', bytes ? `${fmtBytes(m.value)}  (${fmtInt(m.value)} bytes)` : m.value, 'value');
    if (m.min !== m.max) add('min … max', bytes ? `${fmtBytes(m.min)} … ${fmtBytes(m.max)}` : `${m.min} … ${m.max}`, 'range');
    add('until next point', fmtDur(m.dur), 'dur', m.dur);
    this.box.append(dl);
    if (m.min !== m.max) {
      this.box.append(node('p', 'note',
        `At this zoom level one point covers ${fmtDur(m.bucket)}: the value is the last in it, min and max its extremes. Zoom in for every sample.`));
    }
    if (/^heap /.test(m.name)) this.box.append(heapFlame(this.meta, { at: m.at != null ? m.at : m.start }));
  }

  showRange(r) {
    this.token++;
    const { dl, add } = this.list();
    this.box.className = '';
    this.box.textContent = '';
    delete this.box.dataset.id;
    add('range', fmtDur(r.t1 - r.t0), 'dur', r.t1 - r.t0).classList.add('title');
    add('from', this.when(this.meta.t0 + Math.round(r.t0)), 'start', r.t0);
    add('to', this.when(this.meta.t0 + Math.round(r.t1)), 'end', r.t1);
    this.box.append(dl, node('p', 'muted', 'Press Z (or “Zoom to selection”) to zoom to this range; Esc clears it.'));
    if (hasHeap(this.meta)) {
      const b = node('button', 'heap-range', 'allocated in this range');
      b.type = 'button';
      b.title = 'The heap flame graph of what was allocated in this range (ctrace run --heap-rate)';
      b.addEventListener('click', () => b.replaceWith(heapFlame(this.meta, { t0: r.t0, t1: r.t1 })));
      this.box.append(b);
    }
  }
}
