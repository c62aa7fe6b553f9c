// Analysis tabs about where time went: threads (time by state), regions
// (latency table, histogram, by-state bar), tasks and work items. Each tab
// is { id, label, render(ctx) → Node } with ctx = { a: the /api/analysis
// answer, meta, state: the tab's own object (kept across answers), hooks }.

import { chart } from './chart.js';
import { SortTable } from './table.js';
import { colorOf, fmtDur, fmtInt, fmtTime, stateInfo } from './format.js';
import {
  durCol, el, empty, legend, notIn, section, shareCell, split, stateLegend, stateParts, windowNs,
} from './analysis_ui.js';

const STACK_MAX_ROWS = 40; // bars drawn per stacked chart (the largest)

// ---- Threads ----

function renderThreads({ a, hooks, state }) {
  const threads = a.threads || [];
  if (!threads.length) return empty('No thread in this window.');
  const withStates = threads.filter((t) => t.has_states);
  const span = windowNs(a);
  const table = new SortTable([
    { key: 'name', label: 'thread', cls: 'name' },
    { key: 'tid', label: 'tid', cls: 'num' },
    durCol('running_ns', 'running'),
    durCol('runnable_ns', 'runnable', 'Preempted, waiting for a CPU'),
    durCol('syscalls_ns', 'syscalls', 'Blocked in system calls'),
    durCol('locks_ns', 'locks', 'Blocked on mutexes, condvars, rwlocks, semaphores, joins'),
    durCol('sleeping_ns', 'sleeping'),
    durCol('offcpu_ns', 'off CPU', 'Off CPU, reason unknown'),
    { key: 'regions', label: 'regions', cls: 'num', text: (r) => fmtInt(r.regions) },
  ], {
    sort: state.sort || { key: 'running_ns', asc: false },
    onSort: (s) => { state.sort = s; },
    keyOf: (r) => `${r.pid}.${r.tid}`,
    rowTitle: () => 'Show this thread on the timeline',
    pick: (r) => hooks.revealThread(r.pid, r.tid),
  }).setRows(threads);
  let right;
  if (!withStates.length) {
    right = notIn('threads.states', 'Thread states',
      a.scheduling === 'none' || !a.scheduling ? 'Record with `ctrace run` for when each thread ran.' : '');
  } else {
    const rows = [...withStates]
      .sort((x, y) => busy(y) - busy(x))
      .slice(0, STACK_MAX_ROWS)
      .map((t) => ({ label: t.name, parts: stateParts(t) }));
    right = section(`Time by state${a.scheduling === 'wrappers' ? ' (derived from the wrappers)' : ''}`,
      stateLegend(withStates),
      chart({ kind: 'stack', rows, fmt: fmtDur, scale: Math.max(span, ...rows.map(sum)) }));
  }
  return split(table.el, right);
}

const busy = (t) => t.running_ns + t.runnable_ns;
const sum = (r) => r.parts.reduce((s, p) => s + p.value, 0);

// ---- Regions ----

function renderRegions({ a, hooks, state }) {
  const regions = a.regions || [];
  if (!regions.length) return empty('No region in this window.');
  const maxTotal = Math.max(...regions.map((r) => r.total_ns));
  const detail = el('div', 'an-detail');
  const show = (r) => detail.replaceChildren(regionDetail(r));
  const table = new SortTable([
    { key: 'name', label: 'region', cls: 'name' },
    { key: 'count', label: 'count', cls: 'num', text: (r) => fmtInt(r.count) },
    { key: 'total_ns', label: 'total', cls: 'num', text: (r) => shareCell(fmtDur(r.total_ns), r.total_ns, maxTotal) },
    durCol('self_ns', 'self', 'Total minus the time in nested regions, system calls and waits'),
    durCol('mean_ns', 'mean'),
    durCol('min_ns', 'min'),
    durCol('p50_ns', 'p50'),
    durCol('p90_ns', 'p90'),
    durCol('p99_ns', 'p99'),
    durCol('max_ns', 'max'),
  ], {
    sort: state.sort || { key: 'total_ns', asc: false },
    onSort: (s) => { state.sort = s; },
    keyOf: (r) => r.name,
    rowTitle: (r) => `Highlight “${r.name}” on the timeline`,
    pick: (r) => {
      state.selected = r.name;
      show(r);
      hooks.highlight(r.name);
    },
  });
  table.current = state.selected;
  table.setRows(regions);
  show(regions.find((r) => r.name === state.selected) || regions[0]);
  const note = a.regions_total > regions.length
    ? el('p', 'muted an-note', `The ${fmtInt(regions.length)} regions of most total time shown, of ${fmtInt(a.regions_total)}.`) : null;
  return split([table.el, note], detail);
}

