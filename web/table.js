// A sortable table (the analysis panel's tables): a click on a column
// head sorts by it (again: the other way), a click on a row picks it.

/**
 * columns: [{ key, label, text(row) → string | Node, cls ('num' | 'name' | ...),
 *             value(row) (sort value; default row[key]), title }]
 * opts: { sort: { key, asc }, pick(row, tr), keyOf(row) → string,
 *         rowTitle(row), limit (rows drawn, default 1000), onSort(sort) }
 */
export class SortTable {
  constructor(columns, opts = {}) {
    this.columns = columns;
    this.opts = opts;
    this.sort = opts.sort || { key: columns[0].key, asc: true };
    this.rows = [];
    this.current = null; // keyOf of the picked row
    this.el = document.createElement('table');
    this.el.className = 'grid sortable-grid';
  }

  setRows(rows) {
    this.rows = rows;
    this.render();
    return this;
  }

  sorted() {
    const { key, asc } = this.sort;
    const col = this.columns.find((c) => c.key === key);
    const val = col && col.value ? col.value : (r) => r[key];
    const dir = asc ? 1 : -1;
    return [...this.rows].sort((a, b) => {
      const x = val(a), y = val(b);
      if (x == null || y == null) return (x == null) - (y == null);
      return (typeof x === 'string' ? x.localeCompare(y, 'en', { numeric: true }) : x - y) * dir;
    });
  }

  render() {
    const head = document.createElement('tr');
    for (const c of this.columns) {
      const th = document.createElement('th');
      th.textContent = c.label;
      th.className = `sortable${c.cls === 'num' ? ' num' : ''}`;
      th.dataset.key = c.key;
      th.title = c.title || `Sort by ${c.label}`;
      if (this.sort.key === c.key) th.classList.add('sorted', ...(this.sort.asc ? ['asc'] : []));
      th.addEventListener('click', () => {
        // names sort A→Z first, figures largest first
        const first = typeof this.rows.find((r) => r[c.key] != null)?.[c.key] === 'string';
        this.sort = { key: c.key, asc: this.sort.key === c.key ? !this.sort.asc : first };
        if (this.opts.onSort) this.opts.onSort(this.sort);
        this.render();
      });
      head.append(th);
    }
    const thead = document.createElement('thead');
    thead.append(head);
    const body = document.createElement('tbody');
    const limit = this.opts.limit || 1000;
    const rows = this.sorted();
    for (const r of rows.slice(0, limit)) {
      const tr = document.createElement('tr');
      const key = this.opts.keyOf ? this.opts.keyOf(r) : null;
      if (key != null) {
        tr.dataset.key = key;
        if (key === this.current) tr.classList.add('current');
      }
      if (this.opts.rowTitle) tr.title = this.opts.rowTitle(r);
      for (const c of this.columns) {
        const td = document.createElement('td');
        const v = c.text ? c.text(r) : r[c.key];
        if (v instanceof Node) td.append(v);
        else td.textContent = v == null ? '—' : String(v);
        if (c.cls) td.className = c.cls;
        tr.append(td);
      }
      if (this.opts.pick) tr.addEventListener('click', () => this.pick(r, tr));
      body.append(tr);
    }
    if (rows.length > limit) {
      const tr = document.createElement('tr');
      tr.className = 'more';
      const td = document.createElement('td');
      td.colSpan = this.columns.length;
      td.className = 'muted';
      td.textContent = `… and ${rows.length - limit} more (sort to see others)`;
      tr.append(td);
      body.append(tr);
    }
    this.el.replaceChildren(thead, body);
  }

  pick(r, tr) {
    this.current = this.opts.keyOf ? this.opts.keyOf(r) : null;
    for (const x of this.el.querySelectorAll('tr.current')) x.classList.remove('current');
    if (tr) tr.classList.add('current');
    this.opts.pick(r, tr);
  }
}
