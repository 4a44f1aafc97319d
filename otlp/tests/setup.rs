//! `tracewire_otlp::setup()` driven variable by variable through a lookup (no process-wide
//! `set_var`), checked on the resolved [`Config`] and, for what only shows on the wire, on
//! what a receiver gets.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::certs::{PemDir, TestCa, server_config};
use common::{Receiver, spans};
use tracewire::Value;
use tracewire_otlp::{
    Compression, Config, ExporterKind, Guard, InitError, OtlpConfigError, Protocol, setup,
};

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn build(vars: &[(&str, &str)]) -> Result<Guard, InitError> {
    setup()
        .env_lookup(lookup(vars))
        .host_name(Some("box-1".into()))
        .build()
        .map(|(_layer, guard)| guard)
}

fn config(vars: &[(&str, &str)]) -> Config {
    build(vars).unwrap().config().clone()
}

/// The batching settings: queue size, batch size, schedule delay, export timeout.
fn batching(c: &Config) -> (usize, usize, Duration, Duration) {
    (
        c.queue_size,
        c.max_batch,
        c.schedule_delay,
        c.export_timeout,
    )
}

fn attr(c: &Config, key: &str) -> Option<Value> {
    c.resource.get(key).cloned()
}

#[test]
fn defaults() {
    let c = config(&[]);
    assert!(!c.disabled);
    assert_eq!(c.exporters, [ExporterKind::Otlp]);
    let otlp = c.otlp.as_ref().unwrap();
    assert_eq!(otlp.protocol, Protocol::HttpProtobuf);
    assert_eq!(otlp.endpoint, "http://localhost:4318/v1/traces");
    assert!(!otlp.secure);
    assert_eq!(otlp.timeout, Duration::from_secs(10));
    assert_eq!(otlp.compression, Compression::None);
    assert_eq!(
        format!("{:?}", c.sampler),
        format!("{:?}", tracewire::Sampler::default())
    );
    assert_eq!(
        c.propagators.fields(),
        ["traceparent", "tracestate", "baggage"]
    );
    assert_eq!(
        batching(&c),
        (2048, 512, Duration::from_secs(1), Duration::from_secs(30))
    );
    assert!(c.warnings.is_empty());
}

#[test]
fn resource_detection_and_precedence() {
    let c = config(&[]);
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_string_lossy();
    assert_eq!(c.resource.service_name(), format!("unknown_service:{exe}"));
    assert_eq!(attr(&c, "host.name"), Some(Value::from("box-1")));
    assert_eq!(
        attr(&c, "process.pid"),
        Some(Value::from(i64::from(std::process::id())))
    );
    assert_eq!(
        attr(&c, "telemetry.sdk.name"),
        Some(Value::from("tracewire"))
    );
    assert_eq!(
        attr(&c, "telemetry.sdk.language"),
        Some(Value::from("rust"))
    );
    assert!(attr(&c, "telemetry.sdk.version").is_some());
    assert_eq!(attr(&c, "service.version"), None);

    // Code gives defaults for the service, and attributes that win over the environment.
    let with_code = |vars: &[(&str, &str)]| {
        setup()
            .env_lookup(lookup(vars))
            .service_name("from-code")
            .service_version("1.2.3")
            .resource_attribute("team", "code-team")
            .build()
            .unwrap()
            .1
            .config()
            .clone()
    };
    let c = with_code(&[]);
    assert_eq!(c.resource.service_name(), "from-code");
    assert_eq!(attr(&c, "service.version"), Some(Value::from("1.2.3")));
    let c = with_code(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,service.version=9.9.9,team=env-team,region=eu%2Dwest",
    )]);
    assert_eq!(c.resource.service_name(), "from-attrs");
    assert_eq!(attr(&c, "service.version"), Some(Value::from("9.9.9")));
    assert_eq!(attr(&c, "team"), Some(Value::from("code-team")));
    assert_eq!(attr(&c, "region"), Some(Value::from("eu-west")));
    let c = with_code(&[
        ("OTEL_SERVICE_NAME", "from-env"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
    ]);
    assert_eq!(c.resource.service_name(), "from-env");
    assert_eq!(
        build(&[("OTEL_RESOURCE_ATTRIBUTES", "team")]).unwrap_err(),
        InitError::InvalidEnv {
            var: "OTEL_RESOURCE_ATTRIBUTES",
            value: "team".into()
        }
    );
}

