//! What the demo prints after the traffic: traces collected, per-service latency and errors, and
//! a terminal waterfall of one slow trace with its critical path marked.

use std::fmt::Write as _;
use std::time::Duration;

use tracewire::TraceId;
use tracewire_collector::analysis::{
    AnalysisSpan, LatencySummary, OperationHealth, Waterfall, waterfall,
};
use tracewire_collector::{Span, TraceStore};

use crate::load::Sample;

/// Requests, errors and latency of one service's server spans, from the collector's exact
/// per-operation health (computed from every span received, before tail sampling).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStats {
    /// The service.
    pub service: String,
    /// Server spans seen.
    pub requests: u64,
    /// Server spans stored: all of them without tail sampling, else those of kept traces.
    pub kept: u64,
    /// Server spans with an error status.
    pub errors: u64,
    /// Their durations' percentiles (from the collector's histogram: never under the true
    /// value, at most 1/32 over it).
    pub latency: LatencySummary,
}

/// One row per `(service, server operation)` in `servers`, from the health snapshot `health`;
/// `kept(service, operation)` is the number of its spans tail sampling kept (`None`: all).
pub fn service_stats(
    health: &[OperationHealth],
    servers: &[(&str, &str)],
    kept: impl Fn(&str, &str) -> Option<u64>,
) -> Vec<ServiceStats> {
    servers
        .iter()
        .map(|&(service, operation)| {
            let h = health
                .iter()
                .find(|h| &*h.service == service && &*h.operation == operation);
            let requests = h.map_or(0, |h| h.count);
            ServiceStats {
                service: service.to_owned(),
                requests,
                kept: kept(service, operation).unwrap_or(requests),
                errors: h.map_or(0, |h| h.errors),
                latency: h.map(|h| h.latency).unwrap_or_default(),
            }
        })
        .collect()
}

/// The analysis view of stored spans.
pub fn analysis_spans(spans: &[Span]) -> Vec<AnalysisSpan> {
    spans.iter().map(AnalysisSpan::from_span).collect()
}

/// Root spans (no parent) of `service` in the store.
pub fn root_count(store: &TraceStore, service: &str) -> usize {
    let mut n = 0;
    store.for_each_span(|s| {
        n += usize::from(s.parent_span_id().is_none() && s.service() == service);
    });
    n
}

/// The trace with the longest root span in `service`, over every stored span.
pub fn slowest_trace(store: &TraceStore, service: &str) -> Option<TraceId> {
    let mut slowest: Option<(u64, TraceId)> = None;
    store.for_each_span(|s| {
        if s.parent_span_id().is_none()
            && s.service() == service
            && slowest.is_none_or(|(d, _)| s.duration_nanos() > d)
        {
            slowest = Some((s.duration_nanos(), s.trace_id()));
        }
    });
    slowest.map(|(_, t)| t)
}

fn ms(ns: u64) -> String {
    format!("{:.1}ms", Duration::from_nanos(ns).as_secs_f64() * 1000.0)
}

/// The load generator's own view, then the collector's: traces stored, and per service.
pub fn summary(samples: &[Sample], stats: &[ServiceStats], traces: usize) -> String {
    let mut out = String::new();
    let mut latencies: Vec<u64> = samples
        .iter()
        .map(|s| u64::try_from(s.latency.as_nanos()).unwrap_or(u64::MAX))
        .collect();
    let lat = LatencySummary::exact(&mut latencies);
    let failed = samples.iter().filter(|s| s.status != 200).count();
    let _ = writeln!(
        out,
        "\n{} requests: p50 {}  p99 {}  max {}  non-200: {failed}",
        samples.len(),
        ms(lat.p50_ns),
        ms(lat.p99_ns),
        ms(lat.max_ns),
    );
    let _ = writeln!(out, "{traces} traces stored\n");
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "service", "requests", "kept", "errors", "p50", "p90", "p99", "max"
    );
    for s in stats {
        let rate = if s.requests == 0 {
            0.0
        } else {
            100.0 * s.errors as f64 / s.requests as f64
        };
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>8} {:>7.1}% {:>9} {:>9} {:>9} {:>9}",
            s.service,
            s.requests,
            s.kept,
            rate,
            ms(s.latency.p50_ns),
            ms(s.latency.p90_ns),
            ms(s.latency.p99_ns),
            ms(s.latency.max_ns)
        );
    }
    out
}

