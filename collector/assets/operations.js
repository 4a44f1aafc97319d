// tracewire collector UI: per-operation health (exact, from every span received), seen vs kept
// with tail sampling, and exemplar links.
"use strict";

(function () {
  const { h, fmtDur, fmtTime, fmtPct, fmtRate, getJson, traceHref, done, main, RATE_HELP } = TW;

  TW.pages.operations = async function operationsPage() {
    const params = new URLSearchParams(location.search);
    const windowSel = h("select", { id: "window", "aria-label": "window" },
      [["1m", "last minute"], ["5m", "last 5 minutes"], ["15m", "last 15 minutes"]].map(([v, l]) => h("option", { value: v }, l)));
    windowSel.value = params.get("window") || "15m";
    const filter = h("input", { id: "filter", placeholder: "filter service or operation", "aria-label": "filter", value: params.get("q") || "" });
    const body = h("div", { id: "ops" });
    main.replaceChildren(h("h1", {}, "Operations"), h("p", {}, windowSel, " ", filter), body);
    let ops = [], sampling = null;
    let sortKey = null, sortDir = 1;
    const keyOf = {
      count: (o) => o.count, kept: (o) => (o.kept === undefined ? -1 : o.kept), rate: (o) => o.ratePerSecond, errors: (o) => o.errors,
      errorRate: (o) => o.errorRate, p50: (o) => o.latency.p50Nanos, p90: (o) => o.latency.p90Nanos, p99: (o) => o.latency.p99Nanos,
      max: (o) => o.latency.maxNanos,
    };
    const link = (ex, attrs, text) => h("a", Object.assign({ href: traceHref(ex.traceId, ex.spanId), "data-trace-id": ex.traceId }, attrs), text);
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
        return ex ? link(ex, { class: "exemplar", "data-kind": "slowest", title: "slowest example: " + fmtDur(ex.durationNanos) }, fmtDur(ns)) : fmtDur(ns);
      };
      const head = [["Service"], ["Operation"], ["Seen", "count", "spans received (before sampling)"]];
      if (sampling) head.push(["Kept", "kept", "spans kept by tail sampling (stored)"]);
      head.push(["Rate", "rate", RATE_HELP], ["Errors", "errors"], ["Error %", "errorRate"],
        ["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["Max", "max"], ["Examples"]);
      body.replaceChildren(h("table", { id: "operations-table" },
        h("thead", {}, h("tr", {}, head.map(([label, key, help]) => h("th", {
          class: key ? "num sortable" : "", "data-sort": key, title: help, tabindex: key ? 0 : null,
          "aria-sort": sortKey === key ? (sortDir > 0 ? "descending" : "ascending") : null,
          onclick: key ? () => sortBy(key) : null,
          onkeydown: key ? (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(key); } } : null,
        }, label + (sortKey === key ? (sortDir > 0 ? " ↓" : " ↑") : ""))))),
        h("tbody", {}, list.map((o) => {
          const err = o.recentErrors[0];
          return h("tr", { "data-service": o.service, "data-operation": o.operation, class: o.errors ? "has-errors" : "" },
            h("td", {}, o.service),
            h("td", {}, h("a", { href: "/ui/?service=" + encodeURIComponent(o.service) + "&operation=" + encodeURIComponent(o.operation) }, o.operation)),
            h("td", { class: "num seen" }, o.count),
            sampling ? h("td", { class: "num kept", title: o.kept === undefined ? "no sampling data for this operation" : fmtPct(o.kept / Math.max(o.seen, 1)) + " of " + o.seen + " seen" }, o.kept === undefined ? "–" : o.kept) : null,
            h("td", { class: "num rate", title: RATE_HELP }, fmtRate(o.ratePerSecond)),
            h("td", { class: "num errors" + (o.errors ? " bad" : "") }, err
              ? link(err, { class: "exemplar", "data-kind": "error", title: "most recent failed example" }, o.errors)
              : o.errors),
            h("td", { class: "num" }, fmtPct(o.errorRate)),
            h("td", { class: "num" }, fmtDur(o.latency.p50Nanos)),
            h("td", { class: "num" }, fmtDur(o.latency.p90Nanos)),
            h("td", { class: "num p99" }, slow(o, o.latency.p99Nanos)),
            h("td", { class: "num max" }, slow(o, o.latency.maxNanos)),
            h("td", { class: "examples" },
              o.slowest.map((ex, i) => [i ? " " : "", link(ex, { class: "example", "data-kind": "slowest", title: "slow example" }, fmtDur(ex.durationNanos))]),
              o.recentErrors.length ? " · " : "",
              o.recentErrors.map((ex, i) => [i ? " " : "", link(ex, { class: "example err-badge", "data-kind": "error", title: "failed example" }, "✕ " + fmtTime(ex.endTimeUnixNano).slice(11, 19))])));
        }))));
    }
    function sortBy(key) {
      sortDir = sortKey === key ? -sortDir : 1;
      sortKey = key;
      render();
      const th = body.querySelector('th[data-sort="' + key + '"]');
      if (th) th.focus();
    }
    async function load() {
      const q = new URLSearchParams({ window: windowSel.value });
      if (params.get("end")) q.set("end", params.get("end"));
      const [health, kept] = await Promise.all([
        getJson("/api/analysis/operations?" + q),
        getJson("/api/sampling/operations?" + q).catch((e) => (e.status === 409 ? null : Promise.reject(e))),
      ]);
      sampling = kept;
      const byKey = new Map((kept ? kept.operations : []).map((o) => [o.service + "\u0000" + o.operation, o]));
      ops = health.operations.map((o) => {
        const k = byKey.get(o.service + "\u0000" + o.operation);
        return k ? Object.assign({}, o, { seen: k.seen, kept: k.kept }) : o;
      });
      render();
      done();
    }
    windowSel.addEventListener("change", () => load().catch(TW.fail));
    filter.addEventListener("input", render);
    await load();
  };
})();
