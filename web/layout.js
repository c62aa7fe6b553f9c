// Vertical layout of the timeline: one header row per process, then its
// threads, its tasks track and its counters, each in the server's order
// (`sort`: threads in the order they started). Rows have fixed heights computed
// once from /api/meta; y is in CSS pixels from the top of the track area.
//
// A thread row, top to bottom: the thread-state band (when the thread has
// states), the strip of CPU samples (when it has any), the strip of instant
// markers, the lane of user-level work items
// (when it ran any), then one level per region depth (regions, system
// calls, waits, GC phases).

export const PROCESS_H = 22;   // process header row
export const STATE_H = 7;      // the thread-state band
export const STATE_GAP = 2;    // between the band and the instant strip
export const SAMPLE_H = 5;     // the strip of CPU samples (ctrace run --cpu-hz)
export const SAMPLE_GAP = 1;   // below it
export const INSTANT_H = 10;   // strip of instant markers above the slices
export const DEPTH_H = 18;     // one nesting level of slices
export const SLICE_H = 16;     // drawn height of a slice (DEPTH_H minus a gap)
export const ROW_PAD = 3;      // padding above and below a row's content
export const COUNTER_H = 46;
const MIN_ROW_H = 22;           // a thread with no slices still fits its label

const KIND_ORDER = { thread: 0, tasks: 1, counter: 2 };

/** Height of one lane of a tasks row: taller when there are few lanes. */
function laneHeight(lanes) {
  if (lanes <= 4) return 16;
  if (lanes <= 12) return 10;
  return 5;
}

/**
 * The processes to show, once each: [{ pid, name }]. A kernel source
 * (format "ctrace-kernel": the kernel's events of a `ctrace run`) shares
 * the pid of the program it recorded and has no tracks of its own, so it
 * adds no process row.
 */
export function processList(meta) {
  const out = [];
  const seen = new Map();
  const sources = meta.sources || [];
  (meta.processes || []).forEach((p, i) => {
    const src = sources[i];
    const kernel = src && src.format === 'ctrace-kernel';
    const have = seen.get(p.pid);
    if (have) {
      if (!have.name && !kernel && p.name) have.name = p.name;
      return;
    }
    const entry = { pid: p.pid, name: kernel ? '' : p.name };
    seen.set(p.pid, entry);
    out.push(entry);
  });
  for (const t of meta.tracks) {
    if (!seen.has(t.pid)) {
      const entry = { pid: t.pid, name: '' };
      seen.set(t.pid, entry);
      out.push(entry);
    }
  }
  return out;
}

/**
 * Rows from meta: { rows, byTrack: Map(track id → row), height }.
 * Thread rows have `instY` (instant strip) and `sliceY` (top of depth 0),
 * `stateY` (the state band) when the thread has states, `sampleY` (the
 * strip of CPU samples) when it has samples, `schedY` (the
 * work-item lane) when it ran items, and `empty` when it holds nothing.
 */
export function buildLayout(meta) {
  const rows = [];
  const byTrack = new Map();
  let y = 0;

  for (const proc of processList(meta)) {
    const pid = proc.pid;
    // threads first (tracks the kernel's events added, "tid N", sort by
    // tid: after the named ones), then tasks, then counters
    const tracks = meta.tracks
      .filter((t) => t.pid === pid)
      .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.sort - b.sort || a.id - b.id);
    rows.push({ kind: 'process', pid, name: proc.name || 'process', y, h: PROCESS_H });
    y += PROCESS_H;

    for (const t of tracks) {
      if (t.kind === 'tasks' && !t.tasks) continue; // no task was recorded
      let row;
      if (t.kind === 'thread') {
        const depth = t.depth || 0;
        row = {
          kind: 'thread', track: t.id, pid, tid: t.tid, name: t.name || `thread ${t.tid}`,
          depth, y, stateY: null, sampleY: null, schedY: null,
          empty: !depth && !t.states && !t.sched_runs && !t.instants && !t.cpu_samples,
        };
        let cy = y + ROW_PAD;
        if (t.states) {
          row.stateY = cy;
          cy += STATE_H + STATE_GAP;
        }
        if (t.cpu_samples) {
          row.sampleY = cy;
          cy += SAMPLE_H + SAMPLE_GAP;
        }
        row.instY = cy;
        cy += INSTANT_H;
        if (t.sched_runs) {
          row.schedY = cy;
          cy += DEPTH_H;
        }
        row.sliceY = cy;
        row.h = Math.max(MIN_ROW_H, cy + depth * DEPTH_H + ROW_PAD - y);
      } else if (t.kind === 'tasks') {
        const lanes = Math.max(1, t.lanes || 1);
        const laneH = laneHeight(lanes);
        row = {
          kind: 'tasks', track: t.id, pid, name: t.name || 'tasks', count: t.tasks,
          lanes, laneH, y, h: ROW_PAD * 2 + lanes * laneH, laneY: y + ROW_PAD,
        };
      } else {
        row = {
          kind: 'counter', track: t.id, pid, name: t.name, min: t.min, max: t.max,
          bytes: / bytes\b/.test(t.name), y, h: COUNTER_H,
        };
      }
      rows.push(row);
      byTrack.set(t.id, row);
      y += row.h;
    }
  }
  return { rows, byTrack, height: y };
}

/** The row at y (CSS px from the top of the track area), or null. */
export function rowAt(layout, y) {
  const rows = layout.rows;
  let lo = 0, hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rows[mid];
    if (y < r.y) hi = mid - 1;
    else if (y >= r.y + r.h) lo = mid + 1;
    else return r;
  }
  return null;
}
