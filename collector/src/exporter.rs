//! [`InProcessExporter`]: hands spans from this process's export pipeline straight to an embedded
//! collector's store, with no encoding and no network.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use tracewire::export::{SpanExporter, SpanRecycler, unix_nanos};
use tracewire::{ExportError, KeyValue, Resource, SpanData, Status, Value};

use crate::ingest::{
    NewEvent, NewLink, NewResource, NewSource, NewSpan, NewValue, Shared, Str, SubmitError,
    array_json,
};
use crate::model::StatusCode;

/// A [`SpanExporter`] feeding an embedded collector directly.
///
/// Spans are queued as they are, without blocking, and the store's writer thread packs them
/// straight into the store: a pipeline hands its last exporter each batch to keep
/// ([`SpanExporter::export_owned`]), so the spans are moved, not copied, and the worker's
/// thread does little more than count their bytes. (Called with a borrowed batch,
/// [`export`](SpanExporter::export) clones it.) With a tail-sampling stage the writer converts
/// them to the stage's form first. When the collector's ingest queue is full the batch is
/// refused with [`ExportError::Rejected`] and left where it was, so the pipeline counts it as
/// failed. Once stored, the spans' attribute vectors go back to the pipeline's pool for its
/// next spans ([`SpanRecycler`]). It asks its pipeline for batches of 64 spans
/// ([`SpanExporter::preferred_batch`]) rather than the default 512, so that the store's work
/// on each batch is a short burst on the CPUs the service shares. Get one from
/// [`CollectorHandle::in_process_exporter`](crate::CollectorHandle::in_process_exporter) or
/// [`TraceStore::in_process_exporter`](crate::TraceStore::in_process_exporter).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tracewire_collector::Collector;
///
/// let collector = Collector::builder().spawn().await?;
/// // Every span the process records is exported into the collector's store.
/// let _guard = tracewire::builder()
///     .exporter(collector.in_process_exporter())
///     .install()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InProcessExporter {
    shared: Arc<Shared>,
    cached: Option<(Resource, Arc<NewSource>)>,
}

impl fmt::Debug for InProcessExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessExporter").finish_non_exhaustive()
    }
}

impl InProcessExporter {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        InProcessExporter {
            shared,
            cached: None,
        }
    }

    fn source(&mut self, resource: &Resource) -> Arc<NewSource> {
        if let Some((r, s)) = &self.cached
            && r == resource
        {
            return s.clone();
        }
        let source = Arc::new(NewSource {
            resource: Arc::new(NewResource {
                service: Cow::Owned(resource.service_name().to_owned()),
                attributes: resource.attributes().iter().map(convert_kv).collect(),
                dropped_attributes: 0,
            }),
            scope_name: Cow::Borrowed("tracewire"),
            scope_version: Cow::Borrowed(""),
        });
        self.cached = Some((resource.clone(), source.clone()));
        source
    }
}

impl SpanExporter for InProcessExporter {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.export_owned(&mut batch.to_vec(), resource, &SpanRecycler::none())
    }

    fn export_owned(
        &mut self,
        batch: &mut Vec<SpanData>,
        resource: &Resource,
        recycler: &SpanRecycler,
    ) -> Result<(), ExportError> {
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        let source = self.source(resource);
        match self.shared.submit_local(&source, batch, recycler) {
            Ok(_) => Ok(()),
            Err(SubmitError::Full) => Err(ExportError::Rejected {
                spans: n,
                message: "collector ingest queue is full".to_owned(),
            }),
            Err(SubmitError::Closed) => Err(ExportError::Shutdown),
        }
    }

    /// 64 spans: the store's writer packs and indexes each batch in one go, on a thread that
    /// shares the process's CPUs with the service.
    fn preferred_batch(&self) -> Option<usize> {
        Some(PREFERRED_BATCH)
    }
}

/// The batch size an [`InProcessExporter`] asks of its pipeline
/// ([`SpanExporter::preferred_batch`]). The store's writer takes over a microsecond a span, so a
/// 512-span batch (the pipeline's default) is a burst of most of a millisecond during which, on
/// a busy core, requests wait; 64 spans make it a tenth of a millisecond. On the load benchmark
/// (server on one core, every span sampled into the collector) that took p99 latency down by
/// 14 % at the same throughput (BENCHMARKS.md, "In-process batches of 64").
const PREFERRED_BATCH: usize = 64;

fn convert_value(v: &Value) -> NewValue {
    match v {
        Value::Bool(b) => NewValue::Bool(*b),
        Value::I64(i) => NewValue::Int(*i),
        Value::F64(d) => NewValue::Double(*d),
        Value::String(s) => NewValue::Str(s.clone().into_cow()),
        Value::Array(a) => NewValue::Json(array_json(a)),
        // `Value` is non-exhaustive: a future kind is kept as its text.
        other => NewValue::Str(Cow::Owned(other.to_string())),
    }
}

