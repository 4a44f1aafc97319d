// tracewire collector UI: the trace page's waterfall, a virtual list fetched a page at a time,
// with a minimap and zoom, find highlighting and the critical path.
"use strict";

TW.waterfall = function (w, base) {
  const { h, fmtDur, diffNs, serviceColor, getJson } = TW;
  const pageSize = w.limit;
  const rows = new Array(w.rowCount);
  const total = Math.max(w.durationNanos, 1);
  const segs = new Map();
  const byId = new Map();
  const fetched = new Set();
  const listeners = [];
  let view = [0, 1];
  let marks = new Set(), current = -1, selected = null;

  function addPage(p) {
    p.rows.forEach((r, k) => {
      rows[p.offset + k] = r;
      byId.set(r.spanId, p.offset + k);
    });
    for (const sg of p.criticalPath.segments) {
      if (!segs.has(sg.spanId)) segs.set(sg.spanId, []);
      segs.get(sg.spanId).push([diffNs(sg.startTimeUnixNano, w.startTimeUnixNano), diffNs(sg.endTimeUnixNano, w.startTimeUnixNano)]);
    }
    fetched.add(p.offset / pageSize);
  }
  addPage(w);
  // Page number → its request in flight (kept a little while after a failure, so scrolling
  // over a page the server refused does not retry it on every frame).
  const inFlight = new Map();
  function fetchPage(query, n) {
    if (n !== undefined && fetched.has(n)) return Promise.resolve();
    if (n !== undefined && inFlight.has(n)) return inFlight.get(n);
    const req = getJson(base + "?limit=" + pageSize + "&" + query).then((p) => {
      addPage(p);
      draw(true);
      drawMinimap();
    });
    if (n !== undefined) {
      inFlight.set(n, req);
      req.then(() => inFlight.delete(n), () => setTimeout(() => inFlight.delete(n), 2000));
    }
    return req;
  }

  // Position of a time offset in the zoomed view, in percent of the track.
  const pct = (ns) => (100 * (ns / total - view[0])) / (view[1] - view[0]);

  const ROW = 24, OVERSCAN = 12;
  const collapsed = new Uint8Array(rows.length);
  let visible = [];
  const axis = h("div", { class: "wf-axis", id: "wf-axis" });
  const spacer = h("div", { class: "wf-spacer" });
  const scroller = h("div", { class: "wf-scroll", id: "waterfall-scroll", tabindex: 0, "aria-label": "trace timeline" }, spacer);
  let drawn = [-1, -1];

  function drawAxis() {
    axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) =>
      h("span", { style: "left:" + f * 100 + "%" }, fmtDur(Math.round((view[0] + f * (view[1] - view[0])) * total)))));
  }

  function rowEl(i) {
    const r = rows[i];
    if (!r) {
      fetchPage("offset=" + Math.floor(i / pageSize) * pageSize, Math.floor(i / pageSize)).catch(() => {});
      return h("div", { class: "wf-row", "data-row": i }, h("div", { class: "wf-label muted" }, "…"));
    }
    const svc = w.services[r.service];
    const left = pct(r.offsetNanos), width = (100 * r.durationNanos) / total / (view[1] - view[0]);
    const cls = ["wf-row", r.criticalNanos > 0 ? "critical" : "", r.isError ? "error" : "", selected === i ? "selected" : "",
      marks.has(i) ? "match" : "", current === i ? "current" : "", r.skewNanos ? "skewed" : ""].join(" ");
    const track = h("div", { class: "wf-track" },
      h("div", { class: "wf-bar", style: "left:" + left + "%;width:" + width + "%;background-color:" + serviceColor(r.service) }),
      (segs.get(r.spanId) || []).map(([a, b]) =>
        h("div", { class: "cp-seg", style: "left:" + pct(a) + "%;width:" + (100 * (b - a)) / total / (view[1] - view[0]) + "%" })),
      h("span", { class: "wf-dur", style: left + width > 80 ? "right:" + (100 - left) + "%;margin-right:4px" : "left:calc(" + (left + width) + "% + 4px)" },
        fmtDur(r.durationNanos)));
    return h("div", {
      class: cls, "data-row": i, "data-span-id": r.spanId, "data-span-name": r.name,
      "data-service": svc, "data-depth": r.depth, title: svc + ": " + r.name,
    },
      h("div", { class: "wf-label", style: "padding-left:" + (4 + r.depth * 12) + "px" },
        h("span", { class: "wf-toggle", "data-toggle": r.childCount ? i : null }, r.childCount ? (collapsed[i] ? "▸" : "▾") : ""),
        h("i", { class: "swatch", style: "background:" + serviceColor(r.service) }),
        h("span", { class: "wf-svc" }, svc),
        h("a", { class: "wf-name", href: "#span=" + r.spanId }, r.name),
        r.isError ? h("span", { class: "err-badge", title: "error" }, "!") : null,
        r.orphan ? h("span", { class: "muted", title: "parent span missing" }, "⚠") : null,
        r.skewNanos ? h("span", { class: "skew-badge", title: "shifted by " + fmtDur(r.skewNanos) + " to fit in its parent (clock skew between hosts)" }, "⇆") : null),
      track);
  }

  function draw(force) {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW) + OVERSCAN);
    if (!force && first === drawn[0] && last === drawn[1]) return;
    drawn = [first, last];
    const frag = document.createDocumentFragment();
    for (let v = first; v < last; v++) {
      const el = rowEl(visible[v]);
      el.style.top = v * ROW + "px";
      frag.append(el);
    }
    spacer.replaceChildren(frag);
  }
  function recompute() {
    visible = [];
    for (let i = 0; i < rows.length; i++) {
      visible.push(i);
      if (collapsed[i] && rows[i]) i += rows[i].descendantCount;
    }
    spacer.style.height = visible.length * ROW + "px";
    draw(true);
  }
  let pending = false;
  scroller.addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw(false);
    });
  });
  spacer.addEventListener("click", (ev) => {
    const t = ev.target.closest("[data-toggle]");
    if (t) {
      collapsed[Number(t.dataset.toggle)] ^= 1;
      recompute();
      return;
    }
    const rowDiv = ev.target.closest(".wf-row");
    if (rowDiv && rowDiv.dataset.spanId) location.hash = "span=" + rowDiv.dataset.spanId;
  });

  // Minimap: every known row as a thin line over the whole trace, the zoomed view as a window;
  // drag across it to zoom, or use the buttons (and +, -, 0 on the timeline).
  const MM_H = 48;
  const canvas = h("canvas", { class: "mm-canvas", height: MM_H, width: 1000 });
  const win = h("div", { class: "mm-window", id: "minimap-window" });
  const minimap = h("div", { class: "minimap", id: "minimap", title: "drag to zoom" }, canvas, win);
  function drawMinimap() {
    const cx = canvas.getContext("2d");
    if (!cx) return;
    cx.clearRect(0, 0, canvas.width, MM_H);
    const n = rows.length, per = MM_H / Math.max(n, 1);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (!r) continue;
      cx.fillStyle = r.isError ? "#d0342c" : serviceColor(r.service);
      cx.fillRect((canvas.width * r.offsetNanos) / total, Math.floor(i * per), Math.max(1, (canvas.width * r.durationNanos) / total), Math.max(1, per));
    }
    win.style.left = view[0] * 100 + "%";
    win.style.width = (view[1] - view[0]) * 100 + "%";
  }
  function zoom(a, b) {
    a = Math.max(0, Math.min(a, 1));
    b = Math.max(a + 1e-6, Math.min(b, 1));
    view = [a, b];
    minimap.dataset.view = a.toFixed(4) + "-" + b.toFixed(4);
    drawAxis();
    drawMinimap();
    draw(true);
    listeners.forEach((f) => f(view));
  }
  let dragFrom = null;
  minimap.addEventListener("mousedown", (ev) => {
    dragFrom = (ev.clientX - minimap.getBoundingClientRect().left) / minimap.clientWidth;
  });
  window.addEventListener("mouseup", (ev) => {
    if (dragFrom === null) return;
    const to = (ev.clientX - minimap.getBoundingClientRect().left) / minimap.clientWidth;
    const [a, b] = [Math.min(dragFrom, to), Math.max(dragFrom, to)];
    dragFrom = null;
    if (b - a > 0.005) zoom(a, b);
  });
  const around = (f) => {
    const c = (view[0] + view[1]) / 2, half = ((view[1] - view[0]) * f) / 2;
    zoom(c - half, c + half);
  };
  const zoomIn = () => around(0.5), zoomOut = () => around(2), zoomReset = () => zoom(0, 1);
  scroller.addEventListener("keydown", (ev) => {
    if (ev.key === "+" || ev.key === "=") zoomIn();
    else if (ev.key === "-") zoomOut();
    else if (ev.key === "0") zoomReset();
    else return;
    ev.preventDefault();
  });
  const controls = h("div", { class: "zoom-controls" },
    h("button", { type: "button", id: "zoom-in", onclick: zoomIn, title: "zoom in (+)" }, "Zoom in"),
    h("button", { type: "button", id: "zoom-out", onclick: zoomOut, title: "zoom out (-)" }, "Zoom out"),
    h("button", { type: "button", id: "zoom-reset", onclick: zoomReset, title: "whole trace (0)" }, "Whole trace"));

  /** Selects row `spanId`: fetches its page, expands its ancestors, scrolls it into view. */
  async function reveal(spanId) {
    if (!byId.has(spanId)) await fetchPage("spanId=" + spanId);
    const i = byId.get(spanId);
    if (i === undefined) return null;
    for (let a = 0; a < i; a++) if (collapsed[a] && rows[a] && a + rows[a].descendantCount >= i) collapsed[a] = 0;
    recompute();
    const v = visible.indexOf(i);
    if (v * ROW < scroller.scrollTop || v * ROW > scroller.scrollTop + scroller.clientHeight - ROW) {
      scroller.scrollTop = Math.max(0, v * ROW - scroller.clientHeight / 3);
    }
    draw(true);
    return i;
  }

  drawAxis();
  const el = h("div", { class: "wf", id: "waterfall" }, minimap, controls, axis, scroller);
  return {
    el, rows, recompute, reveal, zoom, drawMinimap,
    select(i) { selected = i; draw(true); },
    mark(set, cur) { marks = set; current = cur; draw(true); },
    onZoom(f) { listeners.push(f); },
    start() { recompute(); drawMinimap(); },
  };
};
