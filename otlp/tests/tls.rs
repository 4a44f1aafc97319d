//! TLS on every protocol, against rustls test servers with certificates made in the test: a
//! custom CA, a wrong CA, an expired certificate, a name mismatch, mTLS with and without a
//! client certificate, the `OTEL_EXPORTER_OTLP_*` certificate variables, and an API-key header
//! that must arrive intact over the encrypted connection.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::certs::{CertAndKey, PemDir, TestCa, server_config};
use common::{Receiver, batch, resource};
use tracewire::ExportError;
use tracewire::export::{Pipeline, SpanExporter};
use tracewire_otlp::{
    OtlpExportError, OtlpExporter, OtlpExporterBuilder, Protocol, RetryPolicy, TlsError,
};

const PROTOCOLS: [Protocol; 3] = [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc];

/// A TLS receiver for `protocol` presenting `cert`, requiring client certificates signed by
/// `client_ca` if given.
fn receiver(
    protocol: Protocol,
    cert: &CertAndKey,
    client_ca: Option<&TestCa>,
) -> (Receiver, String) {
    match protocol {
        Protocol::Grpc => {
            let rx = Receiver::grpcs(vec![], server_config(cert, client_ca, &[b"h2"]));
            let url = rx.grpcs_url();
            (rx, url)
        }
        _ => {
            let rx = Receiver::https(vec![], server_config(cert, client_ca, &[b"http/1.1"]));
            let url = rx.https_url();
            (rx, url)
        }
    }
}

/// Retries would be allowed: TLS failures must still be tried once.
fn exporter(protocol: Protocol, url: &str) -> OtlpExporterBuilder {
    OtlpExporter::builder()
        .protocol(protocol)
        .endpoint(url)
        .timeout(Duration::from_secs(10))
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .initial_backoff(Duration::from_millis(5)),
        )
}

fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.display().to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn custom_ca_from_the_environment_on_every_protocol_with_an_api_key() {
    let ca = TestCa::new("otlp test ca");
    let dir = PemDir::new("tracewire-otlp-tls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let server = ca.server(&["localhost"]);
    for protocol in PROTOCOLS {
        let (rx, url) = receiver(protocol, &server, None);
        let ca_file = ca_file.clone();
        let mut e = exporter(protocol, &url)
            .from_env_lookup(move |var| match var {
                "OTEL_EXPORTER_OTLP_CERTIFICATE" => Some(ca_file.display().to_string()),
                "OTEL_EXPORTER_OTLP_HEADERS" => Some("x-api-key=s3cr3t%20key".to_owned()),
                _ => None,
            })
            .build()
            .unwrap();
        assert!(e.is_secure());
        e.export_batch(&batch(), &resource())
            .unwrap_or_else(|err| panic!("{protocol}: {err}"));
        let seen = rx.seen();
        assert_eq!(seen.len(), 1, "{protocol}");
        assert_eq!(seen[0].headers["x-api-key"], "s3cr3t key", "{protocol}");
        assert_eq!(
            seen[0].request.resource_spans[0].scope_spans[0].spans.len(),
            2
        );
        let s = e.stats_handle().snapshot();
        assert_eq!((s.requests, s.exported_spans, s.tls_errors), (1, 2, 0));
    }
}

#[test]
fn ca_given_in_code_and_a_grpc_endpoint_without_scheme_means_tls() {
    let ca = TestCa::new("code ca");
    let server = ca.server(&["localhost"]);
    let (rx, _) = receiver(Protocol::Grpc, &server, None);
    let mut e = exporter(Protocol::Grpc, &format!("localhost:{}", rx.addr.port()))
        .ca_certificate_pem(ca.cert_pem.as_str())
        .build()
        .unwrap();
    assert!(e.is_secure());
    e.export_batch(&batch(), &resource()).unwrap();
    assert_eq!(rx.seen().len(), 1);

    // `OTEL_EXPORTER_OTLP_INSECURE=true` makes the same endpoint plain text.
    let plain = Receiver::grpc(vec![]);
    let mut e = exporter(Protocol::Grpc, &format!("localhost:{}", plain.addr.port()))
        .from_env_lookup(|v| (v == "OTEL_EXPORTER_OTLP_INSECURE").then(|| "true".to_owned()))
        .build()
        .unwrap();
    assert!(!e.is_secure());
    e.export_batch(&batch(), &resource()).unwrap();
    assert_eq!(plain.seen().len(), 1);
}

/// Exporter settings trusting only `ca`.
fn trusting(ca: &TestCa) -> impl Fn(OtlpExporterBuilder) -> OtlpExporterBuilder + '_ {
    |b| b.ca_certificate_pem(ca.cert_pem.as_str())
}

