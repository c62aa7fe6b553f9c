// Entry point: loads /api/meta, builds the layout, the timeline and the
// panels, and wires them together. Also exposes window.__ctrace for tests:
//   ready        Promise → true once the first frame with data is drawn
//                (false if the trace could not be loaded; see .error)
//   firstPaintMs performance.now() of that first frame
//   frameTimes   duration (ms) of every frame drawn since (reset it freely)
//   lastFetchMs  round trip of the latest /api/slices
//   view         { t0, t1, span } visible window, ns relative to the trace start
//   idle         true when the drawn data is that of the current view
//   visibleSlices() drawn slices with client coordinates (also visibleStates(),
//                visibleRuns(), visibleSamples()); stats: figures of the last
//                frame (slices, statesDrawn, runsDrawn, samplesDrawn,
//                syscallsDrawn, waitsDrawn, ...)
//   liveGeneration, liveState  of a live view (--follow, run --view,
//                --lttng-live): the index generation shown and its state
//                ("following", "ended"...); null otherwise
//   live         { following (the view follows the newest event), transport
//                ('events' or 'polling'), messages, refreshes, feed }, or null
//   analysis     the Analyses panel (analysis.js): answer, window, loads,
//                serverMs, renderMs, tab, select(tab), setRange(range | null)
//   select(id)   selects the slice of that id (s.TRACK.DEPTH.INDEX) as a
//                click on it does, zooming to it if it is not in view
//   record       the "record N s" control (record.js) of ctrace view --pid,
//                or undefined: last { t0, t1, bytes } of its latest profile

import { api, timings } from './api.js';
import { buildLayout } from './layout.js';
import { Timeline } from './timeline.js';
import { Loader } from './loader.js';
import { attachInput } from './input.js';
import { Details } from './details.js';
import { Search } from './search.js';
import { Analysis } from './analysis.js';
import { LiveFeed } from './live.js';
import { RecordControl } from './record.js';
import { Banner, renderLegend, renderSources, traceWarnings } from './header.js';
import { CATEGORY, fmtBytes, fmtDur, fmtInt, fmtTime, stateInfo } from './format.js';

const $ = (id) => document.getElementById(id);

let resolveReady;
const test = {
  ready: new Promise((r) => { resolveReady = r; }),
  isReady: false,
  firstPaintMs: null,
  frameTimes: [],
  lastFetchMs: null,
  error: null,
  view: null,
  stats: null,
  visibleSlices: () => [],
  visibleStates: () => [],
  visibleRuns: () => [],
  visibleSamples: () => [],
  liveGeneration: null,
  liveState: null,
  live: null,
};
window.__ctrace = test;

const banner = new Banner($('banner'));

function fail(where, e) {
  console.warn(`${where}:`, e); // a warning, not an error: the banner is the report
  banner.set(where, e.message || String(e), 'error');
  test.error = e.message || String(e);
}

