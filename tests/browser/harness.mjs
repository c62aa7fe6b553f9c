// What the browser tests of the CPU samples share (cpu.test.mjs,
// samples.test.mjs): a log with the seconds since the start, checks that
// count failures, Debian's headless Chromium (driven by playwright-core,
// never a downloaded browser) in a throw-away profile, the servers the test
// started (killed at the end), and a watchdog. run(main) runs the test and
// exits 0 only when every check passed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

/** A test's harness; limitS: the watchdog's limit in seconds. */
export function harness(limitS = 90) {
  const t0 = Date.now();
  let userDataDir = null;
  const h = { servers: [], context: null, failures: 0 };
  h.log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  h.check = (ok, what, detail = '') => {
    if (ok) h.log(`ok   ${what}`);
    else {
      h.failures++;
      h.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
    }
    return ok;
  };
  /** Chromium at 1440 x 900, in h.context. */
  h.launch = async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}`);
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrace-chromium-'));
    h.context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1,
    });
    return h.context;
  };
  h.cleanup = async () => {
    if (h.context) await h.context.close().catch(() => {});
    h.context = null;
    for (const s of h.servers.splice(0)) if (s.exitCode == null) s.kill('SIGTERM');
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    userDataDir = null;
  };
  h.run = (main) => {
    const watchdog = setTimeout(async () => {
      h.log(`FAIL the test took longer than ${limitS} s`);
      await h.cleanup();
      process.exit(1);
    }, limitS * 1000);
    main().catch((e) => { h.failures++; h.log(`FAIL ${e.stack || e}`); }).finally(async () => {
      clearTimeout(watchdog);
      await h.cleanup();
      h.log(h.failures ? `${h.failures} check(s) failed` : 'all checks passed');
      process.exit(h.failures ? 1 : 0);
    });
  };
  return h;
}
