#!/usr/bin/env node
// Browser test of the CPU samples on the timeline (web/samples_lane.js,
// web/details_cpu.js): the pipeline sample recorded by
// `ctrace run --cpu-hz 999`, served by `ctrace view`, in headless Chromium
// (playwright-core, the system /usr/bin/chromium). Checks: each thread with
// samples has a strip of them, and only those threads; clicking a sample
// shows its call stack (a worker's sample: `worker` under `start_thread`);
// clicking a region slice shows its on-CPU samples, as many as the
// timeline holds inside it on that thread (counted from /api/slices at a
// resolution where no two samples share a bucket); a trace without samples
// has no strip; and in a live view (`ctrace run --view --cpu-hz 999 --
// cpu_burn`) the CPU tab's flame graph grows while the program runs.
//
//   node samples.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR CPU_BURN_BIN
//
// Exit status 0 when every check passes (also when this machine refuses
// CPU samples, or CTRACE_TEST_NO_RUN=1: said, nothing checked).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from './harness.mjs';
import { startServer as startServerOf } from './view_server.mjs';

const [ctraceBin, pipelineBin, outDir, burnBin] = process.argv.slice(2);
if (!ctraceBin || !pipelineBin || !outDir || !burnBin) {
  console.error('usage: node samples.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR CPU_BURN_BIN');
  process.exit(2);
}
const h = harness(100);
const { log, check, servers } = h;

/** `ctrace view TRACE --port 0` (view_server.mjs): resolves to its URL. */
const startServer = (trace) => startServerOf(ctraceBin, trace, servers);

/** `ctrace run [--cpu-hz 999] -o trace -- PIPELINE -n 20000 -w 2`. */
function record(trace, cpu) {
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  const args = ['run', ...(cpu ? ['--cpu-hz', '999'] : []), '-o', trace, '--', pipelineBin, '-n', '20000', '-w', '2'];
  execFileSync(ctraceBin, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30_000 });
}

async function openPage(url) {
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.waitForFunction(() => window.__ctrace.idle, null, { timeout: 10_000 });
  return { page, problems };
}

/** Clicks at (x, y) and waits for the details of the mark with that id
 * (a sample's: of a sample of its thread; they can be under a pixel apart,
 * and a click lands on a whole pixel). */
async function clickAndWait(page, x, y, id) {
  const before = await page.evaluate(() => document.getElementById('details-body').dataset.id || '');
  await page.mouse.click(x, y);
  const near = id.startsWith('sm.') ? `^${id.replace(/\.\d+$/, '').replace(/\./g, '\\.')}\\.\\d+$` : null;
  const shown = await page.waitForFunction(([exact, re, prev]) => {
    const b = document.getElementById('details-body'), now = b.dataset.id || '';
    const ok = now === exact || (re && now !== prev && new RegExp(re).test(now));
    return ok && !/loading…/.test(b.textContent);
  }, [id, near, before], { timeout: 10_000 }).then(() => true).catch(() => false);
  if (!shown) {
    const now = await page.evaluate(() => document.getElementById('details-body').dataset.id);
    throw new Error(`a click at (${x.toFixed(1)}, ${y.toFixed(1)}) on ${id} showed ${now}`);
  }
}

/** How many samples thread `track` has in [s, e] (absolute ns): from
 * /api/slices over that span with buckets shorter than the sampling period. */
const samplesIn = (page, track, s, e) => page.evaluate(async ([track, s, e]) => {
  const r = await fetch(`/api/slices?t0=${s}&t1=${e}&px=20000&tracks=${track}`);
  const j = await r.json();
  return j.traceEvents.filter((ev) => ev.cat === 'sample' && ev.args.track === track)
    .reduce((n, ev) => n + (ev.args.merged || 1), 0);
}, [track, s, e]);

