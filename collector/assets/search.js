// tracewire collector UI: the search page (lookback or date range, conditions, sorting, a
// duration-over-time plot) and the lookup by trace id.
"use strict";

(function () {
  const { h, s, fmtDur, fmtTime, getJson, traceHref, done, main } = TW;

  const LOOKBACKS = [["15m", "last 15 minutes", 9e5], ["1h", "last hour", 3.6e6], ["6h", "last 6 hours", 2.16e7],
    ["24h", "last 24 hours", 8.64e7], ["7d", "last 7 days", 6.048e8], ["all", "any time", 0], ["custom", "date range…", 0]];
  const SORTS = {
    newest: ["newest first", (a, b) => (BigInt(b.startTimeUnixNano) > BigInt(a.startTimeUnixNano) ? 1 : -1)],
    longest: ["longest first", (a, b) => b.durationNanos - a.durationNanos],
    spans: ["most spans", (a, b) => b.spanCount - a.spanCount],
    errors: ["most errors", (a, b) => b.errorCount - a.errorCount],
  };

  /** A `datetime-local` value (UTC) as microseconds since the epoch, or null. */
  function localToMicros(v) {
    if (!v) return null;
    const ms = Date.parse(v + "Z");
    return Number.isFinite(ms) ? String(ms * 1000) : null;
  }

  /** The /api/traces query for the form's values. */
  function apiQuery(f) {
    const q = new URLSearchParams();
    for (const k of ["service", "operation", "minDuration", "maxDuration", "limit"]) if (f.get(k)) q.set(k, f.get(k));
    if (f.get("error")) q.set("error", "true");
    for (const t of (f.get("tags") || "").split(/\s+/)) if (t) q.append("tags", t);
    const lb = LOOKBACKS.find((l) => l[0] === (f.get("lookback") || "1h"));
    if (lb && lb[2]) q.set("start", String((Date.now() - lb[2]) * 1000));
    if (lb && lb[0] === "custom") {
      const a = localToMicros(f.get("from")), b = localToMicros(f.get("to"));
      if (a) q.set("start", a);
      if (b) q.set("end", b);
    }
    return q;
  }

  /** Duration over start time, one dot per trace, each a link to it. */
  function scatter(traces) {
    const W = 900, H = 160, P = 34;
    const t0 = traces.reduce((m, t) => (BigInt(t.startTimeUnixNano) < m ? BigInt(t.startTimeUnixNano) : m), BigInt(traces[0].startTimeUnixNano));
    const xs = traces.map((t) => Number(BigInt(t.startTimeUnixNano) - t0));
    const xMax = Math.max(...xs, 1), yMax = Math.max(...traces.map((t) => t.durationNanos), 1);
    const svg = s("svg", { id: "scatter", class: "scatter", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "trace duration over time" },
      s("line", { x1: P, y1: H - P / 2, x2: W - 8, y2: H - P / 2, class: "axis" }),
      s("line", { x1: P, y1: 8, x2: P, y2: H - P / 2, class: "axis" }),
      s("text", { x: 2, y: 14, class: "tick" }, fmtDur(yMax)),
      s("text", { x: P, y: H - 2, class: "tick" }, fmtTime(t0.toString()).slice(11, 19)));
    traces.forEach((t, i) => {
      const x = P + ((W - P - 16) * xs[i]) / xMax + 4, y = H - P / 2 - ((H - P / 2 - 12) * t.durationNanos) / yMax;
      svg.append(s("a", { href: traceHref(t.traceId), class: "dot" + (t.errorCount ? " has-errors" : ""), "data-trace-id": t.traceId },
        s("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: Math.min(9, 3 + Math.log2(1 + t.spanCount)) }),
        s("title", {}, t.rootService + ": " + t.rootName + " · " + fmtDur(t.durationNanos) + " · " + t.spanCount + " spans")));
    });
    return svg;
  }

  function resultsTable(traces) {
    const max = Math.max(...traces.map((t) => t.durationNanos), 1);
    return h("table", { id: "results-table" },
      h("thead", {}, h("tr", {}, ["Root", "Duration", "Spans", "Errors", "Services", "Start", "Trace id"].map((c, i) =>
        h("th", { class: i >= 1 && i <= 3 ? "num" : "" }, c)))),
      h("tbody", {}, traces.map((t) =>
        h("tr", { "data-trace-id": t.traceId, class: t.errorCount ? "has-errors" : "" },
          h("td", {}, h("a", { href: traceHref(t.traceId), class: "trace-link" }, t.rootService + ": " + t.rootName)),
          h("td", { class: "num" }, fmtDur(t.durationNanos),
            h("span", { class: "cp-share dur-share", style: "width:" + Math.max(2, Math.round((60 * t.durationNanos) / max)) + "px" })),
          h("td", { class: "num" }, t.spanCount),
          h("td", { class: "num errors" + (t.errorCount ? " bad" : "") }, t.errorCount),
          h("td", {}, t.services.map((x) => x.name).join(", ")),
          h("td", { class: "muted" }, fmtTime(t.startTimeUnixNano)),
          h("td", { class: "mono muted" }, t.traceId)))));
  }

  TW.pages.search = async function searchPage() {
    const params = new URLSearchParams(location.search);
    const sel = (name, label, options, value) => h("label", {}, label,
      h("select", { name, id: "f-" + name }, options.map(([v, l]) => h("option", { value: v, selected: v === value }, l))));
    const field = (name, label, attrs) =>
      h("label", {}, label, h("input", Object.assign({ name, id: "f-" + name, value: params.get(name) || "" }, attrs)));
    const svcSel = h("select", { name: "service", id: "f-service" }, h("option", { value: "" }, "any service"));
    const opSel = h("select", { name: "operation", id: "f-operation" }, h("option", { value: "" }, "any operation"));
    const range = h("span", { class: "range", id: "date-range", hidden: params.get("lookback") !== "custom" },
      field("from", "From (UTC)", { type: "datetime-local", step: 1 }), field("to", "To (UTC)", { type: "datetime-local", step: 1 }));
    const form = h("form", { class: "search panel", id: "search-form" },
      sel("lookback", "Lookback", LOOKBACKS.map((l) => [l[0], l[1]]), params.get("lookback") || "1h"), range,
      h("label", {}, "Service", svcSel),
      h("label", {}, "Operation", opSel),
      field("minDuration", "Min duration", { size: 7, placeholder: "100ms" }),
      field("maxDuration", "Max duration", { size: 7, placeholder: "2s" }),
      field("tags", "Tags (key=value …)", { size: 26, placeholder: "http.response.status_code=500" }),
      h("label", {}, "Errors only", h("input", { type: "checkbox", name: "error", id: "f-error", value: "1", checked: params.get("error") === "1" })),
      field("limit", "Limit", { size: 4, placeholder: "20" }),
      sel("sort", "Sort", Object.entries(SORTS).map(([k, [l]]) => [k, l]), params.get("sort") || "newest"),
      h("button", { type: "submit", id: "find-traces" }, "Find traces"));
    const lookup = h("form", { class: "search panel", id: "lookup-form" },
      h("label", {}, "Trace id", h("input", { name: "traceId", id: "f-trace-id", size: 34, pattern: "[0-9a-fA-F]{32}", required: true, placeholder: "32 hex digits, e.g. from a log line" })),
      h("button", { type: "submit" }, "Open trace"));
    lookup.addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.href = traceHref(new FormData(lookup).get("traceId").trim().toLowerCase());
    });
    const uploadResult = h("span", { id: "upload-result", role: "status" });
    const upload = h("form", { class: "search panel", id: "upload-form" },
      h("label", {}, "Upload a trace (OTLP/JSON, as downloaded from a trace page)",
        h("input", { type: "file", name: "file", id: "upload-file", accept: "application/json,.json", required: true })),
      h("button", { type: "submit", id: "upload-submit" }, "Upload"), uploadResult);
    upload.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = upload.elements.file.files[0];
      if (!file) return;
      uploadResult.replaceChildren("Uploading…");
      try {
        const r = await getJson("/api/traces", { method: "POST", headers: { "content-type": "application/json" }, body: await file.text() });
        // h() flattens nested lists of children; replaceChildren would print them as text.
        uploadResult.replaceChildren(h("span", {}, "Stored " + r.traceIds.length + " trace" + (r.traceIds.length === 1 ? "" : "s") +
          (r.rejectedSpans ? " (" + r.rejectedSpans + " spans rejected: " + r.errorMessage + ")" : "") + ": ",
          r.traceIds.map((id, i) => [i ? ", " : "", h("a", { href: traceHref(id), class: "uploaded" }, id)])));
      } catch (e) {
        uploadResult.replaceChildren(h("span", { class: "err-badge" }, "Error: " + e.message));
      }
    });
    const results = h("div", { id: "results" });
    main.replaceChildren(h("h1", {}, "Find traces"), form, lookup, upload, results);

    const services = await getJson("/api/services");
    for (const name of services) svcSel.append(h("option", { value: name }, name));
    async function fillOps() {
      opSel.replaceChildren(h("option", { value: "" }, "any operation"));
      if (!svcSel.value) return;
      const ops = await getJson("/api/services/" + encodeURIComponent(svcSel.value) + "/operations").catch(() => []);
      for (const op of ops) opSel.append(h("option", { value: op }, op));
    }
    svcSel.value = params.get("service") || "";
    await fillOps();
    opSel.value = params.get("operation") || "";
    svcSel.addEventListener("change", fillOps);
    form.elements.lookback.addEventListener("change", () => { range.hidden = form.elements.lookback.value !== "custom"; });

    let last = [];
    function render() {
      const sort = form.elements.sort.value;
      const traces = last.slice().sort(SORTS[sort][1]);
      if (!traces.length) {
        results.replaceChildren(h("p", { class: "muted", id: "no-results" }, "No traces match."));
        return;
      }
      results.replaceChildren(
        h("p", { class: "muted", id: "result-count" }, traces.length + " trace" + (traces.length === 1 ? "" : "s") + ", " + SORTS[sort][0]),
        scatter(traces), resultsTable(traces));
    }
    async function run() {
      const f = new FormData(form);
      const page = new URLSearchParams();
      for (const [k, v] of f) if (String(v).trim() !== "") page.set(k, String(v).trim());
      history.replaceState(null, "", "/ui/" + (page.toString() ? "?" + page : ""));
      results.replaceChildren(h("p", { class: "muted" }, "Searching…"));
      try {
        last = await getJson("/api/traces?" + apiQuery(f));
        render();
      } catch (e) {
        results.replaceChildren(h("p", { class: "err-badge", id: "search-error" }, "Error: " + e.message));
      }
      done();
    }
    form.elements.sort.addEventListener("change", () => {
      const u = new URL(location.href);
      u.searchParams.set("sort", form.elements.sort.value);
      history.replaceState(null, "", u);
      render();
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      run();
    });
    await run();
  };
})();
