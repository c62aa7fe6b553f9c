// The header line (one entry per trace source, with what it captured),
// the legend of the timeline's colours, and the banner used for errors and
// warnings (truncated traces, dropped events, API failures).

import { CATEGORY, STATES, fmtDur, fmtInt, sliceColor } from './format.js';

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

const isKernel = (s) => s.format === 'ctrace-kernel';

/**
 * The kernel source (`ctrace run`'s FILE.kernel) of each program source:
 * Map(program source → kernel source), by path (FILE and FILE.kernel), else
 * by pid.
 */
function kernelSources(sources) {
  const out = new Map();
  for (const k of sources.filter(isKernel)) {
    const prog = sources.find((s) => !isKernel(s) && `${s.path}.kernel` === k.path)
      || sources.find((s) => !isKernel(s) && s.pid === k.pid && !out.has(s));
    if (prog) out.set(prog, k);
  }
  return out;
}

const MODE_TEXT = {
  off: 'not recorded',
  wrappers: 'from the LD_PRELOAD wrappers',
  kernel: 'from the kernel (perf_event_open)',
};

/** "syscalls: kernel · sched: kernel · heap · locks" of a source's capture settings. */
function renderCapture(d, cap) {
  const box = el('span', 'capture');
  box.dataset.field = 'capture';
  const part = (text, on, title) => {
    const p = el('span', on ? 'mode' : 'mode off', text);
    p.title = title;
    if (box.childNodes.length) box.append(el('span', 'sep', '·'));
    box.append(p);
  };
  if (cap.syscalls === 'off' && cap.sched === 'off' && !cap.heap && !cap.locks) {
    part('program events only', false,
      'no system calls, thread states, heap or lock waits were recorded (`ctrace run -- PROG` records them)');
  } else {
    capModes(cap, part);
  }
  d.append(box);
  if (cap.note) {
    const n = el('span', 'capture-note', `⚠ ${cap.note}`);
    n.title = cap.note;
    n.dataset.field = 'capture-note';
    d.append(el('span', 'sep', '·'), n);
  }
}

function capModes(cap, part) {
  part(`syscalls: ${cap.syscalls}`, cap.syscalls !== 'off', `system calls: ${MODE_TEXT[cap.syscalls] || cap.syscalls}`);
  part(`sched: ${cap.sched}`, cap.sched !== 'off',
    `thread states: ${MODE_TEXT[cap.sched] || cap.sched}${cap.sched === 'wrappers' ? ' (derived: hatched)' : ''}`);
  part(cap.heap ? 'heap' : 'no heap', cap.heap, cap.heap ? 'malloc & co. recorded' : 'heap not recorded');
  part(cap.locks ? 'locks' : 'no locks', cap.locks, cap.locks ? 'mutex, condvar, rwlock, semaphore and join waits recorded' : 'lock waits not recorded');
}