async function start() {
  let meta;
  try {
    meta = await api.meta();
  } catch (e) {
    fail('meta', e);
    $('sources').textContent = 'No trace loaded';
    $('analysis-body').textContent = '';
    resolveReady(false);
    return;
  }
  if (meta.compare) { // ctrace view BASE --compare NEW: the diff's table, for the Compare tab
    try { meta.diff = await api.diff(); } catch (e) { fail('compare', e); }
  }
  renderSources($('sources'), meta);
  renderLegend($('legend'), meta);
  showWarnings(meta);
  setTitle(meta);

  let layout = buildLayout(meta);
  renderGutter($('gutter'), layout);
  const tl = new Timeline({
    ruler: $('ruler'), canvas: $('tracks'), scroller: $('tl-scroll'),
    wrap: $('canvas-wrap'), inner: $('tl-inner'),
  }, meta, layout);
  const loader = new Loader(meta, layout);
  showEmpty(meta);

  // ---- test hooks ----
  test.frameTimes = tl.frameTimes;
  test.meta = meta;
  Object.defineProperty(test, 'view', { get: () => ({ ...tl.view, span: tl.span }) });
  Object.defineProperty(test, 'lastFetchMs', { get: () => loader.lastFetchMs });
  Object.defineProperty(test, 'fetches', { get: () => loader.requests });
  Object.defineProperty(test, 'idle', { get: () => loader.idle });
  Object.defineProperty(test, 'stats', { get: () => tl.stats });
  test.visibleSlices = () => tl.visibleSlices();
  test.visibleStates = () => tl.visibleMarks('state');
  test.visibleRuns = () => tl.visibleMarks('sched');
  test.visibleSamples = () => tl.visibleMarks('sample');
  test.timeline = tl;

  // ---- panels ----
  const details = new Details($('details-body'), meta, {
    select: (id) => selectById(id),
    showPath: (segs) => tl.showPath(segs),
  });
  test.select = (id) => selectById(id);
  const search = new Search({
    form: $('search'), input: $('search-input'), prev: $('search-prev'), next: $('search-next'),
    count: $('search-count'), list: $('results-body'), total: $('results-total'),
  }, meta, {
    results(a) {
      banner.clear('search');
      tl.search = a && a.results.length
        ? { text: a.q.toLowerCase(), marks: a.results.map((r) => r.start - meta.t0) }
        : null;
      tl.invalidate();
    },
    jump: (r) => jumpTo(r),
    error: (e) => fail('search', e),
  });
  const analysis = new Analysis({
    tabs: $('analysis-tabs'), body: $('analysis-body'), window: $('analysis-window'),
    whole: $('analysis-whole'), follow: $('chk-analysis-view'), thread: $('analysis-thread'),
    status: $('analysis-status'),
  }, meta, {
    highlight: (name) => { banner.clear('analysis'); search.search(name); },
    focus: (t0, t1) => tl.focus(t0, t1),
    revealThread(pid, tid) {
      const t = meta.tracks.find((x) => x.kind === 'thread' && x.pid === pid && x.tid === tid);
      if (t) revealRow(t.id);
    },
    clearRange() {
      if (!tl.range) return;
      tl.range = null;
      if (tl.selection) details.show(tl.selection);
      else details.clear();
      updateButtons();
      tl.invalidate();
    },
    error: (e) => fail('analysis', e),
  });
  test.analysis = analysis;
  attachGrip($('analysis-grip'), $('analysis'));

  // ---- ctrace view --pid: record N s, then its CPU flame graph ----
  if (meta.pprof) {
    test.record = new RecordControl($('toolbar'), meta, {
      show(t0, t1) {
        tl.focus(t0, t1);
        tl.range = { t0, t1 };
        details.showRange(tl.range);
        updateButtons();
        analysis.setRange(tl.range);
        analysis.select('cpu');
        tl.invalidate();
      },
      error: (e) => fail('record', e),
    });
  }

  // ---- selection ----
  function select(mark) {
    tl.selection = mark;
    if (mark) details.show(mark);
    else details.clear();
    updateButtons();
    tl.invalidate();
  }

  function revealRow(track) {
    const row = layout.byTrack.get(track);
    const sc = $('tl-scroll');
    if (row && (row.y < sc.scrollTop || row.y + row.h > sc.scrollTop + sc.clientHeight)) {
      sc.scrollTop = Math.max(0, row.y - 40);
    }
  }

  /** A search result: zoom so it fills the middle third, select it. */
  function jumpTo(r) {
    const [, track, depth] = r.id.split('.').map(Number);
    const mark = { kind: 'slice', id: r.id, name: r.name, track, depth, start: r.start - meta.t0, dur: r.dur, merged: 1 };
    tl.focus(mark.start, mark.start + mark.dur, 1);
    revealRow(track);
    select(mark);
  }

  /** Selects the slice an id names ("s.TRACK.DEPTH.INDEX", e.g. a parent), showing it if off-screen. */
  async function selectById(id) {
    try {
      const d = await api.slice(id);
      const [, track, depth] = id.split('.').map(Number);
      const mark = { kind: 'slice', id, name: d.name, track, depth, start: d.start - meta.t0, dur: d.dur, merged: 1 };
      if (mark.start + mark.dur < tl.view.t0 || mark.start > tl.view.t1 || mark.dur > tl.span) {
        tl.focus(mark.start, mark.start + mark.dur);
      }
      revealRow(mark.track);
      select(mark);
    } catch (e) {
      fail('details', e);
    }
  }

  function zoomToSelection() {
    if (tl.range) {
      const r = tl.range;
      tl.range = null;
      tl.setView(r.t0, r.t1);
      if (tl.selection) details.show(tl.selection);
      else details.clear();
    } else if (tl.selection) {
      const s = tl.selection;
      tl.focus(s.start, s.start + Math.max(s.dur, tl.span / 50));
    }
    updateButtons();
  }

  function updateButtons() {
    $('btn-zoom-sel').disabled = !tl.range && !tl.selection;
  }

  // ---- input ----
  const tooltip = $('tooltip');
  attachInput(tl, {
    pick: (m) => { tl.range = null; select(m); },
    hover: (m, e) => showTooltip(tooltip, m, e),
    range: (r) => { details.showRange(r); updateButtons(); analysis.setRange(r); },
    next: () => search.next(),
    prev: () => search.prev(),
    zoomToSelection,
    clear: () => { tl.range = null; select(null); },
    focusSearch: () => { $('search-input').focus(); $('search-input').select(); },
    toggleLive: () => live && live.toggle(),
  });
  $('btn-fit').addEventListener('click', () => tl.fit());
  $('btn-zoom-in').addEventListener('click', () => tl.zoomAt(0.5));
  $('btn-zoom-out').addEventListener('click', () => tl.zoomAt(2));
  $('btn-zoom-sel').addEventListener('click', zoomToSelection);
  $('chk-flows').addEventListener('change', (e) => { tl.showFlows = e.target.checked; tl.invalidate(); });

  // ---- level of detail ----
  loader.addEventListener('scene', (e) => {
    banner.clear('slices');
    tl.setScene(e.detail);
    updateStatus(tl, loader);
  });
  loader.addEventListener('error', (e) => fail('slices', e.detail));
  tl.addEventListener('view', () => {
    loader.want(tl.view, tl.width);
    updateViewRange(tl);
    analysis.followView(tl.view);
  });
  tl.addEventListener('resize', () => loader.want(tl.view, tl.width));
  tl.addEventListener('frame', (e) => {
    if (e.detail.hasData && test.firstPaintMs == null) {
      test.firstPaintMs = performance.now();
      test.isReady = true;
      resolveReady(true);
    }
  });
  let live = null;
  if (meta.live) {
    live = followLive(meta, tl, {
      relayout(oldTracks) {
        layout = buildLayout(meta);
        tl.setLayout(layout);
        loader.setLayout(layout);
        renderGutter($('gutter'), layout);
        // track ids may have changed (a track inserted before): the selection follows its track
        const key = (t) => `${t.kind}/${t.pid}/${t.tid}/${t.name}`;
        const now = new Map(meta.tracks.map((t) => [key(t), t.id]));
        const was = oldTracks.find((t) => tl.selection && t.id === tl.selection.track);
        const id = was ? now.get(key(was)) : null;
        if (tl.selection && id == null) select(null);
        else if (tl.selection && id !== tl.selection.track) {
          const sel = tl.selection;
          tl.selection = { ...sel, track: id, id: sel.id && sel.id.replace(/^([a-z]+)\.\d+/, `$1.${id}`) };
        }
      },
      updateRows() {
        const byId = new Map(meta.tracks.map((t) => [t.id, t]));
        for (const r of layout.rows) {
          const t = byId.get(r.track);
          if (!t) continue;
          if (r.kind === 'counter') Object.assign(r, { min: t.min, max: t.max });
          else if (r.kind === 'tasks') r.count = t.tasks;
        }
        renderGutter($('gutter'), layout);
      },
      grew() {
        tl.setEnd();
        loader.setEnd();
        loader.want(tl.view, tl.width, true);
        updateViewRange(tl);
        analysis.liveUpdate();
      },
    });
  }
  updateViewRange(tl);
  loader.want(tl.view, tl.width, true);
  analysis.followView(tl.view);
  analysis.reload();
}