#[test]
fn traces_exporter() {
    use ExporterKind::*;
    assert_eq!(
        config(&[("OTEL_TRACES_EXPORTER", "otlp")]).exporters,
        [Otlp]
    );
    let c = config(&[("OTEL_TRACES_EXPORTER", "console, OTLP,console_json")]);
    assert_eq!(c.exporters, [Console, Otlp, ConsoleJson]);
    assert!(c.otlp.is_some());
    let c = config(&[("OTEL_TRACES_EXPORTER", "console")]);
    assert_eq!(
        (c.exporters.as_slice(), c.otlp),
        ([Console].as_slice(), None)
    );
    let c = config(&[("OTEL_TRACES_EXPORTER", "none")]);
    assert_eq!((c.exporters.len(), c.otlp), (0, None));
    assert_eq!(
        build(&[("OTEL_TRACES_EXPORTER", "otlp,zipkin")]).unwrap_err(),
        InitError::UnknownExporter("zipkin".into())
    );
    assert_eq!(
        build(&[("OTEL_TRACES_EXPORTER", "none,console")])
            .unwrap_err()
            .to_string(),
        "invalid value \"none,console\" for OTEL_TRACES_EXPORTER"
    );
    // With no OTLP exporter, broken OTLP settings do not matter.
    config(&[
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
    ]);
}

#[test]
fn sdk_disabled() {
    let c = config(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_TRACES_SAMPLER", "always_on"),
    ]);
    assert!(c.disabled);
    assert_eq!((c.exporters.len(), c.otlp), (0, None));
    // Nothing new is sampled; an inbound sampled flag is honoured, and propagation is as set.
    assert_eq!(
        format!("{:?}", c.sampler),
        format!(
            "{:?}",
            tracewire::Sampler::parent_based(tracewire::Sampler::AlwaysOff)
        )
    );
    assert_eq!(c.propagators.fields(), ["b3"]);
    let c = config(&[("OTEL_SDK_DISABLED", "false")]);
    assert!(!c.disabled && c.warnings.is_empty());
    let c = config(&[("OTEL_SDK_DISABLED", "1")]);
    assert!(!c.disabled);
    assert_eq!(
        c.warnings,
        ["OTEL_SDK_DISABLED=\"1\" is not \"true\" or \"false\"; using false"]
    );
}

#[test]
fn sampler_and_propagators() {
    let c = config(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ]);
    assert_eq!(
        format!("{:?}", c.sampler),
        format!(
            "{:?}",
            tracewire::Sampler::parent_based(tracewire::Sampler::ratio(0.25))
        )
    );
    // The argument is used only with a sampler named.
    assert_eq!(
        format!(
            "{:?}",
            config(&[("OTEL_TRACES_SAMPLER_ARG", "0.1")]).sampler
        ),
        format!("{:?}", tracewire::Sampler::default())
    );
    assert!(matches!(
        build(&[("OTEL_TRACES_SAMPLER", "sometimes")]),
        Err(InitError::Config(tracewire::ConfigError::UnknownSampler(_)))
    ));
    assert!(matches!(
        build(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2")
        ]),
        Err(InitError::Config(
            tracewire::ConfigError::InvalidSamplerArg { .. }
        ))
    ));
    let c = config(&[("OTEL_PROPAGATORS", "tracecontext,b3multi,tracecontext")]);
    assert_eq!(
        c.propagators.fields(),
        [
            "traceparent",
            "tracestate",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-parentspanid",
            "x-b3-sampled",
            "x-b3-flags"
        ]
    );
    assert_eq!(
        config(&[("OTEL_PROPAGATORS", "none")])
            .propagators
            .fields()
            .len(),
        0
    );
    assert!(matches!(
        build(&[("OTEL_PROPAGATORS", "xray")]),
        Err(InitError::Config(
            tracewire::ConfigError::UnknownPropagator(_)
        ))
    ));
}

#[test]
fn batch_span_processor() {
    let c = config(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "4000"),
    ]);
    // The batch is at most the queue.
    assert_eq!(
        batching(&c),
        (100, 100, Duration::from_millis(250), Duration::from_secs(4))
    );
    // Huge values saturate; a zero export timeout means no limit.
    let c = config(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "99999999999999999999999"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4294967296"),
        ("OTEL_BSP_SCHEDULE_DELAY", "18446744073709551615"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
    ]);
    let (max_queue, max_time) = (tracewire_otlp::MAX_QUEUE_SIZE, tracewire_otlp::MAX_TIMEOUT);
    assert_eq!(batching(&c), (max_queue, max_queue, max_time, max_time));
    for (var, value) in [
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-1"),
        ("OTEL_BSP_SCHEDULE_DELAY", "1s"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "soon"),
    ] {
        assert_eq!(
            build(&[(var, value)]).unwrap_err(),
            InitError::InvalidEnv {
                var,
                value: value.into()
            },
            "{var}"
        );
    }
}

