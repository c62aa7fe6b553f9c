#!/usr/bin/env node
// Browser half of bench/viewer.sh: loads the timeline of an already running
// `ctrace view URL` in headless Chromium (playwright-core from
// tests/browser), 5 times, and reports first paint (performance.now() when
// the first frame with data is drawn, from navigation) and the frame times
// of a scripted pan/zoom sequence (the page's own performance.now()
// measurements: window.__ctrace.frameTimes).
//   node bench/viewer_browser.mjs URL
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(new URL('../tests/browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const url = process.argv[2];
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const paints = [], frames = [];
for (let run = 0; run < 5; run++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrace-bench-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ARGS,
    viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1,
  });
  try {
    const page = ctx.pages()[0] || (await ctx.newPage());
    await page.goto(url, { waitUntil: 'load' });
    await page.evaluate(() => window.__ctrace.ready);
    paints.push(await page.evaluate(() => window.__ctrace.firstPaintMs));
    await page.waitForFunction(() => window.__ctrace.idle, null, { timeout: 10000 });
    const box = await page.locator('#tracks').boundingBox();
    const cx = box.x + box.width / 2, cy = box.y + 150;
    await page.mouse.move(cx, cy);
    await page.evaluate(() => { window.__ctrace.frameTimes.length = 0; });
    for (let i = 0; i < 15; i++) { await page.mouse.wheel(0, -150); await sleep(25); }
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) { await page.mouse.move(cx - i * 20, cy); await sleep(16); }
    await page.mouse.up();
    for (const key of ['d', 'a', 's', 'w']) { await page.keyboard.down(key); await sleep(250); await page.keyboard.up(key); }
    for (let i = 0; i < 15; i++) { await page.mouse.wheel(0, 150); await sleep(25); }
    await page.waitForFunction(() => window.__ctrace.idle, null, { timeout: 10000 });
    frames.push(...(await page.evaluate(() => [...window.__ctrace.frameTimes])));
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`browser first paint (5 loads): median ${q(paints, 0.5).toFixed(0)} ms, max ${Math.max(...paints).toFixed(0)} ms`);
console.log(`browser pan/zoom frames (${frames.length}): median ${q(frames, 0.5).toFixed(2)} ms, p95 ${q(frames, 0.95).toFixed(2)} ms, max ${Math.max(...frames).toFixed(2)} ms`);
