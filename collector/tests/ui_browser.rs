//! The UI pages in a real headless Chromium, driven over the DevTools protocol against a
//! collector holding known traces and served with the collector's Content-Security-Policy:
//! each feature is used as a user would (keyboard included), its rendered elements asserted,
//! and a screenshot saved under `target/ui-screenshots/`.
//!
//! `#[ignore]`d: run with `TRACEWIRE_CI=1 cargo test -p tracewire-collector --test ui_browser
//! -- --ignored` (see `browser/mod.rs` for how Chromium is found; missing, the tests fail).

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use tracewire::export::SpanExporter;
use tracewire::{Resource, SpanKind};
use tracewire_collector::sampling::ManualClock;
use tracewire_collector::{Collector, CollectorBuilder, CollectorHandle, InProcessExporter};

mod analysis_fixture;
mod browser;
mod common;

use analysis_fixture::*;
use browser::Browser;

/// A whole collector on a runtime of its own, holding what `load` exports, so the pages load
/// under the API listener's security headers.
fn serve(
    builder: CollectorBuilder,
    load: impl FnOnce(&mut InProcessExporter),
) -> (tokio::runtime::Runtime, CollectorHandle, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (collector, addr) = rt.block_on(async {
        let collector = builder.ephemeral_ports().spawn().await.unwrap();
        load(&mut collector.in_process_exporter());
        collector.flush().await;
        let addr: SocketAddr = collector.api_addr().unwrap();
        (collector, addr)
    });
    (rt, collector, format!("http://{addr}"))
}

/// Trace C: the gateway's client span calls pricing, whose clock is 5 ms behind: the server
/// span starts 3 ms before its parent.
const TRACE_C: u128 = 0xc3;

fn export_skewed(exporter: &mut impl SpanExporter) {
    let base = base_ns();
    let at = |ms: u64| UNIX_EPOCH + Duration::from_nanos(base + ms * MS);
    let mut root = data(TRACE_C, 21, 0, "GET /fare");
    (root.start_time, root.end_time, root.kind) = (at(0), at(40), SpanKind::Server);
    let mut client = data(TRACE_C, 22, 21, "pricing.Quote");
    (client.start_time, client.end_time, client.kind) = (at(5), at(35), SpanKind::Client);
    let mut server = data(TRACE_C, 23, 22, "GET /quote");
    (server.start_time, server.end_time, server.kind) = (at(2), at(27), SpanKind::Server);
    exporter
        .export(&[root, client], &Resource::new("gateway"))
        .unwrap();
    exporter
        .export(&[server], &Resource::new("pricing"))
        .unwrap();
}

