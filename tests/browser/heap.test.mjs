#!/usr/bin/env node
// Browser test of the heap flame graph (web/heap_flame.js): heap_sites
// (tests/progs/heap_sites.c) recorded by `ctrace run --heap-rate 1`, so
// that every allocation is a sample, served by `ctrace view`, in headless
// Chromium (playwright-core, the system /usr/bin/chromium). A click on the
// "heap live bytes" counter inside the 50 ms pause after keep_big's loop
// shows in the details panel what was in use then: keep_big's 2000 blocks
// of 4096 bytes, its box in the flame graph, nothing of the later sites;
// a click on a box zooms into it. A range selected on the ruler over the
// whole trace offers "allocated in this range", whose graph has
// churn_small (allocated and freed) beside keep_big.
//
//   node heap.test.mjs CTRACE_BIN HEAP_SITES_BIN OUTDIR
//
// Exit status 0 when every check passes (also with CTRACE_TEST_NO_RUN=1,
// a sanitizer build: said, nothing checked).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from './harness.mjs';
import { startServer as startServerOf } from './view_server.mjs';

const [ctraceBin, sitesBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !sitesBin || !outDir) {
  console.error('usage: node heap.test.mjs CTRACE_BIN HEAP_SITES_BIN OUTDIR');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

/** An instant in the pause: the middle of the instants (of 400 across the trace) where /api/heap says exactly keep_big's blocks were in use. */
async function pauseOf(url, meta) {
  const hits = [];
  for (let i = 0; i <= 400; i++) {
    const at = meta.t0 + Math.round(((meta.t1 - meta.t0) * i) / 400);
    const r = await (await fetch(`${url}api/heap?at=${at}`)).json();
    if (r.bytes === 2000 * 4096 && r.objects === 2000) hits.push(at);
  }
  log(`${hits.length} of 401 instants with keep_big's blocks alone in use`);
  return hits.length ? hits[Math.floor(hits.length / 2)] : null;
}

/** What the details panel's heap flame graph shows, once drawn. */
async function flameInfo(page) {
  await page.waitForFunction(() => {
    const f = document.querySelector('#details-body .heap-flame');
    return f && f.dataset.state !== 'loading';
  }, null, { timeout: 15_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => {
    const f = document.querySelector('#details-body .heap-flame');
    const boxes = [...f.querySelectorAll('.fg-box')];
    const named = (n) => boxes.filter((b) => b.dataset.name === n).map((b) => {
      const r = b.getBoundingClientRect();
      return { w: r.width, text: b.textContent, title: b.title };
    });
    return { state: f.dataset.state, kind: f.dataset.kind, bytes: Number(f.dataset.bytes), objects: Number(f.dataset.objects),
      title: (f.querySelector('.heap-title') || {}).textContent || f.textContent, names: [...new Set(boxes.map((b) => b.dataset.name))],
      keepBig: named('keep_big'), churn: named('churn_small'), top: boxes[0] && boxes[0].dataset.name,
      crumbs: [...f.querySelectorAll('.fg-crumbs button')].map((b) => b.textContent) };
  });
}

async function main() {
  if (process.env.CTRACE_TEST_NO_RUN === '1') {
    log('skipped: a sanitizer build (ctrace run cannot preload its wrappers into sanitized programs)');
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'heap.ctrace');
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  execFileSync(ctraceBin, ['run', '--heap-rate', '1', '-o', trace, '--', sitesBin, '1000'],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  const url = await startServer(trace);
  const meta = await (await fetch(`${url}api/meta`)).json();
  const at = await pauseOf(url, meta);
  if (!check(at != null, 'an instant in the pause after keep_big\'s loop')) return;

  await h.launch();
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));

  // ---- a click on the heap counter at the instant ----
  const spot = await page.evaluate((t) => {
    const tl = window.__ctrace.timeline;
    const row = tl.layout.rows.find((r) => r.kind === 'counter' && r.name === 'heap live bytes');
    if (!row) return null;
    const rect = tl.els.canvas.getBoundingClientRect();
    return { x: rect.left + tl.xOf(t), y: rect.top + row.y + row.h / 2 - tl.els.scroller.scrollTop };
  }, at - meta.t0);
  if (!check(spot != null, 'a "heap live bytes" counter row')) return;
  await page.mouse.click(spot.x, spot.y);
  let f = await flameInfo(page);
  log(`in use: ${f.title}; boxes ${f.names.join(', ')}`);
  check(f.state === 'done' && f.kind === 'inuse', 'the in-use flame graph is shown', JSON.stringify(f));
  check(f.bytes === 2000 * 4096 && f.objects === 2000, 'in use: keep_big\'s 2000 blocks of 4096 bytes', `${f.bytes} in ${f.objects}`);
  check(/^in use at .*: 7\.8 MiB in 2.?000 objects \(exact: 2.?000 samples, every allocation\)$/.test(f.title), 'its title', f.title);
  check(f.keepBig.length === 1 && /8\.?192\.?000|7\.8 MiB/.test(f.keepBig[0].title) && f.keepBig[0].title.includes('2,000 objects'),
    'keep_big\'s box, with its bytes and objects', JSON.stringify(f.keepBig));
  check(f.keepBig.length === 1 && f.keepBig[0].text === 'keep_big' && f.keepBig[0].w > 100, 'keep_big named in a wide box', JSON.stringify(f.keepBig));
  check(!f.names.some((n) => ['keep_grown', 'calloc_kept', 'churn_small'].includes(n)), 'nothing of the other sites', f.names.join(', '));
  check(f.top === 'all', 'the root box first', f.top);
  // a click on keep_big zooms into it
  await page.click('#details-body .heap-flame .fg-box[data-name="keep_big"]'); // (scrolled into view)
  f = await flameInfo(page);
  check(f.crumbs[f.crumbs.length - 1] === 'keep_big', 'a click on keep_big zooms into it', f.crumbs.join(' › '));

  // ---- a range over the whole trace, on the ruler ----
  const ruler = await page.evaluate(() => {
    const r = document.getElementById('ruler').getBoundingClientRect();
    return { x0: r.left + 2, x1: r.right - 2, y: r.top + r.height / 2 };
  });
  await page.mouse.move(ruler.x0, ruler.y);
  await page.mouse.down();
  await page.mouse.move((ruler.x0 + ruler.x1) / 2, ruler.y, { steps: 4 });
  await page.mouse.move(ruler.x1, ruler.y, { steps: 4 });
  await page.mouse.up();
  const button = await page.waitForSelector('#details-body button.heap-range', { timeout: 3000 }).catch(() => null);
  if (!check(button != null, 'a range offers "allocated in this range"')) return;
  await button.click();
  f = await flameInfo(page);
  log(`allocated: ${f.title}; boxes ${f.names.join(', ')}`);
  check(f.state === 'done' && f.kind === 'allocated', 'the allocated flame graph is shown', JSON.stringify(f));
  check(f.churn.length === 1 && f.keepBig.length === 1, 'churn_small and keep_big boxes', f.names.join(', '));
  check(f.churn.length === 1 && f.churn[0].title.includes('62.5 KiB in 1,000 objects'), 'churn_small: 64000 bytes in 1000 objects',
    JSON.stringify(f.churn));
  check(/still in use at its end/.test(f.title), 'the title says what is still in use', f.title);
  check(!problems.length, 'no page errors', problems.join('; '));
}

const startServer = (trace) => startServerOf(ctraceBin, trace, servers);

h.run(main);