/// Expect `want` on every protocol: one attempt (no retry), a counted failed batch, the typed
/// error kept, and the pipeline's error text.
fn assert_tls_failure(
    server: &CertAndKey,
    client_ca: Option<&TestCa>,
    configure: impl Fn(OtlpExporterBuilder) -> OtlpExporterBuilder,
    want: TlsError,
) {
    for protocol in PROTOCOLS {
        let (rx, url) = receiver(protocol, server, client_ca);
        let mut e = configure(exporter(protocol, &url)).build().unwrap();
        let stats = e.stats_handle();
        let err = e.export_batch(&batch(), &resource()).unwrap_err();
        assert_eq!(err, OtlpExportError::Tls(want.clone()), "{protocol}");
        let s = stats.snapshot();
        assert_eq!(
            (
                s.requests,
                s.retries,
                s.failed_batches,
                s.failed_spans,
                s.tls_errors
            ),
            (1, 0, 1, 2, 1),
            "{protocol}"
        );
        assert_eq!(stats.last_error(), Some(err.clone()));
        // Through the trait the pipeline uses.
        assert_eq!(
            e.export(&batch(), &resource()),
            Err(ExportError::Transport(err.to_string())),
            "{protocol}"
        );
        assert!(rx.seen().is_empty(), "{protocol}: a request got through");
    }
}

#[test]
fn wrong_ca_is_a_typed_counted_failure_not_retried() {
    let server = TestCa::new("real ca").server(&["localhost"]);
    let other = TestCa::new("other ca");
    assert_tls_failure(&server, None, trusting(&other), TlsError::UnknownIssuer);
    // No custom CA: the system's (or Mozilla's) roots do not know the test CA either.
    assert_tls_failure(&server, None, |b| b, TlsError::UnknownIssuer);
}

#[test]
fn expired_server_certificate() {
    let ca = TestCa::new("expiring ca");
    let server = ca.expired_server(&["localhost"]);
    assert_tls_failure(&server, None, trusting(&ca), TlsError::Expired);
}

#[test]
fn certificate_for_another_name() {
    let ca = TestCa::new("naming ca");
    let server = ca.server(&["collector.example"]);
    // The exporter connects to `localhost`.
    let mismatch = TlsError::NameMismatch {
        host: "localhost".into(),
    };
    assert_tls_failure(&server, None, trusting(&ca), mismatch);
}

#[test]
fn mtls_without_a_client_certificate_fails() {
    let ca = TestCa::new("mtls ca");
    let server = ca.server(&["localhost"]);
    let required = TlsError::ClientCertificateRequired;
    assert_tls_failure(&server, Some(&ca), trusting(&ca), required);
}

#[test]
fn mtls_with_a_client_certificate_from_another_ca_fails() {
    let ca = TestCa::new("mtls ca");
    let server = ca.server(&["localhost"]);
    let stranger = TestCa::new("stranger ca").client("intruder");
    let configure = |b: OtlpExporterBuilder| {
        b.ca_certificate_pem(ca.cert_pem.as_str())
            .client_identity_pem(stranger.cert_pem.clone(), stranger.key_pem.clone())
    };
    for protocol in PROTOCOLS {
        let (rx, url) = receiver(protocol, &server, Some(&ca));
        let mut e = configure(exporter(protocol, &url)).build().unwrap();
        let err = e.export_batch(&batch(), &resource()).unwrap_err();
        let rejected = OtlpExportError::Tls(TlsError::ClientCertificateRejected(
            "the server sent UnknownCA".into(),
        ));
        if protocol == Protocol::Grpc {
            // With TLS 1.3 the refusal comes after the client's handshake; h2 may see the
            // connection close before it reads the alert, and then cannot tell why.
            assert!(
                err == rejected || matches!(err, OtlpExportError::GrpcStatus { .. }),
                "{err:?}"
            );
        } else {
            assert_eq!(err, rejected, "{protocol}");
        }
        assert_eq!(e.stats_handle().snapshot().failed_batches, 1);
        assert!(rx.seen().is_empty(), "{protocol}: a request got through");
    }
}

