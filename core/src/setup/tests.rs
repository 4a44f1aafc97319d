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
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::writer::BoxMakeWriter;

    use super::*;
    use crate::export::InMemoryExporter;

    /// Log output captured in memory.
    #[derive(Clone, Default)]
    pub(super) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub(super) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }

        pub(super) fn writer(&self) -> BoxMakeWriter {
            let me = self.clone();
            BoxMakeWriter::new(move || me.clone())
        }
    }

    /// Runs `f` under the subscriber `install` would install with `vars` as the environment,
    /// and returns the exported spans' names and the log output.
    fn run(vars: &[(&str, &str)], f: impl FnOnce()) -> (Vec<String>, String) {
        let mem = InMemoryExporter::new();
        let logs = Captured::default();
        let (subscriber, guard) = Builder::new()
            .vars(vars)
            .sampler(Sampler::AlwaysOn)
            .exporter(mem.clone())
            .pipeline(PipelineBuilder::default())
            .log_writer(logs.writer())
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
        let logs = Captured::default();
        let (subscriber, _guard) = builder
            .vars(&[])
            .sampler(Sampler::AlwaysOn)
            .no_env_exporter()
            .pipeline(PipelineBuilder::default())
            .log_writer(logs.writer())
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
