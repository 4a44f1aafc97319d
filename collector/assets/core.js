// tracewire collector UI: shared helpers. Plain browser JavaScript: no framework, no build
// step, no network access beyond this collector's own /api routes. Each page script adds its
// renderer to TW.pages; app.js runs the one the page names.
"use strict";

window.TW = (function () {
  const main = document.getElementById("main");

  /** Creates an element; `attrs` keys starting with "on" become listeners. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      // A style attribute would break the page's Content-Security-Policy; CSSOM does not.
      else if (k === "style") el.style.cssText = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === "style") el.style.cssText = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function fmtDur(ns) {
    const sign = ns < 0 ? "-" : "";
    ns = Math.abs(ns);
    if (ns < 1e3) return sign + Math.round(ns) + " ns";
    if (ns < 1e6) return sign + (ns / 1e3).toFixed(ns < 1e4 ? 2 : 1) + " µs";
    if (ns < 1e9) return sign + (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1) + " ms";
    return sign + (ns / 1e9).toFixed(2) + " s";
  }

  /** A time (ns since the epoch, as the API's decimal string or a number) in UTC. */
  function fmtTime(ns) {
    const d = new Date(Number(BigInt(ns) / 1000000n));
    return d.toISOString().replace("T", " ").replace("Z", "");
  }

  function fmtPct(x) {
    return (x * 100).toFixed(x < 0.1 ? 1 : 0) + "%";
  }

  function fmtRate(r) {
    return (r >= 10 ? r.toFixed(0) : r.toFixed(2)) + "/s";
  }

  /** `a - b` for two API timestamps (decimal strings), exact, as a number of ns. */
  function diffNs(a, b) {
    return Number(BigInt(a) - BigInt(b));
  }

  function serviceColor(i) {
    return "hsl(" + Math.round((i * 137.508) % 360) + ", 55%, 55%)";
  }

  /** The `data` of a JSON API answer; its `error` message thrown otherwise. */
  async function getJson(url, init) {
    const r = await fetch(url, Object.assign({ headers: { accept: "application/json" } }, init));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = new Error(body.error || r.status + " " + r.statusText);
      e.status = r.status;
      throw e;
    }
    return body.data;
  }

  function traceHref(traceId, spanId) {
    return "/ui/trace/" + traceId + (spanId ? "#span=" + spanId : "");
  }

  function fail(err) {
    main.replaceChildren(h("p", { class: "err-badge", id: "error" }, "Error: " + err.message));
    done();
  }

  /** Marks the page rendered, with the time it took since navigation. */
  function done() {
    main.dataset.renderMs = Math.round(performance.now());
    main.dataset.state = "ready";
  }

  /** The one rate definition, shown as the tooltip of every Rate column. */
  const RATE_HELP =
    "Calls per second: the count divided by the seconds from the earliest start of a counted span to the end of the window (now), at least one second.";

  return {
    main, page: document.body.dataset.page, traceId: document.body.dataset.traceId,
    h, s, fmtDur, fmtTime, fmtPct, fmtRate, diffNs, serviceColor, getJson, traceHref, fail, done,
    RATE_HELP, pages: {},
  };
})();