#[test]
fn otlp_exporter_variables() {
    let c = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ]);
    let otlp = c.otlp.unwrap();
    assert_eq!(
        (
            otlp.protocol,
            otlp.endpoint.as_str(),
            otlp.timeout,
            otlp.compression
        ),
        (
            Protocol::Grpc,
            "http://collector:4317/",
            Duration::from_millis(2500),
            Compression::Gzip
        )
    );
    let otlp = config(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://traces.example/custom",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
    ])
    .otlp
    .unwrap();
    assert_eq!(
        (otlp.protocol, otlp.endpoint.as_str(), otlp.secure),
        (Protocol::HttpJson, "https://traces.example/custom", true)
    );
    // gRPC without a scheme: TLS unless OTEL_EXPORTER_OTLP_INSECURE=true.
    let grpc = |insecure: &str| {
        config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_INSECURE", insecure),
        ])
        .otlp
        .unwrap()
    };
    assert_eq!(grpc("false").endpoint, "https://collector:4317/");
    assert_eq!(grpc("true").endpoint, "http://collector:4317/");
    assert_eq!(
        build(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "br")]).unwrap_err(),
        InitError::Exporter(OtlpConfigError::InvalidEnv {
            var: "OTEL_EXPORTER_OTLP_COMPRESSION",
            value: "br".into()
        })
    );
    assert_eq!(
        build(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/otel/client.key"),
        ])
        .unwrap_err(),
        InitError::Exporter(OtlpConfigError::IncompleteClientIdentity {
            missing: "client certificate"
        })
    );
    // OTEL_BSP_EXPORT_TIMEOUT is the OTLP exporter's time budget per batch.
    let e = setup()
        .env_lookup(lookup(&[("OTEL_BSP_EXPORT_TIMEOUT", "1234")]))
        .build()
        .unwrap()
        .1;
    assert_eq!(e.config().export_timeout, Duration::from_millis(1234));
}

/// Everything that only shows on the wire: TLS with a CA, client certificate and key from the
/// environment, the API-key header, gzip, the resource, and the code's exporter adjustments
/// under the environment's.
#[test]
fn env_only_export_over_mtls_with_an_api_key() {
    let ca = TestCa::new("setup ca");
    let dir = PemDir::new("tracewire-otlp-setup");
    let ca_file = dir.write("ca.pem", &ca.cert_pem);
    let client = ca.client("checkout");
    let cert_file = dir.write("client.pem", &client.cert_pem);
    let key_file = dir.write("client.key", &client.key_pem);
    let rx = Receiver::https(
        vec![],
        server_config(&ca.server(&["localhost"]), Some(&ca), &[b"http/1.1"]),
    );
    let endpoint = format!("https://localhost:{}", rx.addr.port());
    let (ca_file, cert_file, key_file) = (
        ca_file.display().to_string(),
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let vars = [
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=prod",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=k3y"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.as_str()),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert_file.as_str()),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key_file.as_str()),
    ];
    let (_layer, guard) = setup()
        .env_lookup(lookup(&vars))
        .service_version("4.5.6")
        .host_name(Some("box-1".into()))
        // Code sets a header and an endpoint; the environment's endpoint wins.
        .otlp(|b| {
            b.header("x-team", "pay")
                .endpoint("http://nowhere:1/v1/traces")
        })
        .build()
        .unwrap();
    assert!(guard.config().otlp.as_ref().unwrap().secure);
    for span in spans(3) {
        guard.pipeline().submit(span);
    }
    let seen = [rx.one_request(&guard)];
    let req = &seen[0];
    assert_eq!(req.path, "/v1/traces");
    assert_eq!(req.headers["x-api-key"], "k3y");
    assert_eq!(req.headers["content-encoding"], "gzip");
    assert!(
        req.headers.get("x-team").is_none(),
        "the environment's headers replace the code's"
    );
    let rs = &req.request.resource_spans[0];
    let resource = common::resource_attributes(&req.request);
    assert_eq!(resource["service.name"], "checkout");
    assert_eq!(resource["service.version"], "4.5.6");
    assert_eq!(resource["deployment.environment.name"], "prod");
    assert_eq!(resource["host.name"], "box-1");
    assert_eq!(resource["process.pid"], std::process::id().to_string());
    assert_eq!(resource["telemetry.sdk.name"], "tracewire");
    assert_eq!(resource["telemetry.sdk.language"], "rust");
    assert_eq!(rs.scope_spans[0].spans.len(), 3);
    let p = guard.stats();
    assert_eq!((p.exported, p.failed), (3, 0));
}
