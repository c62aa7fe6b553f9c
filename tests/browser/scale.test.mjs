#!/usr/bin/env node
// Browser test of a trace opened through its scale index (TRACE.idx,
// viewer/analysis/scale_*.c): a gen_trace trace served by
// `ctrace view --index scale`, in headless Chromium (playwright-core, the
// system /usr/bin/chromium). The timeline draws its four threads' regions
// from the index's levels; zoomed in, from the batches decoded; a click on a
// region shows its details as /api/slice gives them; the search box lists
// the first matches and "Search further" the next; the header says the
// trace was opened through its index, and the Analyses panel says what it
// cannot compute yet instead of failing. A second view reuses the index.
//
//   node scale.test.mjs CTRACE_BIN GEN_TRACE_BIN OUTDIR

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from './harness.mjs';
import { startServer } from './view_server.mjs';

const [ctraceBin, genBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !genBin || !outDir) {
  console.error('usage: node scale.test.mjs CTRACE_BIN GEN_TRACE_BIN OUTDIR');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

/** `ctrace view TRACE --index scale --port 0`: its URL and what it said on stderr by then. */
async function startScaleView(trace) {
  const url = await startServer(ctraceBin, trace, servers, { args: ['--index', 'scale'], timeoutMs: 30_000 });
  const said = servers[servers.length - 1].said;
  return { url, said };
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'scale.ctrace');
  for (const f of [trace, `${trace}.idx`]) fs.rmSync(f, { force: true });
  execFileSync(genBin, [trace, '2000000'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  process.env.CTRACE_SCALE_SEARCH_EVENTS = '300000'; // (a search answers a part at a time)
  const first = await startScaleView(trace);
  const url = first.url;
  check(/scale index: built /.test(first.said()), 'the first view builds TRACE.idx', first.said());
  check(fs.existsSync(`${trace}.idx`), 'TRACE.idx is beside the trace');
  const meta = await (await fetch(`${url}api/meta`)).json();
  const names = meta.tracks.filter((t) => t.kind === 'thread').map((t) => t.name).sort();
  check(names.join(',') === 'gen-0,gen-1,gen-2,gen-3', 'its four threads, by the names they gave themselves', names.join(','));
  const counters = meta.tracks.filter((t) => t.kind === 'counter').map((t) => `${t.name}:${t.samples}`);
  check(counters.length === 1 && /^inflight:[1-9]/.test(counters[0]), 'and its counter, from the index', counters.join(','));

  await h.launch();
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]));
  check(ready === true, 'timeline ready', String(ready));
  const banner = await page.evaluate(() => document.body.innerText);
  check(/opened through its scale index/.test(banner), 'the header says the trace was opened through its scale index');
  check(!/Error:/.test(await page.evaluate(() => (document.querySelector('.banner') || document.body).innerText.split('\n')[0])),
    'no error banner');
  const whole = await page.evaluate(() => window.__ctrace.visibleSlices().length);
  check(whole > 100, `the whole trace: ${whole} regions drawn from the index's levels`);
  const status = await page.evaluate(() => document.getElementById('status').innerText);
  check(/zoom in for flows/.test(status), 'the status bar says arrows come zoomed in', status);
  // the Analyses panel: its Regions tab through the scale index, with a note saying what is computed
  await page.click('#analysis-tabs button[data-tab="regions"]').catch(() => {});
  await page.waitForFunction(() => /request/.test(document.getElementById('analysis-body').innerText), null, { timeout: 30_000 })
    .catch(() => {});
  const analyses = await page.evaluate(() => document.getElementById('analysis-body').innerText);
  check(/Read through the scale index: threads' states, regions, tasks, blocking, system calls computed for any window; work items/.test(analyses)
    && !/need[^.]*system calls/.test(analyses), 'the Analyses panel names what is computed and only what is not',
    analyses.slice(0, 300));
  const api = await (await fetch(`${url}api/analysis`)).json();
  const req = (api.regions || []).find((g) => g.name === 'request');
  check(req && req.count > 1000 && /request/.test(analyses), `the Regions tab lists gen_trace's regions (request: ${req && req.count})`,
    analyses.slice(0, 300));

  // the search box: a part of the trace at a time (here 300000 events a search,
  // CTRACE_SCALE_SEARCH_EVENTS), the list ending with a button that goes on
  await page.fill('#search-input', 'request');
  await page.waitForFunction(() => document.querySelectorAll('#results-body tbody tr').length > 0, null, { timeout: 15_000 })
    .catch(() => {});
  const rows1 = await page.locator('#results-body tbody tr').count();
  const firstId = await page.locator('#results-body tbody tr').first().getAttribute('data-id').catch(() => null);
  check(rows1 === 1000 && /^z\./.test(firstId || ''), `searching "request" lists its first 1000 (${rows1}, ${firstId})`);
  const further = page.locator('#search-more');
  if (check(await further.count() === 1, 'the list ends with "Search further"')) {
    await further.click();
    await page.waitForFunction(() => document.querySelectorAll('#results-body tbody tr').length > 1000, null, { timeout: 15_000 })
      .catch(() => {});
    const rows2 = await page.locator('#results-body tbody tr').count();
    const starts = await page.evaluate(() => [...document.querySelectorAll('#results-body tbody tr')].map((r) => r.dataset.id));
    check(rows2 > 1000 && new Set(starts).size === rows2, `"Search further" adds the next matches, none twice (${rows2})`);
  }
  await page.fill('#search-input', '');
  await page.locator('#search-input').blur(); // (keys go to the timeline again)
  await page.waitForTimeout(400);

  // zoomed in until regions come one by one (decoded from the batches)
  let target = null;
  for (let i = 0; i < 40 && !target; i++) {
    await page.keyboard.press('w');
    await page.waitForTimeout(150);
    target = await page.evaluate(() => {
      const all = window.__ctrace.visibleSlices().filter((s) => s.merged === 1 && s.w >= 20);
      all.sort((a, b) => b.w - a.w);
      return all[0] || null;
    });
  }
  if (check(target != null, 'zoomed in, regions drawn one by one')) {
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector(`#details-body[data-id="${target.id}"] [data-field=dur]`, { timeout: 5000 }).catch(() => {});
    const shown = await page.evaluate(() => {
      const box = document.getElementById('details-body');
      const f = (k) => box.querySelector(`[data-field=${k}]`);
      return { id: box.dataset.id, name: f('name') && f('name').innerText, dur: f('dur') && Number(f('dur').dataset.ns) };
    });
    const api = await (await fetch(`${url}api/slice?id=${target.id}`)).json();
    log(`clicked ${target.name} ${target.id}: ${JSON.stringify(shown)}`);
    check(shown.id === target.id && shown.name === api.name && shown.dur === api.dur,
      `a click shows the region's details (${api.name}, ${api.dur} ns)`, JSON.stringify({ shown, api }));
    check(['request', 'decode', 'handle', 'step', 'encode'].includes(api.name), 'a region gen_trace records', api.name);
  }
  check(!problems.length, 'no page errors', problems.join('; '));

  for (const s of servers.splice(0)) s.kill();
  const again = await startScaleView(trace);
  check(/scale index: reused /.test(again.said()), 'a second view reuses TRACE.idx', again.said());
}

h.run(main);
