// What the browser tests share: `ctrace view TRACE --port 0` started as a
// child (kept in `servers`, for the test's clean-up to kill), resolving to
// the URL it prints.
import { spawn } from 'node:child_process';

export function startServer(ctraceBin, trace, servers) {
  return new Promise((resolve, reject) => {
    const server = spawn(ctraceBin, ['view', trace, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(server);
    let out = '', err = '';
    const timer = setTimeout(() => reject(new Error(`no URL from ctrace view after 10 s: ${out} ${err}`)), 10_000);
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
