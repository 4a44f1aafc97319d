//! [`InProcessExporter`]: hands spans from this process's export pipeline straight to an embedded
//! collector's store, with no encoding and no network.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use tracewire::export::{SpanExporter, unix_nanos};
use tracewire::{ExportError, KeyValue, Resource, SpanData, Status, Value};

use crate::ingest::{
    NewBatch, NewEvent, NewLink, NewResource, NewSource, NewSpan, NewValue, Shared, Str,
    SubmitError,
};
use crate::model::StatusCode;

/// A [`SpanExporter`] feeding an embedded collector directly.
///
/// Spans are converted to the store's model on the pipeline's worker thread and queued without
/// blocking; when the collector's ingest queue is full the batch is refused with
/// [`ExportError::Rejected`], so the pipeline counts it as failed. Get one from
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
        let source = self.source(resource);
        let spans = batch.iter().map(convert_span).collect();
        match self.shared.submit(vec![NewBatch { source, spans }]) {
            Ok(_) => Ok(()),
            Err(SubmitError::Full) => Err(ExportError::Rejected {
                spans: batch.len() as u64,
                message: "collector ingest queue is full".to_owned(),
            }),
            Err(SubmitError::Closed) => Err(ExportError::Shutdown),
        }
    }
}

fn convert_value(v: &Value) -> NewValue {
    match v {
        Value::Bool(b) => NewValue::Bool(*b),
        Value::I64(i) => NewValue::Int(*i),
        Value::F64(d) => NewValue::Double(*d),
        Value::String(s) => NewValue::Str(s.clone().into_cow()),
        other => NewValue::Str(Cow::Owned(other.to_string())),
    }
}

fn convert_kv(kv: &KeyValue) -> (Str, NewValue) {
    (kv.key.clone(), convert_value(&kv.value))
}

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
        name: s.name.clone(),
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
                name: e.name.clone(),
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
        dropped_links: 0,
    }
}