// ---- live views ----

/** What the layout is built from: a change means new rows (or taller ones). */
const trackShape = (tracks) => JSON.stringify(tracks.map((t) =>
  [t.id, t.kind, t.pid, t.tid, t.name, t.depth || 0, t.lanes || 0, !!t.states, !!t.sched_runs, !!t.tasks, !!t.instants]));

function setTitle(meta) {
  const names = meta.sources.filter((s) => s.format !== 'ctrace-kernel').map((s) => s.process || s.path);
  document.title = `ctrace · ${names.length ? names.join(', ') : 'waiting for the trace'}`;
}

function showWarnings(meta) {
  for (const k of [...banner.messages.keys()]) if (k.startsWith('trace-')) banner.clear(k);
  traceWarnings(meta).forEach((w, i) => banner.set(`trace-${i}`, w, 'warning'));
}

function showEmpty(meta) {
  const box = $('empty');
  const waiting = meta.live && meta.live.state === 'following';
  box.hidden = meta.tracks.length > 0;
  box.textContent = waiting ? 'Waiting for the trace: rows appear as the program records.'
    : 'This trace has no tracks to show.';
}

/**
 * Follows a live view (meta.live): LiveFeed pushes each newer /api/meta;
 * it is applied in place — meta updated, new rows laid out (the view and
 * the scroll position kept), the time axis extended — and, while "follow
 * the present" is on (the default), the view keeps the newest events at
 * its right edge. Any zoom or pan pauses that; the Live button (or L)
 * resumes it. Returns { toggle(), feed }.
 */
