//! A test recorder: a scoped `tracing` dispatcher with the tracewire layer whose finished spans
//! are kept in memory the moment they close, plus assertions on the trace tree.
//!
//! There is no global state: each [`Recorder`] is its own subscriber, installed only for the
//! scope you choose ([`Recorder::in_scope`], [`Recorder::set_default`], or
//! [`Recorder::dispatch`] with `tracing::instrument::WithSubscriber`), so tests run in parallel.
//! For async tests, use a current-thread runtime with [`Recorder::set_default`], or attach the
//! dispatcher to each spawned future.
//!
//! ```
//! use tracewire::SpanKind;
//! use tracewire::testing::Recorder;
//!
//! let recorder = Recorder::new();
//! recorder.in_scope(|| {
//!     let _server = tracing::info_span!("GET /rides", otel.kind = "server").entered();
//!     let _db = tracing::info_span!("query", db.system.name = "postgresql").entered();
//! });
//! let server = recorder.span("GET /rides");
//! server.assert_kind(SpanKind::Server).assert_root();
//! recorder
//!     .span("query")
//!     .assert_child_of(&server)
//!     .assert_attr("db.system.name", "postgresql");
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::Dispatch;
use tracing::dispatcher::DefaultGuard;
use tracing_subscriber::layer::SubscriberExt;

use crate::export::SpanSink;
use crate::layer::{LayerBuilder, TracewireLayer};
use crate::span::{SpanData, SpanKind, Status};
use crate::value::Value;
use crate::{SpanId, TraceId};

#[derive(Default)]
struct Sink(Mutex<Vec<SpanData>>);

impl SpanSink for Arc<Sink> {
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(span);
    }
}

/// Records every sampled span in memory as it closes.
#[derive(Clone)]
pub struct Recorder {
    sink: Arc<Sink>,
    dispatch: Dispatch,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("spans", &self.sink.0.lock().map(|s| s.len()).unwrap_or(0))
            .finish()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder with the default layer settings (parent-based, always-on sampling).
    pub fn new() -> Self {
        Recorder::with_layer(TracewireLayer::builder())
    }

    /// A recorder with a configured layer (sampler, caps, baggage attributes).
    pub fn with_layer(builder: LayerBuilder) -> Self {
        Recorder::with_layer_and(builder, Dispatch::new)
    }

    /// A recorder whose subscriber is built by `f` from the registry + tracewire layer, e.g.
    /// to add a filter: `Recorder::with_layer_and(builder, |s| Dispatch::new(s.with(filter)))`.
    pub fn with_layer_and(
        builder: LayerBuilder,
        f: impl FnOnce(
            tracing_subscriber::layer::Layered<TracewireLayer, tracing_subscriber::Registry>,
        ) -> Dispatch,
    ) -> Self {
        let sink = Arc::new(Sink::default());
        let layer = builder.build(sink.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        Recorder {
            sink,
            dispatch: f(subscriber),
        }
    }

    /// The dispatcher, for `tracing::dispatcher::with_default` or `.with_subscriber(..)`.
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// Runs `f` with this recorder as the thread's subscriber.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Makes this recorder the thread's subscriber until the guard drops.
    #[must_use = "the recorder is the default only while the guard lives"]
    pub fn set_default(&self) -> DefaultGuard {
        tracing::dispatcher::set_default(&self.dispatch)
    }

    /// Every recorded span, in the order they closed.
    pub fn spans(&self) -> Vec<SpanData> {
        self.sink
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets every recorded span.
    pub fn clear(&self) {
        self.sink
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The one recorded span named `name`. Panics (with the names recorded) if there is not
    /// exactly one.
    #[track_caller]
    pub fn span(&self, name: &str) -> SpanAssert {
        let spans = self.spans();
        let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
        match found[..] {
            [one] => SpanAssert(one.clone()),
            _ => panic!(
                "expected exactly one span named {name:?}, found {}; recorded: {:?}",
                found.len(),
                spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>()
            ),
        }
    }

    /// Every recorded span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<SpanAssert> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .map(SpanAssert)
            .collect()
    }

    /// The recorded spans as an indented tree (`name [kind]`), roots in start order — handy for
    /// asserting a whole structure at once.
    pub fn tree(&self) -> String {
        let mut spans = self.spans();
        spans.sort_by_key(|s| s.start_time);
        let mut out = String::new();
        let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
        fn walk(spans: &[SpanData], parent: SpanId, depth: usize, out: &mut String) {
            for s in spans.iter().filter(|s| s.parent_span_id == parent) {
                out.push_str(&"  ".repeat(depth));
                out.push_str(&format!("{} [{}]\n", s.name, s.kind.as_str()));
                walk(spans, s.span_context.span_id(), depth + 1, out);
            }
        }
        for root in spans.iter().filter(|s| !ids.contains(&s.parent_span_id)) {
            out.push_str(&format!("{} [{}]\n", root.name, root.kind.as_str()));
            walk(&spans, root.span_context.span_id(), 1, &mut out);
        }
        out
    }
}

/// Output captured in memory: a `std::io::Write` and (with the `fmt` feature) a
/// `tracing-subscriber` `MakeWriter` whose clones share one buffer, for asserting on log lines (e.g. through
/// [`Builder::log_writer`](crate::Builder::log_writer)) or exporter output.
///
/// ```
/// use tracewire::testing::LogCapture;
///
/// let logs = LogCapture::new();
/// let subscriber = tracing_subscriber::fmt()
///     .with_writer(logs.clone())
///     .with_ansi(false)
///     .without_time()
///     .with_target(false)
///     .finish();
/// tracing::subscriber::with_default(subscriber, || tracing::info!(fare = 12, "quoted"));
/// assert_eq!(logs.text(), " INFO quoted fare=12\n");
/// ```
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LogCapture").field(&self.text()).finish()
    }
}

