// The viewer's JSON API (docs/viewer-api.md): one function per endpoint.
// Every call resolves to the decoded answer or throws an ApiError whose
// message is what the server said (its {"status", "error"} body) or why
// the request failed. Times passed in are absolute nanoseconds.

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Round-trip figures of the last request per endpoint, for the status bar and tests. */
export const timings = { lastMs: 0, lastServerMs: null, byPath: {} };

async function getJSON(path, params = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null) qs.set(k, String(v));
  const url = qs.toString() ? `${path}?${qs}` : path;
  const t = performance.now();
  let res;
  try {
    res = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (e) {
    throw new ApiError(`${path}: the viewer server cannot be reached (${e.message})`);
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    throw new ApiError(`${path}: HTTP ${res.status}, not JSON (${e.message})`, res.status);
  }
  const ms = performance.now() - t;
  timings.lastMs = ms;
  timings.lastServerMs = serverMs(res);
  timings.byPath[path] = { ms, serverMs: timings.lastServerMs };
  if (!res.ok) {
    const why = body && body.error ? body.error : res.statusText;
    throw new ApiError(`${path}: ${why} (HTTP ${res.status})`, res.status);
  }
  return body;
}

/** The handler time the server reports (Server-Timing: handler;dur=MS). */
function serverMs(res) {
  const h = res.headers.get('Server-Timing');
  const m = h && /handler;dur=([\d.]+)/.exec(h);
  return m ? Number(m[1]) : null;
}

export const api = {
  meta: () => getJSON('/api/meta'),
  /** The level-of-detail window [t0, t1] (absolute ns) drawn on px pixels. */
  slices: (t0, t1, px) => getJSON('/api/slices', { t0, t1, px }),
  slice: (id) => getJSON('/api/slice', { id }),
  /** from: go on from there (a scale index's answer says where it stopped: searched_until). */
  search: (q, limit = 1000, from = null) => getJSON('/api/search', { q, limit, from }),
  /** ctrace stats's report: params { t0, t1 (absolute ns), thread, top, sort }, all optional. */
  analysis: (params = {}) => getJSON('/api/analysis', params),
  /** The critical path of a slice or task id (ctrace why --json, with tracks). */
  why: (id) => getJSON('/api/why', { id }),
  /** ctrace diff's report of ctrace view BASE --compare NEW. */
  diff: () => getJSON('/api/diff'),
};
