// Decodes one /api/slices answer (Chrome trace events, microseconds) into
// what the renderer draws and hit-tests: times become nanoseconds relative
// to the trace start, every mark knows its row's y, and slices are grouped
// by fill colour so a frame sets each fillStyle once.

import { DEPTH_H, SAMPLE_H, SLICE_H, STATE_H } from './layout.js';
import { colorOf, sliceColor } from './format.js';

/** Binary search: index of the first element whose start is > t. */
export function upperBound(arr, t) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid].start <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The track of an event: args.track, else from its args.id ("s.TRACK.DEPTH.INDEX", "st.TRACK.INDEX"...). */
function trackOf(args) {
  if (args.track != null) return args.track;
  const id = String(args.id || '');
  const dot = id.indexOf('.');
  return parseInt(id.slice(dot + 1), 10);
}

/**
 * scene = {
 *   window: { t0, t1, bucket, px },         // what was asked (relative ns)
 *   threads: Map(track → { depths: [[slice]], instants: [instant], states: [state], runs: [run],
 *                          samples: [sample] }),
 *   groups: Map(key → { name, cat, style, slices: [slice] }),   // one fill per group
 *   stateGroups: Map(key → { name, derived, states: [state] }),
 *   runGroups: Map(fillStyle → { name, runs: [run] }),
 *   counters: Map(track → [{ start, value, min, max }]),
 *   tasks: Map(track → { lanes: [[task]] }),
 *   taskGroups: Map(fillStyle → { name, tasks: [task] }),
 *   flows: [{ t0, track0, depth0, t1, track1, depth1 }],
 *   counts: { slices, states, runs, samples, instants, counters, tasks, flows }, flowsTruncated,
 *   flowsOmitted }
 *
 * Thread events (X) are told apart by args.lane: "state" (the thread-state
 * band), "sched" (runs of user-level work items), "samples" (CPU samples:
 * the first of a bucket, args.merged of them), else a region depth
 * (args.depth), whatever the category (region, syscall, wait, gc).
 */
