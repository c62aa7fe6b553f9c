#!/usr/bin/env node
// Browser test of the Analyses panel's CPU tab (web/analysis_cpu.js): the
// pipeline sample recorded by `ctrace run --cpu-hz 999`, served by
// `ctrace view`, the tab opened in headless Chromium (playwright-core, the
// system /usr/bin/chromium): the flame graph's boxes drawn (the workers'
// `worker` and `transform` among them, with their tooltips), a click zooms
// into a box and "reset" goes back, the thread menu restricts it; the
// bottom-up table lists functions by flat samples and a row opens to its
// callers; a click on a box opens its source view (/api/source) with its
// hot line and counts, and "assembly" its instructions; a copy of
// tests/progs/cpu_burn.c built here, recorded, and its source deleted:
// the source view says the file is not here and still lists the sampled
// lines; and on a trace without CPU samples the tab says how to record them.
//
//   node cpu.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR
//
// Exit status 0 when every check passes (also when this machine refuses
// CPU samples, or CTRACE_TEST_NO_RUN=1: said, nothing checked).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { harness } from './harness.mjs';
import { startServer as startServerOf } from './view_server.mjs';

const [ctraceBin, pipelineBin, outDir] = process.argv.slice(2);
if (!ctraceBin || !pipelineBin || !outDir) {
  console.error('usage: node cpu.test.mjs CTRACE_BIN PIPELINE_BIN OUTDIR');
  process.exit(2);
}
const h = harness(90);
const { log, check, servers } = h;

/** `ctrace view TRACE --port 0` (view_server.mjs): resolves to its URL. */
const startServer = (trace) => startServerOf(ctraceBin, trace, servers);

/** `ctrace run [--cpu-hz 999] -o trace -- PIPELINE -n 20000 -w 2`. */
function record(trace, cpu) {
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  const args = ['run', ...(cpu ? ['--cpu-hz', '999'] : []), '-o', trace, '--', pipelineBin, '-n', '20000', '-w', '2'];
  execFileSync(ctraceBin, args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30_000 });
}

/** Opens the page at url and its CPU tab; resolves once the tab shows something other than "Loading". */
async function openCpuTab(url) {
  const page = await h.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url, { waitUntil: 'load' });
  const ready = await page.evaluate(() => Promise.race([
    window.__ctrace.ready, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]));
  check(ready === true, 'timeline ready', String(ready));
  await page.waitForFunction(() => window.__ctrace.analysis && window.__ctrace.analysis.answer, null, { timeout: 10_000 });
  await page.click('#analysis-tabs button[data-tab="cpu"]');
  await page.waitForSelector('#analysis-body[data-tab="cpu"] .cpu-tab', { timeout: 3000 });
  await waitDrawn(page);
  return { page, problems };
}

const waitDrawn = (page) => page.waitForFunction(() => {
  const t = document.querySelector('#analysis-body .cpu-tab');
  return t && !/Loading the CPU samples/.test(t.textContent);
}, null, { timeout: 15_000 }).then(() => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))));

const graphInfo = (page) => page.evaluate(() => {
  const g = document.querySelector('#analysis-body .fg');
  const boxes = g ? [...g.querySelectorAll('.fg-box')] : [];
  const named = (n) => boxes.filter((b) => b.dataset.name === n).map((b) => {
    const r = b.getBoundingClientRect();
    return { w: r.width, h: r.height, text: b.textContent, title: b.title, x: r.x + r.width / 2, y: r.y + r.height / 2 };
  });
  return { boxes: boxes.length, worker: named('worker'), transform: named('transform'), top: boxes[0] && boxes[0].dataset.name,
    facts: (document.querySelector('#analysis-body .an-facts') || {}).textContent || '',
    crumbs: [...document.querySelectorAll('#analysis-body .fg-crumbs button')].map((b) => b.textContent) };
});

const sourceInfo = (page) => page.evaluate(() => {
  const v = document.querySelector('#analysis-body .cpu-src');
  const lines = v ? [...v.querySelectorAll('.src-line')] : [];
  const hot = v && v.querySelector('.src-line.hot');
  return { fn: (v && v.querySelector('.src-fn') || {}).textContent || '', lines: lines.length,
    counted: lines.filter((l) => Number(l.dataset.flat) + Number(l.dataset.cum) > 0).length,
    hot: hot ? { line: Number(hot.dataset.line), flat: Number(hot.dataset.flat), cum: Number(hot.dataset.cum),
      text: hot.querySelector('.src-text').textContent } : null,
    missing: (v && v.querySelector('.src-missing') || {}).textContent || '',
    error: (v && v.querySelector('.src-error') || {}).textContent || '',
    insns: v ? [...v.querySelectorAll('.src-insn')].map((r) => r.lastChild.textContent) : [] };
});

