#!/usr/bin/env node
// Browser test of the critical path (web/critical_path.js): why_chain
// (tests/progs/why_chain.c) recorded by `ctrace run`, served by `ctrace
// view`, in headless Chromium. The "request" region is selected as a click
// selects it; its "critical path" button lists where its time went (first:
// holder's "slow_io", the mutex it waited for was held through it) and
// draws the path on the timeline, across main's and holder's rows; "hide"
// removes it.
//
//   node why.test.mjs CTRACE_BIN WHY_CHAIN_BIN OUTDIR
//
// Exit status 0 when every check passes (also with CTRACE_TEST_NO_RUN=1,
// a sanitizer build: said, nothing checked).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from './harness.mjs';
import { startServer } from './view_server.mjs';

const [ctraceBin, chainBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !chainBin || !outDir) {
  console.error('usage: node why.test.mjs CTRACE_BIN WHY_CHAIN_BIN OUTDIR');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

/** The id of the slice called name, from /api/slices over the whole trace. */
async function sliceId(url, meta, name) {
  const a = await (await fetch(`${url}api/slices?t0=${meta.t0}&t1=${meta.t1}&px=20000`)).json();
  const events = Array.isArray(a) ? a : a.traceEvents || a.events || [];
  const e = events.find((x) => x.name === name && x.ph === 'X');
  return e && e.args ? e.args.id : null;
}

async function main() {
  if (process.env.CTRACE_TEST_NO_RUN === '1') {
    log('skipped: a sanitizer build (ctrace run cannot preload its wrappers into sanitized programs)');
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'why.ctrace');
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  execFileSync(ctraceBin, ['run', '-o', trace, '--', chainBin], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  const url = await startServer(ctraceBin, trace, servers);
  const meta = await (await fetch(`${url}api/meta`)).json();
  const id = await sliceId(url, meta, 'request');
  if (!check(id != null, 'the "request" slice in /api/slices')) return;
  const holder = meta.tracks.find((t) => t.kind === 'thread' && t.name === 'holder');
  const main = meta.tracks.find((t) => t.kind === 'thread' && t.tid === meta.sources[0].pid);
  if (!check(holder && main, 'main\'s and holder\'s rows')) return;

  await h.launch();
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.evaluate((sid) => window.__ctrace.select(sid), id);
  const button = await page.waitForSelector('#details-body button.why-button', { timeout: 5000 }).catch(() => null);
  if (!check(button != null, 'the details of "request" offer "critical path"')) return;
  await button.click();
  await page.waitForSelector('#details-body .why[data-segments]', { timeout: 10_000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const got = await page.evaluate(() => {
    const box = document.querySelector('#details-body .why');
    const rows = [...box.querySelectorAll('.why-table')[0].querySelectorAll('tr')].slice(1)
      .map((tr) => [...tr.children].map((td) => td.textContent.trim()));
    const tl = window.__ctrace.timeline;
    return { head: box.querySelector('.why-head').textContent, rows, segments: Number(box.dataset.segments),
      tracks: [...new Set((tl.path || []).map((s) => s.track))], drawn: tl.stats.pathDrawn };
  });
  log(`${got.head}; first rows: ${JSON.stringify(got.rows.slice(0, 3))}`);
  check(got.rows.length > 0 && got.rows[0][2].startsWith('holder') && got.rows[0][3] === 'slow_io',
    'the first row: holder\'s slow_io', JSON.stringify(got.rows[0]));
  const share = got.rows.length ? parseFloat(got.rows[0][0]) : 0;
  check(share > 50, 'holder\'s slow_io is most of the request', `${share}%`);
  check(got.segments > 1 && got.drawn === got.segments, 'every segment drawn on the timeline', `${got.drawn} of ${got.segments}`);
  check(got.tracks.includes(holder.id) && got.tracks.includes(main.id), 'the path crosses main\'s and holder\'s rows', JSON.stringify(got.tracks));
  await page.click('#details-body .why-head button');
  const after = await page.evaluate(() => ({ path: window.__ctrace.timeline.path, button: !!document.querySelector('#details-body button.why-button') }));
  check(after.path === null && after.button, '"hide" removes the path and offers the button again', JSON.stringify(after));
  check(!problems.length, 'no page errors', problems.join('; '));
}

h.run(main);
