// tracewire collector UI: the trace page (header, sampling decision and keep, find, span
// details, critical path, statistics, JSON download), and the lookup of a trace not stored.
"use strict";

(function () {
  const { h, fmtDur, fmtTime, fmtPct, diffNs, serviceColor, getJson, traceHref, done, main } = TW;

  /** Where a trace stands in tail sampling, with a keep button while it can be kept. */
  async function samplingBox(traceId, onKept) {
    const box = h("div", { class: "sampling panel", id: "sampling" });
    let st;
    try {
      st = await getJson("/api/sampling/traces/" + traceId);
    } catch (e) {
      if (e.status === 409) return null; // tail sampling off: every span is stored
      box.append(h("p", { class: "err-badge" }, "Error: " + e.message));
      return box;
    }
    const line = { pending: "waiting for its sampling decision (" + st.bufferedSpans + " spans buffered)",
      kept: "kept by policy " + st.reason + " (" + st.trigger + ")",
      dropped: "dropped by sampling (" + st.reason + ", " + st.trigger + ")" + (st.bufferedSpans ? ", " + st.bufferedSpans + " spans still in the recent buffer" : ""),
      unknown: "not in the recent-span buffer (never received, or evicted)" }[st.state];
    box.append(h("span", { id: "sampling-state", "data-state": st.state }, "Sampling: " + line));
    if (st.keepable) {
      const result = h("span", { id: "keep-result", class: "muted", role: "status" });
      const btn = h("button", { type: "button", id: "keep-trace" }, "Keep this trace");
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try {
          const k = await getJson("/api/traces/" + traceId + "/keep", { method: "POST" });
          result.textContent = k.outcome === "kept" ? "kept " + k.spans + " spans" : "already kept";
          result.dataset.outcome = k.outcome;
          onKept();
        } catch (e) {
          result.textContent = "Error: " + e.message;
          btn.disabled = false;
        }
      });
      box.append(" ", btn, " ", result);
    }
    return box;
  }

  /** The page for a trace the store does not hold: where it stands, and keep it if it can. */
  async function notStored(traceId, err) {
    main.replaceChildren(h("h1", {}, "Trace " + traceId),
      h("p", { class: "muted", id: "not-stored" }, err.message));
    const box = await samplingBox(traceId, () => setTimeout(() => location.reload(), 50));
    if (box) main.append(box);
    done();
  }

  function statsTable(st) {
    return h("table", { id: "trace-stats" },
      h("thead", {}, h("tr", {}, ["Service", "Operation", "Count", "Errors", "Total", "Self", "Critical", "Critical %"].map((c, i) =>
        h("th", { class: i >= 2 ? "num" : "" }, c)))),
      h("tbody", {}, st.operations.map((o) => h("tr", { "data-service": o.service, "data-operation": o.operation },
        h("td", {}, o.service), h("td", {}, o.operation), h("td", { class: "num" }, o.count),
        h("td", { class: "num errors" + (o.errorCount ? " bad" : "") }, o.errorCount),
        h("td", { class: "num" }, fmtDur(o.totalNanos)), h("td", { class: "num" }, fmtDur(o.selfNanos)),
        h("td", { class: "num critical-time" }, fmtDur(o.criticalNanos)),
        h("td", { class: "num" }, fmtPct(o.criticalNanos / Math.max(st.criticalPathNanos, 1)))))));
  }

  TW.pages.trace = async function tracePage() {
    const traceId = TW.traceId;
    const base = "/api/analysis/traces/" + traceId;
    let w;
    try {
      w = await getJson(base);
    } catch (e) {
      if (e.status === 404) return notStored(traceId, e);
      throw e;
    }
    const wf = TW.waterfall(w, base);
    const cp = w.criticalPath;
    const first = wf.rows[0];

    const legend = h("div", { class: "legend", id: "services" },
      w.services.map((name, i) => h("span", { "data-service": name }, h("i", { class: "swatch", style: "background:" + serviceColor(i) }), name)));
    const why = w.sampling
      ? h("div", { id: "sampling-reason", "data-policy": w.sampling.policy },
        h("div", { class: "muted" }, "Kept by"),
        h("strong", {}, w.sampling.policy + (w.sampling.rate ? " · 1 in " + Number(w.sampling.rate).toFixed(w.sampling.rate % 1 ? 1 : 0) : "")),
        w.sampling.trigger ? h("span", { class: "muted" }, " (" + w.sampling.trigger + ")") : null)
      : null;
    const actions = h("div", { class: "actions" },
      h("a", { href: "/api/traces/" + traceId + "/otlp", download: "trace-" + traceId + ".json", id: "download-json", class: "button" }, "Download JSON"),
      h("form", { id: "compare-form", class: "inline" },
        h("input", { name: "b", id: "compare-with", size: 34, pattern: "[0-9a-fA-F]{32}", required: true, placeholder: "trace id to compare with", "aria-label": "trace id to compare with" }),
        h("button", { type: "submit" }, "Compare")));
    actions.querySelector("form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.href = "/ui/compare?a=" + traceId + "&b=" + new FormData(ev.target).get("b").trim().toLowerCase();
    });
    const skewNote = w.skewAdjustedCount
      ? h("p", { class: "note", id: "skew-note" }, w.skewAdjustedCount + " span" + (w.skewAdjustedCount === 1 ? "" : "s") +
        " shifted to fit in their parents (clock skew between hosts); marked ⇆, shift in the tooltip.")
      : null;
    const head = h("div", { class: "trace-head" },
      h("div", {}, h("h1", { id: "trace-title" }, first ? w.services[first.service] + ": " + first.name : "Trace"),
        h("div", { class: "mono muted" }, w.traceId)),
      h("div", {}, h("div", { class: "muted" }, "Duration"), h("strong", { id: "trace-duration" }, fmtDur(w.durationNanos))),
      h("div", {}, h("div", { class: "muted" }, "Spans"), h("strong", { id: "trace-spans" }, w.rowCount)),
      h("div", {}, h("div", { class: "muted" }, "Errors"), h("strong", { id: "trace-errors", class: w.errorCount ? "err-badge" : "" }, w.errorCount)),
      h("div", {}, h("div", { class: "muted" }, "Started"), h("strong", {}, fmtTime(w.startTimeUnixNano))),
      why, legend, actions);

    // Find: matches from the server (names, services, attribute values), highlighted in place.
    const findInput = h("input", { id: "find", type: "search", placeholder: "find: name, service or attribute value", size: 34, "aria-label": "find in trace" });
    const findCount = h("span", { id: "find-count", class: "muted", role: "status" });
    let matches = [], at = -1;
    async function goTo(k) {
      if (!matches.length) return;
      at = (k + matches.length) % matches.length;
      findCount.textContent = (at + 1) + " of " + matches.length + (findCount.dataset.truncated ? "+" : "");
      location.hash = "span=" + matches[at].spanId;
    }
    async function find() {
      const q = findInput.value.trim();
      if (!q) {
        matches = [];
        wf.mark(new Set(), -1);
        findCount.textContent = "";
        return;
      }
      const r = await getJson(base + "/find?q=" + encodeURIComponent(q));
      matches = r.matches;
      findCount.dataset.truncated = r.truncated ? "1" : "";
      findCount.textContent = matches.length ? matches.length + " matches" : "no matches";
      wf.mark(new Set(matches.map((m) => m.row)), -1);
      if (matches.length) goTo(0);
    }
    const findForm = h("form", { id: "find-form", class: "inline find" }, findInput,
      h("button", { type: "submit" }, "Find"),
      h("button", { type: "button", id: "find-prev", onclick: () => goTo(at - 1), title: "previous match" }, "↑"),
      h("button", { type: "button", id: "find-next", onclick: () => goTo(at + 1), title: "next match" }, "↓"), " ", findCount);
    findForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (matches.length && findInput.value.trim() === findForm.dataset.q) goTo(at + 1);
      else {
        findForm.dataset.q = findInput.value.trim();
        find().catch((e) => { findCount.textContent = "Error: " + e.message; });
      }
    });

    const detail = h("aside", { class: "detail panel", id: "span-detail" }, h("p", { class: "muted" }, "Select a span to see its details."));
    async function select(spanId) {
      const i = await wf.reveal(spanId).catch(() => null);
      if (i === null || i === undefined) return;
      const r = wf.rows[i];
      wf.select(i);
      if (matches.length) wf.mark(new Set(matches.map((m) => m.row)), i);
      detail.replaceChildren(h("p", { class: "muted" }, "Loading…"));
      let d;
      try {
        d = await getJson("/api/traces/" + traceId + "/spans/" + spanId);
      } catch (e) {
        detail.replaceChildren(h("p", { class: "err-badge" }, "Error: " + e.message));
        return;
      }
      const val = (v) => (typeof v === "string" ? v : JSON.stringify(v));
      const kv = (pairs) => h("table", {}, h("tbody", {}, pairs.map(([k, v]) => h("tr", {}, h("td", { class: "muted" }, k), h("td", { class: "mono" }, val(v))))));
      const attrs = Object.entries(d.attributes);
      detail.replaceChildren(
        h("h2", { id: "detail-name", "data-span-id": d.spanId }, d.name),
        kv([
          ["service", d.service],
          ["kind", d.kind],
          ["status", d.status.code + (d.status.message ? ": " + d.status.message : "")],
          ["start", "+" + fmtDur(diffNs(d.startTimeUnixNano, w.startTimeUnixNano))],
          ["duration", fmtDur(d.durationNanos)],
          ["self time", fmtDur(r.selfNanos)],
          ["critical path", r.criticalNanos ? fmtDur(r.criticalNanos) + " (" + fmtPct(r.criticalNanos / Math.max(cp.totalNanos, 1)) + ")" : "not on the critical path"],
          r.skewNanos ? ["clock skew", "shown shifted by " + fmtDur(r.skewNanos)] : null,
          ["span id", d.spanId],
          ["parent", d.parentSpanId || "(root)"],
        ].filter(Boolean)),
        h("h2", {}, "Attributes"),
        attrs.length ? h("div", { id: "detail-attributes" }, kv(attrs)) : h("p", { class: "muted" }, "none"),
        h("h2", {}, "Resource"), kv(Object.entries(d.resource)),
        h("h2", {}, "Events"),
        d.events.length
          ? h("ul", { id: "detail-events" }, d.events.map((e) => h("li", {}, "+" + fmtDur(Math.max(0, diffNs(e.timeUnixNano, w.startTimeUnixNano))) + " ", h("strong", {}, e.name),
            Object.keys(e.attributes).length ? kv(Object.entries(e.attributes)) : null)))
          : h("p", { class: "muted" }, "none"),
        h("h2", {}, "Links"),
        d.links.length
          ? h("ul", { id: "detail-links" }, d.links.map((l) => h("li", {}, h("a", { href: traceHref(l.traceId, l.spanId) }, l.traceId + " / " + l.spanId))))
          : h("p", { class: "muted" }, "none"));
    }
    function fromHash() {
      const m = /span=([0-9a-f]{16})/.exec(location.hash);
      if (m) select(m[1]);
    }
    window.addEventListener("hashchange", fromHash);

    const top = cp.spans.slice().sort((a, b) => b.criticalNanos - a.criticalNanos).slice(0, 8);
    const cpList = h("ol", { class: "cp-list", id: "critical-path" },
      top.map((p) => h("li", { "data-span-id": p.spanId, "data-span-name": p.name },
        h("a", { href: "#span=" + p.spanId }, p.service + ": " + p.name),
        " ", h("span", { class: "muted" }, fmtDur(p.criticalNanos) + " (" + fmtPct(p.share) + "), self " + fmtDur(p.selfNanos)),
        h("span", { class: "cp-share", style: "width:" + Math.max(1, Math.round(p.share * 80)) + "px" }))));
    const statsBox = h("div", { id: "trace-stats-box" }, h("p", { class: "muted" }, "Loading…"));
    main.replaceChildren(...[head, skewNote].filter(Boolean),
      h("div", { class: "trace-layout" },
        h("div", {}, findForm, wf.el,
          h("h2", {}, "Critical path: top contributors (" + fmtDur(cp.totalNanos) + ")"), cpList,
          h("h2", {}, "Statistics: time per service and operation"), statsBox),
        detail));
    wf.start();
    const box = await samplingBox(traceId, () => setTimeout(() => location.reload(), 50));
    if (box) head.after(box);
    try {
      statsBox.replaceChildren(statsTable(await getJson(base + "/stats")));
    } catch (e) {
      statsBox.replaceChildren(h("p", { class: "err-badge" }, "Error: " + e.message));
    }
    fromHash();
    done();
  };
})();