/** Fills #sources from /api/meta. */
export function renderSources(box, meta) {
  box.replaceChildren();
  const kernels = kernelSources(meta.sources);
  const attached = new Set(kernels.values());
  for (const s of meta.sources) {
    if (attached.has(s)) continue; // shown with its program
    const d = el('div', 'source');
    const k = kernels.get(s);
    d.title = `${s.path} (${s.format}${s.complete ? '' : ', incomplete'})${k ? `\n+ ${k.path} (the kernel's events of the same run)` : ''}`;
    d.append(el('b', null, isKernel(s) ? 'kernel events' : s.process || 'process'), el('span', 'sep', ` pid ${s.pid}`));
    d.append(el('span', 'sep', '·'), el('span', null, baseName(s.path)));
    d.append(el('span', 'sep', '·'), el('span', 'events', `${fmtInt(s.events)} events`));
    if (k) {
      const ke = el('span', 'kernel', `+ kernel events (${fmtInt(k.events)})`);
      ke.title = `${k.path}: context switches and system calls recorded by the kernel during the run`;
      ke.dataset.field = 'kernel';
      d.append(el('span', 'sep', '·'), ke);
    }
    const dropped = s.dropped + (k ? k.dropped : 0);
    d.append(el('span', 'sep', '·'));
    d.append(el('span', dropped > 0 ? 'dropped' : null, `${fmtInt(dropped)} dropped`));
    if (s.problem) d.append(el('span', 'sep', '·'), el('span', 'problem', `⚠ ${s.problem}`));
    if (k && k.problem) d.append(el('span', 'sep', '·'), el('span', 'problem', `⚠ kernel: ${k.problem}`));
    box.append(d);
    if (s.capture) {
      const c = el('div', 'source');
      c.title = `what ${baseName(s.path)} recorded besides the program's own events`;
      renderCapture(c, s.capture);
      box.append(c);
    }
  }
  const all = el('div', 'source');
  const threads = meta.tracks.filter((t) => t.kind === 'thread').length;
  all.append(el('span', 'sep', `${fmtDur(meta.t1 - meta.t0)} · ${threads} thread${threads === 1 ? '' : 's'} · ${meta.tracks.length} tracks`));
  box.append(all);
}

/**
 * The legend of the state band and of the slice categories (toolbar),
 * shown when the trace has any: states, derived states (when a source's
 * scheduler data came from the wrappers), system calls, waits.
 */
export function renderLegend(box, meta) {
  box.replaceChildren();
  const threads = meta.tracks.filter((t) => t.kind === 'thread');
  const states = threads.some((t) => t.states > 0);
  const caps = meta.sources.map((s) => s.capture).filter(Boolean);
  const syscalls = caps.some((c) => c.syscalls !== 'off');
  const waits = caps.some((c) => c.locks);
  if (!states && !syscalls && !waits) {
    box.hidden = true;
    return;
  }
  const item = (label, color, title, cls = '') => {
    const i = el('span', 'item');
    const sw = el('span', `swatch ${cls}`);
    sw.style.setProperty('--c', color);
    i.append(sw, document.createTextNode(label));
    i.title = title;
    box.append(i);
  };
  if (states) {
    box.append(el('span', 'legend-head', 'state'));
    for (const s of STATES) item(s.name, s.color, `${s.name}: ${s.text}`);
    if (caps.some((c) => c.sched === 'wrappers') || threads.some((t) => t.states > 0 && !caps.length)) {
      item('derived', STATES[0].color, 'hatched: derived from the wrappers\' spans only (no scheduler data); "running" then means "not in a blocking call"', 'derived');
    }
  }
  if (syscalls || waits) {
    box.append(el('span', 'legend-head', 'slices'));
    if (syscalls) item('syscall', sliceColor('read', 'syscall').fill, 'system calls (blues to violets, dark top edge)', 'accent-syscall');
    if (waits) item('wait', sliceColor('mutex wait', 'wait').fill, 'lock and join waits (reds, dark top edge); an arrow comes from the thread that released', 'accent-wait');
  }
  box.hidden = false;
  box.style.setProperty('--acc-syscall', CATEGORY.syscall.accent);
  box.style.setProperty('--acc-wait', CATEGORY.wait.accent);
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
    if (isKernel(s) && s.dropped > 0) {
      w.push(`${baseName(s.path)}: ${fmtInt(s.dropped)} kernel events were lost (the state band and system calls may have gaps)`);
      continue;
    }
    if (s.dropped > 0) w.push(`${baseName(s.path)}: ${fmtInt(s.dropped)} events were dropped while recording (red markers on the timeline)`);
  }
  if (meta.events === 0 && !(meta.live && meta.live.state === 'following')) w.push('This trace holds no events.');
  if (meta.scale) {
    const live = meta.scale.live;
    w.push(`opened through its scale index (${meta.scale.how}): the timeline shows its threads' regions, instants, ` +
      `states (from FILE.kernel)${live ? '' : ', counters'} (and, zoomed in, arrows), ` +
      'search a part of the trace at a time; ' +
      `${live ? 'counters, ' : ''}tasks, work items and CPU samples need ctrace view --index full TRACE ` +
      '(the whole trace in memory)');
  }
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
