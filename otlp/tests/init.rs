//! The installed set-up, end to end: the global subscriber from `tracewire_otlp::setup()`
//! (as `init()` installs it) turns a `tracing` span into an OTLP export over TLS with an API
//! key, configured by `OTEL_*` variables only. One test: a process has one global subscriber.

mod common;

use std::collections::HashMap;

use common::Receiver;
use common::certs::{PemDir, TestCa, server_config};
use tracewire_otlp::{Guard, InitError};

#[test]
fn installed_setup_exports_a_span_over_tls() {
    let ca = TestCa::new("init ca");
    let dir = PemDir::new("tracewire-otlp-init");
    let ca_file = dir.write("ca.pem", &ca.cert_pem).display().to_string();
    let rx = Receiver::https(
        vec![],
        server_config(&ca.server(&["localhost"]), None, &[b"http/1.1"]),
    );
    let vars: HashMap<&'static str, String> = HashMap::from([
        ("OTEL_SERVICE_NAME", "ride-api".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("https://localhost:{}", rx.addr.port()),
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20t0k3n".to_owned(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
    ]);
    let guard = tracewire_otlp::setup()
        .env_lookup(move |k| vars.get(k).cloned())
        .service_version(env!("CARGO_PKG_VERSION"))
        .core(|b| b.fmt(false))
        .install()
        .unwrap();
    {
        let _span = tracing::info_span!("GET /rides", otel.kind = "server").entered();
        tracing::info!("handled");
    }
    let seen = [rx.one_request(&guard)];
    assert_eq!(seen[0].headers["authorization"], "Bearer t0k3n");
    let rs = &seen[0].request.resource_spans[0];
    let span = &rs.scope_spans[0].spans[0];
    assert_eq!(span.name, "GET /rides");
    assert_eq!(span.kind, 2);
    assert_eq!(
        common::resource_attributes(&seen[0].request)["service.name"],
        "ride-api"
    );
    assert_eq!(guard.stats().exported, 1);

    // A second installation is an error, not a panic.
    assert!(matches!(
        tracewire_otlp::setup().env_lookup(|_| None).install(),
        Err(InitError::Install(tracewire::InitError::AlreadyInstalled(
            _
        )))
    ));
}

/// `init!()` reads the calling crate's version; it must expand to the same call.
#[test]
fn init_macro_has_the_init_signature() {
    let _: fn() -> Result<Guard, InitError> = || tracewire_otlp::init!();
    let _: fn() -> Result<Guard, InitError> = tracewire_otlp::init;
}
