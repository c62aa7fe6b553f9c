// The Blocking tab: the four blocking profiles (sync, syscall, sched, io:
// the call stacks that waited most, each with a pprof download), waits by
// kind and object, and system calls.

import { SortTable } from './table.js';
import { fmtDur, fmtInt } from './format.js';
import { durCol, el, empty, notIn, section, shareCell, split } from './analysis_ui.js';

const PROFILES = [
  { type: 'sync', label: 'sync', title: 'Blocked on mutexes, condvars, rwlocks, semaphores, joins' },
  { type: 'syscall', label: 'syscall', title: 'Blocked in system calls' },
  { type: 'sched', label: 'sched', title: 'Runnable: waiting for a CPU' },
  { type: 'io', label: 'io', title: 'Blocked in I/O system calls (read, write, poll...)' },
];

function renderBlocking({ a, hooks, state }) {
  return split(profiles(a, hooks, state), [waits(a, hooks, state), syscalls(a, hooks, state)]);
}

function profiles(a, hooks, state) {
  const p = a.profiles;
  if (!p || typeof p !== 'object') {
    return section('Blocking profiles', notIn('profiles', 'Blocking profiles (call sites that waited)'));
  }
  const type = state.profile || PROFILES.find((x) => (p[x.type] || []).length)?.type || 'sync';
  const bar = el('div', 'an-seg');
  bar.setAttribute('role', 'tablist');
  for (const x of PROFILES) {
    const b = el('button', x.type === type ? 'on' : '', `${x.label} (${fmtInt((p[x.type] || []).length)})`);
    b.type = 'button';
    b.title = x.title;
    b.dataset.profile = x.type;
    b.setAttribute('role', 'tab');
    b.setAttribute('aria-selected', String(x.type === type));
    b.addEventListener('click', () => {
      state.profile = x.type;
      box.replaceWith(profiles(a, hooks, state));
    });
    bar.append(b);
  }
  const dl = el('a', 'link an-download', 'download pprof');
  dl.href = hooks.pprofUrl(type);
  dl.download = `ctrace-${type}.pb.gz`;
  dl.title = `The ${type} profile of this window for go tool pprof (.pb.gz)`;
  bar.append(dl);
  const rows = p[type] || [];
  const max = Math.max(0, ...rows.map((r) => r.total_ns));
  const table = new SortTable([
    { key: 'total_ns', label: 'total', cls: 'num', text: (r) => shareCell(fmtDur(r.total_ns), r.total_ns, max) },
    { key: 'count', label: 'count', cls: 'num', text: (r) => fmtInt(r.count) },
    { key: 'leaf', label: 'stack (innermost first)', cls: 'stack', value: (r) => leaf(r), text: stackCell },
  ], {
    sort: { key: 'total_ns', asc: false },
    keyOf: (r) => (r.stack || []).join('\u0000'),
    rowTitle: (r) => `${(r.stack || []).join('\n  → ')}\n(click: highlight “${leaf(r)}” on the timeline)`,
    pick: (r) => hooks.highlight(leaf(r)),
  }).setRows(rows);
  const box = section(`Blocking profiles: ${PROFILES.find((x) => x.type === type).title.toLowerCase()}`,
    bar, rows.length ? table.el : empty(`No ${type} blocking in this window.`));
  box.dataset.profile = type;
  return box;
}

const leaf = (r) => (r.stack && r.stack.length ? r.stack[r.stack.length - 1] : '');

/** "mutex wait ← inner ← outer ← thread T": the innermost frame first, in bold. */
function stackCell(r) {
  const s = r.stack || [];
  const span = el('span');
  span.append(el('b', null, leaf(r)));
  for (let i = s.length - 2; i >= 0; i--) span.append(el('span', 'muted', ' ← '), document.createTextNode(s[i]));
  return span;
}

function waits(a, hooks, state) {
  const list = a.blocking && Array.isArray(a.blocking.waits) ? a.blocking.waits : null;
  if (!list) return section('Waits by object', notIn('blocking', 'Lock waits'));
  if (!list.length) return section('Waits by object', empty('No lock wait in this window.'));
  const max = Math.max(...list.map((w) => w.total_ns));
  const table = new SortTable([
    { key: 'name', label: 'wait', cls: 'name' },
    { key: 'object', label: 'object', cls: 'mono', text: (w) => (w.object && w.object !== '0x0' ? w.object : '—') },
    { key: 'count', label: 'count', cls: 'num', text: (w) => fmtInt(w.count) },
    { key: 'total_ns', label: 'total', cls: 'num', text: (w) => shareCell(fmtDur(w.total_ns), w.total_ns, max) },
    durCol('max_ns', 'max'),
  ], {
    sort: state.waitSort || { key: 'total_ns', asc: false },
    onSort: (s) => { state.waitSort = s; },
    keyOf: (w) => `${w.name}\u0000${w.object}`,
    rowTitle: (w) => `Highlight “${w.name}” on the timeline`,
    pick: (w) => hooks.highlight(w.name),
  }).setRows(list);
  const more = a.blocking.total > list.length ? el('p', 'muted an-note', `${fmtInt(list.length)} of ${fmtInt(a.blocking.total)} listed.`) : null;
  return section('Waits by object', table.el, more);
}

function syscalls(a, hooks, state) {
  if (!Array.isArray(a.syscalls)) return section('System calls', notIn('syscalls', 'System calls'));
  if (!a.syscalls.length) return section('System calls', empty('No system call recorded in this window.'));
  const max = Math.max(...a.syscalls.map((s) => s.total_ns));
  const table = new SortTable([
    { key: 'name', label: 'call', cls: 'name' },
    { key: 'calls', label: 'calls', cls: 'num', text: (s) => fmtInt(s.calls) },
    { key: 'errors', label: 'errors', cls: 'num', text: (s) => fmtInt(s.errors) },
    { key: 'total_ns', label: 'total', cls: 'num', text: (s) => shareCell(fmtDur(s.total_ns), s.total_ns, max) },
    durCol('max_ns', 'max'),
  ], {
    sort: state.sysSort || { key: 'total_ns', asc: false },
    onSort: (s) => { state.sysSort = s; },
    keyOf: (s) => s.name,
    rowTitle: (s) => `Highlight “${s.name}” calls on the timeline`,
    pick: (s) => hooks.highlight(s.name),
  }).setRows(a.syscalls);
  return section('System calls', table.el);
}

export const BLOCKING_TAB = { id: 'blocking', label: 'Blocking', render: renderBlocking };