function followLive(meta, tl, hooks) {
  const box = $('live');
  const isLttng = meta.live.mode !== 'follow';
  const show = () => {
    const { state, generation } = meta.live;
    const following = state === 'following';
    box.hidden = false;
    box.className = following ? (tl.following ? 'live' : 'paused') : state === 'ended' ? 'ended' : 'failed';
    const events = `${fmtInt(meta.events)} events`;
    box.textContent = following ? `${tl.following ? 'Live' : 'Paused'} · ${events}`
      : state === 'ended' ? `Ended · ${events}` : `Live: ${state}`;
    box.setAttribute('aria-pressed', String(following && tl.following));
    box.title = (following
      ? (tl.following ? 'Following the newest events: click (or L) to pause'
        : 'Paused: the view stays where it is; click (or L) to follow the newest events again')
      : state === 'ended' ? 'The trace is complete: nothing more will come' : state)
      + `\n${isLttng ? 'an LTTng live session' : 'a trace being written'}; index generation ${generation}`
      + (meta.live.problem ? `\n(the latest rebuild failed: ${meta.live.problem})` : '');
    test.liveGeneration = generation;
    test.liveState = state;
  };
  const apply = (m) => {
    const oldT0 = meta.t0, hadEvents = meta.events > 0, oldTracks = meta.tracks;
    const reshaped = trackShape(m.tracks) !== trackShape(meta.tracks);
    Object.assign(meta, {
      t0: m.t0, t1: m.t1, events: m.events, dropped: m.dropped, sources: m.sources,
      processes: m.processes, tracks: m.tracks, live: m.live,
    });
    if (m.t0 !== oldT0) {
      // times are relative to the start: what is shown stays put (a first
      // generation with events starts the view afresh)
      if (hadEvents) tl.shift(oldT0 - m.t0);
      else tl.view = { t0: 0, t1: Math.max(1, m.t1 - m.t0) };
    }
    if (reshaped) hooks.relayout(oldTracks);
    else hooks.updateRows();
    renderSources($('sources'), meta);
    renderLegend($('legend'), meta);
    showWarnings(meta);
    showEmpty(meta);
    setTitle(meta);
    hooks.grew();
    show();
  };
  const feed = new LiveFeed(meta, apply, {
    ok: () => banner.clear('live'),
    error: (e) => fail('live', e),
  });
  tl.addEventListener('follow', show);
  box.addEventListener('click', () => toggle());
  const toggle = () => {
    if (meta.live.state !== 'following') return;
    tl.setFollowing(!tl.following);
  };
  tl.setFollowing(meta.live.state === 'following');
  show();
  feed.start();
  test.live = {
    get following() { return tl.following; },
    get transport() { return feed.transport; },
    get messages() { return feed.messages; },
    get refreshes() { return feed.refreshes; },
    feed,
  };
  return { toggle, feed };
}