/// A terminal waterfall: one line per span, indented by depth, a bar on a shared time axis,
/// and `*` on spans that are on the critical path.
pub fn render_waterfall(w: &Waterfall, width: usize) -> String {
    let mut out = String::new();
    let total = w.duration_ns.max(1);
    let _ = writeln!(
        out,
        "trace {}  {}  ({} spans, * = critical path)",
        w.trace_id,
        ms(w.duration_ns),
        w.rows.len()
    );
    let label_width = w
        .rows
        .iter()
        .map(|r| {
            r.depth as usize * 2
                + r.name.chars().count()
                + w.services
                    .get(r.service as usize)
                    .map_or(0, |s| s.chars().count() + 3)
        })
        .max()
        .unwrap_or(0)
        .min(60);
    for r in &w.rows {
        let service = w.services.get(r.service as usize).map_or("?", |s| s);
        let mut label = format!("{}{} [{}]", "  ".repeat(r.depth as usize), r.name, service);
        if label.chars().count() > label_width {
            // Span names come from any OTLP client: cut at a character, not a byte.
            label = label.chars().take(label_width).collect();
        }
        let start = (r.offset_ns as u128 * width as u128 / total as u128) as usize;
        let len = ((r.duration_ns as u128 * width as u128).div_ceil(total as u128) as usize).max(1);
        let start = start.min(width.saturating_sub(1));
        let len = len.min(width - start);
        let bar_char = if r.is_error { 'x' } else { '=' };
        let bar: String = std::iter::repeat_n(' ', start)
            .chain(std::iter::repeat_n(bar_char, len))
            .chain(std::iter::repeat_n(' ', width - start - len))
            .collect();
        let mark = if r.critical_ns > 0 { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} {label:<label_width$} |{bar}| {:>8}",
            ms(r.duration_ns)
        );
    }
    out
}

/// The waterfall of one stored trace.
pub fn trace_waterfall(store: &TraceStore, trace_id: TraceId) -> Option<Waterfall> {
    let spans = store.spans(trace_id);
    if spans.is_empty() {
        return None;
    }
    Some(waterfall(&analysis_spans(&spans)))
}

#[cfg(test)]
mod tests {
    use tracewire::export::SpanExporter;
    use tracewire::{Resource, SpanContext, SpanData, SpanId, SpanKind, Status, TraceFlags};

    use tracewire_collector::analysis::{HealthAggregator, HealthConfig};

    use super::*;

    #[test]
    fn waterfall_marks_the_critical_path() {
        let (trace, ms) = (TraceId::from_u128(7), 1_000_000);
        // A gateway span of `trace`, from `start` to `end` milliseconds.
        let span = |id, name, start: u64, end: u64| {
            AnalysisSpan::new(
                trace,
                SpanId::from_u64(id),
                "gateway",
                name,
                start * ms,
                end * ms,
            )
        };
        let root = SpanId::from_u64(1);
        let spans = vec![
            span(1, "GET /ride", 0, 100).with_kind(SpanKind::Server),
            span(2, "pricing", 5, 20).with_parent(root),
            span(3, "dispatch", 5, 90).with_parent(root),
        ];
        let text = render_waterfall(&waterfall(&spans), 20);
        assert_eq!(
            text,
            "trace 00000000000000000000000000000007  100.0ms  (3 spans, * = critical path)\n\
             * GET /ride [gateway]  |====================|  100.0ms\n\
             \x20   pricing [gateway]  | ===                |   15.0ms\n\
             *   dispatch [gateway] | =================  |   85.0ms\n"
        );
    }

    #[test]
    fn summary_uses_nearest_rank_percentiles() {
        let samples: Vec<Sample> = (1..=100u64)
            .map(|i| Sample {
                status: if i % 25 == 0 { 502 } else { 200 },
                latency: Duration::from_micros(i * 1_500),
            })
            .collect();
        let ms = 1_000_000;
        let stats = [
            ServiceStats {
                service: "gateway".into(),
                requests: 4,
                kept: 2,
                errors: 1,
                latency: LatencySummary::exact(&mut [40 * ms, 10 * ms, 20 * ms, 30 * ms]),
            },
            ServiceStats {
                service: "idle".into(),
                requests: 0,
                kept: 0,
                errors: 0,
                latency: LatencySummary::default(),
            },
        ];
        assert_eq!(
            summary(&samples, &stats, 99),
            "\n100 requests: p50 75.0ms  p99 148.5ms  max 150.0ms  non-200: 4\n\
             99 traces stored\n\n\
             service    requests     kept   errors       p50       p90       p99       max\n\
             gateway           4        2    25.0%    20.0ms    40.0ms    40.0ms    40.0ms\n\
             idle              0        0     0.0%     0.0ms     0.0ms     0.0ms     0.0ms\n"
        );
    }

