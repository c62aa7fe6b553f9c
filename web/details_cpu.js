// CPU samples in the details panel (details.js): a clicked sample's call
// stack, and the on-CPU samples of a region slice with the functions they
// were in (both from /api/slice: "stack" of a sample, "cpu" of a slice).

import { fmtDur, fmtInt } from './format.js';

function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function where(f) {
  if (!f.file) return f.module ? `${f.module.replace(/.*\//, '')} ${f.addr}` : f.addr || '';
  return `${f.file.replace(/.*\//, '')}:${f.line || '?'}`;
}

/** A sample's stack, innermost frame first (inlined frames marked). */
export function sampleStack(d) {
  const box = node('div', 'cpu-stack');
  box.dataset.field = 'stack';
  const ol = node('ol', 'frames mono');
  for (const f of d.stack || []) {
    const li = node('li', f.inlined ? 'inlined' : null);
    li.dataset.frame = f.name;
    li.append(node('span', 'fn', f.name), node('span', 'muted', `  ${where(f)}`));
    if (f.file) li.title = `${f.file}:${f.line || '?'}${f.module ? `\n${f.module} ${f.addr}` : ''}`;
    if (f.inlined) li.append(node('span', 'muted', '  (inlined)'));
    ol.append(li);
  }
  box.append(ol);
  if (d.partial) {
    box.append(node('p', 'note', 'This stack was not unwound to its outermost frame (its frames above the last one shown are unknown).'));
  }
  if (d.problems) box.append(node('p', 'note', d.problems));
  return box;
}

/** The on-CPU samples of a slice: how many, the CPU time they stand for, and
 * the functions they were in (flat = innermost frame). */
export function sliceCpu(d) {
  const c = d.cpu;
  const box = node('div', 'cpu-samples');
  box.dataset.field = 'cpu';
  box.dataset.samples = String(c.samples);
  const cpuNs = c.samples * c.period_ns;
  const share = d.dur > 0 ? Math.min(100, (100 * cpuNs) / d.dur) : 0;
  box.append(node('h4', null, 'On CPU (samples)'));
  if (!c.samples) {
    box.append(node('p', 'muted', 'No CPU sample in this slice: the thread was off CPU (or the slice is shorter than the sampling period).'));
    return box;
  }
  box.append(node('p', null,
    `${fmtInt(c.samples)} sample${c.samples === 1 ? '' : 's'} ≈ ${fmtDur(cpuNs)} of CPU (${share.toFixed(0)}% of the slice)` +
    `${c.partial ? `, ${fmtInt(c.partial)} not fully unwound` : ''}`));
  const t = node('table', 'cpu-top');
  const head = node('tr');
  ['function', 'flat', 'cum'].forEach((h) => head.append(node('th', null, h)));
  t.append(head);
  for (const f of c.top) {
    const tr = node('tr');
    tr.dataset.fn = f.name;
    tr.append(node('td', 'mono', f.name), node('td', 'num', fmtInt(f.flat)), node('td', 'num', fmtInt(f.cum)));
    t.append(tr);
  }
  box.append(t);
  return box;
}
