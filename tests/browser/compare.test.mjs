#!/usr/bin/env node
// Browser test of `ctrace view BASE --compare NEW` (server/compare.c,
// web/analysis_compare.js): why_chain (tests/progs/why_chain.c) recorded
// twice by `ctrace run`, viewed side by side in headless Chromium. Both
// runs' processes are there ("base: ", "new: "), aligned at their starts
// (the new run's "request" begins within a few ms of the base's, not
// seconds later), and the Analyses panel opens on the Compare tab: ctrace
// diff's table, with "request" in it and nothing regressed (one instance a
// side is too few to tell).
//
//   node compare.test.mjs CTRACE_BIN WHY_CHAIN_BIN OUTDIR
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
  console.error('usage: node compare.test.mjs CTRACE_BIN WHY_CHAIN_BIN OUTDIR');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

function record(name) {
  const trace = path.join(outDir, name);
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  execFileSync(ctraceBin, ['run', '-o', trace, '--', chainBin], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
  return trace;
}

async function main() {
  if (process.env.CTRACE_TEST_NO_RUN === '1') {
    log('skipped: a sanitizer build (ctrace run cannot preload its wrappers into sanitized programs)');
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const base = record('cmp-base.ctrace');
  await new Promise((r) => setTimeout(r, 300)); // (the second run begins visibly later)
  const next = record('cmp-new.ctrace');
  const url = await startServer(ctraceBin, base, servers, { args: ['--compare', next] });
  const meta = await (await fetch(`${url}api/meta`)).json();
  const names = meta.sources.map((s) => s.process);
  log(`sources: ${names.join(', ')}`);
  check(meta.compare === true, '/api/meta says it is a comparison');
  check(names.includes('base: why_chain') && names.includes('new: why_chain'), 'both runs, named base and new', names.join(', '));
  const sl = await (await fetch(`${url}api/slices?t0=${meta.t0}&t1=${meta.t1}&px=20000`)).json();
  const req = sl.traceEvents.filter((e) => e.ph === 'X' && e.name === 'request');
  log(`request slices at ${req.map((e) => `${(e.ts - meta.t0 / 1000).toFixed(0)} µs (pid ${e.pid})`).join(', ')}`);
  check(req.length === 2 && new Set(req.map((e) => e.pid)).size === 2, 'a "request" in each run');
  if (req.length === 2) {
    check(Math.abs(req[0].ts - req[1].ts) < 30_000, 'the runs aligned at their starts (requests within 30 ms)', `${Math.abs(req[0].ts - req[1].ts)} µs apart`);
  }
  const diff = await (await fetch(`${url}api/diff`)).json();
  check(Array.isArray(diff.regions) && diff.regions.some((r) => r.name === 'request'), '/api/diff lists "request"');

  await h.launch();
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.waitForSelector('#analysis-body section[data-regressed]', { timeout: 10_000 }).catch(() => null);
  const tab = await page.evaluate(() => {
    const body = document.getElementById('analysis-body');
    const sec = body.querySelector('section[data-regressed]');
    const rows = sec ? [...sec.querySelectorAll('tr')].slice(1).map((tr) => [...tr.children].map((td) => td.textContent.trim())) : [];
    return { tab: body.dataset.tab, regressed: sec && sec.dataset.regressed, rows,
      button: !!document.querySelector('#analysis-tabs button[data-tab="compare"]') };
  });
  log(`Compare tab: ${tab.rows.length} rows; request: ${JSON.stringify(tab.rows.find((r) => r[0] === 'request'))}`);
  check(tab.button && tab.tab === 'compare', 'the Analyses panel opens on the Compare tab', JSON.stringify(tab.tab));
  check(tab.regressed === '0', 'nothing regressed between two runs of the same program', tab.regressed);
  const r = tab.rows.find((x) => x[0] === 'request');
  check(r && r[r.length - 1] === 'too few to tell', '"request": one instance a side, too few to tell', JSON.stringify(r));
  check(!problems.length, 'no page errors', problems.join('; '));
}

h.run(main);
