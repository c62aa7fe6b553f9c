#!/usr/bin/env node
// Browser test of the "record N s" control (web/record.js) of
// `ctrace view --pid PID`: pprof_target (tests/progs/pprof_target.c: a
// thread burning CPU in pprof_hot, a counter printed every 20 ms) runs with
// a control socket (under the wrappers, or linked with libctrace in
// sanitizer builds), the view attaches to it, and in headless Chromium
// (playwright-core, the system /usr/bin/chromium) the control records 2 s.
// Checks: the control is there (and not in a view of a file); the click
// records without stopping the program (its counter grows meanwhile); the
// window recorded becomes the selected range and the CPU tab draws its
// flame graph, pprof_hot in it; the pprof file is offered for download;
// the page has no errors.
//
//   node record.test.mjs CTRACE_BIN TARGET_BIN OUTDIR [PRELOAD_LIB]
//
// Exit status 0 when every check passes (also when this machine refuses
// CPU samples: said, the rest checked).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from './harness.mjs';

const [ctraceBin, targetBin, outDir, preload] = process.argv.slice(2);
if (!ctraceBin || !targetBin || !outDir) {
  console.error('usage: node record.test.mjs CTRACE_BIN TARGET_BIN OUTDIR [PRELOAD_LIB]');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

/** pprof_target 60 with a control socket; resolves to { proc, log() } once ready. */
function startTarget(sock) {
  const env = { ...process.env, CTRACE_CONTROL: sock };
  if (preload) env.LD_PRELOAD = preload;
  const proc = spawn(targetBin, ['60'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  servers.push(proc);
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  const tick = () => { const m = out.match(/tick (\d+)\n(?![\s\S]*tick)/); return m ? Number(m[1]) : 0; };
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (/ready \d+/.test(out) && fs.existsSync(sock)) {
        clearInterval(t);
        resolve({ proc, tick });
      }
    }, 20);
    proc.on('exit', (code) => { clearInterval(t); reject(new Error(`pprof_target exited (${code})`)); });
  });
}

/** `ctrace view --pid PID --port 0`: resolves to its URL (the process in h.view). */
function startView(pid) {
  return new Promise((resolve, reject) => {
    const v = spawn(ctraceBin, ['view', '--pid', String(pid), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(v);
    h.view = v;
    let out = '', err = '';
    const timer = setTimeout(() => reject(new Error(`no URL from ctrace view after 10 s: ${out} ${err}`)), 10_000);
    v.stdout.on('data', (d) => {
      out += d;
      const m = /timeline: (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    v.stderr.on('data', (d) => { err += d; });
    v.on('exit', (code) => { clearTimeout(timer); reject(new Error(`ctrace view exited (${code}): ${err}`)); });
  });
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const sock = path.join(outDir, `record-${process.pid}.sock`);
  fs.rmSync(sock, { force: true });
  const target = await startTarget(sock);
  log(`pprof_target pid ${target.proc.pid}`);
  const url = await startView(target.proc.pid);
  log(`view at ${url}`);
  await h.launch();
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__ctrace.meta, null, { timeout: 10_000 });
  const btn = page.locator('#record-btn');
  check(await btn.isVisible(), 'the "record N s" control is shown', await page.locator('#toolbar').innerText());
  await page.fill('#record-seconds', '2');
  check(/record 2 s/.test(await btn.innerText()), `its label follows the seconds ("${await btn.innerText()}")`);

  const tick0 = target.tick();
  await btn.click();
  await page.waitForFunction(() => /recording/.test(document.getElementById('record-btn').textContent), null,
    { timeout: 2000 }).catch(() => {});
  const during = await btn.innerText();
  check(/recording 2 s/.test(during), `the button says it records ("${during}")`);
  const done = await page.waitForFunction(() => window.__ctrace.record.last
    || /failed/.test(document.getElementById('record-status').textContent), null, { timeout: 20_000 })
    .then(() => true).catch(() => false);
  const status = await page.locator('#record-status').innerText();
  const banner = await page.locator('#banner').innerText().catch(() => '');
  if (/cannot sample/.test(banner)) {
    log(`CPU samples refused on this machine: ${banner}`);
    check(status === 'failed', 'the refusal is said');
    return;
  }
  check(done && status !== 'failed', `recorded (${status})`, banner);
  const tick1 = target.tick();
  check(tick1 > tick0 + 50, `the program kept running (its counter ${tick0} -> ${tick1})`);
  const last = await page.evaluate(() => window.__ctrace.record.last);
  check(last && Math.abs((last.t1 - last.t0) / 1e9 - 2) < 0.5, `the window recorded spans ~2 s (${last && ((last.t1 - last.t0) / 1e9).toFixed(2)} s)`);
  // the window, clamped to the trace (where the program records nothing but
  // its samples, the trace ends at the last one: then it may be all of it)
  const range = await page.evaluate(() => window.__ctrace.analysis.range);
  const meta = await page.evaluate(() => ({ t0: window.__ctrace.meta.t0, t1: window.__ctrace.meta.t1 }));
  const want = last && { t0: Math.max(0, last.t0 - meta.t0), t1: Math.min(meta.t1, last.t1) - meta.t0 };
  const whole = want && want.t0 < 2e6 && want.t1 > meta.t1 - meta.t0 - 2e6;
  check(want && (range ? Math.abs(range.t0 - want.t0) < 2e6 && Math.abs(range.t1 - want.t1) < 2e6 : whole)
    && want.t1 - want.t0 > 1.5e9, 'that window is the Analyses panel\'s range', JSON.stringify({ range, want, meta }));
  check(await page.evaluate(() => window.__ctrace.analysis.tab) === 'cpu', 'the CPU tab is open');
  const drawn = await page.waitForFunction(() => [...document.querySelectorAll('#analysis-body .fg .fg-box')]
    .some((b) => b.dataset.name === 'pprof_hot'), null, { timeout: 15_000 }).then(() => true).catch(() => false);
  const names = await page.evaluate(() => [...document.querySelectorAll('#analysis-body .fg .fg-box')].slice(0, 12)
    .map((b) => b.dataset.name));
  check(drawn, 'its flame graph shows pprof_hot', JSON.stringify(names));
  const link = await page.locator('#record-pprof');
  check(await link.isVisible() && /\.pb\.gz$/.test(await link.getAttribute('download')), 'the pprof file is offered');
  check(target.proc.exitCode == null, 'the program still runs');
  check(h.view.exitCode == null, 'the view still serves', `exit ${h.view.exitCode} ${h.view.signalCode}`);
  check(problems.length === 0, 'no page errors', problems.join('; '));
  await page.close();
}

h.run(main);