/** Dragging the grip above the panel resizes it (the timeline takes the rest). */
function attachGrip(grip, panel) {
  grip.addEventListener('mousedown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const y0 = e.clientY, h0 = panel.getBoundingClientRect().height;
    const move = (m) => {
      const h = Math.min(window.innerHeight - 260, Math.max(60, h0 - (m.clientY - y0)));
      panel.style.height = `${h}px`;
    };
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  });
}

/** One label per row, in the gutter left of the canvas (scrolls with it). */
function renderGutter(box, layout) {
  box.replaceChildren();
  box.style.height = `${layout.height}px`;
  for (const r of layout.rows) {
    const d = document.createElement('div');
    d.className = `row-label ${r.kind}`;
    d.style.top = `${r.y}px`;
    d.style.height = `${r.h}px`;
    if (r.kind === 'thread') d.style.paddingTop = r.stateY != null ? '5px' : '3px';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = r.name;
    d.append(name);
    const sub = document.createElement('span');
    sub.className = 'sub';
    const range = (v) => (r.bytes ? fmtBytes(v) : v);
    sub.textContent = r.kind === 'process' ? `pid ${r.pid}`
      : r.kind === 'thread' ? (r.name === `tid ${r.tid}` ? '' : `${r.tid}`)
      : r.kind === 'tasks' ? `${fmtInt(r.count)}` : `${range(r.min)} – ${range(r.max)}`;
    d.append(sub);
    d.title = `${r.name} (${r.kind}${r.tid != null ? `, tid ${r.tid}` : ''})`;
    if (r.schedY != null) {
      // the lane of user-level work items has its own small label
      const lane = document.createElement('span');
      lane.className = 'lane-label';
      lane.textContent = 'work items';
      lane.style.top = `${r.schedY - r.y}px`;
      d.append(lane);
    }
    box.append(d);
  }
}

