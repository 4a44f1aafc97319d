//! The exporter's own HTTP and gRPC calls never produce spans or events, even on a thread that
//! has a subscriber (no feedback loop from export traffic into the pipeline).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Receiver, Reply, batch, dead_addr, resource};
use tracewire::export::SpanExporter;
use tracewire_otlp::convert::to_request;
use tracewire_otlp::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tracewire_otlp::{OtlpExporter, Protocol, RetryPolicy};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

#[derive(Default)]
struct Counts {
    spans: AtomicU64,
    events: AtomicU64,
}

/// Counts every span and event it is offered.
struct Counting(Arc<Counts>);

impl Subscriber for Counting {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.0.spans.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {
        self.0.events.fetch_add(1, Ordering::Relaxed);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn export_traffic_is_invisible_to_subscribers() {
    let http = Receiver::http(vec![Reply::Http(503, vec![], vec![])]);
    let grpc = Receiver::grpc(vec![Reply::Grpc(Err((tonic::Code::Unavailable, "x")))]);
    let retry = RetryPolicy::default()
        .max_attempts(2)
        .initial_backoff(Duration::from_millis(5));
    let exporter = |protocol, endpoint: String| {
        OtlpExporter::builder()
            .protocol(protocol)
            .endpoint(endpoint)
            .retry(retry)
            .build()
            .unwrap()
    };
    let mut exporters = vec![
        exporter(Protocol::HttpProtobuf, http.http_url()),
        exporter(Protocol::Grpc, grpc.grpc_url()),
        exporter(Protocol::Grpc, format!("http://{}", dead_addr())),
    ];

    let counts = Arc::new(Counts::default());
    tracing::subscriber::with_default(Counting(counts.clone()), || {
        // The subscriber sees the application's own telemetry...
        let _span = tracing::info_span!("app request").entered();
        tracing::info!("app event");
        // ...and nothing from the exports, successful, retried or failed.
        for e in &mut exporters {
            let _ = e.export(&batch(), &resource());
        }
    });
    assert_eq!(counts.spans.load(Ordering::Relaxed), 1);
    assert_eq!(counts.events.load(Ordering::Relaxed), 1);
    let requests: u64 = exporters
        .iter()
        .map(|e| e.stats_handle().snapshot().requests)
        .sum();
    assert_eq!(requests, 6);
    assert_eq!(http.seen().len(), 2);
    assert_eq!(grpc.seen().len(), 2);
}

/// The control: the same gRPC call made with tonic directly, under the same subscriber, does
/// produce events (from h2 and tonic), so the test above would notice a leak.
#[test]
fn control_plain_tonic_calls_are_visible() {
    let grpc = Receiver::grpc(vec![]);
    let counts = Arc::new(Counts::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Counting(counts.clone()), || {
        rt.block_on(async {
            let mut client = TraceServiceClient::connect(grpc.grpc_url()).await.unwrap();
            client
                .export(to_request(&batch(), &resource()))
                .await
                .unwrap();
        });
    });
    let seen = counts.spans.load(Ordering::Relaxed) + counts.events.load(Ordering::Relaxed);
    assert!(seen > 0, "the control saw nothing: the sensor is blind");
}
