// tracewire collector UI: two traces compared per service and operation — what one has and
// the other does not, and where the time went.
"use strict";

(function () {
  const { h, fmtDur, getJson, traceHref, done, main } = TW;

  TW.pages.compare = async function comparePage() {
    const params = new URLSearchParams(location.search);
    const field = (name, label) => h("label", {}, label,
      h("input", { name, id: "compare-" + name, size: 34, pattern: "[0-9a-fA-F]{32}", required: true, value: params.get(name) || "" }));
    const form = h("form", { class: "search panel", id: "compare-ids", method: "get", action: "/ui/compare" },
      field("a", "Trace A"), field("b", "Trace B"), h("button", { type: "submit" }, "Compare"));
    main.replaceChildren(h("h1", {}, "Compare traces"), form);
    const a = (params.get("a") || "").toLowerCase(), b = (params.get("b") || "").toLowerCase();
    if (!a || !b) return done();
    const [sa, sb] = await Promise.all([a, b].map((id) => getJson("/api/analysis/traces/" + id + "/stats")));
    const key = (o) => o.service + "\u0000" + o.operation;
    const rows = new Map();
    for (const o of sa.operations) rows.set(key(o), { service: o.service, operation: o.operation, a: o, b: null });
    for (const o of sb.operations) {
      const r = rows.get(key(o));
      if (r) r.b = o;
      else rows.set(key(o), { service: o.service, operation: o.operation, a: null, b: o });
    }
    const list = [...rows.values()].map((r) => Object.assign(r, { delta: (r.b ? r.b.totalNanos : 0) - (r.a ? r.a.totalNanos : 0) }));
    list.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta));
    const only = (side) => list.filter((r) => !r[side === "a" ? "b" : "a"]).length;
    const cell = (o, f) => h("td", { class: "num" }, o ? f(o) : "–");
    main.append(
      h("p", { id: "compare-summary" },
        h("a", { href: traceHref(a) }, "A"), " " + fmtDur(sa.durationNanos) + ", " + sa.spanCount + " spans · ",
        h("a", { href: traceHref(b) }, "B"), " " + fmtDur(sb.durationNanos) + ", " + sb.spanCount + " spans · B − A: ",
        h("strong", { id: "compare-delta" }, fmtDur(sb.durationNanos - sa.durationNanos)),
        " · " + only("a") + " operations only in A, " + only("b") + " only in B"),
      h("table", { id: "compare-table" },
        h("thead", {}, h("tr", {}, ["Service", "Operation", "Spans A", "Spans B", "Total A", "Total B", "B − A", "Self A", "Self B", "In"].map((c, i) =>
          h("th", { class: i >= 2 && i < 9 ? "num" : "" }, c)))),
        h("tbody", {}, list.map((r) => {
          const side = r.a && r.b ? "both" : r.a ? "a-only" : "b-only";
          return h("tr", { "data-service": r.service, "data-operation": r.operation, "data-side": side, class: side },
            h("td", {}, r.service), h("td", {}, r.operation),
            cell(r.a, (o) => o.count), cell(r.b, (o) => o.count),
            cell(r.a, (o) => fmtDur(o.totalNanos)), cell(r.b, (o) => fmtDur(o.totalNanos)),
            h("td", { class: "num delta" + (r.delta > 0 ? " slower" : r.delta < 0 ? " faster" : "") }, (r.delta > 0 ? "+" : "") + fmtDur(r.delta)),
            cell(r.a, (o) => fmtDur(o.selfNanos)), cell(r.b, (o) => fmtDur(o.selfNanos)),
            h("td", {}, side === "both" ? "both" : side === "a-only" ? "only A" : "only B"));
        }))));
    done();
  };
})();
