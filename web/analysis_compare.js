// The Compare tab of `ctrace view BASE --compare NEW`: ctrace diff's report
// (/api/diff, fetched once into meta.diff) as a sortable table, the
// regressions first. A click highlights the name on the timeline, where
// both runs are drawn aligned at their starts ("base: ..." above "new: ...").

import { SortTable } from './table.js';
import { fmtDur, fmtInt } from './format.js';
import { el, empty, notIn, section } from './analysis_ui.js';

const side = (r, s, k) => (r[s] ? r[s][k] : null);

function verdict(r) {
  if (r.status === 'added') return 'only in new';
  if (r.status === 'removed') return 'only in base';
  if (r.regressed) return 'regressed';
  if (r.improved) return 'improved';
  if (r.too_few) return 'too few to tell';
  return r.significant ? 'changed, within threshold' : 'no significant change';
}

function pct(v) {
  if (v == null || Number.isNaN(v)) return '—';
  return `${v > 0 ? '+' : ''}${v.toFixed(1)}%`;
}

function renderCompare({ meta, hooks, state }) {
  const d = meta.diff;
  if (!d || !Array.isArray(d.regions)) {
    return notIn('diff', 'The comparison', 'ctrace view BASE... --compare NEW... compares two runs.');
  }
  const regressed = d.regressed || [];
  const facts = el('p', 'an-facts',
    `${regressed.length ? `${fmtInt(regressed.length)} regressed: ${regressed.join(', ')}` : 'Nothing regressed'}` +
    ` (metric ${d.metric}, threshold ${d.threshold_pct}%, a difference counts when p < ${d.alpha}).`);
  if (regressed.length) facts.classList.add('warn');
  const dur = (s, k, label) => ({
    key: `${s}.${k}`, label, cls: 'num', value: (r) => side(r, s, k),
    text: (r) => (side(r, s, k) == null ? '—' : fmtDur(side(r, s, k))),
  });
  const table = new SortTable([
    { key: 'name', label: 'name', cls: 'name' },
    { key: 'kind', label: 'kind' },
    { key: 'base.count', label: 'count', cls: 'num', value: (r) => side(r, 'base', 'count'), text: (r) => fmtInt(side(r, 'base', 'count') || 0) },
    { key: 'new.count', label: '→ count', cls: 'num', value: (r) => side(r, 'new', 'count'), text: (r) => fmtInt(side(r, 'new', 'count') || 0) },
    dur('base', 'p50_ns', 'p50'), dur('new', 'p50_ns', '→ p50'),
    dur('base', 'p99_ns', 'p99'), dur('new', 'p99_ns', '→ p99'),
    { key: 'delta_pct', label: `Δ ${d.metric}`, cls: 'num', text: (r) => pct(r.delta_pct) },
    { key: 'p_value', label: 'p', cls: 'num', text: (r) => (r.p_value == null ? '—' : r.p_value < 0.0001 ? '<0.0001' : r.p_value.toFixed(4)) },
    { key: 'verdict', label: 'verdict', value: verdict, text: (r) => { const s = el('span', r.regressed ? 'warn' : null, verdict(r)); return s; } },
  ], {
    sort: state.sort || { key: 'delta_pct', asc: false },
    onSort: (s) => { state.sort = s; },
    keyOf: (r) => `${r.kind}\u0000${r.name}`,
    rowTitle: (r) => `Highlight “${r.name}” on the timeline (both runs)`,
    pick: (r) => hooks.highlight(r.name),
  }).setRows(d.regions.map((r) => ({ ...r, verdict: verdict(r) })));
  const box = section('Compared with the base run', facts, d.regions.length ? table.el : empty('Nothing to compare.'));
  box.dataset.regressed = String(regressed.length);
  return box;
}

export const COMPARE_TAB = { id: 'compare', label: 'Compare', only: (meta) => !!meta.compare, render: renderCompare };
