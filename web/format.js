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

// Thread states (the band at the top of a thread row): a fixed palette, so
// that the same state always reads the same; derived states (from the
// wrappers' spans only) are drawn paler and hatched.
export const STATES = [
  { name: 'running', color: '#2f9e44', text: 'on a CPU' },
  { name: 'runnable', color: '#f59f00', text: 'preempted, waiting for a CPU' },
  { name: 'syscall', color: '#7950f2', text: 'blocked in a system call' },
  { name: 'lock', color: '#e03131', text: 'blocked on a mutex, condvar, rwlock, semaphore or join' },
  { name: 'sleeping', color: '#adb5bd', text: 'sleeping' },
  { name: 'blocked', color: '#5c6b82', text: 'off CPU, reason unknown' },
];
const STATE_BY_NAME = new Map(STATES.map((s) => [s.name, s]));
const UNKNOWN_STATE = { name: '?', color: '#ced4da', text: 'unknown' };

/** { name, color, text } of a thread state name. */
export function stateInfo(name) {
  return STATE_BY_NAME.get(name) || UNKNOWN_STATE;
}

/** A colour mixed with white (amount 0..1 of white): "#rrggbb". */
export function paler(hex, amount) {
  const n = parseInt(hex.slice(1), 16);
  const mix = (c) => Math.round(c + (255 - c) * amount);
  const r = mix(n >> 16), g = mix((n >> 8) & 255), b = mix(n & 255);
  return `#${((1 << 24) | (r << 16) | (g << 8) | b).toString(16).slice(1)}`;
}

// Slices by category: regions (and work items) keep the colour of their
// name; system calls take blues to violets, waits reds, GC phases browns,
// so that they are told apart from the program's regions at a glance.
// `accent` is the darker edge drawn along the top of such slices.
export const CATEGORY = {
  syscall: { hue0: 198, hues: 72, sat: 62, light: 74, accent: '#364fc7', label: 'system call' },
  wait: { hue0: 348, hues: 26, sat: 72, light: 72, accent: '#a61e1e', label: 'wait' },
  gc: { hue0: 28, hues: 18, sat: 42, light: 64, accent: '#8a5a00', label: 'GC' },
};

const catColorCache = new Map();

/** The colour of a slice of category cat: { fill, merged, hue }. */
export function sliceColor(name, cat) {
  const fam = CATEGORY[cat];
  if (!fam) return colorOf(name);
  const key = `${cat}\u0000${name}`;
  let c = catColorCache.get(key);
  if (!c) {
    const h = hash32(name);
    const hue = (fam.hue0 + (h % fam.hues)) % 360;
    const light = fam.light + ((h >>> 11) % 6) - 3;
    c = {
      hue,
      fill: `hsl(${hue} ${fam.sat}% ${light}%)`,
      merged: `hsl(${hue} ${fam.sat - 25}% ${Math.min(light + 10, 92)}%)`,
    };
    catColorCache.set(key, c);
  }
  return c;
}

/** Escapes text for innerHTML use (most code uses textContent instead). */
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
