use super::*;
use crate::sampling::SamplingConfig;

/// The example from the module docs, in full.
const EXAMPLE: &str = r#"
seed = 42

[buffer]
max_bytes = "64MiB"
window = "10m"

[completion]
idle_gap = "1500ms"
max_wait = "1m"
max_spans_per_trace = 20000

[decision_cache]
ttl = "15m"
max_traces = 100000

[policies]
errors = true
force_attribute = "debug.keep"

[policies.latency]
threshold = "750ms"
quantile = 0.995
window = "10m"
min_samples = 50

[policies.dynamic]
target_per_sec = 25.0
key = ["service", "operation"]
adjust_every = "30s"

[policies.probabilistic]
rate = 0.01

[limit]
max_traces_per_sec = 200.0

[forward]
endpoint = "http://tempo:4318/v1/traces"
protocol = "http/protobuf"
compression = "gzip"
timeout = "5s"
headers = { "x-scope-orgid" = "team-a" }
max_buffer_bytes = "32MiB"
retry_initial = "500ms"
retry_max = "20s"
"#;

#[test]
fn full_file_is_read() {
    let c = SamplingConfig::from_toml(EXAMPLE).unwrap();
    assert_eq!(c.seed, Some(42));
    assert_eq!(c.buffer_max_bytes, 64 << 20);
    assert_eq!(c.buffer_window, Duration::from_secs(600));
    assert_eq!(c.idle_gap, Duration::from_millis(1500));
    assert_eq!(c.max_wait, Duration::from_secs(60));
    assert_eq!(c.max_spans_per_trace, 20_000);
    assert_eq!(c.decision_ttl, Duration::from_secs(900));
    assert_eq!(c.decision_cache_traces, 100_000);
    assert!(c.keep_errors);
    assert_eq!(c.force_attribute.as_deref(), Some("debug.keep"));
    assert_eq!(c.latency_threshold, Some(Duration::from_millis(750)));
    let a = c.adaptive.as_ref().unwrap();
    assert_eq!(
        (a.quantile, a.window, a.min_samples),
        (0.995, Duration::from_secs(600), 50)
    );
    let d = c.dynamic.as_ref().unwrap();
    assert_eq!(d.target_per_sec, 25.0);
    assert_eq!(d.key, [KeyPart::Service, KeyPart::Operation]);
    assert_eq!(d.adjust_every, Duration::from_secs(30));
    assert_eq!(c.probabilistic, 0.01);
    assert_eq!(c.limit_per_sec, Some(200.0));
    let f = c.forward.as_ref().unwrap();
    assert_eq!(f.endpoint(), "http://tempo:4318/v1/traces");
    assert_eq!(f.get_max_buffer_bytes(), 32 << 20);
    assert!(f.build_exporter().is_ok());
}

#[test]
fn empty_file_is_the_default_and_policies_switch_off() {
    assert_eq!(
        SamplingConfig::from_toml("").unwrap(),
        SamplingConfig::default()
    );
    let c = SamplingConfig::from_toml(
        "[policies]\nerrors = false\n[policies.latency]\nadaptive = false\n\
             [policies.dynamic]\nenabled = false\n",
    )
    .unwrap();
    assert!(!c.keep_errors && c.adaptive.is_none() && c.dynamic.is_none());
}

#[test]
fn mistakes_are_reported_with_their_place() {
    let e = SamplingConfig::from_toml("[buffer]\nmax_byte = 1\n").unwrap_err();
    assert!(
        matches!(&e, SamplingConfigError::Toml(m) if m.contains("max_byte")),
        "{e}"
    );
    let e = SamplingConfig::from_toml("[completion]\nidle_gap = \"2\"\n").unwrap_err();
    assert!(e.to_string().contains("needs a unit"), "{e}");
    let e = SamplingConfig::from_toml("[buffer]\nmax_bytes = \"lots\"\n").unwrap_err();
    assert!(e.to_string().contains("`lots` is not a size"), "{e}");
    let e = SamplingConfig::from_toml("[policies.dynamic]\nkey = [\"colour\"]\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "policies.dynamic.key has unknown part `colour` (use service, operation, status)"
    );
    let e = SamplingConfig::from_toml("[forward]\nprotocol = \"grpc\"\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "forward.endpoint is required in a [forward] section"
    );
    let e =
        SamplingConfig::from_toml("[forward]\nendpoint = \"http://x:1\"\nprotocol = \"smoke\"\n")
            .unwrap_err();
    assert!(e.to_string().contains("`smoke` is not grpc"), "{e}");
    let e = SamplingConfig::from_toml(
        "[forward]\nendpoint = \"https://x:4318/v1/traces\"\nclient_cert = \"c.pem\"\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "forward.client_cert and forward.client_key go together"
    );
    let e = SamplingConfig::from_toml(
        "[forward]\nendpoint = \"https://x:4318/v1/traces\"\nca_file = \"/nonexistent/ca.pem\"\n",
    )
    .unwrap_err();
    assert!(
        matches!(&e, SamplingConfigError::Invalid { field: "forward", reason } if reason.contains("/nonexistent/ca.pem")),
        "{e}"
    );
    let e = SamplingConfig::from_file("/nonexistent/sampling.toml").unwrap_err();
    assert!(
        matches!(&e, SamplingConfigError::Io { path, .. } if path == "/nonexistent/sampling.toml")
    );
}

#[test]
fn single_settings_parse_like_the_file() {
    let c = SamplingConfig::builder()
        .set("buffer.max_bytes", "8MiB")
        .unwrap()
        .set("completion.idle_gap", "250ms")
        .unwrap()
        .set("policies.probabilistic.rate", "0.5")
        .unwrap()
        .set("policies.errors", "false")
        .unwrap()
        .set("forward.endpoint", "http://a:4317")
        .unwrap()
        .set("forward.protocol", "grpc")
        .unwrap()
        .set("forward.endpoint", "http://b:4317")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(c.buffer_max_bytes, 8 << 20);
    assert_eq!(c.idle_gap, Duration::from_millis(250));
    assert_eq!(c.probabilistic, 0.5);
    assert!(!c.keep_errors);
    let f = c.forward.unwrap();
    assert_eq!(f.endpoint(), "http://b:4317");
    assert_eq!(
        f.build_exporter().unwrap().protocol(),
        tracewire_otlp::Protocol::Grpc
    );
    let err = |k: &str, v: &str| {
        SamplingConfig::builder()
            .set(k, v)
            .map(drop)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("buffer.colour", "red"),
        "setting `buffer.colour` is not a setting that can be given alone"
    );
    assert_eq!(
        err("completion.idle_gap", "2"),
        "completion.idle_gap is invalid: duration `2` needs a unit (ns, us, ms, s, m or h)"
    );
    assert_eq!(
        err("policies.probabilistic.rate", "half"),
        "policies.probabilistic.rate must be a number, got `half`"
    );
    assert_eq!(
        err("forward.protocol", "grpc"),
        "forward.protocol needs forward.endpoint first"
    );
}

#[test]
fn sizes() {
    assert_eq!(parse_size("256MiB"), Some(256 << 20));
    assert_eq!(parse_size("1GB"), Some(1_000_000_000));
    assert_eq!(parse_size("4096"), Some(4096));
    assert_eq!(parse_size("12B"), Some(12));
    assert_eq!(parse_size("99999999999999GiB"), None);
    assert_eq!(parse_size("MiB"), None);
}
