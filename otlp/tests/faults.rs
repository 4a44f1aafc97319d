//! Fault tests: a dead, failing, throttling or hanging endpoint is retried within bounds, counted,
//! and never holds up the application. Times are only bounded from above generously, to prove
//! nothing hangs.

mod common;

use std::time::{Duration, Instant};

use common::{Receiver, Reply, batch, dead_addr, partial, resource, spans};
use prost::Message as _;
use tracewire::ExportError;
use tracewire::export::{Pipeline, PipelineError, SpanExporter};
use tracewire_otlp::{OtlpExporter, Protocol, RetryPolicy};

/// Generous: anything slower means something hung.
const NOT_HUNG: Duration = Duration::from_secs(60);

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .max_elapsed(Duration::from_secs(30))
}

/// An HTTP answer with `status`, a `Retry-After: value` header and no body.
fn retry_after(status: u16, value: &str) -> Reply {
    Reply::Http(status, vec![("retry-after", value.to_owned())], vec![])
}

/// Asserts that `rx` saw two requests, the second a second (the server's hint) after the first.
fn assert_retried_after_a_second(rx: &Receiver) {
    let seen = rx.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

fn exporter(protocol: Protocol, url: String, retry: RetryPolicy) -> OtlpExporter {
    OtlpExporter::builder()
        .protocol(protocol)
        .endpoint(url)
        .timeout(Duration::from_secs(5))
        .retry(retry)
        .build()
        .unwrap()
}

#[test]
fn endpoint_down_is_a_counted_failure() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let url = match protocol {
            Protocol::Grpc => format!("http://{}", dead_addr()),
            _ => format!("http://{}/v1/traces", dead_addr()),
        };
        let mut e = exporter(protocol, url, fast_retries(3));
        let start = Instant::now();
        let err = e.export(&batch(), &resource()).unwrap_err();
        assert!(start.elapsed() < NOT_HUNG);
        assert!(
            matches!(err, ExportError::Transport(_)),
            "{protocol}: {err:?}"
        );
        let s = e.stats_handle().snapshot();
        assert_eq!(
            (
                s.requests,
                s.retries,
                s.failed_batches,
                s.failed_spans,
                s.exported_spans
            ),
            (3, 2, 1, 2, 0),
            "{protocol}: {err}"
        );
    }
}

#[test]
fn http_503_then_200_is_retried_and_delivered_once() {
    let rx = Receiver::http(vec![
        Reply::Http(503, vec![], b"busy".to_vec()),
        Reply::Http(502, vec![], vec![]),
    ]);
    let mut e = exporter(Protocol::HttpProtobuf, rx.http_url(), fast_retries(5));
    e.export(&batch(), &resource()).unwrap();
    let s = e.stats_handle().snapshot();
    assert_eq!(
        (s.requests, s.retries, s.exported_spans, s.failed_batches),
        (3, 2, 2, 0)
    );
    let seen = rx.seen();
    assert_eq!(seen.len(), 3);
    // Every attempt carried the same batch; it was accepted once.
    assert!(seen.iter().all(|c| c.request == seen[0].request));
}

#[test]
fn grpc_unavailable_then_ok_is_retried() {
    let rx = Receiver::grpc(vec![
        Reply::Grpc(Err((tonic::Code::Unavailable, "restarting"))),
        Reply::Grpc(Err((tonic::Code::ResourceExhausted, "slow down"))),
    ]);
    let mut e = exporter(Protocol::Grpc, rx.grpc_url(), fast_retries(5));
    e.export(&batch(), &resource()).unwrap();
    let s = e.stats_handle().snapshot();
    assert_eq!((s.requests, s.retries, s.exported_spans), (3, 2, 2));
    assert_eq!(rx.seen().len(), 3);
}

