// The strip of CPU samples in a thread row (`ctrace run --cpu-hz N`): a tick
// per sample, and when zoomed out one mark per bucket whose shade says how
// much of the bucket the thread spent on CPU (samples x the sampling
// period / the bucket's length). Clicking one shows its call stack
// (/api/slice?id=sm.TRACK.INDEX, details_cpu.js).

import { SAMPLE_H } from './layout.js';
import { upperBound } from './scene.js';

const LEVELS = 4;
// near-black, by share (the bands around it are coloured: states, instants)
const SHADES = ['rgba(15, 23, 42, 0.25)', 'rgba(15, 23, 42, 0.45)', 'rgba(15, 23, 42, 0.7)', 'rgb(15, 23, 42)'];
const PARTIAL = 'rgb(203, 213, 225)'; // a lone sample whose stack was not unwound to its end
const TICK_PX = 2;

/** Share of the time a mark covers that its samples stand for, 0..1. */
export function sampleShare(m, bucketNs, periodNs) {
  if (!periodNs) return 1;
  const span = Math.max(m.merged > 1 ? bucketNs : 0, periodNs);
  return Math.min(1, (m.merged * periodNs) / span);
}

/** Draws the samples of the visible thread rows; returns how many marks. */
export function drawSamples(tl, ctx, top, bottom) {
  const W = tl.width;
  const periodNs = (tl.meta && tl.meta.cpu && tl.meta.cpu.period_ns) || 0;
  const bucket = tl.scene.window.bucket;
  const paths = Array.from({ length: LEVELS + 1 }, () => []);
  for (const [track, th] of tl.scene.threads) {
    if (!th.samples.length) continue;
    const row = tl.layout.byTrack.get(track);
    if (!row || row.sampleY == null || row.y + row.h < top || row.y > bottom) continue;
    const arr = th.samples;
    for (let i = Math.max(0, upperBound(arr, tl.view.t0 - bucket) - 1); i < arr.length; i++) {
      const m = arr[i];
      if (m.start > tl.view.t1) break;
      const [x0, x1] = tl.extent(m);
      if (x1 < -TICK_PX || x0 > W) continue;
      const level = m.merged === 1 && m.partial ? LEVELS
        : Math.min(LEVELS - 1, Math.floor(sampleShare(m, bucket, periodNs) * LEVELS));
      paths[level].push(x0, Math.max(x1 - x0, TICK_PX), m.y);
    }
  }
  let n = 0;
  paths.forEach((p, level) => {
    if (!p.length) return;
    ctx.fillStyle = level === LEVELS ? PARTIAL : SHADES[level];
    ctx.beginPath();
    for (let i = 0; i < p.length; i += 3) ctx.rect(p[i], p[i + 2], p[i + 1], SAMPLE_H);
    ctx.fill();
    n += p.length / 3;
  });
  return n;
}
