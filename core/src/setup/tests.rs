//! Tests of the setup: errors, limits and timeouts.

use super::*;
use crate::export::{PipelineBuilder, PipelineError};
use crate::layer::LayerBuilder;
use crate::limits::SpanLimits;
use crate::sampler::Sampler;

#[test]
fn a_pipeline_that_cannot_start_fails_the_setup() {
    let err = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default().unspawnable())
        .build()
        .unwrap_err();
    assert!(
        matches!(err, InitError::Pipeline(PipelineError::Spawn(_))),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn limits_reach_the_layer_under_the_layer_builders_own() {
    let limits = SpanLimits {
        attribute_count: 3,
        link_count: 4,
        ..SpanLimits::default()
    };
    let (layer, _guard) = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default())
        .limits(limits)
        .layer(LayerBuilder::default().max_links(1))
        .build()
        .unwrap();
    let debug = format!("{layer:?}");
    assert!(debug.contains("attribute_count: 3"), "{debug}");
    assert!(debug.contains("link_count: 1"), "{debug}");
}

#[test]
fn a_huge_shutdown_timeout_is_waited_out_not_a_panic() {
    let (_layer, guard) = Builder::new()
        .no_env_exporter()
        .sampler(Sampler::AlwaysOn)
        .pipeline(PipelineBuilder::default())
        .shutdown_timeout(Duration::MAX)
        .build()
        .unwrap();
    guard.flush(Duration::MAX).unwrap();
    drop(guard);
}

// --- logs and spans are filtered separately ---------------------------------------------------

#[cfg(feature = "fmt")]
mod filters {
    use std::time::Duration;

    use super::*;
    use crate::export::InMemoryExporter;
    use crate::testing::LogCapture;

    /// Runs `f` under the subscriber `install` would install with `vars` as the environment,
    /// and returns the exported spans' names and the log output.
    fn run(vars: &[(&str, &str)], f: impl FnOnce()) -> (Vec<String>, String) {
        let mem = InMemoryExporter::new();
        let logs = LogCapture::new();
        let (subscriber, guard) = Builder::new()
            .vars(vars)
            .sampler(Sampler::AlwaysOn)
            .exporter(mem.clone())
            .pipeline(PipelineBuilder::default())
            .log_writer(logs.clone())
            .subscriber()
            .unwrap();
        tracing::subscriber::with_default(subscriber, f);
        guard.flush(Duration::from_secs(5)).unwrap();
        let names = mem.spans().iter().map(|s| s.name.to_string()).collect();
        (names, logs.text())
    }

    #[test]
    fn rust_log_warn_still_exports_info_spans() {
        let mut trace_id = None;
        let (spans, logs) = run(&[("RUST_LOG", "warn")], || {
            let span = tracing::info_span!("GET /rides");
            let _e = span.enter();
            trace_id = crate::SpanExt::span_context(&span).map(|c| c.trace_id());
            tracing::info!("not printed");
            tracing::warn!("printed");
        });
        assert_eq!(spans, ["GET /rides"]);
        assert!(!logs.contains("not printed"), "{logs}");
        let line = logs.lines().find(|l| l.contains("printed")).expect(&logs);
        assert!(
            line.contains(&format!("trace_id={}", trace_id.unwrap())),
            "{line}"
        );
        assert_eq!(logs.lines().count(), 1, "{logs}");
    }

    #[test]
    fn span_filter_switches_a_target_off_while_its_logs_print() {
        let (spans, logs) = run(&[("TRACEWIRE_SPANS", "info,noisy=off")], || {
            tracing::info_span!(target: "noisy", "chatty").in_scope(|| {
                tracing::info!(target: "noisy", "noisy log line");
            });
            tracing::info_span!(target: "app", "kept").in_scope(|| {});
        });
        assert_eq!(spans, ["kept"]);
        let line = logs
            .lines()
            .find(|l| l.contains("noisy log line"))
            .expect(&logs);
        assert!(!line.contains("trace_id="), "{line}");
    }

    #[test]
    fn default_span_filter_takes_info_spans_and_every_plugin_span() {
        let (spans, logs) = run(&[], || {
            tracing::debug_span!(target: "app", "debug span").in_scope(|| {});
            tracing::info_span!(target: "app", "info span").in_scope(|| {});
            tracing::debug_span!(target: "tracewire_tower::server", "plugin debug span")
                .in_scope(|| {});
            tracing::debug!("debug log line");
        });
        assert_eq!(spans, ["info span", "plugin debug span"]);
        assert!(!logs.contains("debug log line"), "{logs}");
    }