#[test]
fn non_retryable_answers_fail_at_once() {
    let rx = Receiver::http(vec![Reply::Http(400, vec![], b"bad span".to_vec())]);
    let mut e = exporter(Protocol::HttpProtobuf, rx.http_url(), fast_retries(5));
    assert_eq!(
        e.export(&batch(), &resource()),
        Err(ExportError::Transport("http status 400: bad span".into()))
    );
    let s = e.stats_handle().snapshot();
    assert_eq!((s.requests, s.retries, s.failed_batches), (1, 0, 1));

    let rx = Receiver::grpc(vec![Reply::Grpc(Err((
        tonic::Code::InvalidArgument,
        "bad",
    )))]);
    let mut e = exporter(Protocol::Grpc, rx.grpc_url(), fast_retries(5));
    assert_eq!(
        e.export(&batch(), &resource()),
        Err(ExportError::Transport("grpc status 3: bad".into()))
    );
    assert_eq!(e.stats_handle().snapshot().requests, 1);
}

#[test]
fn retries_stop_at_max_attempts() {
    let rx = Receiver::http(vec![Reply::Http(503, vec![], vec![]); 10]);
    let mut e = exporter(Protocol::HttpProtobuf, rx.http_url(), fast_retries(4));
    assert!(e.export(&batch(), &resource()).is_err());
    let s = e.stats_handle().snapshot();
    assert_eq!((s.requests, s.retries, s.failed_batches), (4, 3, 1));
    assert_eq!(rx.seen().len(), 4);
}

#[test]
fn retry_after_is_honoured() {
    let rx = Receiver::http(vec![retry_after(429, "1")]);
    // Without the header the retry would follow within milliseconds.
    let mut e = exporter(Protocol::HttpProtobuf, rx.http_url(), fast_retries(3));
    e.export(&batch(), &resource()).unwrap();
    assert_retried_after_a_second(&rx);
    assert_eq!(e.stats_handle().snapshot().retries, 1);
}

#[test]
fn retry_after_beyond_the_budget_gives_up() {
    let rx = Receiver::http(vec![retry_after(503, "3600")]);
    let mut e = exporter(
        Protocol::HttpProtobuf,
        rx.http_url(),
        fast_retries(5).max_elapsed(Duration::from_secs(10)),
    );
    let start = Instant::now();
    assert_eq!(
        e.export(&batch(), &resource()),
        Err(ExportError::Transport("http status 503".into()))
    );
    assert!(start.elapsed() < NOT_HUNG);
    let s = e.stats_handle().snapshot();
    assert_eq!((s.requests, s.retries, s.failed_batches), (1, 0, 1));
}

#[test]
fn partial_success_is_counted_not_retried() {
    let answer = partial(1, "span too old");
    let json = br#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"span too old"}}"#;
    let cases = [
        (
            Protocol::HttpProtobuf,
            Receiver::http(vec![Reply::Http(200, vec![], answer.encode_to_vec())]),
        ),
        (
            Protocol::HttpJson,
            Receiver::http(vec![Reply::Http(200, vec![], json.to_vec())]),
        ),
        (
            Protocol::Grpc,
            Receiver::grpc(vec![Reply::Grpc(Ok(answer.clone()))]),
        ),
    ];
    for (protocol, rx) in cases {
        let url = match protocol {
            Protocol::Grpc => rx.grpc_url(),
            _ => rx.http_url(),
        };
        let mut e = exporter(protocol, url, fast_retries(5));
        assert_eq!(
            e.export(&batch(), &resource()),
            Err(ExportError::Rejected {
                spans: 1,
                message: "span too old".into()
            }),
            "{protocol}"
        );
        let s = e.stats_handle().snapshot();
        assert_eq!(
            (
                s.requests,
                s.retries,
                s.rejected_spans,
                s.exported_spans,
                s.failed_batches
            ),
            (1, 0, 1, 1, 0),
            "{protocol}"
        );
    }
}

#[test]
fn a_warning_without_rejections_is_success() {
    let rx = Receiver::grpc(vec![Reply::Grpc(Ok(partial(0, "deprecated field")))]);
    let mut e = exporter(Protocol::Grpc, rx.grpc_url(), fast_retries(1));
    e.export(&batch(), &resource()).unwrap();
    assert_eq!(e.stats_handle().snapshot().rejected_spans, 0);
}

