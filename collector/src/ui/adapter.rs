//! The collector's store as a [`UiSource`], and the ingest observer that feeds a
//! [`HealthAggregator`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tracewire::{SpanId, TraceId};

use super::source::{SearchQuery, TraceListItem, UiEvent, UiLink, UiSource, UiSpan};
use crate::analysis::{AnalysisSpan, HealthAggregator, Sample};
use crate::model::{Attribute, IngestObserver, IngestedSpan, Span};
use crate::reads::DEFAULT_SAMPLE_SPANS;
use crate::{TraceQuery, TraceStore};

fn text_pairs(attrs: &[Attribute]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|a| (a.key.to_string(), a.value.to_string()))
        .collect()
}

fn ui_span(s: &Span) -> UiSpan {
    let mut out = UiSpan::new(AnalysisSpan::from_span(s));
    out.attributes = text_pairs(s.attributes());
    out.events = s
        .events()
        .iter()
        .map(|e| UiEvent {
            time_ns: e.time_unix_nano,
            name: e.name.to_string(),
            attributes: text_pairs(&e.attributes),
        })
        .collect();
    out.links = s
        .links()
        .iter()
        .map(|l| UiLink {
            trace_id: l.trace_id,
            span_id: l.span_id,
            attributes: text_pairs(&l.attributes),
        })
        .collect();
    out.status_message = s.status_message().map(str::to_owned);
    out
}

impl UiSource for TraceStore {
    fn trace(&self, trace_id: TraceId) -> Vec<UiSpan> {
        self.spans(trace_id).iter().map(ui_span).collect()
    }

    fn analysis_spans(&self, trace_id: TraceId) -> Vec<AnalysisSpan> {
        TraceStore::analysis_spans(self, trace_id)
    }

    fn span(&self, trace_id: TraceId, span_id: SpanId) -> Option<UiSpan> {
        TraceStore::span(self, trace_id, span_id).map(|s| ui_span(&s))
    }

    fn search(&self, query: &SearchQuery) -> Vec<TraceListItem> {
        let mut q = TraceQuery::new()
            .error_only(query.errors_only)
            .limit(query.limit.min(TraceQuery::MAX_LIMIT));
        if let Some(s) = &query.service {
            q = q.service(s.clone());
        }
        if let Some(o) = &query.operation {
            q = q.operation(o.clone());
        }
        if let Some(d) = query.min_duration_ns {
            q = q.min_duration(Duration::from_nanos(d));
        }
        if let Some(d) = query.max_duration_ns {
            q = q.max_duration(Duration::from_nanos(d));
        }
        for (k, v) in &query.tags {
            q = q.tag(k.clone(), v.clone());
        }
        TraceStore::search(self, &q)
            .into_iter()
            .map(|t| TraceListItem {
                trace_id: t.trace_id,
                root_service: t.root_service.to_string(),
                root_name: t.root_name.to_string(),
                start_ns: t.start_unix_nano,
                duration_ns: t.duration_nanos,
                span_count: t.span_count as u64,
                error_count: t.error_count as u64,
                services: t.services.iter().map(|(s, _)| s.to_string()).collect(),
            })
            .collect()
    }

    fn services(&self) -> Vec<(String, Vec<String>)> {
        TraceStore::services(self)
            .into_iter()
            .map(|s| {
                let ops = self.operations(&s);
                (s, ops)
            })
            .collect()
    }

    fn for_each_trace(&self, visit: &mut dyn FnMut(&[AnalysisSpan])) -> bool {
        self.sample_traces(DEFAULT_SAMPLE_SPANS, visit)
    }
}

/// An [`IngestObserver`] that records every stored span into a [`HealthAggregator`].
///
/// ```
/// use std::sync::Arc;
/// use tracewire_collector::Collector;
/// use tracewire_collector::analysis::HealthAggregator;
/// use tracewire_collector::ui::HealthObserver;
///
/// let health = Arc::new(HealthAggregator::default());
/// let builder = Collector::builder().observer(HealthObserver::new(health.clone()));
/// # drop(builder);
/// ```
#[derive(Debug, Clone)]
pub struct HealthObserver {
    health: Arc<HealthAggregator>,
}

impl HealthObserver {
    /// An observer feeding `health`.
    pub fn new(health: Arc<HealthAggregator>) -> Self {
        HealthObserver { health }
    }
}

impl IngestObserver for HealthObserver {
    fn on_span(&self, span: &IngestedSpan<'_>) {
        self.health.record_sample(Sample {
            trace_id: span.trace_id,
            span_id: span.span_id,
            service: span.service,
            operation: span.name,
            start_ns: span.start_unix_nano,
            end_ns: span.end_unix_nano,
            is_error: span.error,
        });
    }
}

/// The UI over a collector's store: [`ui_router`](super::ui_router) reading `store`, with the
/// operations page reading `health` (register [`HealthObserver`] for the same aggregator on the
/// collector's builder so it is fed).
///
/// Queries run on the store's query threads, shared with the JSON API.
pub fn collector_ui(store: TraceStore, health: Arc<HealthAggregator>) -> Router {
    let pool = store.shared.queries.clone();
    super::router_with_pool(Arc::new(store), health, pool)
}