    #[test]
    fn bad_filters_are_config_errors() {
        for (var, value) in [("TRACEWIRE_SPANS", "info,[bad"), ("RUST_LOG", "info,[bad")] {
            let err = Builder::new()
                .vars(&[(var, value)])
                .no_env_exporter()
                .sampler(Sampler::AlwaysOn)
                .subscriber()
                .map(|_| ())
                .unwrap_err();
            assert_eq!(
                err,
                InitError::Config(ConfigError::InvalidEnv {
                    var,
                    value: value.to_owned()
                })
            );
        }
    }

    fn capture(builder: Builder, f: impl FnOnce()) -> String {
        let logs = LogCapture::new();
        let (subscriber, _guard) = builder
            .vars(&[])
            .sampler(Sampler::AlwaysOn)
            .no_env_exporter()
            .pipeline(PipelineBuilder::default())
            .log_writer(logs.clone())
            .subscriber()
            .unwrap();
        tracing::subscriber::with_default(subscriber, f);
        logs.text()
    }

    fn request() -> (crate::TraceId, crate::SpanId) {
        let span = tracing::info_span!("GET /rides", http.request.method = "GET");
        let _e = span.enter();
        tracing::info!(fare = 12, "quoted");
        let cx = crate::SpanExt::span_context(&span).unwrap();
        (cx.trace_id(), cx.span_id())
    }

    #[test]
    fn text_lines_to_a_custom_writer_have_exact_fields_and_no_colours() {
        let mut ids = None;
        let logs = capture(Builder::new(), || {
            ids = Some(request());
            tracing::warn!("outside");
        });
        let (trace_id, span_id) = ids.unwrap();
        assert!(!logs.contains('\x1b'), "{logs:?}");
        let lines: Vec<&str> = logs.lines().collect();
        assert_eq!(lines.len(), 2, "{logs}");
        // Everything after the timestamp.
        let rest = |line: &str| line.split_once(' ').unwrap().1.trim_start().to_owned();
        assert_eq!(
            rest(lines[0]),
            format!(
                "INFO GET /rides{{http.request.method=\"GET\"}}: tracewire::setup::tests::filters: \
                 quoted fare=12 trace_id={trace_id} span_id={span_id}"
            )
        );
        assert_eq!(
            rest(lines[1]),
            "WARN tracewire::setup::tests::filters: outside"
        );
    }

    #[test]
    fn colours_only_when_asked_for_a_custom_writer() {
        let logs = capture(Builder::new().log_ansi(true), || tracing::info!("hi"));
        assert!(logs.contains("\x1b["), "{logs:?}");
    }

    #[test]
    fn json_lines_carry_the_ids_as_members() {
        let mut ids = None;
        let logs = capture(
            Builder::new().log_format(crate::fmt::LogFormat::Json),
            || {
                ids = Some(request());
                tracing::warn!(reason = "none", "outside");
            },
        );
        let (trace_id, span_id) = ids.unwrap();
        assert!(!logs.contains('\x1b'), "{logs:?}");
        let lines: Vec<serde_json::Value> = logs
            .lines()
            .map(|l| serde_json::from_str(l).expect(l))
            .collect();
        assert_eq!(lines.len(), 2, "{logs}");
        let mut first = lines[0].clone();
        assert!(first["timestamp"].is_string());
        first.as_object_mut().unwrap().remove("timestamp");
        assert_eq!(
            first,
            serde_json::json!({
                "level": "INFO",
                "message": "quoted",
                "fare": 12,
                "target": "tracewire::setup::tests::filters",
                "span": {"http.request.method": "GET", "name": "GET /rides"},
                "spans": [{"http.request.method": "GET", "name": "GET /rides"}],
                "trace_id": trace_id.to_string(),
                "span_id": span_id.to_string(),
            })
        );
        let mut second = lines[1].clone();
        second.as_object_mut().unwrap().remove("timestamp");
        assert_eq!(
            second,
            serde_json::json!({
                "level": "WARN",
                "message": "outside",
                "reason": "none",
                "target": "tracewire::setup::tests::filters",
            })
        );
    }
}