const waitSource = (page, what) => page.waitForFunction((w) => {
  const v = document.querySelector('#analysis-body .cpu-src');
  return v && (w === 'asm' ? v.querySelector('.src-insn, .src-asm-error') : v.querySelector('.src-line, .src-error'));
}, what, { timeout: 15_000 }).catch(() => {});

/** The bottom-up table's rows: name, depth, flat. */
const tableRows = (page) => page.evaluate(() => [...document.querySelectorAll('#analysis-body .cpu-bu tbody tr')]
  .map((r) => ({ name: r.dataset.name, depth: Number(r.dataset.depth), flat: Number(r.children[1].textContent.replace(/\D/g, '')) })));

/** cpu_burn.c copied into dir/src, built -O2 -g, recorded burning 300 ms; the source then deleted. */
function burnWithoutSource(dir) {
  const src = path.join(dir, 'src', 'cpu_burn.c'), bin = path.join(dir, 'burn'), trace = path.join(dir, 'burn.ctrace');
  fs.mkdirSync(path.dirname(src), { recursive: true });
  fs.copyFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'progs', 'cpu_burn.c'), src);
  execFileSync('cc', ['-O2', '-g', '-fomit-frame-pointer', '-o', bin, src], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const f of [trace, `${trace}.kernel`]) fs.rmSync(f, { force: true });
  execFileSync(ctraceBin, ['run', '--cpu-hz', '999', '-o', trace, '--', bin, '300'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30_000 });
  fs.rmSync(src);
  return { trace, src };
}