/** What a mark's tooltip says below its name: [main line, extra lines]. */
function describe(m) {
  const extra = [];
  let what;
  if (m.kind === 'counter') {
    what = `= ${/ bytes\b/.test(m.name) ? fmtBytes(m.value) : m.value}`;
  } else if (m.kind === 'instant' || m.kind === 'sample') {
    what = fmtTime(m.start);
  } else {
    what = fmtDur(m.dur);
  }
  if (m.kind === 'sample') {
    extra.push(m.merged > 1 ? `${fmtInt(m.merged)} CPU samples in this bucket (the first shown)` : 'where the thread was on CPU: click for its stack');
    if (m.partial && m.merged === 1) extra.push('stack not unwound to its outermost frame');
    return [what, extra];
  }
  const noun = m.kind === 'state' ? 'states' : m.kind === 'sched' ? 'runs' : 'slices';
  if (m.merged > 1) extra.push(`${fmtInt(m.merged)} ${noun} (the longest shown)`);
  if (m.kind === 'state') {
    extra.unshift(m.derived
      ? `${m.name === 'running' ? 'not in a blocking call' : stateInfo(m.name).text} · derived from the wrappers (no scheduler data)`
      : m.cpu != null && m.name === 'running' ? `on CPU ${m.cpu}` : `${stateInfo(m.name).text}${m.cpu != null ? ` · CPU ${m.cpu}` : ''}`);
  } else if (m.kind === 'sched') {
    extra.unshift('work item running on this thread');
  } else if (m.kind === 'slice' && CATEGORY[m.cat]) {
    extra.unshift(CATEGORY[m.cat].label);
  } else if (m.kind === 'instant' && (m.cat === 'thread' || m.cat === 'sched')) {
    extra.push(m.cat === 'sched' ? 'a work item blocked' : 'thread lifecycle');
  }
  if (m.kind === 'counter' && m.min !== m.max) extra.push(`min ${m.min}, max ${m.max} in this bucket`);
  if (m.cat === 'ctrace' && m.dropped) extra.push(`${fmtInt(m.dropped)} events dropped`);
  if (m.kind === 'task' && m.unfinished) extra.push('unfinished');
  return [what, extra];
}

function showTooltip(tip, m, e) {
  if (!m || !e) {
    tip.hidden = true;
    return;
  }
  tip.replaceChildren();
  const [what, extra] = describe(m);
  const name = document.createElement('b');
  name.textContent = m.kind === 'state' ? `${m.name}${m.derived ? ' (derived)' : ''}` : m.name;
  if (m.kind === 'state') {
    const sw = document.createElement('span');
    sw.className = `swatch${m.derived ? ' derived' : ''}`;
    sw.style.setProperty('--c', stateInfo(m.name).color);
    tip.append(sw);
  }
  const dur = document.createElement('span');
  dur.className = 'dur';
  dur.textContent = what;
  tip.append(name, dur);
  if (extra.length) {
    const sub = document.createElement('div');
    sub.className = 'sub';
    sub.textContent = extra.join(' · ');
    tip.append(sub);
  }
  tip.hidden = false;
  const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
  const y = e.clientY + 18 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 18;
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

function updateViewRange(tl) {
  $('view-range').textContent = `${fmtTime(Math.round(tl.view.t0))} – ${fmtTime(Math.round(tl.view.t1))}  (${fmtDur(tl.span)})`;
  $('gutter-head').textContent = `${fmtDur(tl.nsPerPx())} / px`;
}

function updateStatus(tl, loader) {
  const s = tl.scene;
  const c = s.counts;
  const t = timings.byPath['/api/slices'];
  const server = t && t.serverMs != null ? `, server ${t.serverMs.toFixed(1)} ms` : '';
  const flows = s.flowsOmitted ? ' (zoom in for flows)' : s.flowsTruncated ? ' (flows truncated)' : '';
  $('status').textContent =
    `window ${fmtTime(s.window.t0)} – ${fmtTime(s.window.t1)} on ${s.window.px} px, bucket ${fmtDur(s.window.bucket)} · ` +
    `${fmtInt(c.slices)} slices, ${fmtInt(c.states)} states, ${c.runs ? `${fmtInt(c.runs)} item runs, ` : ''}${fmtInt(c.instants)} instants, ${fmtInt(c.tasks)} tasks, ${fmtInt(c.counters)} counter points, ${fmtInt(c.flows)} flows${flows} · ` +
    `fetch ${loader.lastFetchMs.toFixed(1)} ms${server}, decode ${loader.lastDecodeMs.toFixed(1)} ms · ${loader.requests} requests`;
}

start().catch((e) => {
  fail('ui', e);
  resolveReady(false);
});
