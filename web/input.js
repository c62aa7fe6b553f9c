// Mouse, wheel and keyboard → timeline view changes, picks and ranges.
//
//   wheel                 zoom around the cursor (ctrl+wheel / pinch too)
//   shift+wheel, deltaX   pan (trackpads scroll horizontally)
//   drag                  pan (and scroll the rows vertically)
//   shift+drag, ruler drag select a time range (then Z / the button zooms to it)
//   click / double-click  select the mark under the cursor / zoom to it
//   W S / A D             zoom in/out / pan left/right (held: continuous)
//   N, shift+N            next / previous search result
//   /  0  Z  Esc          search box, whole trace, zoom to selection, clear
//   L                     live views: follow the newest events / pause

const DRAG_PX = 3;             // movement below this is a click
const WHEEL_ZOOM = 0.0025;     // zoom factor exp(deltaY * WHEEL_ZOOM) per wheel pixel
const KEY_STEP_ZOOM = 0.8;     // one tap of W (S: its inverse)
const KEY_STEP_PAN = 0.1;      // one tap of A/D, as a fraction of the span
const HOLD_MS = 150;           // after this, a held key moves continuously
const HOLD_ZOOM_MS = 350;      // held W: the span shrinks by e every HOLD_ZOOM_MS
const HOLD_PAN_MS = 1000;      // held D: one span every HOLD_PAN_MS

/**
 * hooks: { pick(mark), hover(mark, event), range({t0, t1}), next(), prev(),
 *          zoomToSelection(), clear(), focusSearch(), toggleLive() }
 */
export function attachInput(tl, hooks) {
  const { canvas, ruler } = tl.els;
  const held = new Map(); // key → time pressed
  let drag = null;

  const localX = (e, el = canvas) => e.clientX - el.getBoundingClientRect().left;
  const localY = (e) => e.clientY - canvas.getBoundingClientRect().top;

  // ---- Wheel ----
  function onWheel(e) {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? tl.height : 1;
    let dx = e.deltaX * unit, dy = e.deltaY * unit;
    if (e.shiftKey) {
      tl.panBy(dx || dy);
    } else if (e.ctrlKey || Math.abs(dy) >= Math.abs(dx)) {
      tl.zoomAt(Math.exp(dy * WHEEL_ZOOM), localX(e, e.currentTarget));
    } else {
      tl.panBy(dx);
    }
  }
  canvas.addEventListener('wheel', onWheel, { passive: false });
  ruler.addEventListener('wheel', onWheel, { passive: false });

  // ---- Drag, click ----
  function startDrag(e, el, mode) {
    if (e.button !== 0) return;
    e.preventDefault(); // no text selection; but leave the search box so keys reach the timeline
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    const x = localX(e, el);
    drag = {
      mode, el, x0: e.clientX, y0: e.clientY, moved: false,
      grabT: tl.tAt(x), scroll0: tl.els.scroller.scrollTop,
    };
    if (mode === 'pan') canvas.classList.add('grabbing');
    window.addEventListener('mousemove', onDragMove);
    window.addEventListener('mouseup', onDragEnd);
  }

  function onDragMove(e) {
    if (!drag) return;
    if (!drag.moved && Math.abs(e.clientX - drag.x0) + Math.abs(e.clientY - drag.y0) < DRAG_PX) return;
    drag.moved = true;
    const x = localX(e, drag.el);
    if (drag.mode === 'pan') {
      // keep the grabbed time under the cursor
      const t0 = drag.grabT - (x * tl.span) / tl.width;
      tl.setView(t0, t0 + tl.span);
      tl.els.scroller.scrollTop = drag.scroll0 - (e.clientY - drag.y0);
    } else {
      const t = tl.tAt(x);
      tl.range = { t0: Math.min(drag.grabT, t), t1: Math.max(drag.grabT, t) };
      tl.invalidate();
    }
  }

  function onDragEnd(e) {
    window.removeEventListener('mousemove', onDragMove);
    window.removeEventListener('mouseup', onDragEnd);
    canvas.classList.remove('grabbing');
    const d = drag;
    drag = null;
    if (!d) return;
    if (d.moved && d.mode === 'range' && tl.range) {
      if (tl.range.t1 - tl.range.t0 > 0) hooks.range(tl.range);
      else tl.range = null;
    } else if (!d.moved && d.el === canvas) {
      hooks.pick(tl.pick(localX(e), localY(e)));
    }
  }

  canvas.addEventListener('mousedown', (e) => startDrag(e, canvas, e.shiftKey ? 'range' : 'pan'));
  ruler.addEventListener('mousedown', (e) => startDrag(e, ruler, 'range'));
  canvas.addEventListener('dblclick', (e) => {
    const m = tl.pick(localX(e), localY(e));
    if (m && m.dur > 0) tl.focus(m.start, m.start + m.dur);
  });

  // ---- Hover ----
  canvas.addEventListener('mousemove', (e) => {
    tl.cursorX = localX(e);
    if (!drag) {
      const m = tl.pick(tl.cursorX, localY(e));
      if (m !== tl.hover) tl.hover = m;
      hooks.hover(m, e);
    } else {
      hooks.hover(null, e);
    }
    tl.invalidate();
  });
  canvas.addEventListener('mouseleave', () => {
    tl.cursorX = null;
    tl.hover = null;
    hooks.hover(null, null);
    tl.invalidate();
  });

  // ---- Keyboard ----
  const MOVES = { w: 'in', s: 'out', a: 'left', d: 'right', arrowleft: 'left', arrowright: 'right' };

  function step(move, amount) {
    const x = tl.cursorX != null ? tl.cursorX : tl.width / 2;
    if (move === 'in') tl.zoomAt(amount.zoom, x);
    else if (move === 'out') tl.zoomAt(1 / amount.zoom, x);
    else tl.panBy((move === 'left' ? -1 : 1) * amount.pan * tl.width);
  }

  function animate(now, dt) {
    for (const [key, since] of held) {
      if (now - since < HOLD_MS) continue;
      step(MOVES[key], { zoom: Math.exp(-dt / HOLD_ZOOM_MS), pan: dt / HOLD_PAN_MS });
    }
    return held.size > 0;
  }

  /** Keys typed into a text field are not shortcuts (a focused checkbox or button does not count). */
  function typing(e) {
    const t = e.target;
    if (!t) return false;
    if (t.tagName === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'range'].includes(t.type);
    return t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable;
  }

  document.addEventListener('keydown', (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (MOVES[key]) {
      e.preventDefault();
      if (!e.repeat && !held.has(key)) {
        held.set(key, performance.now());
        step(MOVES[key], { zoom: KEY_STEP_ZOOM, pan: KEY_STEP_PAN });
        tl.addAnimator(animate);
      }
      return;
    }
    switch (e.key) {
      case 'n': hooks.next(); break;
      case 'N': hooks.prev(); break;
      case '/': e.preventDefault(); hooks.focusSearch(); break;
      case '0': tl.fit(); break;
      case 'z': case 'Z': case 'f': hooks.zoomToSelection(); break;
      case 'Escape': hooks.clear(); break;
      case 'l': case 'L': if (hooks.toggleLive) hooks.toggleLive(); break;
      default: return;
    }
  });
  document.addEventListener('keyup', (e) => held.delete(e.key.toLowerCase()));
  window.addEventListener('blur', () => held.clear());
}