async function main() {
  if (process.env.CTRACE_TEST_NO_RUN === '1') {
    log('skipped: a sanitizer build (ctrace run cannot preload its wrappers into sanitized programs)');
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const trace = path.join(outDir, 'cpu.ctrace');
  record(trace, true);
  await h.launch();

  const url = await startServer(trace);
  log(`server at ${url}`);
  const { page, problems } = await openCpuTab(url);
  let g = await graphInfo(page);
  if (/not in this trace/.test(await page.locator('#analysis-body').innerText())) {
    log('CPU samples refused on this machine (perf_event_open): nothing to check');
    await page.close();
    return;
  }
  check(g.boxes > 20 && g.top === 'all', `flame graph drawn (${g.boxes} boxes, top row "${g.top}"); ${g.facts}`);
  const w = g.worker.sort((a, b) => b.w - a.w)[0];
  check(w && w.w > 300 && w.text === 'worker', `a wide box "worker" with its name (${w && w.w.toFixed(0)} px)`, JSON.stringify(g.worker));
  check(g.transform.length > 0 && g.transform.some((b) => /inlined/.test(b.title) || /pipeline\.c:\d+/.test(b.title)),
    `a box "transform" with its tooltip (${g.transform.length})`, JSON.stringify(g.transform.map((b) => b.title)));
  check(w && /pipeline\.c:\d+/.test(w.title) && /samples, [\d.]+% of all/.test(w.title), 'worker tooltip: file:line, samples, share',
    w && w.title);
  const timing = await page.evaluate(() => {
    const s = window.__ctrace.analysis.state.cpu;
    return { serverMs: s.serverMs, fetchMs: s.fetchMs, renderMs: s.renderMs, drawn: s.drawn };
  });
  log(`/api/cpu: ${timing.serverMs} ms on the server, ${timing.fetchMs.toFixed(0)} ms fetched, drawn in ${timing.renderMs.toFixed(1)} ms (${timing.drawn} boxes)`);

  // zoom into worker: it becomes the top row, full width; reset goes back
  await page.mouse.click(w.x, w.y);
  await page.waitForFunction(() => document.querySelector('#analysis-body .fg .fg-box')?.dataset.name === 'worker', null, { timeout: 3000 }).catch(() => {});
  g = await graphInfo(page);
  const gw = await page.evaluate(() => document.querySelector('#analysis-body .fg').clientWidth);
  check(g.top === 'worker' && g.worker[0] && g.worker[0].w >= gw - 2 && g.crumbs.at(-1) === 'worker',
    `click zooms into worker (top row ${g.top}, path ${g.crumbs.join(' › ')})`);
  check(g.transform.length > 0 && g.transform[0].w > w.w * 0.2, 'transform, under worker, wider once zoomed');
  await page.click('#analysis-body .fg-crumbs button:text-is("reset")');
  await page.waitForFunction(() => document.querySelector('#analysis-body .fg .fg-box')?.dataset.name === 'all', null, { timeout: 3000 }).catch(() => {});
  g = await graphInfo(page);
  check(g.top === 'all', `reset goes back to all (top row ${g.top})`);

  // a click on transform's box: its source, the hot line with its count
  const tb = g.transform.sort((a, b) => b.w - a.w)[0];
  await page.mouse.click(tb.x, tb.y);
  await waitSource(page, 'lines');
  let src = await sourceInfo(page);
  check(src.fn === 'transform' && src.lines > 5 && src.counted > 0 && !src.missing,
    `click on transform: its source (${src.lines} lines, ${src.counted} with samples)`, JSON.stringify(src).slice(0, 300));
  check(src.hot && src.hot.flat + src.hot.cum > 0 && /data\[k|for \(int k/.test(src.hot.text),
    `transform's hot line ${src.hot && src.hot.line}: "${src.hot && src.hot.text.trim()}" (flat ${src.hot && src.hot.flat}, cum ${src.hot && src.hot.cum})`);
  await page.click('#analysis-body .cpu-src button[data-asm]');
  await waitSource(page, 'asm');
  src = await sourceInfo(page);
  check(src.insns.length > 10 && src.insns.some((t) => /^(mov|imul|xor|add|lea|cmp)/.test(t)),
    `assembly: ${src.insns.length} instructions (${src.insns.slice(0, 3).join('; ')})`);
  await page.locator('#analysis-body .an-split').screenshot({ path: path.join(outDir, 'cpu_source.png') }).catch(() => {});
  await page.click('#analysis-body .fg-crumbs button:text-is("reset")');
  await page.waitForFunction(() => document.querySelector('#analysis-body .fg .fg-box')?.dataset.name === 'all', null, { timeout: 3000 }).catch(() => {});

  // the bottom-up table: functions by flat; a row opens to its callers (and shows its source)
  let rows = await tableRows(page);
  check(rows.length > 5 && rows.every((r) => r.depth === 0) && rows.every((r, i) => !i || rows[i - 1].flat >= r.flat),
    `bottom-up table: ${rows.length} functions by flat (${rows.slice(0, 4).map((r) => `${r.name} ${r.flat}`).join(', ')})`);
  await page.click('#analysis-body .cpu-bu tr[data-depth="0"][data-name="transform"]');
  rows = await tableRows(page);
  const at = rows.findIndex((r) => r.name === 'transform' && r.depth === 0);
  check(at >= 0 && rows[at + 1] && rows[at + 1].depth === 1 && rows.some((r) => r.depth === 1 && r.name === 'worker'),
    `transform's row opens to its callers (${rows.filter((r) => r.depth === 1).map((r) => r.name).join(', ')})`);

  // one thread: the producer's samples, no worker box
  const before = g.facts;
  await page.selectOption('#analysis-thread', 'producer');
  await page.waitForFunction(() => {
    const f = document.querySelector('#analysis-body .an-facts');
    return f && window.__ctrace.analysis.state.cpu.key && window.__ctrace.analysis.state.cpu.key.includes('producer') &&
      !document.querySelector('#analysis-body .fg-box[data-name="worker"]');
  }, null, { timeout: 10_000 }).catch(() => {});
  await waitDrawn(page);
  g = await graphInfo(page);
  check(g.worker.length === 0 && g.boxes > 2, `thread "producer": no worker box (${g.boxes} boxes; ${g.facts}; all threads: ${before})`);
  await page.selectOption('#analysis-thread', '');
  check(problems.length === 0, 'no page errors', problems.join('\n  '));
  await page.screenshot({ path: path.join(outDir, 'cpu.png') });
  await page.close();

  // a program whose source file is gone: the source view says so, and lists the sampled lines
  const burn = burnWithoutSource(path.join(outDir, 'nosrc'));
  const url3 = await startServer(burn.trace);
  const third = await openCpuTab(url3);
  await third.page.click('#analysis-body .cpu-bu tr[data-depth="0"][data-name="hot_a"]');
  await waitSource(third.page, 'lines');
  const gone = await sourceInfo(third.page);
  check(gone.fn === 'hot_a' && gone.missing.includes(burn.src) && /not here/.test(gone.missing) && gone.lines > 0 &&
    gone.counted === gone.lines && gone.hot, `source gone: "${gone.missing.slice(0, 120)}…", ${gone.lines} sampled lines listed`,
  JSON.stringify(gone).slice(0, 300));
  check(third.problems.length === 0, 'no page errors (source gone)', third.problems.join('\n  '));
  await third.page.close();

  // a trace without CPU samples: the tab says how to record them
  const plain = path.join(outDir, 'nocpu.ctrace');
  record(plain, false);
  const url2 = await startServer(plain);
  const second = await openCpuTab(url2);
  const text = await second.page.locator('#analysis-body').innerText();
  check(/not in this trace/.test(text) && /--cpu-hz/.test(text), `no samples: the tab says how to record them (${text.slice(0, 80)}…)`);
  check(second.problems.length === 0, 'no page errors (no samples)', second.problems.join('\n  '));
  await second.page.close();
}

h.run(main);
