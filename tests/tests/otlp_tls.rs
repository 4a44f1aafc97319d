//! `tracewire-otlp`'s exporter sending to tracewire's own collector over TLS, configured the way
//! users configure it: `OTEL_*` variables only, read by `tracewire_otlp::setup()` (through its
//! environment lookup, so tests do not share the process environment). Certificates are made
//! in the test with `rcgen`.
//!
//! Over https (http/protobuf, http/json) and grpcs, with the collector's bearer token sent as
//! an API-key header: a custom CA is trusted, the token is checked (no token: refused), a wrong
//! CA or an expired server certificate is the exporter's typed TLS error and a counted failure
//! while the collector stores nothing, and mutual TLS required by the collector refuses an
//! exporter without a client certificate and accepts one with it. The README's path for a new
//! user (an axum app with `tracewire_axum::layer()`, exporting over https with a private CA and an
//! API key, set up from `OTEL_*` only) is driven whole.

#[path = "../../collector/tests/common/tls.rs"]
mod tls;

use std::collections::HashMap;
use std::time::Duration;

use tls::{CertAndKey, PemDir, TestCa};
use tracewire::{SpanExt, SpanId, TraceId, TracewireLayer};
use tracewire_collector::{AttrValue, Collector, CollectorHandle, ServerTls, TraceQuery};
use tracewire_otlp::{OtlpExportError, OtlpStatsSnapshot, Protocol, TlsError};
use tracing_subscriber::layer::SubscriberExt;

const PROTOCOLS: [Protocol; 3] = [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc];
/// The collector's bearer token.
const TOKEN: &str = "tw-test-token.0123456789";
/// The API-key header carrying it, as `OTEL_EXPORTER_OTLP_HEADERS` spells it (values are
/// percent-encoded).
const AUTH_HEADER: &str = "authorization=Bearer%20tw-test-token.0123456789";
/// The variable that sends the token with every export.
const AUTH: (&str, &str) = ("OTEL_EXPORTER_OTLP_HEADERS", AUTH_HEADER);

/// Writes `pem` to `name` in `dir` and returns the path, as the variables want it.
fn write_pem(dir: &PemDir, name: &str, pem: &str) -> String {
    dir.write(name, pem).display().to_string()
}

/// A test's CA, its certificate's file (`OTEL_EXPORTER_OTLP_CERTIFICATE`) and the directory
/// for more PEM files (removed when dropped: keep it bound for the whole test).
struct Pki {
    dir: PemDir,
    ca: TestCa,
    ca_file: String,
}

impl Pki {
    fn new(test: &str) -> Pki {
        let dir = PemDir::new(&format!("otlp-tls-{test}"));
        let ca = TestCa::new("tracewire test CA");
        let ca_file = write_pem(&dir, "ca.pem", &ca.cert_pem);
        Pki { dir, ca, ca_file }
    }
}

/// A collector on free loopback ports serving `tls` on every listener and requiring [`TOKEN`].
fn collector(tls: ServerTls) -> CollectorHandle {
    Collector::builder()
        .ephemeral_ports()
        .api_addr(None)
        .tls(tls)
        .auth_token(TOKEN)
        .start()
        .expect("collector starts")
}

/// The collector's TLS from a server certificate, requiring client certificates from
/// `client_ca` when given.
fn server_tls(server: &CertAndKey, client_ca: Option<&TestCa>) -> ServerTls {
    let tls = ServerTls::from_pem(server.cert_pem.as_bytes(), server.key_pem.as_bytes()).unwrap();
    match client_ca {
        Some(ca) => tls.client_ca_pem(ca.cert_pem.as_bytes()).unwrap(),
        None => tls,
    }
}

/// The base endpoint for `protocol`, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it: the HTTP
/// protocols append `/v1/traces` themselves.
fn endpoint(c: &CollectorHandle, protocol: Protocol) -> String {
    let addr = match protocol {
        Protocol::Grpc => c.otlp_grpc_addr(),
        _ => c.otlp_http_addr(),
    };
    format!("https://{}", addr.unwrap())
}

