// The CPU tab's bottom-up table: every function of /api/cpu's top-down
// call tree, by flat samples (those where it was the innermost frame), with
// cum (those where it was on the stack, counted once per sample); a row
// opens to its callers, each with the samples that came through it, and so
// on up to the outermost frames. Built in the page from the same tree as
// the flame graph (the same window, thread and region; its "(other)"
// nodes, folded by the server, are a row of their own). A click on a row
// opens or closes it and shows that function's source (onPick).

import { fmtInt } from './format.js';
import { el } from './analysis_ui.js';

const LIMIT = 300; // rows of a level drawn at most

const keyOf = (n) => `${n.name}\u0000${n.file || ''}`;

/**
 * The functions of the tree under root: [{ name, file, flat, cum, insts }],
 * by flat, then cum. insts: every node of the function, with its callers
 * (path: the nodes above it, outermost first, root left out), its self
 * samples, and its total when no caller is the same function (so that a
 * recursive one counts once).
 */
export function functionsOf(root) {
  const fns = new Map();
  const path = [];
  const walk = (n) => {
    const k = keyOf(n);
    let f = fns.get(k);
    if (!f) fns.set(k, (f = { name: n.name, file: n.file, flat: 0, cum: 0, insts: [] }));
    const outer = !path.some((p) => keyOf(p) === k);
    f.flat += n.self || 0;
    if (outer) f.cum += n.total;
    f.insts.push({ path: path.slice(), self: n.self || 0, total: outer ? n.total : 0 });
    path.push(n);
    for (const c of n.children || []) walk(c);
    path.pop();
  };
  for (const c of root.children || []) walk(c);
  return [...fns.values()].sort((a, b) => b.flat - a.flat || b.cum - a.cum || a.name.localeCompare(b.name));
}

/** The callers of row r (at r.depth above its function): rows of their own, most flat first. */
function callersOf(r) {
  const by = new Map();
  for (const i of r.insts) {
    const c = i.path[i.path.length - 1 - r.depth];
    if (!c) continue;
    const k = keyOf(c);
    let g = by.get(k);
    if (!g) by.set(k, (g = { name: c.name, file: c.file, flat: 0, cum: 0, insts: [], depth: r.depth + 1 }));
    g.flat += i.self;
    g.cum += i.total;
    g.insts.push(i);
  }
  return [...by.values()].filter((g) => g.flat || g.cum).sort((a, b) => b.flat - a.flat || b.cum - a.cum);
}

/** The table: a <table> of the functions; onPick(row) when one is clicked. */
export function bottomUpTable(root, total, onPick) {
  const table = el('table', 'grid cpu-bu');
  const head = el('tr');
  for (const [t, c] of [['function (callers below)', ''], ['flat', 'num'], ['flat%', 'num'], ['cum', 'num'], ['cum%', 'num']]) {
    head.append(el('th', c, t));
  }
  const thead = el('thead');
  thead.append(head);
  const body = el('tbody');
  table.append(thead, body);
  const pct = (v) => `${((100 * v) / Math.max(1, total)).toFixed(1)}%`;
  const rowOf = (r, depth) => {
    const tr = el('tr', 'cpu-bu-row');
    tr.dataset.name = r.name;
    tr.dataset.depth = String(depth);
    const name = el('td', 'cpu-bu-name');
    name.style.paddingLeft = `${4 + depth * 14}px`;
    const canOpen = r.insts.some((i) => i.path.length > (r.depth || 0));
    const tog = el('span', 'cpu-bu-tog', canOpen ? '▸' : '·');
    name.append(tog, depth ? el('span', 'muted', '← ') : '', document.createTextNode(r.name));
    name.title = `${r.name}\n${r.file || 'source not known'}\n${depth ? 'called it' : 'click: its callers and its source'}`;
    tr.append(name, el('td', 'num', fmtInt(r.flat)), el('td', 'num', pct(r.flat)),
      el('td', 'num', fmtInt(r.cum)), el('td', 'num', pct(r.cum)));
    let kids = null;
    tr.addEventListener('click', () => {
      if (kids) {
        for (const k of kids) k.close();
        kids = null;
        tog.textContent = '▸';
        tr.classList.remove('open');
      } else if (canOpen) {
        let after = tr;
        kids = callersOf({ ...r, depth: r.depth || 0 }).slice(0, LIMIT).map((c) => {
          const k = rowOf(c, depth + 1);
          after.after(k.tr);
          after = k.tr;
          return k;
        });
        tog.textContent = '▾';
        tr.classList.add('open');
      }
      onPick(r);
    });
    return {
      tr,
      close() {
        if (kids) for (const k of kids) k.close();
        tr.remove();
      },
    };
  };
  for (const f of functionsOf(root).slice(0, LIMIT)) body.append(rowOf({ ...f, depth: 0 }, 0).tr);
  return table;
}

let styled = false;
export function injectBottomUpStyle() {
  if (styled) return;
  styled = true;
  const s = document.createElement('style');
  s.textContent = `
.cpu-bu { width: 100%; }
.cpu-bu-row { cursor: pointer; }
.cpu-bu-row:hover { background: #eef2ff; }
.cpu-bu-row[data-depth="0"] td { font-weight: 500; }
.cpu-bu-name { max-width: 28em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.cpu-bu-tog { display: inline-block; width: 1.1em; color: var(--muted); }`;
  document.head.append(s);
}