async function main() {
  if (process.env.CTRACE_TEST_NO_RUN === '1') {
    log('skipped: a sanitizer build (ctrace run cannot preload its wrappers into sanitized programs)');
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'samples.ctrace');
  record(trace, true);
  await h.launch();
  const url = await startServer(trace);
  log(`server at ${url}`);
  const { page, problems } = await openPage(url);
  const meta = await page.evaluate(() => window.__ctrace.meta);
  if (!meta.cpu) {
    log('CPU samples refused on this machine (perf_event_open): nothing to check');
    return;
  }
  const withSamples = meta.tracks.filter((t) => t.cpu_samples).map((t) => t.id);
  const total = meta.tracks.reduce((n, t) => n + (t.cpu_samples || 0), 0);
  check(total === meta.cpu.samples, `meta: per-thread samples add up (${total} of ${meta.cpu.samples})`);

  // the strips: only on threads with samples
  const marks = await page.evaluate(() => window.__ctrace.visibleSamples());
  const stats = await page.evaluate(() => window.__ctrace.stats);
  const tracks = [...new Set(marks.map((m) => m.track))];
  check(marks.length > 0 && stats.samplesDrawn >= marks.length, `sample marks drawn (${marks.length} visible, ${stats.samplesDrawn} drawn)`);
  check(tracks.every((t) => withSamples.includes(t)), `marks only on threads with samples (${tracks.join(',')} of ${withSamples.join(',')})`);

  // workers' samples: their stacks, innermost first, end at the thread's
  // start (unless partial); the pipeline's own `worker` under start_thread
  const workers = meta.tracks.filter((t) => /^worker/.test(t.name) && t.cpu_samples).map((t) => t.id);
  const ws = marks.filter((k) => workers.includes(k.track));
  const pickMarks = [0.2, 0.35, 0.5, 0.65, 0.8].map((f) => ws[Math.floor(f * ws.length)]).filter(Boolean);
  let inWorker = 0, ended = 0;
  const seen = [];
  for (const m of pickMarks) {
    await clickAndWait(page, m.x, m.y, m.id);
    const d = await page.evaluate(() => {
      const b = document.getElementById('details-body');
      return { kind: b.querySelector('[data-field="kind"]')?.textContent, partial: !!b.querySelector('.cpu-stack .note'),
        frames: [...b.querySelectorAll('.cpu-stack li')].map((li) => li.dataset.frame) };
    });
    const iw = d.frames.indexOf('worker'), is = d.frames.indexOf('start_thread');
    inWorker += d.kind === 'sample' && iw >= 0 && is > iw;
    ended += d.kind === 'sample' && (d.partial || d.frames.at(-1) === '__clone3');
    seen.push(d.frames.join(' < '));
  }
  check(pickMarks.length >= 3 && ended === pickMarks.length, `samples' stacks end at the thread's start (${ended} of ${pickMarks.length})`, seen.join('\n  '));
  check(inWorker > 0, `a sample in worker, under start_thread (${inWorker} of ${pickMarks.length}): ${seen.find((x) => /worker/.test(x))}`);

  // region slices of the workers with samples inside (found from the
  // samples: the outermost region open at a sample's time), selected as a
  // click selects them: their on-CPU count is the timeline's count of
  // samples inside them on that thread
  const picked = [];
  for (const m of ws.filter((_, i) => i % Math.max(1, Math.floor(ws.length / 40)) === 0)) {
    const at = await page.evaluate(async ([id, track]) => {
      const d = await (await fetch(`/api/slice?id=${id}`)).json();
      const r = await (await fetch(`/api/slices?t0=${d.start}&t1=${d.start + 1}&px=1&tracks=${track}`)).json();
      const s = r.traceEvents.find((e) => e.cat === 'region' && e.args.depth === 0 && !e.args.merged);
      return s ? { id: s.args.id, name: s.name, start: Math.round(s.ts * 1000), dur: Math.round(s.dur * 1000) } : null;
    }, [m.id, m.track]);
    if (at && !picked.some((p) => p.s.id === at.id)) {
      const want = await samplesIn(page, m.track, at.start, at.start + at.dur - 1);
      if (want > 0) picked.push({ s: at, want });
    }
    if (picked.length === 3) break;
  }
  let tried = 0, matched = 0;
  for (const { s, want } of picked) {
    tried++;
    await page.evaluate((id) => window.__ctrace.select(id), s.id);
    await page.waitForFunction((id) => {
      const b = document.getElementById('details-body');
      return b.dataset.id === id && b.querySelector('.cpu-samples');
    }, s.id, { timeout: 10_000 }).catch(() => {});
    const shown = await page.evaluate(() => {
      const c = document.querySelector('#details-body .cpu-samples');
      return c ? { n: Number(c.dataset.samples), rows: [...c.querySelectorAll('tr[data-fn]')].map((r) => r.dataset.fn) } : null;
    });
    if (check(shown && shown.n === want, `slice ${s.name} (${(s.dur / 1e6).toFixed(2)} ms): ${shown && shown.n} on-CPU samples, the timeline has ${want}`)) {
      matched++;
      check(shown.rows.length > 0, `its functions listed (${shown.rows.join(', ')})`);
    }
  }
  check(tried > 0 && matched === tried, `region slices checked (${matched} of ${tried})`);
  check(problems.length === 0, 'no page errors', problems.join('\n  '));
  await page.screenshot({ path: path.join(outDir, 'samples.png') });
  await page.close();

  // without samples: no strip, no "cpu" in a slice's details
  const plain = path.join(outDir, 'nosamples.ctrace');
  record(plain, false);
  const second = await openPage(await startServer(plain));
  const n = await second.page.evaluate(() => window.__ctrace.visibleSamples().length);
  const metaCpu = await second.page.evaluate(() => window.__ctrace.meta.cpu);
  check(n === 0 && metaCpu == null, `no samples: no strip (${n} marks, meta.cpu ${JSON.stringify(metaCpu)})`);
  check(second.problems.length === 0, 'no page errors (no samples)', second.problems.join('\n  '));
  await second.page.close();
  await liveFlameGraph();
}