function regionDetail(r) {
  const box = el('div');
  const title = el('h3', 'an-title');
  const sw = el('span', 'swatch');
  sw.style.setProperty('--c', colorOf(r.name).fill);
  title.append(sw, document.createTextNode(r.name));
  title.dataset.region = r.name;
  box.append(title, el('p', 'muted an-facts',
    `${fmtInt(r.count)} × · total ${fmtDur(r.total_ns)} · p50 ${fmtDur(r.p50_ns)} · p90 ${fmtDur(r.p90_ns)} · p99 ${fmtDur(r.p99_ns)} · max ${fmtDur(r.max_ns)}`));
  if (Array.isArray(r.hist) && r.hist.length) {
    box.append(section('Latency (log2 buckets)', chart({
      kind: 'hist', height: 150, bins: r.hist.map((b) => ({ lo: b.lo_ns, hi: b.hi_ns, count: b.count })),
      color: colorOf(r.name).fill, fmtX: fmtDur, fmtY: fmtInt,
      markers: [{ value: r.p50_ns, label: 'p50' }, { value: r.p90_ns, label: 'p90' }, { value: r.p99_ns, label: 'p99' }],
    })));
  } else {
    box.append(notIn('regions.hist', 'Latency histogram'));
  }
  if (r.by_state && typeof r.by_state === 'object') {
    box.append(section('Where its time went', stateLegend([r.by_state]),
      chart({ kind: 'stack', rows: [{ label: 'time', parts: stateParts(r.by_state) }], fmt: fmtDur, rowH: 22 })));
  } else {
    box.append(notIn('regions.by_state', 'Time by thread state', 'It needs thread states (`ctrace run`).'));
  }
  return box;
}

// ---- Tasks ----

function renderTasks({ a, hooks, state }) {
  const t = a.tasks;
  if (!t || !Array.isArray(t.by_name)) return notIn('tasks', 'Tasks', 'Programs mark them with ctrace_task_begin / ctrace_task_end.');
  if (!t.by_name.length) return empty('No task in this window.');
  const longest = t.longest || [];
  const logs = el('div', 'an-detail');
  const byName = new SortTable([
    { key: 'name', label: 'task', cls: 'name' },
    { key: 'count', label: 'count', cls: 'num', text: (r) => fmtInt(r.count) },
    { key: 'unfinished', label: 'unfinished', cls: 'num', text: (r) => fmtInt(r.unfinished) },
    durCol('total_ns', 'total'), durCol('mean_ns', 'mean'), durCol('p50_ns', 'p50'),
    durCol('p90_ns', 'p90'), durCol('p99_ns', 'p99'), durCol('max_ns', 'max'),
    { key: 'logs', label: 'logs', cls: 'num', text: (r) => fmtInt(r.logs) },
    { key: 'regions', label: 'regions', cls: 'num', text: (r) => fmtInt(r.regions || 0) },
    durCol('region_ns', 'in regions'),
  ], {
    sort: state.sort || { key: 'total_ns', asc: false },
    onSort: (s) => { state.sort = s; },
    keyOf: (r) => r.name,
    rowTitle: () => 'Only the longest tasks of this name',
    pick: (r) => {
      state.name = state.name === r.name ? null : r.name;
      drawLongest();
    },
  });
  byName.current = state.name;
  byName.setRows(t.by_name);
  const longBox = el('div');
  const drawLongest = () => {
    const rows = state.name ? longest.filter((x) => x.name === state.name) : longest;
    const table = new SortTable([
      { key: 'name', label: 'task', cls: 'name', text: (r) => (r.unfinished ? `${r.name} (unfinished)` : r.name) },
      { key: 'start_ns', label: 'start', cls: 'num', text: (r) => fmtTime(r.start_ns) },
      durCol('dur_ns', 'duration'),
      { key: 'thread', label: 'thread', text: (r) => (r.end_thread && r.end_thread !== r.thread ? `${r.thread} → ${r.end_thread}` : r.thread) },
      { key: 'nlogs', label: 'logs', cls: 'num', value: (r) => (r.logs || []).length, text: (r) => fmtInt((r.logs || []).length) },
      { key: 'regions_total', label: 'regions', cls: 'num', text: (r) => fmtInt(r.regions_total || 0) },
    ], {
      sort: { key: 'dur_ns', asc: false },
      keyOf: (r) => String(r.id),
      rowTitle: () => 'Show this task on the timeline, its logs and regions',
      pick: (r) => {
        hooks.focus(r.start_ns, r.start_ns + r.dur_ns);
        logs.replaceChildren(taskLogs(r), taskRegions(r));
        logs.scrollIntoView({ block: 'nearest' });
      },
    }).setRows(rows);
    longBox.replaceChildren(section(`Longest tasks${state.name ? ` named “${state.name}”` : ''}`,
      rows.length ? table.el : empty('None listed.')));
  };
  drawLongest();
  return split(byName.el, [longBox, logs]);
}

