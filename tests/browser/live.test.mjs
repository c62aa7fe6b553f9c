#!/usr/bin/env node
// Browser test of the live view: tests/progs/pulse.c records a "tick"
// region every 100 ms (a thread "late" joins halfway) under
// `ctrace run --view --port 0`; headless Chromium opens the URL it prints
// while the program runs and checks that
//   - updates are pushed over /api/events (no polling, no page reload);
//   - new ticks appear on the page while it runs, and how long after they
//     happened: each tick's slice starts at the event's CLOCK_MONOTONIC ns,
//     and the moment the page first draws it is taken on the same clock in
//     this process (process.hrtime is CLOCK_MONOTONIC), so latency = drawn
//     - happened; median and max are printed, the max must be <= 1 s;
//   - the view follows the present; a zoom pauses it (the view then stays),
//     the Live button and the L key resume it;
//   - the "late" thread's row appears in place;
//   - "Ended" is shown once the program has exited, with every tick;
//   - the Analyses panel follows the growing trace;
//   - no console errors; and `ctrace run` keeps serving until SIGTERM, then
//     exits with the program's status.
// Before that, a page opened on `ctrace view --follow` of a trace not yet
// written says it waits, then grows its first rows in place.
// With CTRACE_TEST_NO_RUN=1 (sanitizer builds, where the wrappers cannot be
// preloaded) the program records through its own instrumentation
// (CTRACE_OUT) and `ctrace view --follow` follows the file instead.
//
//   node live.test.mjs CTRACE_BIN PULSE_BIN OUTDIR

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [ctraceBin, pulseBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !pulseBin || !outDir) {
  console.error('usage: node live.test.mjs CTRACE_BIN PULSE_BIN OUTDIR');
  process.exit(2);
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const NO_RUN = process.env.CTRACE_TEST_NO_RUN === '1';
const RUN_S = 8;          // how long the program ticks
const PERIOD_MS = 100;
const STATUS = 3;         // its exit status, passed on by ctrace run
const MAX_LATENCY_MS = 1000;

const procs = [];
let context = null;
let userDataDir = null;
let failures = 0;
const t0 = Date.now();

function log(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

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
  for (const p of procs.splice(0)) if (p.exitCode == null && p.signalCode == null) p.kill('SIGKILL');
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(1);
  });
}
const watchdog = setTimeout(async () => {
  log('FAIL the test took longer than 100 s');
  await cleanup();
  process.exit(1);
}, 100_000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const monoNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, as the trace's timestamps
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Spawns a process whose output is collected; resolves with it and its URL once "timeline: URL" is printed. */
function spawnServer(args, env = process.env) {
  const p = spawn(ctraceBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  procs.push(p);
  const out = { stdout: '', stderr: '', exit: null };
  p.stdout.on('data', (d) => { out.stdout += d; });
  p.stderr.on('data', (d) => { out.stderr += d; });
  out.exited = new Promise((r) => p.on('exit', (code, sig) => { out.exit = { code, sig }; r(out.exit); }));
  out.url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 15 s: ${out.stdout} ${out.stderr}`)), 15_000);
    p.stdout.on('data', () => {
      const m = /timeline: (http:\/\/\S+)/.exec(out.stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    out.exited.then(() => { clearTimeout(timer); reject(new Error(`exited (${JSON.stringify(out.exit)}): ${out.stderr}`)); });
  });
  return { p, out };
}

/** Every error the page reports fails the test. */
function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => {
    // (the event stream is cut when the page goes: not a failure)
    if (!r.url().endsWith('/api/events')) problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  return problems;
}

/** In the page: absolute start (ns) of the "tick" slices drawn now. */
const drawnTicks = () => {
  const t = window.__ctrace;
  return t.visibleSlices().filter((s) => s.name === 'tick').map((s) => t.meta.t0 + s.start);
};

/**
 * Waits (checking at every animation frame) until ticks later than `after`
 * are drawn; returns their starts and when they were seen (CLOCK_MONOTONIC ns).
 */
async function nextTicks(page, after, timeout = 3000) {
  const h = await page.waitForFunction((prev) => {
    const t = window.__ctrace;
    const fresh = t.visibleSlices().filter((s) => s.name === 'tick').map((s) => t.meta.t0 + s.start).filter((x) => x > prev);
    return fresh.length ? fresh : false;
  }, after, { polling: 'raf', timeout });
  const seen = monoNs();
  const starts = await h.jsonValue();
  await h.dispose();
  return { starts, seen };
}

/**
 * Measures latency over `ms`: of the ticks that happen from now on (older
 * ones drawn late, say after a pause, do not count); returns [latency ms, tick ns].
 */
async function measure(page, ms, state) {
  const lat = [];
  const since = monoNs();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    let got;
    try {
      got = await nextTicks(page, state.last);
    } catch {
      // no new tick (the program ended): what the page has, for the record
      const st = await page.evaluate(() => {
        const t = window.__ctrace;
        const ticks = t.visibleSlices().filter((x) => x.name === 'tick').map((x) => x.start);
        return { view: t.view, dur: t.meta.t1 - t.meta.t0, following: t.live.following, idle: t.idle,
          gen: t.liveGeneration, state: t.liveState, lastTick: Math.max(0, ...ticks), drawn: ticks.length,
          scene: t.timeline.scene && t.timeline.scene.window };
      });
      if (process.env.CTRACE_TEST_VERBOSE || st.state === 'following') log(`(no new tick for 3 s: ${JSON.stringify(st)})`);
      break;
    }
    for (const s of got.starts) if (BigInt(s) >= since) lat.push([Number(got.seen - BigInt(s)) / 1e6, s]);
    state.last = Math.max(state.last, ...got.starts);
  }
  return lat;
}

/** A page opened before the trace exists: "waiting", then the first rows, in place. */
async function waitingScenario() {
  log('---- a page opened before the trace exists ----');
  const trace = path.join(outDir, 'live-waiting.ctrace');
  for (const f of fs.readdirSync(outDir)) if (f.startsWith('live-waiting.ctrace')) fs.rmSync(path.join(outDir, f), { force: true });
  const server = spawnServer(['view', '--follow', trace, '--port', '0']);
  const url = await server.out.url;
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__ctrace.liveState === 'following', null, { timeout: 5000 }).catch(() => {});
  const empty = await page.locator('#empty').innerText();
  check(/Waiting for the trace/.test(empty) && await page.locator('#empty').isVisible(), `an empty page says it waits ("${empty}")`);
  await page.evaluate(() => { window.__noReload = true; });
  const prog = spawn(pulseBin, ['1.2', String(PERIOD_MS), '0'], { stdio: 'ignore', env: { ...process.env, CTRACE_OUT: trace } });
  procs.push(prog);
  await page.waitForFunction(() => window.__ctrace.visibleSlices().some((s) => s.name === 'tick'), null, { timeout: 5000 }).catch(() => {});
  const labels = await page.locator('#gutter .row-label .name').allTextContents();
  check(labels.includes('pulse') && await page.locator('#empty').isHidden(), `rows appear as it is written (${labels.join(', ')})`);
  await page.waitForFunction(() => window.__ctrace.liveState === 'ended', null, { timeout: 10_000 }).catch(() => {});
  const end = await page.evaluate(() => ({ state: window.__ctrace.liveState, noReload: window.__noReload === true,
    ticks: window.__ctrace.visibleSlices().filter((s) => s.name === 'tick').length }));
  check(end.state === 'ended' && end.noReload && end.ticks >= 8, `then "ended", all in place (${JSON.stringify(end)})`);
  check(problems.length === 0, 'no page errors, console errors, failed requests or HTTP errors (waiting)', problems.join('\n  '));
  await page.close();
  server.p.kill('SIGTERM');
  await server.out.exited;
}

/** A trace followed through a scale index kept in memory (--index scale):
 *  the ticks appear as written, the open region ("life" of pulse, if any)
 *  is drawn, /api/meta says the index is live, then "ended" with every tick. */
async function scaleScenario() {
  log('---- followed through a scale index kept in memory ----');
  const trace = path.join(outDir, 'live-scale.ctrace');
  for (const f of fs.readdirSync(outDir)) if (f.startsWith('live-scale.ctrace')) fs.rmSync(path.join(outDir, f), { force: true });
  const prog = spawn(pulseBin, ['2', String(PERIOD_MS), '0'], { stdio: 'ignore', env: { ...process.env, CTRACE_OUT: trace } });
  procs.push(prog);
  for (let i = 0; i < 50 && !fs.existsSync(trace); i++) await new Promise((r) => setTimeout(r, 50));
  const server = spawnServer(['view', '--follow', trace, '--index', 'scale', '--port', '0']);
  const url = await server.out.url;
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(url, { waitUntil: 'load' });
  await page.evaluate(() => { window.__noReload = true; });
  await page.waitForFunction(() => window.__ctrace.visibleSlices().filter((s) => s.name === 'tick').length >= 3, null, { timeout: 8000 }).catch(() => {});
  const mid = await page.evaluate(async () => {
    const m = await (await fetch('api/meta')).json();
    return { scale: m.scale, state: window.__ctrace.liveState,
      ticks: window.__ctrace.visibleSlices().filter((s) => s.name === 'tick').length };
  });
  check(mid.scale && mid.scale.live === true && mid.state === 'following' && mid.ticks >= 3,
    `ticks appear while it runs, through a live scale index (${JSON.stringify(mid)})`);
  await page.waitForFunction(() => window.__ctrace.liveState === 'ended', null, { timeout: 10_000 }).catch(() => {});
  await page.waitForFunction(() => window.__ctrace.visibleSlices().filter((s) => s.name === 'tick').length >= 18, null, { timeout: 3000 }).catch(() => {});
  const end = await page.evaluate(() => ({ state: window.__ctrace.liveState, noReload: window.__noReload === true,
    ticks: window.__ctrace.visibleSlices().filter((s) => s.name === 'tick').length }));
  check(end.state === 'ended' && end.noReload && end.ticks >= 18, `then "ended", every tick in place (${JSON.stringify(end)})`);
  check(problems.length === 0, 'no page errors, console errors, failed requests or HTTP errors (scale)', problems.join('\n  '));
  await page.close();
  server.p.kill('SIGTERM');
  await server.out.exited;
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  fs.mkdirSync(outDir, { recursive: true });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrace-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1,
  });
  await waitingScenario();
  await scaleScenario();
  log('---- the program, live ----');
  const trace = path.join(outDir, 'live.ctrace');
  for (const f of fs.readdirSync(outDir)) if (f.startsWith('live.ctrace')) fs.rmSync(path.join(outDir, f), { force: true });

  // ---- The program under ctrace run --view (or followed by ctrace view --follow) ----
  let server, prog = null;
  const started = monoNs();
  const ticksFile = path.join(outDir, 'live.ticks');
  fs.rmSync(ticksFile, { force: true });
  process.env.PULSE_TICKS_FILE = ticksFile; // (pulse says how many ticks it recorded)
  if (NO_RUN) {
    log('mode: CTRACE_OUT=FILE pulse + ctrace view --follow FILE (sanitizer build)');
    server = spawnServer(['view', '--follow', trace, '--port', '0']);
  } else {
    log(`mode: ctrace run --view -- pulse ${RUN_S} ${PERIOD_MS} ${STATUS}`);
    server = spawnServer(['run', '--view', '--port', '0', '-o', trace, '--', pulseBin, String(RUN_S), String(PERIOD_MS), String(STATUS)]);
  }
  const url = await server.out.url;
  log(`serving at ${url} ${(Number(monoNs() - started) / 1e6).toFixed(0)} ms after the start`);
  if (NO_RUN) {
    prog = spawn(pulseBin, [String(RUN_S), String(PERIOD_MS), String(STATUS)], {
      stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CTRACE_OUT: trace },
    });
    procs.push(prog);
  }
  const progStarted = Date.now();
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.evaluate(() => { window.__noReload = true; });

  // ---- Live, pushed ----
  const first = await page.evaluate(() => ({ ...window.__ctrace.live, feed: undefined, state: window.__ctrace.liveState }));
  check(first.state === 'following' && first.following === true, `state "following", follow the present on by default (${JSON.stringify(first)})`);
  await page.waitForFunction(() => window.__ctrace.live.transport === 'events', null, { timeout: 3000 }).catch(() => {});
  check(await page.evaluate(() => window.__ctrace.live.transport) === 'events', 'updates come over /api/events (EventSource)');
  check(/^Live ·/.test(await page.locator('#live').innerText()), `the Live control is shown ("${await page.locator('#live').innerText()}")`);

  // ---- New ticks appear while it runs; latency ----
  const state = { last: Math.max(0, ...(await page.evaluate(drawnTicks))) };
  const lat = await measure(page, 2500, state);
  if (process.env.CTRACE_TEST_VERBOSE) log(`latencies: ${lat.map(([ms]) => ms.toFixed(0)).join(' ')}`);
  check(lat.length >= 15, `new ticks drawn while the program runs (${lat.length} in 2.5 s)`);
  const view = await page.evaluate(() => ({ v: window.__ctrace.view, dur: window.__ctrace.meta.t1 - window.__ctrace.meta.t0 }));
  check(view.v.t1 >= view.dur && view.v.t1 - view.dur <= view.v.span * 0.05,
    `the view's right edge is at the newest event (view ends ${((view.v.t1 - view.dur) / 1e6).toFixed(1)} ms after it)`);
  const shown = (await page.evaluate(drawnTicks)).length;
  check(view.v.t0 <= 0 && shown >= 20, `opened at the start, it shows the whole trace as it grows (${(view.v.span / 1e9).toFixed(2)} s, ${shown} ticks)`);
  if (process.env.CTRACE_TEST_VERBOSE) log(`(view ${JSON.stringify(view)}, following ${await page.evaluate(() => window.__ctrace.live.following)})`);

  // ---- Pause: a zoom pauses following; the view then stays ----
  const box = await page.locator('#tracks').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + 40);
  await page.mouse.wheel(0, -300);
  await page.waitForFunction(() => !window.__ctrace.live.following, null, { timeout: 2000 }).catch(() => {});
  const paused = await page.evaluate(() => ({ f: window.__ctrace.live.following, v: window.__ctrace.view, t1: window.__ctrace.meta.t1, g: window.__ctrace.liveGeneration }));
  check(paused.f === false && /^Paused/.test(await page.locator('#live').innerText()), 'a zoom pauses following ("Paused" shown)');
  await sleep(800);
  const later = await page.evaluate(() => ({ v: window.__ctrace.view, t1: window.__ctrace.meta.t1, g: window.__ctrace.liveGeneration }));
  check(later.g > paused.g && later.t1 > paused.t1, `paused, the trace still grows (generation ${paused.g} -> ${later.g})`);
  check(later.v.t0 === paused.v.t0 && later.v.t1 === paused.v.t1, 'paused, the view stays where it is');
  await page.click('#live');
  const resumed = await page.evaluate(() => ({ f: window.__ctrace.live.following, v: window.__ctrace.view, dur: window.__ctrace.meta.t1 - window.__ctrace.meta.t0 }));
  check(resumed.f === true && resumed.v.t1 >= resumed.dur && /^Live/.test(await page.locator('#live').innerText()),
    'the Live button resumes following, at the newest event');
  await page.keyboard.press('l');
  const byKey = await page.evaluate(() => window.__ctrace.live.following);
  await page.keyboard.press('l');
  check(byKey === false && await page.evaluate(() => window.__ctrace.live.following), 'L pauses and resumes');

  // ---- The rest of the run: more latency, and the "late" thread's row ----
  state.last = Math.max(state.last, ...(await page.evaluate(drawnTicks)));
  if (process.env.CTRACE_TEST_VERBOSE) {
    log(`(resumed: ${JSON.stringify(await page.evaluate(() => ({ v: window.__ctrace.view, dur: window.__ctrace.meta.t1 - window.__ctrace.meta.t0, f: window.__ctrace.live.following, last: window.__ctrace.meta.t0 })))}, last tick ${state.last})`);
  }
  const left = RUN_S * 1000 - (Date.now() - progStarted) - 300;
  const lat2 = await measure(page, Math.max(0, left), state);
  if (process.env.CTRACE_TEST_VERBOSE) log(`latencies: ${lat2.map(([ms]) => ms.toFixed(0)).join(' ')}`);
  lat.push(...lat2);
  await page.waitForFunction(() => [...document.querySelectorAll('#gutter .row-label .name')].some((e) => e.textContent === 'late'),
    null, { timeout: 3000 }).catch(() => {});
  const labels = await page.locator('#gutter .row-label .name').allTextContents();
  check(labels.includes('late'), `the "late" thread's row appeared in place (${labels.join(', ')})`);
  const lateDrawn = await page.evaluate(() => window.__ctrace.visibleSlices().filter((s) => s.name === 'late tick').length);
  check(lateDrawn > 0, `its "late tick" slices are drawn (${lateDrawn})`);

  // ---- Ended ----
  const tEnd = Date.now();
  await page.waitForFunction(() => window.__ctrace.liveState === 'ended', null, { timeout: 10_000 }).catch(() => {});
  const endText = await page.locator('#live').innerText();
  check(/^Ended/.test(endText), `"Ended" shown ${((Date.now() - progStarted) / 1000 - RUN_S).toFixed(1)} s after the program's end (${endText})`);
  log(`(ended ${Date.now() - tEnd} ms after the last measurement)`);
  const fin = await page.evaluate(async () => {
    const meta = await (await fetch('/api/meta')).json();
    const ticks = await (await fetch('/api/search?q=tick&limit=1')).json();
    return { page: window.__ctrace.meta.events, server: meta.events, complete: meta.sources.every((s) => s.complete),
      problems: meta.sources.map((s) => s.problem).filter(Boolean), ticks: ticks.total, noReload: window.__noReload === true,
      messages: window.__ctrace.live.messages, refreshes: window.__ctrace.live.refreshes };
  });
  check(fin.page === fin.server && fin.complete && !fin.problems.length,
    `the page holds the whole trace (${fin.page} of ${fin.server} events, every source complete)`, JSON.stringify(fin.problems));
  // every tick pulse says it recorded (how many depends on how fast this machine runs it)
  const recorded = fs.existsSync(ticksFile) ? Number(fs.readFileSync(ticksFile, 'utf8')) : NaN;
  check(fin.ticks === recorded && recorded > 10, `every tick is in it (${fin.ticks} "tick" and "late tick" slices; pulse recorded ${recorded})`);
  check(fin.noReload, `no page reload (${fin.messages} update events, ${fin.refreshes} refreshes)`);
  // the Analyses panel (the whole trace) is asked again as it grows: in the end, every tick
  await page.waitForFunction((n) => {
    const a = window.__ctrace.analysis;
    const r = a.answer && a.answer.regions.find((x) => x.name === 'tick');
    return r && r.count === n && !a.inflight;
  }, fin.ticks - (await page.evaluate(async () => (await (await fetch('/api/search?q=late&limit=1')).json()).total)),
  { timeout: 5000 }).catch(() => {});
  const an = await page.evaluate(() => {
    const a = window.__ctrace.analysis;
    const r = a.answer && a.answer.regions.find((x) => x.name === 'tick');
    return { loads: a.loads, ticks: r ? r.count : null };
  });
  check(an.loads >= 3 && an.ticks >= ((RUN_S * 1000) / PERIOD_MS) * 0.85,
    `the Analyses panel followed the growing trace (${an.loads} answers, ${an.ticks} ticks in the last)`);

  // ---- Latency ----
  if (lat.length) {
    const ms = lat.map(([x]) => x);
    const med = median(ms), max = Math.max(...ms), min = Math.min(...ms);
    log(`latency from an event to the screen over ${lat.length} ticks: median ${med.toFixed(0)} ms, max ${max.toFixed(0)} ms, min ${min.toFixed(0)} ms`);
    check(max <= MAX_LATENCY_MS, `latency max ${max.toFixed(0)} ms <= ${MAX_LATENCY_MS} ms (median ${med.toFixed(0)} ms)`);
  } else {
    check(false, 'latency: no tick was seen arriving');
  }
  const shot = path.join(outDir, 'viewer-live.png');
  await page.screenshot({ path: shot });
  log(`screenshot ${shot}`);
  check(problems.length === 0, 'no page errors, console errors, failed requests or HTTP errors', problems.join('\n  '));
  await page.close();

  // ---- Stopping ----
  if (NO_RUN) {
    const code = await new Promise((r) => (prog.exitCode != null ? r(prog.exitCode) : prog.on('exit', r)));
    check(code === STATUS, `the program exited with ${code}`);
    server.p.kill('SIGTERM');
    const e = await server.out.exited;
    check(e.code === 0, `ctrace view --follow stops on SIGTERM, exit 0 (${JSON.stringify(e)})`);
  } else {
    check(/the live view stays at http:\/\/\S+ until/.test(server.out.stderr) && server.out.exit == null,
      'after the program, ctrace run says the view stays, and keeps serving');
    server.p.kill('SIGTERM');
    const e = await Promise.race([server.out.exited, sleep(10_000).then(() => 'timeout')]);
    check(e !== 'timeout' && e.code === STATUS, `ctrace run stops on SIGTERM with the program's status ${STATUS} (${JSON.stringify(e)})`);
  }
}

try {
  await main();
} catch (e) {
  failures++;
  log(`FAIL ${e.stack || e}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