#[test]
#[ignore = "needs chromium; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
fn search_trace_map_operations_and_compare_pages() {
    let (rt, collector, base) = serve(Collector::builder(), |e| {
        export_fixture(e);
        export_skewed(e);
    });
    let mut b = Browser::start();
    let (a, tb) = (hex_trace(TRACE_A), hex_trace(TRACE_B));

    // Search: conditions, lookback, sorting, the scatter plot and its links.
    b.open(&format!("{base}/ui/?service=pricing&error=1"));
    assert_eq!(
        b.attrs("#results-table tbody tr", "data-trace-id"),
        [a.as_str()]
    );
    assert_eq!(
        b.attrs("#scatter a.dot", "href"),
        [format!("/ui/trace/{a}")]
    );
    assert_eq!(b.texts(".trace-link"), ["gateway: GET /ride"]);
    b.open(&format!(
        "{base}/ui/?sort=longest&lookback=15m&service=gateway"
    ));
    let c = hex_trace(TRACE_C);
    assert_eq!(
        b.attrs("#results-table tbody tr", "data-trace-id"),
        [a.clone(), c.clone(), tb.clone()]
    );
    assert_eq!(b.attrs("#scatter a.dot", "data-trace-id").len(), 3);
    assert_eq!(b.texts("#result-count"), ["3 traces, longest first"]);
    b.screenshot("search");
    // Sorting again from the keyboard: most spans first.
    b.tab_to("#f-sort");
    b.eval("document.getElementById('f-sort').value = 'spans'; document.getElementById('f-sort').dispatchEvent(new Event('change')); true");
    assert_eq!(b.attrs("#results-table tbody tr", "data-trace-id")[0], a);
    assert_eq!(b.texts("#result-count"), ["3 traces, most spans"]);
    assert!(
        b.eval("location.search")
            .as_str()
            .unwrap()
            .contains("sort=spans")
    );
    // A date range with nothing in it.
    b.open(&format!(
        "{base}/ui/?lookback=custom&from=2001-01-01T00:00&to=2001-01-02T00:00"
    ));
    assert_eq!(
        b.eval("document.getElementById('date-range').hidden"),
        false
    );
    assert_eq!(b.texts("#no-results"), ["No traces match."]);
    // A dot of the plot is a link reached with Tab and followed with Enter.
    b.open(&format!("{base}/ui/?service=pricing&error=1"));
    b.tab_to("#scatter a.dot");
    b.key("Enter");
    b.wait_for(&format!("location.pathname === '/ui/trace/{a}'"));
    b.wait_for("document.getElementById('main').dataset.state === 'ready'");

    // Trace: rows, critical path, statistics, find with highlighting, zoom, download, compare.
    b.open(&format!("{base}/ui/trace/{a}#span={}", hex_span(7)));
    b.wait_for("document.getElementById('detail-name')");
    let rows = b.eval(
        "[...document.querySelectorAll('.wf-row')].map((r) => [r.dataset.spanName, r.classList.contains('critical')])",
    );
    assert_eq!(
        rows,
        json!([
            ["GET /ride", true],
            ["dispatch.Find", false],
            ["dispatch.Dispatch/Find", false],
            ["ranking.Rank", false],
            ["POST /rank", false],
            ["pricing.Quote", true],
            ["GET /quote", true],
            ["SELECT fares", true]
        ])
    );
    assert_eq!(
        b.attrs(".wf-row.selected", "data-span-name"),
        ["GET /quote"]
    );
    assert_eq!(b.attrs(".wf-row.error", "data-span-name"), ["GET /quote"]);
    assert_eq!(b.attrs("#detail-name", "data-span-id"), [hex_span(7)]);
    assert!(
        b.texts("#span-detail")
            .concat()
            .contains("error: db timeout")
    );
    assert_eq!(b.attrs("#critical-path li", "data-span-id")[0], hex_span(8));
    assert_eq!(
        b.texts("#trace-stats tbody tr:first-child td").join("|"),
        "pricing|SELECT fares|1|0|75.0 ms|75.0 ms|75.0 ms|75%"
    );
    assert_eq!(b.texts("#trace-stats tbody tr").len(), 8);
    assert_eq!(
        b.attrs("#sampling-reason", "id").len(),
        0,
        "sampling is off"
    );
    assert_eq!(b.attrs("#keep-trace", "id").len(), 0);
    // Find from the keyboard: type, Enter; the match is highlighted, current and selected.
    b.tab_to("#find");
    b.type_text("postgresql");
    b.key("Enter");
    b.wait_for("document.getElementById('find-count').textContent === '1 of 1'");
    b.wait_for("document.querySelector('.wf-row.selected[data-span-name=\"SELECT fares\"]')");
    assert_eq!(
        b.attrs(".wf-row.match.current", "data-span-name"),
        ["SELECT fares"]
    );
    b.screenshot("trace-find");
    // Zoom from the keyboard (button, then keys on the timeline); the minimap shows the view.
    b.tab_to("#zoom-in");
    b.key("Enter");
    assert_eq!(b.attrs("#minimap", "data-view"), ["0.2500-0.7500"]);
    b.tab_to("#waterfall-scroll");
    b.key("+");
    assert_eq!(b.attrs("#minimap", "data-view"), ["0.3750-0.6250"]);
    let axis = b.texts("#wf-axis span");
    assert_eq!((axis[0].as_str(), axis[4].as_str()), ("37.5 ms", "62.5 ms"));
    b.screenshot("trace-zoomed");
    b.key("0");
    assert_eq!(b.attrs("#minimap", "data-view"), ["0.0000-1.0000"]);
    // The download link gives OTLP/JSON.
    assert_eq!(
        b.attrs("#download-json", "href"),
        [format!("/api/traces/{a}/otlp")]
    );
    let spans = b.eval(&format!(
        "fetch('/api/traces/{a}/otlp').then((r) => r.json()).then((j) => j.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).length)"
    ));
    assert_eq!(spans, 8);
    b.tab_to("#download-json");
    // Compare with trace B, from the keyboard.
    b.tab_to("#compare-with");
    b.type_text(&tb);
    b.key("Enter");
    b.wait_for("location.pathname === '/ui/compare'");
    b.wait_for("document.getElementById('main').dataset.state === 'ready' && document.getElementById('compare-table')");
    b.assert_csp_clean();
    let sides = b.eval(
        "Object.fromEntries([...document.querySelectorAll('#compare-table tbody tr')].map((r) => [r.dataset.service + '/' + r.dataset.operation, r.dataset.side]))",
    );
    assert_eq!(
        sides,
        json!({"gateway/GET /ride": "both", "gateway/pricing.Quote": "both", "pricing/GET /quote": "both",
               "gateway/dispatch.Find": "a-only", "dispatch/dispatch.Dispatch/Find": "a-only",
               "dispatch/ranking.Rank": "a-only", "ranking/POST /rank": "a-only", "pricing/SELECT fares": "a-only"})
    );
    assert_eq!(b.texts("#compare-delta"), ["-80.0 ms"]);
    assert_eq!(
        b.texts("#compare-table tr[data-operation=\"GET /ride\"] td.delta"),
        ["-80.0 ms"]
    );
    b.screenshot("compare");

    // Clock skew: the pricing server span is shown inside its parent, with a note.
    b.open(&format!("{base}/ui/trace/{c}"));
    assert_eq!(b.attrs(".wf-row.skewed", "data-span-name"), ["GET /quote"]);
    assert!(b.texts("#skew-note")[0].starts_with("1 span shifted"));
    assert_eq!(
        b.attrs(".wf-row.skewed .skew-badge", "title"),
        ["shifted by 3.00 ms to fit in its parent (clock skew between hosts)"]
    );

    // Service map: nodes, edges, and the one rate definition in the Rate column's tooltip.
    b.open(&format!("{base}/ui/map"));
    let nodes = b.attrs("g.node", "data-node");
    assert_eq!(nodes.len(), 5, "{nodes:?}");
    let pg = b.html("g[data-node=\"postgresql\"]").to_string();
    assert!(pg.contains("uninstrumented"), "{pg}");
    let gp = b.html("g[data-edge=\"gateway->pricing\"]").to_string();
    assert!(
        gp.contains("data-calls=\\\"3\\\" data-errors=\\\"1\\\""),
        "{gp}"
    );
    let rate_help = b.attrs("#edges th[data-col=\"rate\"]", "title");
    assert!(
        rate_help[0].starts_with(
            "Calls per second: the count divided by the seconds from the earliest start"
        ),
        "{rate_help:?}"
    );
    b.screenshot("map");

    // Operations: exemplar links render as links (no raw URLs), sortable from the keyboard.
    b.open(&format!("{base}/ui/operations"));
    let row = "tr[data-service=\"pricing\"][data-operation=\"GET /quote\"]";
    assert_eq!(
        b.attrs(&format!("{row} td.examples a"), "href"),
        [
            format!("/ui/trace/{a}#span={}", hex_span(7)),
            format!("/ui/trace/{c}#span={}", hex_span(23)),
            format!("/ui/trace/{tb}#span={}", hex_span(13)),
            format!("/ui/trace/{a}#span={}", hex_span(7))
        ]
    );
    let cell = b.texts(&format!("{row} td.examples"))[0].clone();
    assert!(!cell.contains("/ui/") && !cell.starts_with(','), "{cell}");
    assert_eq!(
        b.attrs(&format!("{row} td.p99 a.exemplar"), "data-kind"),
        ["slowest"]
    );
    assert_eq!(
        b.attrs(&format!("{row} td.errors a.exemplar"), "href"),
        [format!("/ui/trace/{a}#span={}", hex_span(7))]
    );
    assert!(b.attrs("th[data-sort=\"rate\"]", "title")[0].starts_with("Calls per second"));
    assert_eq!(
        b.attrs("th[data-sort=\"kept\"]", "title").len(),
        0,
        "sampling is off: no kept column"
    );
    b.tab_to("th[data-sort=\"p99\"]");
    b.key("Enter");
    assert_eq!(
        b.attrs("th[data-sort=\"p99\"]", "aria-sort"),
        ["descending"]
    );
    assert_eq!(
        b.attrs("#operations-table tbody tr:first-child", "data-operation"),
        ["GET /ride"]
    );
    b.screenshot("operations");

    // Upload the downloaded trace into an empty collector from its search page.
    let (rt2, other, base2) = serve(Collector::builder(), |_| {});
    let file = std::env::temp_dir().join(format!("tracewire-upload-{}.json", std::process::id()));
    let otlp = b.eval(&format!(
        "fetch('/api/traces/{a}/otlp').then((r) => r.text())"
    ));
    std::fs::write(&file, otlp.as_str().unwrap()).unwrap();
    b.open(&format!("{base2}/ui/"));
    b.set_files("#upload-file", &[&file]);
    b.tab_to("#upload-submit");
    b.key("Enter");
    b.wait_for("document.querySelector('#upload-result a.uploaded')");
    assert_eq!(
        b.attrs("#upload-result a.uploaded", "href"),
        [format!("/ui/trace/{a}")]
    );
    b.eval("document.querySelector('#upload-result a.uploaded').click(), true");
    b.wait_for(&format!("location.pathname === '/ui/trace/{a}' && document.getElementById('main').dataset.state === 'ready'"));
    assert_eq!(b.texts("#trace-spans"), ["8"]);
    let _ = std::fs::remove_file(&file);
    drop(b);
    rt2.block_on(other.shutdown());
    rt.block_on(collector.shutdown());
}

