//! The exporter's own log lines: the first failure of each kind is logged as a warning, later
//! ones only counted ([`OtlpStats`](crate::OtlpStats)), and the first success after failures
//! is logged once, so a dead endpoint costs one line, not one per batch.
//!
//! Exports run on the pipeline's worker thread, which deliberately has no `tracing` subscriber
//! (the HTTP and gRPC machinery must not produce spans that would be exported in turn). The
//! lines therefore go to the subscriber that was the default when the exporter was built, or,
//! if there was none then (the usual order: build the exporter, then install the subscriber),
//! to the global subscriber, reached from a short-lived thread with no scoped default.

use tracing::Dispatch;
use tracing::dispatcher;
use tracing::subscriber::NoSubscriber;

use crate::error::OtlpExportError;

/// The `tracing` target of the exporter's log lines.
pub const TARGET: &str = "tracewire_otlp";

/// One bit per [`OtlpExportError::kind`].
const KINDS: [&str; 9] = [
    "tls",
    "connect",
    "http_status",
    "grpc_status",
    "timeout",
    "rejected",
    "encode",
    "runtime",
    "shutdown",
];

fn bit(err: &OtlpExportError) -> u16 {
    let i = KINDS.iter().position(|k| *k == err.kind()).unwrap_or(0);
    1 << i
}

pub(crate) struct Diagnostics {
    endpoint: String,
    logged: u16,
    failed_batches: u64,
    dispatch: Option<Dispatch>,
}

impl Diagnostics {
    /// Remembers the current default subscriber, if there is a real one.
    pub(crate) fn new(endpoint: String) -> Self {
        let dispatch = dispatcher::get_default(|d| (!d.is::<NoSubscriber>()).then(|| d.clone()));
        Diagnostics {
            endpoint,
            logged: 0,
            failed_batches: 0,
            dispatch,
        }
    }

    /// A batch failed with `err`.
    pub(crate) fn failed(&mut self, err: &OtlpExportError) {
        self.failed_batches = self.failed_batches.saturating_add(1);
        let b = bit(err);
        if self.logged & b != 0 {
            return;
        }
        self.logged |= b;
        let endpoint = self.endpoint.clone();
        let error = err.to_string();
        let kind = err.kind();
        self.emit(move || {
            tracing::warn!(
                target: TARGET,
                endpoint = %endpoint,
                error = %error,
                kind,
                "otlp export failed; further failures of this kind are counted, not logged"
            );
        });
    }

    /// A batch was delivered.
    pub(crate) fn delivered(&mut self) {
        if self.logged == 0 {
            return;
        }
        self.logged = 0;
        let endpoint = self.endpoint.clone();
        let failed_batches = std::mem::take(&mut self.failed_batches);
        self.emit(move || {
            tracing::info!(
                target: TARGET,
                endpoint = %endpoint,
                failed_batches,
                "otlp export delivering again"
            );
        });
    }

    fn emit(&self, log: impl FnOnce() + Send + 'static) {
        match &self.dispatch {
            Some(d) => dispatcher::with_default(d, log),
            None => {
                // A thread without a scoped default sees the global subscriber, if any. If the
                // thread cannot be started the line is lost; the failure is still counted.
                let _ = std::thread::Builder::new()
                    .name("tracewire-otlp-log".into())
                    .spawn(log);
            }
        }
    }

    #[cfg(test)]
    fn with_dispatch(endpoint: &str, d: &Dispatch) -> Self {
        Diagnostics {
            endpoint: endpoint.to_owned(),
            logged: 0,
            failed_batches: 0,
            dispatch: Some(d.clone()),
        }
    }
}

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics")
            .field("logged", &self.logged)
            .field("failed_batches", &self.failed_batches)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;
    use crate::error::TlsError;

    /// A subscriber keeping each event as `LEVEL target: message k=v ...`.
    #[derive(Clone, Default)]
    pub(crate) struct Lines(pub(crate) Arc<Mutex<Vec<String>>>);

    struct Text(String);

    impl Visit for Text {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0.push_str(&format!(" {value:?}"));
            } else {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }

    impl Subscriber for Lines {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let m = event.metadata();
            let mut t = Text(format!("{} {}:", m.level(), m.target()));
            event.record(&mut t);
            self.0.lock().unwrap().push(t.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn each_kind_is_logged_once_until_a_success() {
        let lines = Lines::default();
        let d = Dispatch::new(lines.clone());
        let mut diag = Diagnostics::with_dispatch("https://c:4318/v1/traces", &d);
        let tls = OtlpExportError::Tls(TlsError::UnknownIssuer);
        for _ in 0..5 {
            diag.failed(&tls);
        }
        diag.failed(&OtlpExportError::Timeout);
        diag.failed(&OtlpExportError::Timeout);
        diag.delivered();
        diag.delivered();
        diag.failed(&tls);
        let got = lines.0.lock().unwrap().clone();
        let warn = "WARN tracewire_otlp: otlp export failed; further failures of this kind are counted, not logged endpoint=https://c:4318/v1/traces";
        assert_eq!(
            got,
            vec![
                format!(
                    "{warn} error=tls: server certificate is not signed by a trusted certificate authority kind=tls"
                ),
                format!("{warn} error=export timed out kind=timeout"),
                "INFO tracewire_otlp: otlp export delivering again endpoint=https://c:4318/v1/traces failed_batches=7".to_owned(),
                format!(
                    "{warn} error=tls: server certificate is not signed by a trusted certificate authority kind=tls"
                ),
            ]
        );
    }
}