#[test]
fn hanging_endpoint_times_out() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let rx = match protocol {
            Protocol::Grpc => Receiver::grpc(vec![Reply::Hang, Reply::Hang]),
            _ => Receiver::http(vec![Reply::Hang, Reply::Hang]),
        };
        let url = match protocol {
            Protocol::Grpc => rx.grpc_url(),
            _ => rx.http_url(),
        };
        let mut e = OtlpExporter::builder()
            .protocol(protocol)
            .endpoint(url)
            .timeout(Duration::from_millis(200))
            .retry(fast_retries(2))
            .build()
            .unwrap();
        let start = Instant::now();
        let err = e.export(&batch(), &resource()).unwrap_err();
        assert!(start.elapsed() < NOT_HUNG);
        assert_eq!(err, ExportError::Timeout, "{protocol}");
        let s = e.stats_handle().snapshot();
        assert_eq!(
            (s.requests, s.retries, s.timeouts, s.failed_batches),
            (2, 1, 2, 1),
            "{protocol}"
        );
        assert_eq!(rx.seen().len(), 2, "{protocol}");
    }
}

/// The application's side while the endpoint hangs: `submit` never waits, the queue stays
/// bounded, and what does not fit is dropped and counted.
#[test]
fn hanging_endpoint_never_blocks_the_application() {
    let rx = Receiver::http(vec![Reply::Hang; 100]);
    let exporter = OtlpExporter::builder()
        .endpoint(rx.http_url())
        .timeout(Duration::from_millis(300))
        .retry(fast_retries(2))
        .build()
        .unwrap();
    let otlp = exporter.stats_handle();
    let (queue, max_batch) = (16, 4);
    let pipeline = Pipeline::builder()
        .queue_size(queue)
        .max_batch(max_batch)
        .batch_timeout(Duration::from_millis(10))
        .exporter(exporter)
        .build();

    // Let the worker get stuck on the first batch.
    for span in spans(max_batch) {
        pipeline.submit(span);
    }
    let wait_start = Instant::now();
    while rx.seen().is_empty() && wait_start.elapsed() < NOT_HUNG {
        std::thread::sleep(Duration::from_millis(5));
    }

    // The "application": 20 000 spans while the exporter is stuck.
    let n = 20_000;
    let mut accepted = 0u64;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    for span in spans(n) {
        let t = Instant::now();
        accepted += u64::from(pipeline.submit(span));
        slowest = slowest.max(t.elapsed());
    }
    let total = start.elapsed();
    eprintln!(
        "{n} submits against a hung endpoint: {total:?} total, slowest {slowest:?}, {accepted} accepted"
    );
    assert!(total < NOT_HUNG);
    // Bounded: at most the queue plus the batches the worker drained while we submitted.
    let stats = pipeline.stats();
    assert!(
        accepted < n as u64 / 10,
        "accepted {accepted} of {n}: the queue is not bounded"
    );
    assert_eq!(stats.dropped, n as u64 - accepted);

    // Shutting down with a short deadline returns even though the exporter is stuck.
    let start = Instant::now();
    let r = pipeline.shutdown(Duration::from_millis(200));
    assert!(matches!(r, Ok(()) | Err(PipelineError::Timeout)), "{r:?}");
    assert!(start.elapsed() < NOT_HUNG);
    // The worker goes on in the background: its attempts time out and are retried.
    let wait_start = Instant::now();
    while otlp.snapshot().timeouts < 2 && wait_start.elapsed() < NOT_HUNG {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = otlp.snapshot();
    assert!(s.timeouts >= 2 && s.retries >= 1, "{s:?}");
}

/// With the endpoint down, the pipeline counts the failed batches and the exporter the retries.
#[test]
fn endpoint_down_under_the_pipeline() {
    let exporter = exporter(
        Protocol::Grpc,
        format!("http://{}", dead_addr()),
        fast_retries(2),
    );
    let otlp = exporter.stats_handle();
    let pipeline = Pipeline::builder().max_batch(10).exporter(exporter).build();
    for span in spans(25) {
        assert!(pipeline.submit(span));
    }
    pipeline.flush(NOT_HUNG).unwrap();
    let p = pipeline.stats();
    assert_eq!((p.failed, p.exported, p.export_errors), (25, 0, 3));
    assert!(matches!(
        pipeline.last_error(),
        Some(ExportError::Transport(_))
    ));
    let s = otlp.snapshot();
    assert_eq!(
        (s.requests, s.retries, s.failed_batches, s.failed_spans),
        (6, 3, 3, 25)
    );
    pipeline.shutdown(NOT_HUNG).unwrap();
}

/// Regression: these `Retry-After` values made the export thread panic (`Instant` and
/// `SystemTime` overflow). A number beyond the budget ends the retrying at once; a date that
/// cannot be a real one is ignored, so the normal backoff applies.
#[test]
fn hostile_retry_after_never_panics() {
    for (value, retried) in [
        ("18446744073709551615", false),
        ("99999999999999999999999999999", false),
        ("Sun, 06 Nov 400000000000 08:49:37 GMT", true),
        ("Fri, 31 Dec 9999 23:59:59 GMT", false),
    ] {
        let rx = Receiver::http(vec![retry_after(503, value)]);
        let mut e = exporter(Protocol::HttpProtobuf, rx.http_url(), fast_retries(3));
        let start = Instant::now();
        let result = e.export(&batch(), &resource());
        assert!(start.elapsed() < NOT_HUNG);
        let s = e.stats_handle().snapshot();
        if retried {
            assert_eq!(result, Ok(()), "{value}");
            assert_eq!(
                (s.requests, s.retries, s.exported_spans),
                (2, 1, 2),
                "{value}"
            );
        } else {
            assert_eq!(
                result,
                Err(ExportError::Transport("http status 503".into())),
                "{value}"
            );
            assert_eq!(
                (s.requests, s.retries, s.failed_batches),
                (1, 0, 1),
                "{value}"
            );
        }
    }
}

/// gRPC's `RetryInfo` is honoured like `Retry-After`, and capped by the budget the same way.
#[test]
fn grpc_retry_info_is_honoured_and_capped() {
    let rx = Receiver::grpc(vec![Reply::GrpcRetryInfo(tonic::Code::Unavailable, 1, 0)]);
    let mut e = exporter(Protocol::Grpc, rx.grpc_url(), fast_retries(3));
    e.export(&batch(), &resource()).unwrap();
    assert_retried_after_a_second(&rx);

    let rx = Receiver::grpc(vec![Reply::GrpcRetryInfo(
        tonic::Code::ResourceExhausted,
        i64::MAX,
        999_999_999,
    )]);
    let mut e = exporter(Protocol::Grpc, rx.grpc_url(), fast_retries(3));
    let start = Instant::now();
    let err = e.export(&batch(), &resource()).unwrap_err();
    assert!(start.elapsed() < NOT_HUNG);
    assert!(
        matches!(&err, ExportError::Transport(m) if m.starts_with("grpc status 8")),
        "{err:?}"
    );
    assert_eq!(e.stats_handle().snapshot().requests, 1);
}

/// Timeouts of any size saturate instead of overflowing a deadline, on every protocol; the
/// environment's `0` means "no limit".
#[test]
fn huge_timeouts_saturate() {
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc] {
        let (_rx, url) = common::receiver_for(protocol, vec![]);
        let mut e = OtlpExporter::builder()
            .protocol(protocol)
            .endpoint(url.clone())
            .timeout(Duration::MAX)
            .retry(RetryPolicy::default().max_elapsed(Duration::MAX))
            .build()
            .unwrap();
        assert_eq!(e.timeout(), tracewire_otlp::MAX_TIMEOUT);
        e.export(&batch(), &resource()).unwrap();
        for value in ["18446744073709551615", "99999999999999999999999", "0"] {
            let mut e = OtlpExporter::builder()
                .protocol(protocol)
                .endpoint(url.clone())
                .from_env_lookup(|var| {
                    (var == "OTEL_EXPORTER_OTLP_TIMEOUT").then(|| value.to_owned())
                })
                .build()
                .unwrap();
            assert_eq!(e.timeout(), tracewire_otlp::MAX_TIMEOUT, "{value}");
            e.export(&batch(), &resource()).unwrap();
        }
    }
}
