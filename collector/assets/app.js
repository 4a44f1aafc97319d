// tracewire collector UI. Plain browser JavaScript: no framework, no build step, no network
// access beyond this collector's own /api/analysis endpoints.
"use strict";

(function () {
  const main = document.getElementById("main");
  const page = document.body.dataset.page;

  // ---- helpers -------------------------------------------------------------------------

  /** Creates an element; `attrs` keys starting with "on" become listeners. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "style") el.style.cssText = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      // A style attribute would break the page's Content-Security-Policy; CSSOM does not.
      if (k === "style") el.style.cssText = v;
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function fmtDur(ns) {
    if (ns < 1e3) return ns + " ns";
    if (ns < 1e6) return (ns / 1e3).toFixed(ns < 1e4 ? 2 : 1) + " µs";
    if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1) + " ms";
    return (ns / 1e9).toFixed(2) + " s";
  }

  function fmtTime(ns) {
    const d = new Date(ns / 1e6);
    return d.toISOString().replace("T", " ").replace("Z", "");
  }

  function fmtPct(x) {
    return (x * 100).toFixed(x < 0.1 ? 1 : 0) + "%";
  }

  function serviceColor(i) {
    return "hsl(" + Math.round((i * 137.508) % 360) + ", 55%, 55%)";
  }

  async function getJson(url) {
    const r = await fetch(url, { headers: { accept: "application/json" } });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
    return body;
  }

  function traceHref(traceId, spanId) {
    return "/ui/trace/" + traceId + (spanId ? "#span=" + spanId : "");
  }

  function fail(err) {
    main.replaceChildren(h("p", { class: "err-badge", id: "error" }, "Error: " + err.message));
    main.dataset.state = "error";
  }

  function done() {
    main.dataset.state = "ready";
  }

  // ---- search page ---------------------------------------------------------------------

  async function searchPage() {
    const params = new URLSearchParams(location.search);
    const svcSel = h("select", { name: "service", id: "f-service" }, h("option", { value: "" }, "any service"));
    const opSel = h("select", { name: "operation", id: "f-operation" }, h("option", { value: "" }, "any operation"));
    const field = (name, label, attrs) =>
      h("label", {}, label, h("input", Object.assign({ name, id: "f-" + name, value: params.get(name) || "" }, attrs)));
    const errBox = h("input", { type: "checkbox", name: "errors", id: "f-errors", value: "1", checked: params.get("errors") === "1" });
    const form = h("form", { class: "search panel", id: "search-form" },
      h("label", {}, "Service", svcSel),
      h("label", {}, "Operation", opSel),
      field("min_ms", "Min duration (ms)", { size: 8 }),
      field("max_ms", "Max duration (ms)", { size: 8 }),
      field("tags", "Tags (key=value …)", { size: 28, placeholder: "http.response.status_code=500" }),
      h("label", {}, "Errors only", errBox),
      field("limit", "Limit", { size: 4, placeholder: "50" }),
      h("button", { type: "submit" }, "Find traces"));
    const results = h("div", { id: "results" });
    main.replaceChildren(h("h1", {}, "Find traces"), form, results);

    let services = [];
    try {
      services = (await getJson("/api/analysis/services")).services;
    } catch (e) {
      return fail(e);
    }
    for (const s of services) svcSel.append(h("option", { value: s.service }, s.service));
    const fillOps = () => {
      opSel.replaceChildren(h("option", { value: "" }, "any operation"));
      const svc = services.find((s) => s.service === svcSel.value);
      for (const op of svc ? svc.operations : []) opSel.append(h("option", { value: op }, op));
    };
    svcSel.value = params.get("service") || "";
    fillOps();
    opSel.value = params.get("operation") || "";
    svcSel.addEventListener("change", fillOps);

    async function run() {
      const q = new URLSearchParams();
      for (const [k, v] of new FormData(form)) if (String(v).trim() !== "") q.set(k, String(v).trim());
      history.replaceState(null, "", "/ui/" + (q.toString() ? "?" + q : ""));
      results.replaceChildren(h("p", { class: "muted" }, "Searching…"));
      try {
        const { traces } = await getJson("/api/analysis/search?" + q);
        renderResults(traces);
      } catch (e) {
        results.replaceChildren(h("p", { class: "err-badge" }, "Error: " + e.message));
      }
      done();
    }
    function renderResults(traces) {
      if (!traces.length) {
        results.replaceChildren(h("p", { class: "muted", id: "no-results" }, "No traces match."));
        return;
      }
      const max = Math.max(...traces.map((t) => t.duration_ns), 1);
      const rows = traces.map((t) =>
        h("tr", { "data-trace-id": t.trace_id, class: t.error_count ? "has-errors" : "" },
          h("td", {}, h("a", { href: traceHref(t.trace_id), class: "trace-link" }, t.root_service + ": " + t.root_name)),
          h("td", { class: "num" }, fmtDur(t.duration_ns),
            h("span", { class: "cp-share", style: "width:" + Math.max(2, Math.round((60 * t.duration_ns) / max)) + "px;background:#8ea3d8" })),
          h("td", { class: "num" }, t.span_count),
          h("td", { class: "num errors" + (t.error_count ? " bad" : "") }, t.error_count),
          h("td", {}, t.services.join(", ")),
          h("td", { class: "muted" }, fmtTime(t.start_ns)),
          h("td", { class: "mono muted" }, t.trace_id)));
      results.replaceChildren(
        h("p", { class: "muted" }, traces.length + " trace" + (traces.length === 1 ? "" : "s")),
        h("table", { id: "results-table" },
          h("thead", {}, h("tr", {}, ["Root", "Duration", "Spans", "Errors", "Services", "Start", "Trace id"].map((c, i) =>
            h("th", { class: i >= 1 && i <= 3 ? "num" : "" }, c)))),
          h("tbody", {}, rows)));
    }
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      run();
    });
    run();
  }

  // ---- trace page ----------------------------------------------------------------------

  async function tracePage() {
    const traceId = document.body.dataset.traceId;
    const base = "/api/analysis/traces/" + traceId;
    let w;
    try {
      w = await getJson(base);
    } catch (e) {
      return fail(e);
    }
    // The server answers a page of rows at a time; rows not fetched yet are holes, fetched
    // when they scroll into view (or when a span in them is selected).
    const pageSize = w.limit;
    const rows = new Array(w.row_count);
    const total = Math.max(w.duration_ns, 1);
    const cp = w.critical_path;

    // Critical-path segments per span id, as [start, end] offsets from the trace start.
    const segs = new Map();
    const byId = new Map();
    const fetched = new Set();
    function addPage(p) {
      p.rows.forEach((r, k) => {
        rows[p.offset + k] = r;
        byId.set(r.span_id, p.offset + k);
      });
      for (const sg of p.critical_path.segments) {
        if (!segs.has(sg.span_id)) segs.set(sg.span_id, []);
        segs.get(sg.span_id).push([sg.start_ns - w.start_ns, sg.end_ns - w.start_ns]);
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
      });
      if (n !== undefined) {
        inFlight.set(n, req);
        req.then(() => inFlight.delete(n), () => setTimeout(() => inFlight.delete(n), 2000));
      }
      return req;
    }

    // Header: summary, service legend, critical-path contributors.
    const legend = h("div", { class: "legend", id: "services" },
      w.services.map((name, i) => h("span", { "data-service": name }, h("i", { class: "swatch", style: "background:" + serviceColor(i) }), name)));
    const top = cp.spans.slice().sort((a, b) => b.critical_ns - a.critical_ns).slice(0, 8);
    const cpList = h("ol", { class: "cp-list", id: "critical-path" },
      top.map((p) => h("li", { "data-span-id": p.span_id, "data-span-name": p.name },
        h("a", { href: "#span=" + p.span_id }, p.service + ": " + p.name),
        " ", h("span", { class: "muted" }, fmtDur(p.critical_ns) + " (" + fmtPct(p.share) + "), self " + fmtDur(p.self_ns)),
        h("span", { class: "cp-share", style: "width:" + Math.max(1, Math.round(p.share * 80)) + "px" }))));
    const head = h("div", { class: "trace-head" },
      h("div", {}, h("h1", { id: "trace-title" }, rows.length ? w.services[rows[0].service] + ": " + rows[0].name : "Trace"),
        h("div", { class: "mono muted" }, w.trace_id)),
      h("div", {}, h("div", { class: "muted" }, "Duration"), h("strong", { id: "trace-duration" }, fmtDur(w.duration_ns))),
      h("div", {}, h("div", { class: "muted" }, "Spans"), h("strong", { id: "trace-spans" }, w.row_count)),
      h("div", {}, h("div", { class: "muted" }, "Errors"), h("strong", { id: "trace-errors", class: w.error_count ? "err-badge" : "" }, w.error_count)),
      h("div", {}, h("div", { class: "muted" }, "Started"), h("strong", {}, fmtTime(w.start_ns))),
      legend);

    // Waterfall: a virtual list; only rows in view are in the DOM.
    const ROW = 24, OVERSCAN = 12;
    const collapsed = new Uint8Array(rows.length);
    let visible = [];
    function recompute() {
      visible = [];
      for (let i = 0; i < rows.length; i++) {
        visible.push(i);
        if (collapsed[i]) i += rows[i].descendant_count;
      }
      spacer.style.height = visible.length * ROW + "px";
      draw(true);
    }
    const axis = h("div", { class: "wf-axis" }, [0, 0.25, 0.5, 0.75, 1].map((f) =>
      h("span", { style: "left:" + f * 100 + "%" }, fmtDur(Math.round(f * w.duration_ns)))));
    const spacer = h("div", { class: "wf-spacer" });
    const scroller = h("div", { class: "wf-scroll", id: "waterfall-scroll" }, spacer);
    const detail = h("aside", { class: "detail panel", id: "span-detail" }, h("p", { class: "muted" }, "Select a span to see its details."));
    let selected = null;
    let drawn = [-1, -1];

    function rowEl(i) {
      const r = rows[i];
      if (!r) {
        fetchPage("offset=" + Math.floor(i / pageSize) * pageSize, Math.floor(i / pageSize)).catch(() => {});
        return h("div", { class: "wf-row", "data-row": i }, h("div", { class: "wf-label muted" }, "…"));
      }
      const svc = w.services[r.service];
      const left = (100 * r.offset_ns) / total, width = (100 * r.duration_ns) / total;
      const cls = ["wf-row", r.critical_ns > 0 ? "critical" : "", r.is_error ? "error" : "", selected === i ? "selected" : ""].join(" ");
      const track = h("div", { class: "wf-track" },
        h("div", { class: "wf-bar", style: "left:" + left + "%;width:" + width + "%;background-color:" + serviceColor(r.service) }),
        (segs.get(r.span_id) || []).map(([a, b]) =>
          h("div", { class: "cp-seg", style: "left:" + (100 * a) / total + "%;width:" + (100 * (b - a)) / total + "%" })),
        h("span", { class: "wf-dur", style: left + width > 80 ? "right:" + (100 - left) + "%;margin-right:4px" : "left:calc(" + (left + width) + "% + 4px)" },
          fmtDur(r.duration_ns)));
      return h("div", {
        class: cls, style: "top:" + 0 + "px", "data-row": i, "data-span-id": r.span_id, "data-span-name": r.name,
        "data-service": svc, "data-depth": r.depth, title: svc + ": " + r.name,
      },
        h("div", { class: "wf-label", style: "padding-left:" + (4 + r.depth * 12) + "px" },
          h("span", { class: "wf-toggle", "data-toggle": r.child_count ? i : null },
            r.child_count ? (collapsed[i] ? "▸" : "▾") : ""),
          h("i", { class: "swatch", style: "background:" + serviceColor(r.service) }),
          h("span", { class: "wf-svc" }, svc),
          h("span", { class: "wf-name" }, r.name),
          r.is_error ? h("span", { class: "err-badge", title: "error" }, "!") : null,
          r.orphan ? h("span", { class: "muted", title: "parent span missing" }, "⚠") : null),
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
        const i = Number(t.dataset.toggle);
        collapsed[i] ^= 1;
        recompute();
        return;
      }
      const rowDiv = ev.target.closest(".wf-row");
      if (rowDiv) location.hash = "span=" + rowDiv.dataset.spanId;
    });

    async function select(spanId) {
      if (!byId.has(spanId)) {
        try {
          await fetchPage("span_id=" + spanId);
        } catch (e) {
          return;
        }
      }
      const i = byId.get(spanId);
      if (i === undefined) return;
      selected = i;
      // Expand collapsed ancestors so the row is visible, then scroll to it.
      for (let a = 0; a < i; a++) if (collapsed[a] && a + rows[a].descendant_count >= i) collapsed[a] = 0;
      recompute();
      const v = visible.indexOf(i);
      if (v * ROW < scroller.scrollTop || v * ROW > scroller.scrollTop + scroller.clientHeight - ROW) {
        scroller.scrollTop = Math.max(0, v * ROW - scroller.clientHeight / 3);
      }
      draw(true);
      const r = rows[i];
      detail.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      let d;
      try {
        d = await getJson("/api/analysis/traces/" + traceId + "/spans/" + spanId);
      } catch (e) {
        detail.replaceChildren(h("p", { class: "err-badge" }, "Error: " + e.message));
        return;
      }
      const kv = (pairs) => h("table", {}, h("tbody", {}, pairs.map(([k, v]) => h("tr", {}, h("td", { class: "muted" }, k), h("td", { class: "mono" }, v)))));
      detail.replaceChildren(
        h("h2", { id: "detail-name", "data-span-id": d.span_id }, d.name),
        kv([
          ["service", d.service],
          ["kind", d.kind],
          ["status", d.is_error ? "error" + (d.status_message ? ": " + d.status_message : "") : "ok"],
          ["start", "+" + fmtDur(d.start_ns - w.start_ns)],
          ["duration", fmtDur(d.duration_ns)],
          ["self time", fmtDur(r.self_ns)],
          ["critical path", r.critical_ns ? fmtDur(r.critical_ns) + " (" + fmtPct(r.critical_ns / Math.max(cp.total_ns, 1)) + ")" : "not on the critical path"],
          ["span id", d.span_id],
          ["parent", d.parent_span_id || "(root)"],
        ]),
        h("h2", {}, "Attributes"),
        d.attributes.length ? h("div", { id: "detail-attributes" }, kv(d.attributes)) : h("p", { class: "muted" }, "none"),
        h("h2", {}, "Events"),
        d.events.length
          ? h("ul", { id: "detail-events" }, d.events.map((e) => h("li", {}, "+" + fmtDur(Math.max(0, e.time_ns - w.start_ns)) + " ", h("strong", {}, e.name),
              e.attributes.length ? kv(e.attributes) : null)))
          : h("p", { class: "muted" }, "none"),
        h("h2", {}, "Links"),
        d.links.length
          ? h("ul", { id: "detail-links" }, d.links.map((l) => h("li", {}, h("a", { href: traceHref(l.trace_id, l.span_id) }, l.trace_id + " / " + l.span_id))))
          : h("p", { class: "muted" }, "none"));
    }
    function fromHash() {
      const m = /span=([0-9a-f]{16})/.exec(location.hash);
      if (m) select(m[1]);
    }
    window.addEventListener("hashchange", fromHash);

    main.replaceChildren(head,
      h("div", { class: "trace-layout" },
        h("div", {},
          h("div", { class: "wf", id: "waterfall" }, axis, scroller),
          h("h2", {}, "Critical path: top contributors (" + fmtDur(cp.total_ns) + ")"),
          cpList),
        detail));
    recompute();
    fromHash();
    done();
  }

  // ---- service map page ----------------------------------------------------------------

  async function mapPage() {
    let m;
    try {
      m = await getJson("/api/analysis/dependencies");
    } catch (e) {
      return fail(e);
    }
    const { nodes, edges } = m;
    const windowS = Math.max(m.window_ns / 1e9, 1e-9);
    if (!nodes.length) {
      main.replaceChildren(h("h1", {}, "Service map"), h("p", { class: "muted", id: "no-services" }, "No traces yet."));
      return done();
    }
    // Layered layout: a service's column is the length of the longest call chain reaching it
    // (cycles are cut by bounding the number of passes); rows within a column by name.
    const level = new Map(nodes.map((n) => [n.name, 0]));
    for (let pass = 0; pass < nodes.length; pass++) {
      let changed = false;
      for (const e of edges) {
        const want = level.get(e.caller) + 1;
        if (want > level.get(e.callee) && want < nodes.length) {
          level.set(e.callee, want);
          changed = true;
        }
      }
      if (!changed) break;
    }
    const columns = [];
    for (const n of nodes) {
      const l = level.get(n.name);
      (columns[l] = columns[l] || []).push(n);
    }
    const NW = 170, NH = 46, CG = 230, RG = 60, PAD = 30;
    const pos = new Map();
    columns.forEach((col, c) => col.forEach((n, r) => pos.set(n.name, { x: PAD + c * (NW + CG), y: PAD + r * (NH + RG) })));
    const width = PAD * 2 + columns.length * NW + (columns.length - 1) * CG;
    const height = PAD * 2 + Math.max(...columns.map((c) => c.length)) * (NH + RG) - RG;
    const svg = s("svg", { class: "map", id: "service-map", viewBox: "0 0 " + width + " " + height, width, height, style: "max-width:" + width + "px" },
      s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8b93a7" }))));
    for (const e of edges) {
      const a = pos.get(e.caller), b = pos.get(e.callee);
      const x1 = a.x + NW, y1 = a.y + NH / 2;
      const back = b.x <= a.x;
      const x2 = back ? b.x + NW / 2 : b.x, y2 = back ? b.y + (b.y > a.y ? 0 : NH) : b.y + NH / 2;
      const mx = (x1 + x2) / 2, my = (y1 + y2) / 2 + (back ? 30 : 0);
      const full = e.calls + " calls · " + (e.calls / windowS).toFixed(2) + "/s · " + e.errors + " errors · p50 " + fmtDur(e.latency.p50_ns) + " · p99 " + fmtDur(e.latency.p99_ns);
      const label = e.calls + " calls · " + e.errors + " err · p99 " + fmtDur(e.latency.p99_ns);
      const tw = label.length * 5.6 + 8;
      svg.append(s("g", { class: "edge" + (e.errors ? " has-errors" : ""), "data-edge": e.caller + "->" + e.callee, "data-calls": e.calls, "data-errors": e.errors },
        s("path", { d: "M" + x1 + "," + y1 + " C" + (x1 + 60) + "," + y1 + " " + (x2 - 60) + "," + y2 + " " + x2 + "," + y2, "marker-end": "url(#arrow)" }),
        s("rect", { x: mx - tw / 2, y: my - 9, width: tw, height: 16, rx: 3 }),
        s("text", { x: mx, y: my + 3, "text-anchor": "middle" }, label),
        s("title", {}, e.caller + " → " + e.callee + ": " + full + " · p90 " + fmtDur(e.latency.p90_ns) + " · max " + fmtDur(e.latency.max_ns))));
    }
    for (const n of nodes) {
      const p = pos.get(n.name);
      svg.append(s("g", { class: "node" + (n.instrumented ? "" : " uninstrumented") + (n.error_count ? " has-errors" : ""), "data-node": n.name, transform: "translate(" + p.x + "," + p.y + ")" },
        s("rect", { width: NW, height: NH, rx: 6 }),
        s("text", { x: 10, y: 19 }, n.name),
        s("text", { x: 10, y: 36, class: "sub" }, n.instrumented ? n.span_count + " spans · " + n.error_count + " errors" : "not instrumented")));
    }
    const table = h("table", { id: "edges" },
      h("thead", {}, h("tr", {}, ["Caller", "Callee", "Calls", "Rate", "Errors", "p50", "p90", "p99", "Max", "Inferred"].map((c, i) => h("th", { class: i >= 2 ? "num" : "" }, c)))),
      h("tbody", {}, edges.map((e) => h("tr", { "data-edge": e.caller + "->" + e.callee },
        h("td", {}, e.caller), h("td", {}, e.callee), h("td", { class: "num" }, e.calls),
        h("td", { class: "num" }, (e.calls / windowS).toFixed(2) + "/s"),
        h("td", { class: "num errors" + (e.errors ? " bad" : "") }, e.errors),
        h("td", { class: "num" }, fmtDur(e.latency.p50_ns)), h("td", { class: "num" }, fmtDur(e.latency.p90_ns)),
        h("td", { class: "num" }, fmtDur(e.latency.p99_ns)), h("td", { class: "num" }, fmtDur(e.latency.max_ns)),
        h("td", { class: "num" }, e.inferred_calls)))));
    main.replaceChildren(h("h1", {}, "Service map"),
      h("p", { class: "muted" }, m.traces + " traces, " + nodes.length + " services, " + edges.length + " edges, over " + fmtDur(m.window_ns)),
      svg, h("h2", {}, "Calls"), table);
    done();
  }

  // ---- operations page -----------------------------------------------------------------

  async function operationsPage() {
    const params = new URLSearchParams(location.search);
    const windowSel = h("select", { id: "window" },
      [[60, "last minute"], [300, "last 5 minutes"], [900, "last 15 minutes"]].map(([v, l]) => h("option", { value: v }, l)));
    windowSel.value = params.get("window_s") || "900";
    const filter = h("input", { id: "filter", placeholder: "filter service or operation", value: params.get("q") || "" });
    const body = h("div", { id: "ops" });
    main.replaceChildren(h("h1", {}, "Operations"), h("p", {}, windowSel, " ", filter), body);
    let ops = [];
    let sortKey = null, sortDir = 1;
    const keyOf = {
      count: (o) => o.count, rate: (o) => o.rate_per_sec, errors: (o) => o.errors, error_rate: (o) => o.error_rate,
      p50: (o) => o.latency.p50_ns, p90: (o) => o.latency.p90_ns, p99: (o) => o.latency.p99_ns, max: (o) => o.latency.max_ns,
    };
    function render() {
      const f = filter.value.trim().toLowerCase();
      let list = ops.filter((o) => !f || (o.service + " " + o.operation).toLowerCase().includes(f));
      if (sortKey) list = list.slice().sort((a, b) => sortDir * (keyOf[sortKey](b) - keyOf[sortKey](a)));
      if (!list.length) {
        body.replaceChildren(h("p", { class: "muted", id: "no-operations" }, "No spans in this window."));
        return;
      }
      const slow = (o, ns) => {
        const ex = o.slowest[0];
        return ex ? h("a", { href: traceHref(ex.trace_id, ex.span_id), class: "exemplar", "data-kind": "slowest", title: "slowest example: " + fmtDur(ex.duration_ns) }, fmtDur(ns)) : fmtDur(ns);
      };
      const head = [["Service"], ["Operation"], ["Count", "count"], ["Rate", "rate"], ["Errors", "errors"], ["Error %", "error_rate"],
        ["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["Max", "max"], ["Examples"]];
      body.replaceChildren(h("table", { id: "operations-table" },
        h("thead", {}, h("tr", {}, head.map(([label, key]) => h("th", {
          class: (key ? "num sortable" : ""), "data-sort": key,
          onclick: key ? () => { sortDir = sortKey === key ? -sortDir : 1; sortKey = key; render(); } : null,
        }, label + (sortKey === key ? (sortDir > 0 ? " ↓" : " ↑") : ""))))),
        h("tbody", {}, list.map((o) => {
          const err = o.recent_errors[0];
          return h("tr", { "data-service": o.service, "data-operation": o.operation, class: o.errors ? "has-errors" : "" },
            h("td", {}, o.service),
            h("td", {}, h("a", { href: "/ui/?service=" + encodeURIComponent(o.service) + "&operation=" + encodeURIComponent(o.operation) }, o.operation)),
            h("td", { class: "num" }, o.count),
            h("td", { class: "num" }, o.rate_per_sec.toFixed(2) + "/s"),
            h("td", { class: "num errors" + (o.errors ? " bad" : "") }, err
              ? h("a", { href: traceHref(err.trace_id, err.span_id), class: "exemplar", "data-kind": "error", title: "most recent failed example" }, o.errors)
              : o.errors),
            h("td", { class: "num" }, fmtPct(o.error_rate)),
            h("td", { class: "num" }, fmtDur(o.latency.p50_ns)),
            h("td", { class: "num" }, fmtDur(o.latency.p90_ns)),
            h("td", { class: "num p99" }, slow(o, o.latency.p99_ns)),
            h("td", { class: "num max" }, slow(o, o.latency.max_ns)),
            h("td", { class: "examples" },
              o.slowest.map((ex, i) => [i ? " " : "", h("a", { href: traceHref(ex.trace_id, ex.span_id), "data-kind": "slowest", "data-trace-id": ex.trace_id, title: "slow example" }, fmtDur(ex.duration_ns))]),
              o.recent_errors.length ? " · " : "",
              o.recent_errors.map((ex, i) => [i ? " " : "", h("a", { href: traceHref(ex.trace_id, ex.span_id), class: "err-badge", "data-kind": "error", "data-trace-id": ex.trace_id, title: "failed example" }, "✕ " + fmtTime(ex.end_ns).slice(11, 19))])));
        }))));
    }
    async function load() {
      const q = new URLSearchParams({ window_s: windowSel.value });
      const nowNs = params.get("now_ns");
      if (nowNs) q.set("now_ns", nowNs);
      try {
        ops = (await getJson("/api/analysis/operations?" + q)).operations;
      } catch (e) {
        return fail(e);
      }
      render();
      done();
    }
    windowSel.addEventListener("change", load);
    filter.addEventListener("input", render);
    load();
  }

  const pages = { search: searchPage, trace: tracePage, map: mapPage, operations: operationsPage };
  (pages[page] || (() => fail(new Error("unknown page"))))();
})();