/// The variables for exporting to `c` over `protocol` with the CA file `ca`, plus `more`.
fn vars(
    c: &CollectorHandle,
    protocol: Protocol,
    ca: &str,
    more: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut vars = vec![
        ("OTEL_SERVICE_NAME", "tls-e2e"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint(c, protocol)),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
        // Failures are not retried for long: a refused request is final.
        ("OTEL_BSP_EXPORT_TIMEOUT", "5000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect::<Vec<_>>();
    vars.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    vars
}

/// What one export did.
struct Outcome {
    trace_id: TraceId,
    /// The root's span id and its child's.
    root: SpanId,
    child: SpanId,
    exported: u64,
    failed: u64,
    otlp: OtlpStatsSnapshot,
    error: Option<OtlpExportError>,
}

impl Outcome {
    /// The message of the failure, whatever it says (the tests match the rest exactly).
    fn error_message(&self) -> String {
        match &self.error {
            Some(
                OtlpExportError::HttpStatus { message, .. }
                | OtlpExportError::GrpcStatus { message, .. },
            ) => message.clone(),
            other => panic!("not a status failure: {other:?}"),
        }
    }
}

/// The layer and guard `tracewire_otlp::setup()` makes from `vars` alone (nothing else is read),
/// over TLS.
fn setup_from(vars: Vec<(String, String)>) -> (TracewireLayer, tracewire_otlp::Guard) {
    let env: HashMap<String, String> = vars.into_iter().collect();
    let (layer, guard) = tracewire_otlp::setup()
        .env_lookup(move |var| env.get(var).cloned())
        .host_name(None)
        .build()
        .expect("the variables are valid");
    let target = guard
        .config()
        .otlp
        .clone()
        .expect("OTLP is the default exporter");
    assert!(target.secure, "{target:?}");
    (layer, guard)
}

/// Sets tracing up from `vars` alone, records a trace of two spans under a scoped subscriber,
/// and flushes the pipeline.
fn export_one_trace(vars: Vec<(String, String)>) -> Outcome {
    let (layer, guard) = setup_from(vars);
    let subscriber = tracing_subscriber::registry().with(layer);
    let (root, child) = tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("checkout");
        let root_cx = root.span_context().expect("the layer knows the root");
        let child_cx = root.in_scope(|| {
            let child = tracing::info_span!("charge card");
            child.span_context().expect("the layer knows the child")
        });
        (root_cx, child_cx)
    });
    assert_eq!(child.trace_id(), root.trace_id());
    // A failed export still ends the flush: the batch is counted as failed.
    let _ = guard.flush(Duration::from_secs(20));
    let pipeline = guard.stats();
    let otlp = guard.otlp_stats().expect("OTLP is installed");
    let snapshot = otlp.snapshot();
    assert_eq!(snapshot.exported_spans, pipeline.exported);
    Outcome {
        trace_id: root.trace_id(),
        root: root.span_id(),
        child: child.span_id(),
        exported: pipeline.exported,
        failed: pipeline.failed,
        otlp: snapshot,
        error: otlp.last_error(),
    }
}

/// The exporter's counters: requests, retries, exported spans, failed batches, failed spans,
/// TLS errors.
fn counters(o: &OtlpStatsSnapshot) -> [u64; 6] {
    [
        o.requests,
        o.retries,
        o.exported_spans,
        o.failed_batches,
        o.failed_spans,
        o.tls_errors,
    ]
}

/// The trace arrived whole, in one request: the two spans of service `tls-e2e` with the ids the
/// layer gave them and the child under the root, nothing else stored.
fn assert_stored(c: &CollectorHandle, out: &Outcome, protocol: Protocol) {
    assert_eq!(
        (out.exported, out.failed),
        (2, 0),
        "{protocol}: {:?}",
        out.error
    );
    assert_eq!(
        counters(&out.otlp),
        [1, 0, 2, 0, 0, 0],
        "{protocol}: {:?}",
        out.error
    );
    c.store().flush_blocking();
    let mut spans: Vec<_> = c
        .store()
        .spans(out.trace_id)
        .iter()
        .map(|s| {
            let service = s.service().to_owned();
            let name = s.name().to_owned();
            (s.span_id(), s.parent_span_id(), service, name, s.trace_id())
        })
        .collect();
    spans.sort_by(|a, b| a.3.cmp(&b.3));
    let service = || "tls-e2e".to_owned();
    assert_eq!(
        spans,
        [
            (
                out.child,
                Some(out.root),
                service(),
                "charge card".to_owned(),
                out.trace_id
            ),
            (
                out.root,
                None,
                service(),
                "checkout".to_owned(),
                out.trace_id
            ),
        ],
        "{protocol}"
    );
    assert_eq!(c.store().stats().spans, 2, "{protocol}");
}

/// The export failed with `expected`, counted, and the collector stored nothing.
fn assert_refused(
    c: &CollectorHandle,
    out: &Outcome,
    protocol: Protocol,
    expected: &OtlpExportError,
) {
    assert_eq!(out.error.as_ref(), Some(expected), "{protocol}");
    assert_eq!((out.exported, out.failed), (0, 2), "{protocol}");
    // Neither a handshake failure nor an authentication refusal is retried: one request, one
    // failed batch of both spans, and a TLS error counted only for the handshake.
    let tls = u64::from(matches!(expected, OtlpExportError::Tls(_)));
    assert_eq!(counters(&out.otlp), [1, 0, 0, 1, 2, tls], "{protocol}");
    c.store().flush_blocking();
    assert_eq!(c.store().stats().spans, 0, "{protocol}");
    assert_eq!(c.store().stats().stored_total, 0, "{protocol}");
}

#[test]
fn exports_over_https_and_grpcs_with_a_custom_ca_and_the_collectors_token() {
    let pki = Pki::new("success");
    let server = pki.ca.server(&["127.0.0.1", "localhost"]);
    for protocol in PROTOCOLS {
        let c = collector(server_tls(&server, None));
        let out = export_one_trace(vars(&c, protocol, &pki.ca_file, &[AUTH]));
        assert_stored(&c, &out, protocol);
        c.shutdown_blocking();
    }
}