#[test]
#[ignore = "needs chromium; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
fn sampling_decisions_show_and_a_dropped_trace_is_kept_from_its_page() {
    let clock = ManualClock::new();
    let builder = Collector::builder()
        // Errors only: trace A (failed) is kept, trace B dropped.
        .sampling(common::errors_only())
        .sampling_clock(clock.clone());
    let (rt, collector, base) = serve(builder, export_fixture);
    rt.block_on(async {
        clock.advance(Duration::from_secs(3));
        collector.flush().await;
    });
    let mut b = Browser::start();
    let (a, tb) = (hex_trace(TRACE_A), hex_trace(TRACE_B));

    // Why the kept trace was kept.
    b.open(&format!("{base}/ui/trace/{a}"));
    assert_eq!(b.attrs("#sampling-reason", "data-policy"), ["error"]);
    assert_eq!(b.attrs("#sampling-state", "data-state"), ["kept"]);
    assert_eq!(b.attrs("#keep-trace", "id").len(), 0);

    // Seen vs kept per operation: both traces seen, only A kept.
    b.open(&format!("{base}/ui/operations"));
    let ride = "tr[data-service=\"gateway\"][data-operation=\"GET /ride\"]";
    assert_eq!(b.texts(&format!("{ride} td.seen")), ["2"]);
    assert_eq!(b.texts(&format!("{ride} td.kept")), ["1"]);
    assert_eq!(b.texts("tr[data-operation=\"POST /rank\"] td.kept"), ["1"]);
    b.screenshot("operations-sampling");

    // Look trace B up by id from the search page: not stored, dropped, still keepable.
    b.open(&format!("{base}/ui/"));
    b.tab_to("#f-trace-id");
    b.type_text(&tb);
    b.key("Enter");
    b.wait_for(&format!("location.pathname === '/ui/trace/{tb}'"));
    b.wait_for("document.getElementById('main').dataset.state === 'ready' && document.getElementById('sampling-state')");
    assert_eq!(b.attrs("#sampling-state", "data-state"), ["dropped"]);
    assert!(b.texts("#not-stored")[0].contains("not found"));
    b.screenshot("trace-dropped");
    // Keep it from the keyboard: the page reloads with the trace, kept retroactively.
    b.tab_to("#keep-trace");
    b.key("Enter");
    b.wait_for("document.getElementById('trace-spans')");
    b.wait_for("document.getElementById('main').dataset.state === 'ready'");
    assert_eq!(b.texts("#trace-spans"), ["3"]);
    assert_eq!(b.attrs("#sampling-reason", "data-policy"), ["retroactive"]);
    b.screenshot("trace-kept");
    drop(b);
    rt.block_on(collector.shutdown());
}

