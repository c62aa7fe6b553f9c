// Formatting of times, numbers and colours shared by the UI. Times are
// nanoseconds everywhere in the UI (relative to the trace start unless
// noted); only /api/slices events carry Chrome-style microseconds.

const UNITS = [['s', 1e9], ['ms', 1e6], ['µs', 1e3], ['ns', 1]];

/** A duration with 4 significant digits and the largest fitting unit: "44.67 µs". */
export function fmtDur(ns) {
  if (ns == null || !Number.isFinite(ns)) return '—';
  const a = Math.abs(ns);
  if (a === 0) return '0 ns';
  for (const [unit, scale] of UNITS) {
    if (a >= scale || unit === 'ns') return `${Number((ns / scale).toPrecision(4))} ${unit}`;
  }
  return `${ns} ns`;
}

/** A time offset with more digits (details panel): "12.345678 ms". */
export function fmtTime(ns) {
  if (ns == null || !Number.isFinite(ns)) return '—';
  const a = Math.abs(ns);
  for (const [unit, scale] of UNITS) {
    if (a >= scale || unit === 'ns') {
      const digits = unit === 'ns' ? 0 : unit === 's' ? 9 : unit === 'ms' ? 6 : 3;
      let text = (ns / scale).toFixed(digits);
      if (text.includes('.')) text = text.replace(/0+$/, '').replace(/\.$/, '');
      return `${text} ${unit}`;
    }
  }
  return `${ns} ns`;
}

/** An integer with thousands separators: "17,715". */
export function fmtInt(n) {
  return n == null ? '—' : Math.round(n).toLocaleString('en-US');
}

/** A byte count: "420.7 KiB". */
export function fmtBytes(b) {
  if (b < 1024) return `${b} B`;
  if (b < 1 << 20) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / (1 << 20)).toFixed(1)} MiB`;
}

/** The 1-2-5 step just above raw (raw > 0). */
export function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (p * m >= raw) return p * m;
  return p * 10;
}

/**
 * How to label ruler ticks of step `step` in a view reaching `maxAbs`:
 * the unit follows the magnitude of the times shown, the decimals follow the
 * step, so every label is exact and all share one unit ("30.05 ms").
 */
export function tickFormat(step, maxAbs) {
  let unit = 'ns', scale = 1;
  for (const [u, s] of UNITS) {
    if (maxAbs >= s) { unit = u; scale = s; break; }
  }
  const decimals = Math.max(0, Math.ceil(-Math.log10(step / scale) - 1e-9));
  return (t) => `${(t / scale).toFixed(decimals)} ${unit}`;
}

// ---- Colours ----

const colorCache = new Map();

/** FNV-1a hash of a string (32 bits). */
export function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The stable colour of a name: { fill, merged, hue }. `merged` is the paler
 * shade used for a mark that stands for several merged slices.
 */
export function colorOf(name) {
  let c = colorCache.get(name);
  if (!c) {
    const h = hash32(name);
    const hue = h % 360;
    const sat = 50 + ((h >>> 9) % 20);
    const light = 62 + ((h >>> 17) % 10);
    c = {
      hue,
      fill: `hsl(${hue} ${sat}% ${light}%)`,
      merged: `hsl(${hue} ${sat - 25}% ${light + 12}%)`,
    };
    colorCache.set(name, c);
  }
  return c;
}

/** Escapes text for innerHTML use (most code uses textContent instead). */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
