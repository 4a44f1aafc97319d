//! What the demo prints after the traffic: traces collected, per-service latency and errors, and
//! a terminal waterfall of one slow trace with its critical path marked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use tracewire::{SpanKind, TraceId};
use tracewire_collector::analysis::{AnalysisSpan, Waterfall, waterfall};
use tracewire_collector::{Span, TraceQuery, TraceStore};

use crate::load::{Sample, percentile};

/// Latency and errors of one service's server spans.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStats {
    /// The service.
    pub service: String,
    /// Server spans seen.
    pub requests: usize,
    /// Server spans with an error status.
    pub errors: usize,
    /// Median, 90th and 99th percentile and maximum duration.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Maximum.
    pub max: Duration,
}

/// Per-service statistics over the stored SERVER spans.
pub fn service_stats(store: &TraceStore) -> Vec<ServiceStats> {
    let mut by_service: BTreeMap<String, (Vec<Duration>, usize)> = BTreeMap::new();
    store.for_each_span(|s| {
        if s.kind() == SpanKind::Server {
            let e = by_service.entry(s.service().to_owned()).or_default();
            e.0.push(Duration::from_nanos(s.duration_nanos()));
            e.1 += usize::from(s.is_error());
        }
    });
    by_service
        .into_iter()
        .map(|(service, (mut d, errors))| {
            d.sort();
            ServiceStats {
                service,
                requests: d.len(),
                errors,
                p50: percentile(&d, 0.5),
                p90: percentile(&d, 0.9),
                p99: percentile(&d, 0.99),
                max: d.last().copied().unwrap_or_default(),
            }
        })
        .collect()
}

/// The analysis view of stored spans.
pub fn analysis_spans(spans: &[Span]) -> Vec<AnalysisSpan> {
    spans.iter().map(AnalysisSpan::from_span).collect()
}

/// The slowest trace whose root is in `service`.
pub fn slowest_trace(store: &TraceStore, service: &str) -> Option<TraceId> {
    store
        .search(&TraceQuery::new().service(service).limit(10_000))
        .into_iter()
        .filter(|t| t.has_root && &*t.root_service == service)
        .max_by_key(|t| t.duration_nanos)
        .map(|t| t.trace_id)
}

fn ms(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// The load generator's own view, then the collector's.
pub fn summary(samples: &[Sample], stats: &[ServiceStats], traces: usize) -> String {
    let mut out = String::new();
    let mut lat: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    lat.sort();
    let failed = samples.iter().filter(|s| s.status != 200).count();
    let _ = writeln!(
        out,
        "\n{} requests: p50 {}  p99 {}  max {}  non-200: {failed}",
        samples.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    let _ = writeln!(out, "{traces} traces collected\n");
    let _ = writeln!(
        out,
        "{:<10} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "service", "requests", "errors", "p50", "p90", "p99", "max"
    );
    for s in stats {
        let rate = if s.requests == 0 {
            0.0
        } else {
            100.0 * s.errors as f64 / s.requests as f64
        };
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>7.1}% {:>9} {:>9} {:>9} {:>9}",
            s.service,
            s.requests,
            rate,
            ms(s.p50),
            ms(s.p90),
            ms(s.p99),
            ms(s.max)
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
        ms(Duration::from_nanos(w.duration_ns)),
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
            ms(Duration::from_nanos(r.duration_ns))
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
    use tracewire::SpanId;

    use super::*;

    #[test]
    fn waterfall_marks_the_critical_path() {
        let t = TraceId::from_u128(7);
        let ms = 1_000_000;
        let spans = vec![
            AnalysisSpan::new(t, SpanId::from_u64(1), "gateway", "GET /ride", 0, 100 * ms)
                .with_kind(SpanKind::Server),
            AnalysisSpan::new(
                t,
                SpanId::from_u64(2),
                "gateway",
                "pricing",
                5 * ms,
                20 * ms,
            )
            .with_parent(SpanId::from_u64(1)),
            AnalysisSpan::new(
                t,
                SpanId::from_u64(3),
                "gateway",
                "dispatch",
                5 * ms,
                90 * ms,
            )
            .with_parent(SpanId::from_u64(1)),
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
