//! Interoperability with an independent implementation: the OpenTelemetry Python SDK exports
//! over OTLP/HTTP (protobuf) to the collector, and the spans are checked through the API.
//!
//! The test creates a virtual environment under `target/otel-python-venv` (kept between runs)
//! and installs `opentelemetry-sdk` and `opentelemetry-exporter-otlp-proto-http` from PyPI. It
//! needs `python3` with its `venv` module and network access to PyPI, so it is `#[ignore]`d: a
//! plain `cargo test` reports it as ignored rather than passing it without Python. `.ci/run`
//! runs it with `--ignored` (locally: `cargo test -p tracewire-collector --test python_interop
//! -- --ignored`); once asked to run, a missing tool fails it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::json;

const SCRIPT: &str = r#"
import sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "py-checkout"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1])))
tracer = provider.get_tracer("interop.test", "1.2.3")
with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as parent:
    parent.set_attribute("http.request.method", "POST")
    parent.set_attribute("http.response.status_code", 200)
    with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as child:
        child.set_attribute("payment.amount", 12.5)
        child.set_attribute("payment.retry", True)
        child.set_status(Status(StatusCode.ERROR, "declined"))
        child.add_event("attempt", {"n": 1})
    ctx = parent.get_span_context()
    print("%032x %016x %016x" % (ctx.trace_id, ctx.span_id, child.get_span_context().span_id))
provider.shutdown()
"#;

fn missing(what: &str) -> ! {
    let ci = std::env::var("TRACEWIRE_CI").is_ok_and(|v| v == "1");
    panic!(
        "python_interop cannot run (TRACEWIRE_CI={}): {what}",
        if ci { "1" } else { "unset" }
    )
}

/// The venv's Python, with the OpenTelemetry SDK installed. Fails the test (it only runs when
/// asked to) with what is missing.
fn venv_python(root: &Path) -> PathBuf {
    let venv = root.join("target/otel-python-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if ready.exists() && python.exists() {
        return python;
    }
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(Command::new("python3").arg("--version")) {
        missing("python3 is not installed");
    }
    if !python.exists() && !ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        missing("`python3 -m venv` failed (Debian: install python3-venv)");
    }
    if !ok(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
    ])) {
        missing("pip could not install the OpenTelemetry SDK from PyPI");
    }
    std::fs::write(&ready, b"").expect("mark the venv ready");
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 and PyPI; runs in .ci/run (TRACEWIRE_CI=1) or with --ignored"]
async fn python_sdk_exports_over_otlp_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = tokio::task::spawn_blocking(move || venv_python(&root))
        .await
        .unwrap();
    let h = start().await;
    let endpoint = format!("http://{}/v1/traces", h.otlp_http_addr().unwrap());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(endpoint)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = stdout.split_whitespace().collect();
    let (trace_id, parent_id, child_id) = (ids[0], ids[1], ids[2]);
    h.flush().await;

    let api = h.api_addr().unwrap();
    let (_, services) = get_json(api, "/api/services").await;
    assert_eq!(services, json!({"data": ["py-checkout"]}));
    let (_, found) = get_json(api, "/api/traces?service=py-checkout&error=true").await;
    assert_eq!(found["data"][0]["traceId"], trace_id);
    assert_eq!(found["data"][0]["spanCount"], 2);
    let (status, body) = get_json(api, &format!("/api/traces/{trace_id}")).await;
    assert_eq!(status, 200);
    let t = &body["data"];
    assert_eq!(t["rootSpanId"], parent_id);
    assert_eq!(t["orphanCount"], 0);
    let (parent, child) = (&t["spans"][0], &t["spans"][1]);
    assert_eq!(parent["spanId"], parent_id);
    assert_eq!(parent["name"], "POST /checkout");
    assert_eq!(parent["kind"], "server");
    assert_eq!(parent["parentSpanId"], json!(null));
    assert_eq!(
        parent["attributes"],
        json!({"http.request.method": "POST", "http.response.status_code": 200})
    );
    assert_eq!(parent["resource"]["service.name"], "py-checkout");
    assert_eq!(parent["resource"]["telemetry.sdk.language"], "python");
    assert_eq!(
        parent["scope"],
        json!({"name": "interop.test", "version": "1.2.3"})
    );
    assert_eq!(child["spanId"], child_id);
    assert_eq!(child["parentSpanId"], parent_id);
    assert_eq!(child["name"], "charge card");
    assert_eq!(child["kind"], "client");
    assert_eq!(child["depth"], 1);
    assert_eq!(
        child["attributes"],
        json!({"payment.amount": 12.5, "payment.retry": true})
    );
    assert_eq!(
        child["status"],
        json!({"code": "error", "message": "declined"})
    );
    assert_eq!(child["events"][0]["name"], "attempt");
    assert_eq!(child["events"][0]["attributes"], json!({"n": 1}));
    assert_eq!(parent["children"], json!([child_id]));
    h.shutdown().await;
}