export function buildScene(answer, meta, layout) {
  const T0 = meta.t0;
  const rel = (us) => Math.round(us * 1000) - T0;
  const win = answer.window || {};
  const scene = {
    window: { t0: win.t0 - T0, t1: win.t1 - T0, bucket: win.bucket_ns || 1, px: win.px },
    threads: new Map(),
    groups: new Map(),
    stateGroups: new Map(),
    runGroups: new Map(),
    counters: new Map(),
    tasks: new Map(),
    taskGroups: new Map(),
    flows: [],
    counts: { slices: 0, states: 0, runs: 0, samples: 0, instants: 0, counters: 0, tasks: 0, flows: 0 },
    flowsTruncated: !!win.flows_truncated,
    flowsOmitted: !!win.flows_omitted, // (a scale index's window too wide to find arrows in)
  };
  const thread = (track) => {
    let th = scene.threads.get(track);
    if (!th) scene.threads.set(track, (th = { depths: [], instants: [], states: [], runs: [], samples: [] }));
    return th;
  };
  const openTasks = new Map();
  const openFlows = new Map();

  for (const e of answer.traceEvents || []) {
    const args = e.args || {};
    switch (e.ph) {
      case 'X': {
        const track = trackOf(args);
        const row = layout.byTrack.get(track);
        if (!row || row.kind !== 'thread') break;
        const merged = args.merged || 1;
        const start = rel(e.ts), dur = Math.round(e.dur * 1000);
        if (args.lane === 'state') {
          if (row.stateY == null) break;
          const derived = !!args.derived;
          const m = {
            kind: 'state', id: args.id, name: e.name, cat: 'state', track, start, dur, merged,
            cpu: args.cpu, derived, y: row.stateY, h: STATE_H,
          };
          thread(track).states.push(m);
          const key = `${e.name}|${derived ? 1 : 0}`;
          let g = scene.stateGroups.get(key);
          if (!g) scene.stateGroups.set(key, (g = { name: e.name, derived, states: [] }));
          g.states.push(m);
          scene.counts.states++;
          break;
        }
        if (args.lane === 'samples') {
          if (row.sampleY == null) break;
          thread(track).samples.push({
            kind: 'sample', id: args.id, name: e.name, cat: 'sample', track, start, dur: 0, merged,
            partial: !!args.partial, y: row.sampleY, h: SAMPLE_H,
          });
          scene.counts.samples++;
          break;
        }
        if (args.lane === 'sched') {
          if (row.schedY == null) break;
          const m = {
            kind: 'sched', id: args.id, name: e.name, cat: 'sched', track, start, dur, merged,
            y: row.schedY, h: SLICE_H,
          };
          thread(track).runs.push(m);
          const c = colorOf(e.name);
          const style = merged > 1 ? c.merged : c.fill;
          let g = scene.runGroups.get(style);
          if (!g) scene.runGroups.set(style, (g = { name: e.name, runs: [] }));
          g.runs.push(m);
          scene.counts.runs++;
          break;
        }
        const depth = args.depth | 0;
        if (depth >= row.depth) break; // not announced by /api/meta: no room for it
        const s = {
          kind: 'slice', id: args.id, name: e.name, cat: e.cat, track, depth,
          start, dur, merged, y: row.sliceY + depth * DEPTH_H,
        };
        const th = thread(track);
        (th.depths[depth] || (th.depths[depth] = [])).push(s);
        const key = `${merged > 1 ? 'm' : 'o'}|${e.cat}|${e.name}`;
        let g = scene.groups.get(key);
        if (!g) {
          const c = sliceColor(e.name, e.cat);
          scene.groups.set(key, (g = { name: e.name, cat: e.cat, style: merged > 1 ? c.merged : c.fill, slices: [] }));
        }
        g.slices.push(s);
        scene.counts.slices++;
        break;
      }
      case 'i': {
        const track = trackOf(args);
        const row = layout.byTrack.get(track);
        if (!row || row.kind !== 'thread') break;
        thread(track).instants.push({
          kind: 'instant', id: args.id, name: e.name, cat: e.cat, track,
          start: rel(e.ts), dur: 0, merged: args.merged || 1, dropped: args.dropped,
          y: row.instY,
        });
        scene.counts.instants++;
        break;
      }
      case 'C': {
        const track = args.track;
        let arr = scene.counters.get(track);
        if (!arr) scene.counters.set(track, (arr = []));
        arr.push({ start: rel(e.ts), value: args.value, min: args.min, max: args.max });
        scene.counts.counters++;
        break;
      }
      case 'b': {
        const row = layout.byTrack.get(args.track);
        if (!row || row.kind !== 'tasks') break;
        const lane = Math.min(args.lane | 0, row.lanes - 1);
        openTasks.set(args.id, {
          kind: 'task', id: args.id, name: e.name, track: args.track, lane,
          start: rel(e.ts), dur: 0, merged: args.merged || 1, unfinished: !!args.unfinished,
          y: row.laneY + lane * row.laneH, h: Math.max(1, row.laneH - 1),
        });
        break;
      }
      case 'e': {
        const t = openTasks.get(args.id);
        if (!t) break;
        openTasks.delete(args.id);
        t.dur = Math.max(0, rel(e.ts) - t.start);
        let tt = scene.tasks.get(t.track);
        if (!tt) scene.tasks.set(t.track, (tt = { lanes: [] }));
        (tt.lanes[t.lane] || (tt.lanes[t.lane] = [])).push(t);
        const c = colorOf(t.name);
        const style = t.merged > 1 || t.unfinished ? c.merged : c.fill;
        let g = scene.taskGroups.get(style);
        if (!g) scene.taskGroups.set(style, (g = { name: t.name, tasks: [] }));
        g.tasks.push(t);
        scene.counts.tasks++;
        break;
      }
      case 's':
        // An arrow's two ends come one after the other; the map only guards
        // against an interleaving.
        openFlows.set(e.id, { t0: rel(e.ts), track0: args.track, depth0: args.depth });
        break;
      case 'f': {
        const s = openFlows.get(e.id);
        if (!s) break;
        openFlows.delete(e.id);
        scene.flows.push({ ...s, t1: rel(e.ts), track1: args.track, depth1: args.depth });
        scene.counts.flows++;
        break;
      }
      default:
        break;
    }
  }

  // Per depth the server's order is by start but for a flushed merged
  // mark; sort once so hit tests can binary-search.
  const byStart = (a, b) => a.start - b.start;
  for (const th of scene.threads.values()) {
    for (const d of th.depths) if (d) d.sort(byStart);
    th.instants.sort(byStart);
    th.states.sort(byStart);
    th.runs.sort(byStart);
    th.samples.sort(byStart);
  }
  for (const tt of scene.tasks.values()) for (const l of tt.lanes) if (l) l.sort(byStart);
  return scene;
}
