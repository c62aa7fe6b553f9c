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
// has no strip.
//
//   node samples.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR
//
// Exit status 0 when every check passes (also when this machine refuses
// CPU samples, or CTRACE_TEST_NO_RUN=1: said, nothing checked).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer as startServerOf } from './view_server.mjs';

const [ctraceBin, pipelineBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !pipelineBin || !outDir) {
  console.error('usage: node samples.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

const servers = [];
let context = null, userDataDir = null, failures = 0;
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
function check(ok, what, detail = '') {
  if (ok) log(`ok   ${what}`);
  else {
    failures++;
    log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  for (const s of servers.splice(0)) if (s.exitCode == null) s.kill('SIGTERM');
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}
const watchdog = setTimeout(async () => {
  log('FAIL the test took longer than 90 s');
  await cleanup();
  process.exit(1);
}, 90_000);

/** `ctrace view TRACE --port 0` (view_server.mjs): resolves to its URL. */
const startServer = (trace) => startServerOf(ctraceBin, trace, servers);

/** `ctrace run [--cpu-hz 999] -o trace -- PIPELINE -n 20000 -w 2`. */
function record(trace, cpu) {
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  const args = ['run', ...(cpu ? ['--cpu-hz', '999'] : []), '-o', trace, '--', pipelineBin, '-n', '20000', '-w', '2'];
  execFileSync(ctraceBin, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30_000 });
}

async function openPage(url) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.waitForFunction(() => window.__ctrace.idle, null, { timeout: 10_000 });
  return { page, problems };
}

/** Clicks at (x, y) and waits for the details of the mark with that id. */
async function clickAndWait(page, x, y, id) {
  await page.mouse.click(x, y);
  await page.waitForFunction((want) => {
    const b = document.getElementById('details-body');
    return b.dataset.id === want && !/loading…/.test(b.textContent);
  }, id, { timeout: 10_000 });
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
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}`);
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'samples.ctrace');
  record(trace, true);
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrace-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1,
  });
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

  // a worker's sample: its stack, innermost first, with worker under start_thread
  const workers = meta.tracks.filter((t) => /^worker/.test(t.name) && t.cpu_samples).map((t) => t.id);
  const m = marks.find((k) => workers.includes(k.track));
  if (check(!!m, 'a sample mark on a worker row')) {
    await clickAndWait(page, m.x, m.y, m.id);
    const d = await page.evaluate(() => {
      const b = document.getElementById('details-body');
      return { kind: b.querySelector('[data-field="kind"]')?.textContent,
        frames: [...b.querySelectorAll('.cpu-stack li')].map((li) => li.dataset.frame) };
    });
    const iw = d.frames.indexOf('worker'), is = d.frames.indexOf('start_thread');
    check(d.kind === 'sample' && iw >= 0 && is > iw, `a sample's stack: ${d.frames.join(' < ')}`);
  }

  // a region slice of a worker that has samples inside: its on-CPU count is
  // the timeline's count of samples inside it on that thread
  const slices = await page.evaluate(() => window.__ctrace.visibleSlices());
  let tried = 0, matched = 0;
  for (const s of slices.filter((x) => workers.includes(x.track) && x.cat === 'region' && x.merged === 1 && x.dur > 2e5)
    .sort((a, b) => b.dur - a.dur).slice(0, 3)) {
    tried++;
    await clickAndWait(page, s.x, s.y, s.id);
    const shown = await page.evaluate(() => {
      const c = document.querySelector('#details-body .cpu-samples');
      return c ? { n: Number(c.dataset.samples), rows: [...c.querySelectorAll('tr[data-fn]')].map((r) => r.dataset.fn) } : null;
    });
    const want = await samplesIn(page, s.track, meta.t0 + s.start, meta.t0 + s.start + s.dur - 1);
    if (check(shown && shown.n === want, `slice ${s.name} (${(s.dur / 1e6).toFixed(1)} ms): ${shown && shown.n} on-CPU samples, the timeline has ${want}`)) {
      matched++;
      if (want > 0) check(shown.rows.length > 0, `its functions listed (${shown.rows.join(', ')})`);
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
}

main().catch((e) => { failures++; log(`FAIL ${e.stack || e}`); }).finally(async () => {
  clearTimeout(watchdog);
  await cleanup();
  log(failures ? `${failures} check(s) failed` : 'all checks passed');
  process.exit(failures ? 1 : 0);
});