    /// A finished span of `trace` lasting `ms`.
    fn span(trace: u128, kind: SpanKind, ms: u64, error: bool) -> SpanData {
        let cx = SpanContext::new(
            TraceId::from_u128(trace),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
            Default::default(),
            false,
        );
        let mut s = SpanData::new(cx, "op");
        s.kind = kind;
        s.end_time = s.start_time + Duration::from_millis(ms);
        if error {
            s.status = Status::error("failed");
        }
        s
    }

    /// A store holding `batches`, each exported by the service it names.
    fn store_with(batches: &[(&'static str, Vec<SpanData>)]) -> TraceStore {
        let store = tracewire_collector::Collector::builder().build_store();
        let mut exporter = store.in_process_exporter();
        for (service, spans) in batches {
            exporter.export(spans, &Resource::new(*service)).unwrap();
        }
        store.flush_blocking();
        store.close();
        store
    }

    #[test]
    fn service_stats_come_from_the_exact_health_of_server_operations() {
        let ms = 1_000_000;
        let now = 600_000 * ms;
        let health = HealthAggregator::new(HealthConfig::default());
        let span = |trace: u128, service: &str, name: &str, dur_ms: u64, error: bool| {
            let id = SpanId::from_u64(trace as u64);
            let s = AnalysisSpan::new(
                TraceId::from_u128(trace),
                id,
                service,
                name,
                now - ms - dur_ms * ms,
                now - ms,
            );
            s.with_kind(SpanKind::Server).with_error(error)
        };
        health.record_all(&[
            span(1, "pricing", "GET /price", 30, false),
            span(2, "pricing", "GET /price", 10, true),
            span(3, "pricing", "GET /price", 20, false),
            // Not the server operation: not a request.
            span(4, "pricing", "surge_multiplier", 500, true),
            span(5, "ranking", "POST /rank", 5, false),
        ]);
        let snapshot = health.snapshot(now, Duration::from_secs(300));
        let servers = [
            ("pricing", "GET /price"),
            ("ranking", "POST /rank"),
            ("idle", "GET /"),
        ];
        let stats = service_stats(&snapshot, &servers, |service, _| {
            (service == "pricing").then_some(2)
        });
        assert_eq!(stats.len(), 3);
        let (p, r, i) = (&stats[0], &stats[1], &stats[2]);
        assert_eq!(
            (p.service.as_str(), p.requests, p.kept, p.errors),
            ("pricing", 3, 2, 1)
        );
        // The histogram reports a bucket's upper bound: 20 ms lies in [19.92 ms, 20.45 ms].
        assert_eq!(p.latency.p50_ns, 20_447_231);
        assert_eq!(p.latency.p90_ns, 30_000_000);
        assert_eq!(p.latency.max_ns, 30_000_000);
        // Without a kept count every span was kept.
        assert_eq!(
            (r.service.as_str(), r.requests, r.kept, r.errors),
            ("ranking", 1, 1, 0)
        );
        assert_eq!(r.latency.p50_ns, 5_000_000);
        assert_eq!(
            (i.requests, i.kept, i.latency),
            (0, 0, LatencySummary::default())
        );
    }

    #[test]
    fn the_slowest_trace_is_found_among_every_stored_root() {
        // More roots than one search answers (TraceQuery::MAX_LIMIT), the slowest stored first.
        let mut gateway: Vec<SpanData> = (1..=1500)
            .map(|t| span(t, SpanKind::Server, if t == 1 { 90 } else { 10 }, false))
            .collect();
        // Longer, but not roots of gateway's traces.
        let mut child = span(2000, SpanKind::Client, 500, false);
        child.parent_span_id = SpanId::from_u64(9);
        gateway.push(child);
        let store = store_with(&[
            ("gateway", gateway),
            ("pricing", vec![span(3000, SpanKind::Server, 800, false)]),
        ]);
        assert_eq!(
            slowest_trace(&store, "gateway"),
            Some(TraceId::from_u128(1))
        );
        assert_eq!(root_count(&store, "gateway"), 1500);
        assert_eq!(slowest_trace(&store, "nobody"), None);
    }

    #[test]
    fn long_non_ascii_names_are_cut_at_a_character() {
        let t = TraceId::from_u128(8);
        let name = "é".repeat(80);
        let spans = vec![AnalysisSpan::new(
            t,
            SpanId::from_u64(1),
            "svc",
            &name,
            0,
            1_000_000,
        )];
        let text = render_waterfall(&waterfall(&spans), 10);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with(&format!("* {}", "é".repeat(58))), "{row}");
        assert!(row.ends_with("|==========|    1.0ms"), "{row}");
    }
}