#[test]
fn otel_traces_exporter_otlp_names_the_call_to_use_instead() {
    for value in ["otlp", "console, otlp", "OTLP"] {
        let err = Builder::new()
            .vars(&[("OTEL_TRACES_EXPORTER", value)])
            .sampler(Sampler::AlwaysOn)
            .build()
            .map(|_| ())
            .unwrap_err();
        let exporter = value.rsplit(',').next().unwrap().trim();
        assert_eq!(
            err,
            InitError::Config(ConfigError::ExporterInOtherCrate {
                exporter: exporter.to_owned(),
                call: "tracewire_otlp::init()",
            })
        );
        assert_eq!(
            err.to_string(),
            format!(
                "invalid tracing configuration: OTEL_TRACES_EXPORTER names \"{exporter}\", which \
                 tracewire::init() cannot set up: call tracewire_otlp::init() instead"
            )
        );
    }
    let err = Builder::new()
        .vars(&[("OTEL_TRACES_EXPORTER", "zipkin")])
        .build()
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(
        err,
        InitError::Config(ConfigError::InvalidEnv {
            var: "OTEL_TRACES_EXPORTER",
            ..
        })
    ));
}

#[test]
fn otel_traces_exporter_lists_build_every_exporter() {
    let (layer, guard) = Builder::new()
        .vars(&[("OTEL_TRACES_EXPORTER", "console,console_json")])
        .sampler(Sampler::AlwaysOn)
        .build()
        .unwrap();
    assert!(guard.no_exporter.is_none());
    drop((layer, guard));
    let (_, guard) = Builder::new()
        .vars(&[("OTEL_TRACES_EXPORTER", "console,none")])
        .build()
        .unwrap();
    assert_eq!(guard.no_exporter, Some(NoExporter::Off));
    let (_, guard) = Builder::new().vars(&[]).build().unwrap();
    assert_eq!(guard.no_exporter, Some(NoExporter::NotConfigured));
}

#[cfg(feature = "fmt")]
#[test]
fn colours_follow_the_terminal_and_no_color() {
    use super::logs::use_ansi;
    assert!(use_ansi(None, true, None));
    assert!(use_ansi(None, true, Some("")));
    assert!(!use_ansi(None, true, Some("1")));
    assert!(!use_ansi(None, false, None));
    assert!(use_ansi(Some(true), false, Some("1")));
    assert!(!use_ansi(Some(false), true, None));
}

#[cfg(feature = "fmt")]
mod no_exporter {
    use std::time::Duration;

    use super::*;
    use crate::SpanExt;
    use crate::testing::LogCapture;

    fn run(vars: &[(&str, &str)]) -> (crate::export::PipelineStats, String) {
        let logs = LogCapture::new();
        let (subscriber, guard) = Builder::new()
            .vars(vars)
            .sampler(Sampler::AlwaysOn)
            .pipeline(PipelineBuilder::default())
            .log_writer(logs.clone())
            .subscriber()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            guard.announce();
            let span = tracing::info_span!("request", k = "v");
            // Ids and the sampled flag still propagate; nothing is recorded.
            assert!(span.span_context().unwrap().is_sampled());
            assert!(!span.is_sampled());
            assert!(!span.set_attribute("late", 1i64));
            span.in_scope(|| tracing::info!("inside"));
        });
        guard.flush(Duration::from_secs(5)).unwrap();
        (guard.stats(), logs.text())
    }

    #[test]
    fn spans_are_counted_as_discarded_and_start_up_says_why() {
        let (stats, logs) = run(&[]);
        assert_eq!(
            (stats.queued, stats.exported, stats.discarded),
            (0, 0, 1),
            "{stats:?}"
        );
        let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
        assert_eq!(warnings.len(), 1, "{logs}");
        assert!(
            warnings[0].ends_with(
                "tracewire: no span exporter is configured: spans get ids and propagate, but \
                 are neither recorded nor exported (counted in Guard::stats().discarded); set \
                 OTEL_TRACES_EXPORTER=console to print them, or export over OTLP with \
                 tracewire_otlp::init()"
            ),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn export_switched_off_is_said_once_at_info() {
        let (stats, logs) = run(&[("OTEL_TRACES_EXPORTER", "none")]);
        assert_eq!((stats.exported, stats.discarded), (0, 1));
        assert!(!logs.contains("WARN"), "{logs}");
        let notices: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("span export is off"))
            .collect();
        assert_eq!(notices.len(), 1, "{logs}");
        assert!(notices[0].contains(" INFO "), "{}", notices[0]);
    }
}