function taskLogs(r) {
  const logs = r.logs || [];
  if (!logs.length) return empty(`Task ${r.name} (${r.id}) has no logs.`);
  const table = new SortTable([
    { key: 'ts_ns', label: 'time', cls: 'num', text: (x) => fmtTime(x.ts_ns) },
    { key: 'category', label: 'category' },
    { key: 'message', label: 'message', cls: 'msg' },
  ], { sort: { key: 'ts_ns', asc: true } }).setRows(logs);
  return section(`Logs of ${r.name} ${r.id}`, table.el);
}

function taskRegions(r) {
  const regs = r.regions || [];
  if (!regs.length) return empty(`No region began under task ${r.name} (${r.id}) (ctrace_task_switch makes a task current).`);
  const table = new SortTable([
    { key: 'start_ns', label: 'start', cls: 'num', text: (x) => fmtTime(x.start_ns) },
    durCol('dur_ns', 'duration'),
    { key: 'name', label: 'region', cls: 'name' },
    { key: 'thread', label: 'thread' },
  ], { sort: { key: 'start_ns', asc: true } }).setRows(regs);
  const more = r.regions_total > regs.length ? ` (the first ${regs.length} of ${r.regions_total})` : '';
  return section(`Regions of ${r.name} ${r.id}${more}`, table.el);
}

// ---- Work items ----

function renderItems({ a, state }) {
  const items = a.items;
  if (!Array.isArray(items)) return notIn('items', 'Work items', 'Programs describe them with ctrace_sched_create / run / block / unblock / end.');
  if (!items.length) return empty('No work item ran in this window.');
  const tot = items.reduce((s, i) => ({ runs: s.runs + i.runs, run: s.run + i.run_ns, wait: s.wait + i.wait_ns }), { runs: 0, run: 0, wait: 0 });
  const table = new SortTable([
    { key: 'name', label: 'item', cls: 'name' },
    { key: 'runs', label: 'runs', cls: 'num', text: (r) => fmtInt(r.runs) },
    durCol('run_ns', 'running', 'Time it ran on a thread'),
    durCol('wait_ns', 'waiting to run', 'From being unblocked to running again (scheduler latency)'),
  ], {
    sort: state.sort || { key: 'run_ns', asc: false },
    onSort: (s) => { state.sort = s; },
  }).setRows(items);
  const top = [...items].sort((x, y) => y.run_ns + y.wait_ns - (x.run_ns + x.wait_ns)).slice(0, STACK_MAX_ROWS);
  const byState = top.some((i) => i.by_state);
  const rows = top.map((i) => ({
    label: i.name,
    parts: i.by_state
      ? [...stateParts(i.by_state), { name: 'waiting to run', value: i.wait_ns, color: WAIT_COLOR }]
      : [{ name: 'running', value: i.run_ns, color: stateInfo('running').color },
        { name: 'waiting to run', value: i.wait_ns, color: WAIT_COLOR }],
  }));
  const keys = byState ? stateLegend(top.map((i) => i.by_state)) : legend([['running', stateInfo('running').color]]);
  keys.append(...legend([['waiting to run', WAIT_COLOR]]).childNodes);
  const listed = a.items_total > items.length ? ` listed, of ${fmtInt(a.items_total)}` : '';
  const right = section(`Items of most time (${fmtInt(items.length)} items${listed}: ${fmtInt(tot.runs)} runs, ${fmtDur(tot.run)} running, ${fmtDur(tot.wait)} waiting to run)`,
    keys, chart({ kind: 'stack', rows, fmt: fmtDur }));
  return split(table.el, right);
}

const WAIT_COLOR = '#fcc419';

export const TIME_TABS = [
  { id: 'threads', label: 'Threads', render: renderThreads },
  { id: 'regions', label: 'Regions', render: renderRegions },
  { id: 'tasks', label: 'Tasks', render: renderTasks },
  { id: 'items', label: 'Work items', render: renderItems },
];
