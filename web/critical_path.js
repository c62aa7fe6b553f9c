// The critical path of a slice or a task (/api/why, `ctrace why`): the
// details panel's "critical path" button. Its answer is drawn on the
// timeline (hooks.showPath: a bar per segment on the thread it ran on,
// joined where the path changes thread) and listed here: where the time
// went, by thread and innermost region, largest first, then the segments.

import { api } from './api.js';
import { fmtDur } from './format.js';

function node(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function table(head, rows) {
  const t = node('table', 'why-table');
  const tr = node('tr');
  for (const h of head) tr.append(node('th', null, h));
  t.append(tr);
  for (const r of rows) {
    const row = node('tr');
    for (const c of r) row.append(c instanceof Node ? (() => { const td = node('td'); td.append(c); return td; })() : node('td', null, c));
    t.append(row);
  }
  return t;
}

function shareBar(share) {
  const s = node('span', 'why-share');
  const bar = node('span', 'why-bar');
  bar.style.width = `${Math.max(1, Math.round(share * 60))}px`;
  s.append(bar, document.createTextNode(` ${(share * 100).toFixed(1)}%`));
  return s;
}

/** The button (and, once asked, the answer) for the slice or task `id`. */
export function criticalPath(meta, id, hooks) {
  const box = node('div', 'why');
  box.dataset.field = 'critical_path';
  const b = node('button', 'why-button', 'critical path');
  b.type = 'button';
  b.title = 'What this waited on, across threads: the path of its time (ctrace why)';
  box.append(b);
  b.addEventListener('click', async () => {
    b.disabled = true;
    b.textContent = 'walking the path…';
    let d;
    try {
      d = await api.why(id);
    } catch (e) {
      b.replaceWith(node('div', 'warn', `Critical path: ${e.message}`));
      return;
    }
    hooks.showPath(d.path.map((s) => ({
      track: s.track, start: s.start_ns - meta.t0, dur: s.dur_ns, state: s.state, region: s.region,
    })));
    box.textContent = '';
    box.dataset.segments = String(d.path.length);
    const head = node('div', 'why-head', `critical path: ${d.path.length} segments over ${fmtDur(d.target.dur_ns)}`);
    const clear = node('button', 'link', 'hide');
    clear.type = 'button';
    clear.addEventListener('click', () => { hooks.showPath(null); box.replaceWith(criticalPath(meta, id, hooks)); });
    head.append(' ', clear);
    box.append(head);
    box.append(table(['share', 'time', 'thread', 'region'], d.by_region.map((r) => [
      shareBar(r.share), fmtDur(r.dur_ns), `${r.thread} (${r.tid})`, r.region || '(no region)',
    ])));
    const segs = node('details', 'why-segments');
    segs.append(node('summary', null, 'segments, in time order'));
    segs.append(table(['start', 'time', 'thread', 'state', 'region', 'how the path came here'], d.path.map((s) => [
      `+${fmtDur(s.start_ns - d.target.start_ns)}`, fmtDur(s.dur_ns), `${s.thread} (${s.tid})`, s.state,
      s.region || '—', s.via || '—',
    ])));
    box.append(segs);
    if (!d.scheduler_data) box.append(node('p', 'note', 'No scheduler data: "running?" is running or runnable.'));
    if (d.missing_edges) box.append(node('p', 'note', `${d.missing_edges} waits whose releaser was not recorded ("waiting").`));
  });
  return box;
}