impl LogCapture {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "fmt")]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

/// Assertions on one recorded span. Each returns `self` so they chain.
#[derive(Clone, Debug)]
pub struct SpanAssert(pub SpanData);

impl SpanAssert {
    /// The span's data.
    pub fn data(&self) -> &SpanData {
        &self.0
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.0.span_context.trace_id()
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.0.span_context.span_id()
    }

    /// Asserts the span is a child of `parent` (same trace, parent id).
    #[track_caller]
    pub fn assert_child_of(&self, parent: &SpanAssert) -> &Self {
        assert_eq!(
            self.trace_id(),
            parent.trace_id(),
            "{:?} is not in the trace of {:?}",
            self.0.name,
            parent.0.name
        );
        assert_eq!(
            self.0.parent_span_id,
            parent.span_id(),
            "{:?} is not a child of {:?}",
            self.0.name,
            parent.0.name
        );
        self
    }

    /// Asserts the span's parent is the given remote span id (it continues a remote trace).
    #[track_caller]
    pub fn assert_remote_parent(&self, trace_id: TraceId, span_id: SpanId) -> &Self {
        assert_eq!(self.trace_id(), trace_id, "trace id of {:?}", self.0.name);
        assert_eq!(
            self.0.parent_span_id, span_id,
            "parent of {:?}",
            self.0.name
        );
        assert!(
            self.0.parent_is_remote,
            "{:?}'s parent is not remote",
            self.0.name
        );
        self
    }

    /// Asserts the span has no parent.
    #[track_caller]
    pub fn assert_root(&self) -> &Self {
        assert!(
            !self.0.parent_span_id.is_valid(),
            "{:?} has parent {}",
            self.0.name,
            self.0.parent_span_id
        );
        self
    }

    /// Asserts both spans belong to one trace.
    #[track_caller]
    pub fn assert_same_trace(&self, other: &SpanAssert) -> &Self {
        assert_eq!(self.trace_id(), other.trace_id());
        self
    }

    /// Asserts the span's name.
    #[track_caller]
    pub fn assert_name(&self, name: &str) -> &Self {
        assert_eq!(self.0.name, name);
        self
    }

    /// Asserts the span's kind.
    #[track_caller]
    pub fn assert_kind(&self, kind: SpanKind) -> &Self {
        assert_eq!(self.0.kind, kind, "kind of {:?}", self.0.name);
        self
    }

    /// Asserts attribute `key` equals `value`.
    #[track_caller]
    pub fn assert_attr(&self, key: &str, value: impl Into<Value>) -> &Self {
        let value = value.into();
        assert_eq!(
            self.0.attribute(key),
            Some(&value),
            "attribute {key:?} of {:?}; attributes: {:?}",
            self.0.name,
            self.0.attributes
        );
        self
    }

    /// Asserts attribute `key` is absent.
    #[track_caller]
    pub fn assert_no_attr(&self, key: &str) -> &Self {
        assert!(
            self.0.attribute(key).is_none(),
            "{:?} has attribute {key:?} = {:?}",
            self.0.name,
            self.0.attribute(key)
        );
        self
    }

    /// Asserts the span's status.
    #[track_caller]
    pub fn assert_status(&self, status: Status) -> &Self {
        assert_eq!(self.0.status, status, "status of {:?}", self.0.name);
        self
    }
}