fn convert_kv(kv: &KeyValue) -> (Str, NewValue) {
    (kv.key.clone(), convert_value(&kv.value))
}

/// `s` in the decoded form, for the tail-sampling stage (which buffers and rewrites that form).
pub(crate) fn convert_span(s: &SpanData) -> NewSpan {
    let ctx = &s.span_context;
    let (status, status_message) = match &s.status {
        Status::Unset => (StatusCode::Unset, None),
        Status::Ok => (StatusCode::Ok, None),
        Status::Error { description } => (
            StatusCode::Error,
            Some(description.to_string()).filter(|d| !d.is_empty()),
        ),
        _ => (StatusCode::Unset, None),
    };
    let trace_state = ctx.trace_state();
    NewSpan {
        trace_id: ctx.trace_id(),
        span_id: ctx.span_id(),
        parent_span_id: s.parent_span_id,
        name: s.name.clone().into_cow(),
        kind: s.kind,
        start_unix_nano: unix_nanos(s.start_time),
        end_unix_nano: unix_nanos(s.end_time),
        attributes: s.attributes.iter().map(convert_kv).collect(),
        status,
        status_message,
        events: s
            .events
            .iter()
            .map(|e| NewEvent {
                time_unix_nano: unix_nanos(e.time),
                name: e.name.clone().into_cow(),
                attributes: e.attributes.iter().map(convert_kv).collect(),
            })
            .collect(),
        links: s
            .links
            .iter()
            .map(|l| NewLink {
                trace_id: l.span_context.trace_id(),
                span_id: l.span_context.span_id(),
                attributes: l.attributes.iter().map(convert_kv).collect(),
            })
            .collect(),
        trace_state: (!trace_state.is_empty()).then(|| trace_state.header()),
        flags: u32::from(ctx.flags().to_u8()),
        dropped_attributes: s.dropped_attributes,
        dropped_events: s.dropped_events,
        dropped_links: s.dropped_links,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tracewire::{Array, Link, SpanContext, SpanId, Text, TraceFlags, TraceId};

    /// One attribute of each array kind, with strings that need escaping, floats JSON cannot
    /// hold, and an empty array; the store keeps them as
    /// `["a/b","say \"hi\""]`, `[200,-1]`, `[0.5,"NaN","inf"]`, `[true,false]` and `[]`.
    pub(crate) fn array_attributes() -> Vec<KeyValue> {
        vec![
            KeyValue::new(
                "http.request.header.accept",
                Value::Array(Array::String(vec![
                    Text::new("a/b"),
                    Text::new("say \"hi\""),
                ])),
            ),
            KeyValue::new("codes", Value::Array(Array::I64(vec![200, -1]))),
            KeyValue::new(
                "ratios",
                Value::Array(Array::F64(vec![0.5, f64::NAN, f64::INFINITY])),
            ),
            KeyValue::new("flags", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("none", Value::Array(Array::String(Vec::new()))),
        ]
    }

    fn span() -> SpanData {
        let cx = SpanContext::new(
            TraceId::from_u128(7),
            SpanId::from_u64(9),
            TraceFlags::SAMPLED,
            Default::default(),
            false,
        );
        let mut s = SpanData::new(cx, "op");
        s.attributes = array_attributes();
        s.dropped_attributes = 3;
        s.dropped_events = 4;
        s.dropped_links = 5;
        s.links = vec![Link::new(
            cx_of(11),
            vec![KeyValue::new("k", Value::Array(Array::I64(vec![1])))],
        )];
        s
    }

    fn cx_of(n: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(n),
            TraceFlags::SAMPLED,
            Default::default(),
            true,
        )
    }

    #[test]
    fn arrays_are_stored_as_json_like_otlp_arrays() {
        let converted = convert_span(&span());
        let values: Vec<(&str, &NewValue)> = converted
            .attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    "http.request.header.accept",
                    &NewValue::Json(r#"["a/b","say \"hi\""]"#.into())
                ),
                ("codes", &NewValue::Json("[200,-1]".into())),
                ("ratios", &NewValue::Json(r#"[0.5,"NaN","inf"]"#.into())),
                ("flags", &NewValue::Json("[true,false]".into())),
                ("none", &NewValue::Json("[]".into())),
            ]
        );
        assert_eq!(
            converted.links[0].attributes,
            vec![(Cow::Borrowed("k"), NewValue::Json("[1]".into()))]
        );
    }

    #[test]
    fn dropped_counts_are_carried() {
        let converted = convert_span(&span());
        assert_eq!(converted.dropped_attributes, 3);
        assert_eq!(converted.dropped_events, 4);
        assert_eq!(converted.dropped_links, 5);
    }
}
