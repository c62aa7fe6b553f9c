// Vertical layout of the timeline: one header row per process, then its
// tracks in the server's order (`sort`: threads in the order they started,
// then the tasks track, then counters). Rows have fixed heights computed
// once from /api/meta; y is in CSS pixels from the top of the track area.

export const PROCESS_H = 22;   // process header row
export const INSTANT_H = 10;   // strip of instant markers at the top of a thread row
export const DEPTH_H = 18;     // one nesting level of slices
export const SLICE_H = 16;     // drawn height of a slice (DEPTH_H minus a gap)
export const ROW_PAD = 3;      // padding above and below a row's content
export const COUNTER_H = 46;
const MIN_ROW_H = 22;           // a thread with no slices still fits its label

/** Height of one lane of a tasks row: taller when there are few lanes. */
function laneHeight(lanes) {
  if (lanes <= 4) return 16;
  if (lanes <= 12) return 10;
  return 5;
}

/**
 * Rows from meta: { rows, byTrack: Map(track id → row), height }.
 * Thread rows have `sliceY` (top of depth 0) and `instY` (instant strip).
 */
export function buildLayout(meta) {
  const rows = [];
  const byTrack = new Map();
  let y = 0;

  const pids = meta.processes.map((p) => p.pid);
  for (const t of meta.tracks) if (!pids.includes(t.pid)) pids.push(t.pid);

  for (const pid of pids) {
    const proc = meta.processes.find((p) => p.pid === pid);
    const tracks = meta.tracks
      .filter((t) => t.pid === pid)
      .sort((a, b) => a.sort - b.sort || a.id - b.id);
    rows.push({ kind: 'process', pid, name: `${(proc && proc.name) || 'process'}`, y, h: PROCESS_H });
    y += PROCESS_H;

    for (const t of tracks) {
      if (t.kind === 'tasks' && !t.tasks) continue; // no task was recorded
      let row;
      if (t.kind === 'thread') {
        const depth = t.depth || 0;
        const h = Math.max(MIN_ROW_H, ROW_PAD + INSTANT_H + depth * DEPTH_H + ROW_PAD);
        row = {
          kind: 'thread', track: t.id, pid, tid: t.tid, name: t.name || `thread ${t.tid}`,
          depth, y, h, instY: y + ROW_PAD, sliceY: y + ROW_PAD + INSTANT_H,
        };
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
          y, h: COUNTER_H,
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