#[test]
fn mtls_with_a_client_certificate_from_the_environment_succeeds() {
    let ca = TestCa::new("mtls ca");
    let server = ca.server(&["localhost"]);
    let client = ca.client("checkout");
    let dir = PemDir::new("tracewire-otlp-mtls");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let cert_file = dir.write("client.pem", &client.cert_pem);
    let key_file = dir.write("client.key", &client.key_pem);
    for protocol in PROTOCOLS {
        let (rx, url) = receiver(protocol, &server, Some(&ca));
        // The signal-specific variables win over the generic ones (which point nowhere).
        let missing = dir.path().join("missing.pem");
        let mut e = exporter(protocol, &url)
            .from_env_lookup(env(&[
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &ca_file),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", &cert_file),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &missing),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", &key_file),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &missing),
            ]))
            .build()
            .unwrap();
        e.export_batch(&batch(), &resource())
            .unwrap_or_else(|err| panic!("{protocol}: {err}"));
        assert_eq!(rx.seen().len(), 1, "{protocol}");
    }
}

#[test]
fn unusable_certificate_files_are_config_errors() {
    let dir = PemDir::new("tracewire-otlp-badpem");
    let junk = dir.write("junk.pem", "not a certificate");
    // An exporter to `scheme://localhost` with `var` naming the junk file.
    let build = |scheme: &str, var: &str| {
        OtlpExporter::builder()
            .endpoint(format!("{scheme}://localhost:4318/v1/traces"))
            .from_env_lookup(env(&[(var, &junk)]))
            .build()
    };
    assert_eq!(
        build("https", "OTEL_EXPORTER_OTLP_CERTIFICATE").unwrap_err(),
        tracewire_otlp::OtlpConfigError::Certificate {
            role: "ca certificate",
            origin: junk.display().to_string(),
            reason: "no pem certificate found".into()
        }
    );
    assert_eq!(
        build("https", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE").unwrap_err(),
        tracewire_otlp::OtlpConfigError::IncompleteClientIdentity {
            missing: "client key"
        }
    );
    // A certificate set for plain `http://` is not used, so it is not an error.
    build("http", "OTEL_EXPORTER_OTLP_CERTIFICATE").unwrap();
}

/// The failure reaches the pipeline's counters, and the application's log once, however many
/// batches fail.
#[test]
fn tls_failure_under_the_pipeline_is_counted_and_logged_once() {
    let server = TestCa::new("real ca").server(&["localhost"]);
    let other = TestCa::new("other ca");
    let (rx, url) = receiver(Protocol::HttpProtobuf, &server, None);
    let lines = Lines::default();
    // tracing-core caches a callsite's interest when it is first hit; while only one dispatcher
    // is registered it asks the registering thread's default alone. A parallel test's exporter
    // failing on a thread with no subscriber could then cache "never" for the warning below.
    // With a second dispatcher registered it asks every live one, `lines` included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    // The exporter logs to the subscriber that was current when it was built.
    let exporter = tracing::subscriber::with_default(lines.clone(), || {
        exporter(Protocol::HttpProtobuf, &url)
            .ca_certificate_pem(other.cert_pem.as_str())
            .build()
            .unwrap()
    });
    let otlp = exporter.stats_handle();
    let pipeline = Pipeline::builder().max_batch(2).exporter(exporter).build();
    for _ in 0..3 {
        for span in batch() {
            pipeline.submit(span);
        }
        pipeline.flush(Duration::from_secs(30)).unwrap();
    }
    let p = pipeline.stats();
    assert_eq!((p.failed, p.exported, p.export_errors), (6, 0, 3));
    assert_eq!(
        pipeline.last_error(),
        Some(ExportError::Transport(
            "tls: server certificate is not signed by a trusted certificate authority".into()
        ))
    );
    assert_eq!(otlp.snapshot().tls_errors, 3);
    assert_eq!(
        lines.0.lock().unwrap().as_slice(),
        [format!(
            "WARN otlp export failed; further failures of this kind are counted, not logged \
             endpoint={url} error=tls: server certificate is not signed by a trusted certificate authority kind=tls"
        )]
    );
    assert!(rx.seen().is_empty());
    pipeline.shutdown(Duration::from_secs(10)).unwrap();
}

/// A subscriber keeping each `tracewire_otlp` event as `LEVEL message k=v ...`.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Lines {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        m.target() == "tracewire_otlp"
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" {
                    self.0.push_str(&format!(" {v:?}"));
                } else {
                    self.0.push_str(&format!(" {}={v:?}", f.name()));
                }
            }
            fn record_str(&mut self, f: &tracing::field::Field, v: &str) {
                self.0.push_str(&format!(" {}={v}", f.name()));
            }
        }
        let mut t = Text(event.metadata().level().to_string());
        event.record(&mut t);
        self.0.lock().unwrap().push(t.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