#[test]
fn the_token_is_checked_over_tls() {
    let pki = Pki::new("token");
    let server = pki.ca.server(&["127.0.0.1"]);
    for protocol in PROTOCOLS {
        let c = collector(server_tls(&server, None));
        let wrong = [(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "authorization=Bearer%20not-the-token",
        )];
        for more in [&[][..], &wrong[..]] {
            let out = export_one_trace(vars(&c, protocol, &pki.ca_file, more));
            let expected = match protocol {
                Protocol::Grpc => OtlpExportError::GrpcStatus {
                    code: 16,
                    message: out.error_message(),
                },
                _ => OtlpExportError::HttpStatus {
                    status: 401,
                    message: out.error_message(),
                },
            };
            assert_refused(&c, &out, protocol, &expected);
        }
        c.shutdown_blocking();
    }
}

#[test]
fn a_wrong_ca_or_an_expired_certificate_is_a_typed_tls_error_and_nothing_is_stored() {
    let pki = Pki::new("refused");
    let other_ca_file = write_pem(
        &pki.dir,
        "other-ca.pem",
        &TestCa::new("someone else").cert_pem,
    );
    let valid = pki.ca.server(&["127.0.0.1"]);
    let expired = pki.ca.expired_server(&["127.0.0.1"]);
    for protocol in PROTOCOLS {
        for (server, ca_file, error, log_line) in [
            (
                &valid,
                &other_ca_file,
                TlsError::UnknownIssuer,
                "tls: server certificate is not signed by a trusted certificate authority",
            ),
            (
                &expired,
                &pki.ca_file,
                TlsError::Expired,
                "tls: server certificate has expired",
            ),
        ] {
            let c = collector(server_tls(server, None));
            let out = export_one_trace(vars(&c, protocol, ca_file, &[AUTH]));
            assert_refused(&c, &out, protocol, &OtlpExportError::Tls(error));
            // What the log line says.
            assert_eq!(out.error.unwrap().to_string(), log_line, "{protocol}");
            c.shutdown_blocking();
        }
    }
}

#[test]
fn mutual_tls_required_by_the_collector_refuses_no_client_certificate_and_accepts_one() {
    let pki = Pki::new("mtls");
    let clients = TestCa::new("tracewire client CA");
    let client = clients.client("exporter");
    let cert = write_pem(&pki.dir, "exporter.pem", &client.cert_pem);
    let key = write_pem(&pki.dir, "exporter-key.pem", &client.key_pem);
    let server = pki.ca.server(&["127.0.0.1"]);
    for protocol in PROTOCOLS {
        let c = collector(server_tls(&server, Some(&clients)));
        let out = export_one_trace(vars(&c, protocol, &pki.ca_file, &[AUTH]));
        let required = OtlpExportError::Tls(TlsError::ClientCertificateRequired);
        assert_refused(&c, &out, protocol, &required);

        let with_cert = [
            AUTH,
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.as_str()),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.as_str()),
        ];
        let out = export_one_trace(vars(&c, protocol, &pki.ca_file, &with_cert));
        assert_stored(&c, &out, protocol);
        c.shutdown_blocking();
    }
}

#[test]
fn the_readmes_axum_service_exports_its_routes_over_https_with_a_private_ca_and_an_api_key() {
    use tower::ServiceExt as _;

    let pki = Pki::new("readme");
    // The README's endpoint names `localhost`, as its certificate does.
    let c = collector(server_tls(
        &pki.ca.server(&["localhost", "127.0.0.1"]),
        None,
    ));
    let port = c.otlp_http_addr().unwrap().port();
    let endpoint = format!("https://localhost:{port}");
    let (layer, guard) = setup_from(
        [
            ("OTEL_SERVICE_NAME", "hello"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.ca_file),
            AUTH,
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into(),
    );
    let app = axum::Router::new()
        .route(
            "/hello/{name}",
            axum::routing::get(
                |axum::extract::Path(name): axum::extract::Path<String>| async move {
                    format!("hello {name}\n")
                },
            ),
        )
        .layer(tracewire_axum::layer());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let status = tracing::subscriber::with_default(subscriber, || {
        let request = http::Request::get("/hello/ada")
            .body(axum::body::Body::empty())
            .unwrap();
        rt.block_on(app.oneshot(request)).unwrap().status()
    });
    assert_eq!(status, 200);
    guard.flush(Duration::from_secs(20)).expect("exported");
    let otlp = guard.otlp_stats().unwrap().snapshot();
    assert_eq!(
        (otlp.requests, otlp.exported_spans, otlp.tls_errors),
        (1, 1, 0)
    );

    c.store().flush_blocking();
    assert_eq!(c.store().stats().spans, 1);
    let traces = c.store().search(&TraceQuery::new().service("hello"));
    let [trace] = &traces[..] else {
        panic!("{traces:?}")
    };
    let spans = c.store().spans(trace.trace_id);
    let span = &spans[0];
    assert_eq!(
        (span.service(), span.name()),
        ("hello", "GET /hello/{name}")
    );
    assert_eq!(
        span.attribute("http.route"),
        Some(&AttrValue::String("/hello/{name}".into()))
    );
    c.shutdown_blocking();
}
