// What the browser tests share: `ctrace view TRACE --port 0 [ARGS]`
// started as a child (kept in `servers`, for the test's clean-up to kill),
// resolving to the URL it prints; the child's `said()` is its stderr so far.
import { spawn } from 'node:child_process';

export function startServer(ctraceBin, trace, servers, { args = [], timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const server = spawn(ctraceBin, ['view', trace, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(server);
    let out = '', err = '';
    server.said = () => err;
    const timer = setTimeout(() => reject(new Error(`no URL from ctrace view after ${timeoutMs / 1000} s: ${out} ${err}`)),
      timeoutMs);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /timeline: (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    server.stderr.on('data', (d) => { err += d; });
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ctrace view exited (${code}): ${err}`));
    });
    server.on('error', reject);
  });
}
