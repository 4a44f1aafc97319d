// tracewire collector UI: the service map (a layered SVG) and its calls table.
"use strict";

(function () {
  const { h, s, fmtDur, fmtTime, fmtRate, getJson, done, main, RATE_HELP } = TW;

  TW.pages.map = async function mapPage() {
    const m = await getJson("/api/analysis/dependencies");
    const { nodes, edges } = m;
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
      const full = e.calls + " calls · " + fmtRate(e.ratePerSecond) + " · " + e.errors + " errors · p50 " + fmtDur(e.latency.p50Nanos) + " · p99 " + fmtDur(e.latency.p99Nanos);
      const label = e.calls + " calls · " + e.errors + " err · p99 " + fmtDur(e.latency.p99Nanos);
      const tw = label.length * 5.6 + 8;
      svg.append(s("g", { class: "edge" + (e.errors ? " has-errors" : ""), "data-edge": e.caller + "->" + e.callee, "data-calls": e.calls, "data-errors": e.errors },
        s("path", { d: "M" + x1 + "," + y1 + " C" + (x1 + 60) + "," + y1 + " " + (x2 - 60) + "," + y2 + " " + x2 + "," + y2, "marker-end": "url(#arrow)" }),
        s("rect", { x: mx - tw / 2, y: my - 9, width: tw, height: 16, rx: 3 }),
        s("text", { x: mx, y: my + 3, "text-anchor": "middle" }, label),
        s("title", {}, e.caller + " → " + e.callee + ": " + full + " · p90 " + fmtDur(e.latency.p90Nanos) + " · max " + fmtDur(e.latency.maxNanos))));
    }
    for (const n of nodes) {
      const p = pos.get(n.name);
      svg.append(s("g", { class: "node" + (n.instrumented ? "" : " uninstrumented") + (n.errorCount ? " has-errors" : ""), "data-node": n.name, transform: "translate(" + p.x + "," + p.y + ")" },
        s("rect", { width: NW, height: NH, rx: 6 }),
        s("text", { x: 10, y: 19 }, n.name),
        s("text", { x: 10, y: 36, class: "sub" }, n.instrumented ? n.spanCount + " spans · " + n.errorCount + " errors" : "not instrumented")));
    }
    const table = h("table", { id: "edges" },
      h("thead", {}, h("tr", {}, ["Caller", "Callee", "Calls", "Rate", "Errors", "p50", "p90", "p99", "Max", "Inferred"].map((c, i) => h("th", { class: i >= 2 ? "num" : "", title: c === "Rate" ? RATE_HELP : null, "data-col": c.toLowerCase() }, c)))),
      h("tbody", {}, edges.map((e) => h("tr", { "data-edge": e.caller + "->" + e.callee },
        h("td", {}, e.caller), h("td", {}, e.callee), h("td", { class: "num" }, e.calls),
        h("td", { class: "num" }, fmtRate(e.ratePerSecond)),
        h("td", { class: "num errors" + (e.errors ? " bad" : "") }, e.errors),
        h("td", { class: "num" }, fmtDur(e.latency.p50Nanos)), h("td", { class: "num" }, fmtDur(e.latency.p90Nanos)),
        h("td", { class: "num" }, fmtDur(e.latency.p99Nanos)), h("td", { class: "num" }, fmtDur(e.latency.maxNanos)),
        h("td", { class: "num" }, e.inferredCalls)))));
    main.replaceChildren(h("h1", {}, "Service map"),
      h("p", { class: "muted" }, m.traces + " traces, " + nodes.length + " services, " + edges.length + " edges, from " + fmtTime(m.startTimeUnixNano) + " to now" + (m.sampled ? " (the newest traces only)" : "")),
      svg, h("h2", {}, "Calls"), table);
    done();
  };
})();