/** The samples the CPU tab's flame graph counts now (its /api/cpu answer). */
const tabSamples = (page) => page.evaluate(() => {
  const s = window.__ctrace.analysis.state.cpu;
  return s && s.answer ? s.answer.samples : -1;
});

/** `ctrace run --view --cpu-hz 999 -- cpu_burn 4000`: while it runs, the
 * CPU tab's flame graph is asked again as the trace grows and counts more
 * samples, hot_a among its boxes. */
async function liveFlameGraph() {
  const trace = path.join(outDir, 'live-cpu.ctrace');
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  const run = spawn(ctraceBin, ['run', '--view', '--port', '0', '--cpu-hz', '999', '-o', trace, '--', burnBin, '4000'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(run);
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL from ctrace run --view: ${out}`)), 10_000);
    run.stdout.on('data', (d) => {
      out += d;
      const m = /timeline: (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    run.stderr.on('data', (d) => { out += d; });
  });
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.evaluate(() => window.__ctrace.ready);
  await page.waitForFunction(() => window.__ctrace.analysis && window.__ctrace.analysis.answer, null, { timeout: 10_000 });
  await page.click('#analysis-tabs button[data-tab="cpu"]');
  await page.waitForFunction(() => { const s = window.__ctrace.analysis.state.cpu; return s && s.answer && s.answer.samples > 0; },
    null, { timeout: 15_000 });
  const first = await tabSamples(page);
  // (an answer is replaced while the next one loads: take it when it is there)
  const later = await page.waitForFunction((n) => {
    const s = window.__ctrace.analysis.state.cpu;
    return s && s.answer && s.answer.samples > n + 300 ? s.answer.samples : false;
  }, first, { timeout: 15_000 }).then((h) => h.jsonValue()).catch(() => -1);
  const live = await page.evaluate(() => window.__ctrace.liveState);
  const hot = await page.waitForFunction(() => document.querySelectorAll('#analysis-body .fg-box[data-name="hot_a"]').length,
    null, { timeout: 10_000 }).then((h) => h.jsonValue()).catch(() => 0);
  check(later > first + 300 && live === 'following', `live: the flame graph grows while the program runs (${first} then ${later} samples, ${live})`);
  check(hot > 0, `live: hot_a in the flame graph (${hot} boxes)`);
  check(problems.length === 0, 'no page errors (live)', problems.join('\n  '));
  await page.close();
}

h.run(main);
