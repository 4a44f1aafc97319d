use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tracewire::export::SpanExporter;
use tracewire::{ExportError, Resource, SpanData};

use super::*;
use crate::sampling::test_support::{batch, source, span};
use tracewire_otlp::Protocol;

/// Accepted batches: the resource's service and the span ids.
type Accepted = Vec<(String, Vec<u64>)>;

/// Answers each export with the next scripted result (then `Ok`), recording what it accepted.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Result<(), ExportError>>>>,
    accepted: Arc<Mutex<Accepted>>,
    shut_down: Arc<Mutex<bool>>,
}

impl Scripted {
    fn failing(results: Vec<Result<(), ExportError>>) -> Self {
        let s = Scripted::default();
        *s.script.lock() = results.into();
        s
    }

    fn accepted_ids(&self) -> Vec<u64> {
        self.accepted
            .lock()
            .iter()
            .flat_map(|(_, ids)| ids.clone())
            .collect()
    }
}

impl SpanExporter for Scripted {
    fn export(&mut self, batch: &[SpanData], resource: &Resource) -> Result<(), ExportError> {
        let r = self.script.lock().pop_front().unwrap_or(Ok(()));
        if r.is_ok() {
            self.accepted.lock().push((
                resource.service_name().to_owned(),
                batch
                    .iter()
                    .map(|s| s.span_context.span_id().to_u64())
                    .collect(),
            ));
        }
        r
    }

    fn shutdown(&mut self) -> Result<(), ExportError> {
        *self.shut_down.lock() = true;
        Ok(())
    }
}

fn start(exporter: &Scripted, max_bytes: usize) -> Forwarder {
    Forwarder::start(
        Box::new(exporter.clone()),
        max_bytes,
        Duration::from_millis(1),
        Duration::from_millis(4),
    )
    .unwrap()
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn failed_attempts_are_retried_until_the_upstream_accepts() {
    let exp = Scripted::failing(vec![
        Err(ExportError::Timeout),
        Err(ExportError::Transport("connection refused".into())),
    ]);
    let mut f = start(&exp, 1 << 20);
    let src = source("api");
    f.enqueue(&batch(&src, vec![span(1, 1, 0, 0, 1), span(1, 2, 1, 0, 1)]));
    f.enqueue(&batch(&src, vec![span(2, 3, 0, 0, 1)]));
    assert!(f.wait_idle(WAIT));
    assert_eq!(exp.accepted_ids(), [1, 2, 3]);
    assert_eq!(exp.accepted.lock()[0].0, "api");
    let s = f.counters().snapshot();
    assert_eq!(
        (
            s.sent_spans,
            s.failed_attempts,
            s.dropped_spans,
            s.queued_spans,
            s.queued_bytes
        ),
        (3, 2, 0, 0, 0)
    );
    f.shutdown(WAIT);
    assert!(*exp.shut_down.lock());
}

#[test]
fn rejected_spans_are_counted_not_retried() {
    let exp = Scripted::failing(vec![Err(ExportError::Rejected {
        spans: 1,
        message: "too old".into(),
    })]);
    let f = start(&exp, 1 << 20);
    f.enqueue(&batch(
        &source("api"),
        vec![span(1, 1, 0, 0, 1), span(1, 2, 1, 0, 1)],
    ));
    assert!(f.wait_idle(WAIT));
    let s = f.counters().snapshot();
    assert_eq!(
        (s.sent_spans, s.rejected_spans, s.failed_attempts),
        (1, 1, 0)
    );
}

#[test]
fn a_full_buffer_drops_the_oldest_batches_and_counts_them() {
    // The upstream is down for a while: everything queues behind the first batch.
    let exp = Scripted::failing(vec![Err(ExportError::Timeout); 50]);
    let one = std::mem::size_of::<NewSpan>() + span_heap(&span(1, 1, 0, 0, 1));
    // Room for three one-span batches.
    let mut f = start(&exp, 3 * one);
    let src = source("api");
    for i in 1..=6u64 {
        f.enqueue(&batch(&src, vec![span(u128::from(i), i, 0, 0, 1)]));
        let s = f.counters().snapshot();
        assert!(s.queued_bytes <= 3 * one as u64, "{s:?}");
    }
    assert!(f.wait_idle(WAIT));
    let s = f.counters().snapshot();
    // Six batches, one being retried at any time, at most three held: some of the oldest
    // queued ones were dropped, and every span is accounted for.
    assert_eq!(s.sent_spans + s.dropped_spans, 6, "{s:?}");
    assert!(s.dropped_spans >= 3, "{s:?}");
    // The newest batch always survives.
    assert_eq!(exp.accepted_ids().last(), Some(&6));
    f.shutdown(WAIT);
}

#[test]
fn shutdown_sends_what_it_can_and_counts_the_rest() {
    // An upstream that never comes back.
    let exp = Scripted::failing(vec![Err(ExportError::Timeout); 1_000_000]);
    let mut f = start(&exp, 1 << 20);
    f.enqueue(&batch(
        &source("api"),
        vec![span(1, 1, 0, 0, 1), span(1, 2, 1, 0, 1)],
    ));
    f.shutdown(Duration::from_millis(20));
    let s = f.counters().snapshot();
    assert_eq!((s.sent_spans, s.dropped_spans, s.queued_spans), (0, 2, 0));
    // After shutdown, new spans are dropped and counted at once.
    f.enqueue(&batch(&source("api"), vec![span(3, 3, 0, 0, 1)]));
    assert_eq!(f.counters().snapshot().dropped_spans, 3);
}

#[test]
fn config_builds_an_otlp_exporter_and_hides_header_values() {
    let c = ForwardConfig::new("http://upstream:4318/v1/traces")
        .exporter(|b| {
            b.protocol(Protocol::HttpJson)
                .header("authorization", "Bearer secret")
        })
        .retry_backoff(Duration::from_secs(2), Duration::from_secs(1));
    assert_eq!(c.retry(), (Duration::from_secs(2), Duration::from_secs(2)));
    let e = c.build_exporter().unwrap();
    assert_eq!(e.endpoint(), "http://upstream:4318/v1/traces");
    assert_eq!(e.protocol(), Protocol::HttpJson);
    let text = format!("{c:?}");
    assert!(
        text.contains("authorization") && !text.contains("secret"),
        "{text}"
    );
    assert!(matches!(
        ForwardConfig::new("ftp://x").validate(),
        Err(SamplingConfigError::Invalid {
            field: "forward",
            ..
        })
    ));
    assert!(matches!(
        ForwardConfig::new("http://x:1")
            .max_buffer_bytes(0)
            .validate(),
        Err(SamplingConfigError::Invalid {
            field: "forward.max_buffer_bytes",
            ..
        })
    ));
}