#[test]
#[ignore = "needs chromium; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
fn a_10000_span_trace_renders_and_loads_the_page_of_the_selected_span() {
    // 10,000 spans: five pages of 2,000 rows; span 9,501 is on the fifth.
    let (rt, collector, base) = serve(Collector::builder(), |e| {
        export_fixture(e);
        export_big_trace(e, 10_000);
    });
    let mut b = Browser::start();
    let small = format!("{base}/ui/trace/{}", hex_trace(TRACE_A));
    let big = format!("{base}/ui/trace/{}", hex_trace(BIG_TRACE));
    // Render time (navigation to rendered), the 8-span trace as the baseline, best of three.
    let best = |b: &mut Browser, url: &str| {
        (0..3)
            .map(|_| {
                b.open(url);
                b.eval("Number(document.getElementById('main').dataset.renderMs)")
                    .as_f64()
                    .unwrap()
            })
            .fold(f64::MAX, f64::min)
    };
    let (small_ms, big_ms) = (best(&mut b, &small), best(&mut b, &big));
    println!(
        "render: 8-span trace {small_ms:.0} ms, 10,000-span trace {big_ms:.0} ms ({:.1}x)",
        big_ms / small_ms.max(1.0)
    );

    b.open(&format!("{big}#span={}", hex_span(9501)));
    b.wait_for(&format!(
        "document.querySelector('#detail-name[data-span-id=\"{}\"]')",
        hex_span(9501)
    ));
    assert_eq!(b.texts("#trace-spans"), ["10000"]);
    assert_eq!(b.attrs(".wf-row.selected", "data-row"), ["9500"]);
    assert_eq!(b.attrs(".wf-row.selected", "data-span-name"), ["item 9500"]);
    // Only the rows in view are in the document.
    let drawn = b
        .eval("document.querySelectorAll('.wf-row').length")
        .as_u64()
        .unwrap();
    assert!(drawn < 100, "{drawn} rows drawn");
    // Find across pages not fetched yet: the server answers, the page of the match loads.
    b.tab_to("#find");
    b.type_text("item 4321");
    b.key("Enter");
    b.wait_for("document.getElementById('find-count').textContent === '1 of 1'");
    b.wait_for("document.querySelector('.wf-row.selected[data-span-name=\"item 4321\"]')");
    b.screenshot("trace-10000");
    drop(b);
    rt.block_on(collector.shutdown());
}
