//! The `tracing_subscriber::Layer` that turns `tracing` spans into trace spans.
//!
//! Every span the layer sees gets a [`SpanContext`] when it is created, so its ids can be read at
//! once ([`SpanExt::span_context`]) — for log lines, response headers and outbound calls. Its
//! parent is decided then and never changes:
//!
//! 1. a parent given with [`with_parent`] (what server middleware uses for the inbound context);
//! 2. otherwise the nearest enclosing span the layer knows (explicit `parent:` or contextual);
//! 3. otherwise the ambient context ([`scope`](crate::scope), [`FutureExt::in_context`]), when
//!    no span was entered since it came into scope — so a context survives disabled spans;
//! 4. otherwise a new trace.
//!
//! The sampler runs for local roots (cases 1, 3 and 4); children of a local span inherit its
//! decision. Sampled spans record fields as attributes (`otel.name`, `otel.kind`,
//! `otel.status_code`, `otel.status_message` and `error` are understood), events as span events,
//! and are handed to the sink when they close. Unsampled spans carry ids only.
//!
//! [`FutureExt::in_context`]: crate::FutureExt::in_context

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Level, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::ambient::with_ambient;
use crate::context::{Baggage, Context, SpanContext};
use crate::error::BaggageError;
use crate::export::SpanSink;
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::sampler::{Sampler, SamplingInput};
use crate::span::{Event, KeyValue, Link, SpanData, SpanKind, Status, Text, Value};

/// The parent a span should take, given to [`with_parent`] by middleware.
#[derive(Clone, Debug, Default)]
pub struct Parent {
    context: Context,
    links: Vec<Link>,
    ignore_sampled_flag: bool,
}

impl Parent {
    /// Continue the trace in `cx` (usually extracted from request headers). If `cx` has no span
    /// context the span starts a new trace, keeping `cx`'s baggage.
    pub fn remote(cx: Context) -> Self {
        Parent {
            context: cx,
            links: Vec::new(),
            ignore_sampled_flag: false,
        }
    }

    /// Start a new trace with no baggage, whatever is in scope.
    pub fn root() -> Self {
        Parent::default()
    }

    /// Also link the span to `span_context` (e.g. the untrusted inbound context of a public
    /// endpoint that restarts the trace).
    #[must_use]
    pub fn with_link(mut self, span_context: SpanContext) -> Self {
        self.links.push(Link {
            span_context,
            attributes: Vec::new(),
        });
        self
    }

    /// Keep the parent's ids but take the sampling decision locally, as for a new trace.
    #[must_use]
    pub fn ignore_sampled_flag(mut self) -> Self {
        self.ignore_sampled_flag = true;
        self
    }

    /// The parent context.
    pub fn context(&self) -> &Context {
        &self.context
    }
}

thread_local! {
    static PENDING: RefCell<Option<Parent>> = const { RefCell::new(None) };
    /// The context of the span that took the pending parent, for [`with_parent_and_context`].
    static CREATED: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Creates the span(s) in `f` with `parent` as the parent of the first span the layer sees.
///
/// This is how a parent is fixed at creation: middleware extracts the inbound context and
/// creates its server span inside `with_parent`. If the span is disabled, nothing happens and the
/// pending parent is discarded when `f` returns.
///
/// ```
/// use tracewire::{Context, Parent, SpanExt, with_parent};
/// use tracewire::testing::Recorder;
///
/// let recorder = Recorder::new();
/// let inbound: Context = tracewire::propagation::Propagators::w3c()
///     .extract(&{
///         let mut h = http::HeaderMap::new();
///         h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
///         h
///     })
///     .unwrap();
/// recorder.in_scope(|| {
///     let span = with_parent(Parent::remote(inbound), || tracing::info_span!("GET /"));
///     let cx = span.span_context().unwrap();
///     assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// });
/// let spans = recorder.spans();
/// assert_eq!(spans[0].parent_span_id.to_string(), "00f067aa0ba902b7");
/// assert!(spans[0].parent_is_remote);
/// ```
pub fn with_parent<R>(parent: Parent, f: impl FnOnce() -> R) -> R {
    struct Clear(Option<Parent>);
    impl Drop for Clear {
        fn drop(&mut self) {
            let prev = self.0.take();
            PENDING.with(|p| *p.borrow_mut() = prev);
        }
    }
    let prev = PENDING.with(|p| p.borrow_mut().replace(parent));
    let _clear = Clear(prev);
    f()
}

/// Like [`with_parent`], and also returns the context (ids and baggage) of the span that took
/// the parent — `None` if no span did (disabled, or no tracewire layer). Cheaper than asking the
/// span afterwards with [`SpanExt::context`], which looks it up in the registry.
///
/// ```
/// use tracewire::{Parent, with_parent_and_context};
/// use tracewire::testing::Recorder;
///
/// Recorder::new().in_scope(|| {
///     let (span, cx) = with_parent_and_context(Parent::root(), || tracing::info_span!("req"));
///     assert!(cx.unwrap().span_context().unwrap().is_sampled());
///     drop(span);
/// });
/// let (_, cx) = with_parent_and_context(Parent::root(), || tracing::info_span!("no layer"));
/// assert!(cx.is_none());
/// ```
pub fn with_parent_and_context<R>(parent: Parent, f: impl FnOnce() -> R) -> (R, Option<Context>) {
    CREATED.with(|c| c.borrow_mut().take());
    let r = with_parent(parent, f);
    (r, CREATED.with(|c| c.borrow_mut().take()))
}

fn take_pending() -> Option<Parent> {
    PENDING.with(|p| p.borrow_mut().take())
}

/// The per-span state the layer keeps in the registry's extensions.
struct SpanState {
    cx: SpanContext,
    baggage: Baggage,
    parent_span_id: SpanId,
    parent_is_remote: bool,
    /// Boxed so an unsampled span's state stays small (ids only).
    recording: Option<Box<Recording>>,
}

impl SpanState {
    fn context(&self) -> Context {
        Context::from_span_context(self.cx.clone()).with_baggage(self.baggage.clone())
    }
}

struct Recording {
    /// The attribute cap, for attributes set after creation through [`SpanExt`].
    max_attributes: usize,
    name: Cow<'static, str>,
    target: &'static str,
    kind: SpanKind,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    dropped_attributes: u32,
    events: Vec<Event>,
    dropped_events: u32,
    links: Vec<Link>,
    status_code: Option<StatusCode>,
    status_message: Option<Cow<'static, str>>,
    error_message: Option<Cow<'static, str>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl Recording {
    fn status(&mut self) -> Status {
        match self.status_code {
            Some(StatusCode::Ok) => Status::Ok,
            Some(StatusCode::Unset) => Status::Unset,
            Some(StatusCode::Error) => Status::Error {
                description: self
                    .status_message
                    .take()
                    .or_else(|| self.error_message.take())
                    .unwrap_or_default(),
            },
            None => match self.error_message.take() {
                Some(description) => Status::Error { description },
                None => Status::Unset,
            },
        }
    }
}

/// Settings shared by the layer.
struct Config {
    sampler: Sampler,
    sink: Arc<dyn SpanSink>,
    max_attributes: usize,
    max_events: usize,
    baggage_attributes: Vec<Box<str>>,
    error_events_set_status: bool,
}

/// The tracewire `tracing` layer. Build one with [`TracewireLayer::builder`], or let
/// [`init`](crate::init) install it.
#[derive(Clone)]
pub struct TracewireLayer {
    config: Arc<Config>,
}

impl fmt::Debug for TracewireLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracewireLayer")
            .field("sampler", &self.config.sampler)
            .field("max_attributes", &self.config.max_attributes)
            .field("max_events", &self.config.max_events)
            .field("baggage_attributes", &self.config.baggage_attributes)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TracewireLayer`].
#[must_use]
pub struct LayerBuilder {
    sampler: Sampler,
    max_attributes: usize,
    max_events: usize,
    baggage_attributes: Vec<Box<str>>,
    error_events_set_status: bool,
}

impl fmt::Debug for LayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerBuilder")
            .field("sampler", &self.sampler)
            .field("max_attributes", &self.max_attributes)
            .field("max_events", &self.max_events)
            .finish_non_exhaustive()
    }
}

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder {
            sampler: Sampler::default(),
            max_attributes: 128,
            max_events: 128,
            baggage_attributes: Vec::new(),
            error_events_set_status: true,
        }
    }
}

impl LayerBuilder {
    /// The sampler for local roots (default: parent-based, always on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// The most attributes a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_attributes`].
    pub fn max_attributes(mut self, n: usize) -> Self {
        self.max_attributes = n;
        self
    }

    /// The most events a span keeps (default 128); more are counted in
    /// [`SpanData::dropped_events`].
    pub fn max_events(mut self, n: usize) -> Self {
        self.max_events = n;
        self
    }

    /// Baggage keys copied onto every span as attributes of the same name, so a value set at
    /// the edge (tenant, product, customer tier) labels every downstream span.
    pub fn baggage_attributes<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.baggage_attributes = keys.into_iter().map(|k| k.into().into()).collect();
        self
    }

    /// Whether an `ERROR`-level event marks its span as failed (default `true`).
    pub fn error_events_set_status(mut self, yes: bool) -> Self {
        self.error_events_set_status = yes;
        self
    }

    /// The layer, sending finished spans to `sink` (usually a [`Pipeline`](crate::export::Pipeline)).
    pub fn build<K: SpanSink>(self, sink: K) -> TracewireLayer {
        self.build_with_sink(Arc::new(sink))
    }

    pub(crate) fn build_with_sink(self, sink: Arc<dyn SpanSink>) -> TracewireLayer {
        TracewireLayer {
            config: Arc::new(Config {
                sampler: self.sampler,
                sink,
                max_attributes: self.max_attributes,
                max_events: self.max_events,
                baggage_attributes: self.baggage_attributes,
                error_events_set_status: self.error_events_set_status,
            }),
        }
    }
}

impl TracewireLayer {
    /// A builder with the defaults.
    pub fn builder() -> LayerBuilder {
        LayerBuilder::default()
    }
}

enum ParentChoice {
    /// A live local span.
    Local { cx: SpanContext, baggage: Baggage },
    /// A context: remote (from headers) or local (ambient, from another task).
    Context {
        cx: Context,
        links: Vec<Link>,
        ignore_sampled_flag: bool,
    },
}

fn nearest_state<S>(span: Option<SpanRef<'_, S>>) -> Option<(SpanContext, Baggage)>
where
    S: for<'a> LookupSpan<'a>,
{
    for s in span?.scope() {
        if let Some(state) = s.extensions().get::<SpanState>() {
            return Some((state.cx.clone(), state.baggage.clone()));
        }
    }
    None
}

impl TracewireLayer {
    /// The parent of a new span, and whether it is the one given to [`with_parent`].
    fn choose_parent<S>(
        &self,
        attrs: &Attributes<'_>,
        span: &SpanRef<'_, S>,
    ) -> (ParentChoice, bool)
    where
        S: for<'a> LookupSpan<'a>,
    {
        if let Some(p) = take_pending() {
            let choice = ParentChoice::Context {
                cx: p.context,
                links: p.links,
                ignore_sampled_flag: p.ignore_sampled_flag,
            };
            return (choice, true);
        }
        (self.choose_inherited(attrs, span), false)
    }

    /// The parent of a new span given no explicit remote parent.
    fn choose_inherited<S>(&self, attrs: &Attributes<'_>, span: &SpanRef<'_, S>) -> ParentChoice
    where
        S: for<'a> LookupSpan<'a>,
    {
        let parent = span.parent();
        if attrs.is_contextual() {
            // The ambient context wins over a span that was already current when it came into
            // scope; a span entered inside the scope wins over it.
            let ambient = with_ambient(|a| {
                a.filter(|a| a.under.as_ref() == parent.as_ref().map(|p| p.id()).as_ref())
                    .map(|a| a.cx.clone())
            });
            if let Some(cx) = ambient {
                return ParentChoice::Context {
                    cx,
                    links: Vec::new(),
                    ignore_sampled_flag: false,
                };
            }
        }
        if let Some((cx, baggage)) = nearest_state(parent) {
            return ParentChoice::Local { cx, baggage };
        }
        if attrs.is_contextual()
            && let Some(cx) = with_ambient(|a| a.map(|a| a.cx.clone()))
        {
            return ParentChoice::Context {
                cx,
                links: Vec::new(),
                ignore_sampled_flag: false,
            };
        }
        ParentChoice::Context {
            cx: Context::new(),
            links: Vec::new(),
            ignore_sampled_flag: false,
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for TracewireLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let meta = attrs.metadata();
        let span_id = SpanId::random();
        let (choice, pending) = self.choose_parent(attrs, &span);
        let (cx, baggage, parent_span_id, parent_is_remote, sampled, links) = match choice {
            ParentChoice::Local { cx, baggage } => {
                let own = SpanContext::new(
                    cx.trace_id(),
                    span_id,
                    cx.flags(),
                    cx.trace_state().clone(),
                    false,
                );
                (
                    own,
                    baggage,
                    cx.span_id(),
                    false,
                    cx.is_sampled(),
                    Vec::new(),
                )
            }
            ParentChoice::Context {
                cx,
                links,
                ignore_sampled_flag,
            } => {
                let parent = cx.span_context().filter(|p| p.is_valid());
                let (trace_id, random, state) = match parent {
                    Some(p) => (p.trace_id(), p.flags().is_random(), p.trace_state().clone()),
                    None => (TraceId::random(), true, Default::default()),
                };
                let sampled = self.config.sampler.should_sample(&SamplingInput {
                    trace_id,
                    parent: if ignore_sampled_flag { None } else { parent },
                    name: meta.name(),
                });
                let flags = TraceFlags::NONE.with_random(random).with_sampled(sampled);
                let own = SpanContext::new(trace_id, span_id, flags, state, false);
                let (parent_id, remote) =
                    parent.map_or((SpanId::INVALID, false), |p| (p.span_id(), p.is_remote()));
                (own, cx.baggage().clone(), parent_id, remote, sampled, links)
            }
        };
        if pending {
            CREATED.with(|c| {
                *c.borrow_mut() =
                    Some(Context::from_span_context(cx.clone()).with_baggage(baggage.clone()));
            });
        }
        let recording = sampled.then(|| {
            let mut rec = Box::new(Recording {
                max_attributes: self.config.max_attributes,
                name: Cow::Borrowed(meta.name()),
                target: meta.target(),
                kind: SpanKind::Internal,
                start: SystemTime::now(),
                attributes: Vec::new(),
                dropped_attributes: 0,
                events: Vec::new(),
                dropped_events: 0,
                links,
                status_code: None,
                status_message: None,
                error_message: None,
            });
            for key in &self.config.baggage_attributes {
                if let Some(v) = baggage.get(key) {
                    push_attribute(
                        &mut rec,
                        self.config.max_attributes,
                        Cow::Owned(key.to_string()),
                        Value::String(Text::new(v)),
                        true,
                    );
                }
            }
            let replace = !rec.attributes.is_empty();
            attrs.record(&mut SpanVisitor {
                rec: &mut rec,
                max: self.config.max_attributes,
                replace,
            });
            rec
        });
        span.extensions_mut().insert(SpanState {
            cx,
            baggage,
            parent_span_id,
            parent_is_remote,
            recording,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(rec) = ext
            .get_mut::<SpanState>()
            .and_then(|s| s.recording.as_mut())
        {
            values.record(&mut SpanVisitor {
                rec,
                max: self.config.max_attributes,
                replace: true,
            });
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let Some(other) = ctx
            .span(follows)
            .and_then(|s| s.extensions().get::<SpanState>().map(|st| st.cx.clone()))
        else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(rec) = ext
            .get_mut::<SpanState>()
            .and_then(|s| s.recording.as_mut())
        {
            rec.links.push(Link {
                span_context: other,
                attributes: Vec::new(),
            });
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        for s in span.scope() {
            let mut ext = s.extensions_mut();
            let Some(state) = ext.get_mut::<SpanState>() else {
                continue;
            };
            let Some(rec) = state.recording.as_mut() else {
                return;
            };
            let meta = event.metadata();
            let mut visitor = EventVisitor::default();
            event.record(&mut visitor);
            let name = visitor.message.take().unwrap_or(Cow::Borrowed(meta.name()));
            if self.config.error_events_set_status
                && *meta.level() == Level::ERROR
                && rec.status_code.is_none()
                && rec.error_message.is_none()
            {
                rec.error_message = Some(name.clone());
            }
            if rec.events.len() >= self.config.max_events {
                rec.dropped_events += 1;
                return;
            }
            let mut attributes = visitor.attributes;
            attributes.push(KeyValue::new("level", meta.level().as_str()));
            rec.events.push(Event {
                name,
                time: SystemTime::now(),
                attributes,
            });
            return;
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        let Some(mut rec) = state.recording else {
            return;
        };
        let status = rec.status();
        let rec = *rec;
        self.config.sink.on_end(SpanData {
            span_context: state.cx,
            parent_span_id: state.parent_span_id,
            parent_is_remote: state.parent_is_remote,
            kind: rec.kind,
            name: rec.name,
            target: Cow::Borrowed(rec.target),
            start_time: rec.start,
            end_time: SystemTime::now(),
            attributes: rec.attributes,
            dropped_attributes: rec.dropped_attributes,
            events: rec.events,
            dropped_events: rec.dropped_events,
            links: rec.links,
            status,
        });
    }
}

/// Adds or replaces an attribute. `replace` scans for an existing key; it can be skipped while
/// recording a new span's own fields, whose names are unique within their call site.
fn push_attribute(
    rec: &mut Recording,
    max: usize,
    key: Cow<'static, str>,
    value: Value,
    replace: bool,
) {
    if let Some(kv) = replace
        .then(|| rec.attributes.iter_mut().find(|kv| kv.key == key))
        .flatten()
    {
        kv.value = value;
    } else if rec.attributes.len() < max {
        rec.attributes.push(KeyValue { key, value });
    } else {
        rec.dropped_attributes += 1;
    }
}

struct SpanVisitor<'a> {
    rec: &'a mut Recording,
    max: usize,
    /// Whether a recorded key may already be present (updates, or fields after baggage).
    replace: bool,
}

impl SpanVisitor<'_> {
    fn record_value(&mut self, field: &Field, value: Value) {
        match field.name() {
            "otel.name" => {
                if let Value::String(s) = value {
                    self.rec.name = s.into_cow();
                } else {
                    self.rec.name = Cow::Owned(value.to_string());
                }
            }
            "otel.kind" => {
                if let Some(kind) = value.as_str().and_then(SpanKind::parse) {
                    self.rec.kind = kind;
                }
            }
            "otel.status_code" => {
                self.rec.status_code = match value.as_str().map(str::to_ascii_lowercase).as_deref()
                {
                    Some("ok") => Some(StatusCode::Ok),
                    Some("error") => Some(StatusCode::Error),
                    Some("unset") => Some(StatusCode::Unset),
                    _ => self.rec.status_code,
                };
            }
            "otel.status_message" => {
                self.rec.status_message = Some(match value {
                    Value::String(s) => s.into_cow(),
                    other => Cow::Owned(other.to_string()),
                });
            }
            "error" => {
                self.rec.error_message = Some(match value {
                    Value::String(s) => s.into_cow(),
                    other => Cow::Owned(other.to_string()),
                });
            }
            name => push_attribute(self.rec, self.max, Cow::Borrowed(name), value, self.replace),
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_value(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_value(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_value(field, u64_value(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record_value(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_value(field, Value::String(Text::new(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_value(field, Value::String(Text::from(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_value(field, Value::String(Text::from(format!("{value:?}"))));
    }
}

fn u64_value(v: u64) -> Value {
    match i64::try_from(v) {
        Ok(i) => Value::I64(i),
        Err(_) => Value::String(Text::from(v.to_string())),
    }
}

#[derive(Default)]
struct EventVisitor {
    message: Option<Cow<'static, str>>,
    attributes: Vec<KeyValue>,
}

impl EventVisitor {
    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s.into_cow(),
                other => Cow::Owned(other.to_string()),
            });
        } else if !field.name().starts_with("log.") {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
    }
}

impl Visit for EventVisitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, u64_value(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::String(Text::new(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::String(Text::from(value.to_string())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::String(Text::from(format!("{value:?}"))));
    }
}

// --- reaching span state from a plain `tracing::Span` -------------------------------------------

/// Runs `f` on the state of `id` or its nearest ancestor the layer knows, if the dispatcher is a
/// `tracing_subscriber::Registry`-based stack.
fn with_state<R>(
    dispatch: &tracing::Dispatch,
    id: &Id,
    f: impl FnOnce(&mut SpanState) -> R,
) -> Option<R> {
    let registry = dispatch.downcast_ref::<Registry>()?;
    let span = registry.span(id)?;
    for s in span.scope() {
        let mut ext = s.extensions_mut();
        if let Some(state) = ext.get_mut::<SpanState>() {
            return Some(f(state));
        }
    }
    None
}

/// The context of the current `tracing` span (or its nearest known ancestor), read without
/// cloning the span handle.
pub(crate) fn current_span_context() -> Option<Context> {
    tracing::dispatcher::get_default(|d| {
        let current = d.current_span();
        with_state(d, current.id()?, |s| s.context())
    })
}

/// Trace-context access for any `tracing::Span`.
///
/// Works when the subscriber is a `tracing_subscriber::Registry` stack with the
/// [`TracewireLayer`]; otherwise (and for disabled spans) the getters return `None`.
pub trait SpanExt {
    /// The span's own context (trace id, span id, flags), as soon as the span exists.
    fn span_context(&self) -> Option<SpanContext>;

    /// The span's context with its baggage: what to inject into an outbound call.
    fn context(&self) -> Option<Context>;

    /// Sets a baggage entry on this span. Spans created under it afterwards inherit it, and
    /// outbound calls made under it carry it.
    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError>;

    /// Records an attribute whose key is only known at run time (a `tracing` field name must be
    /// known at compile time), e.g. `http.request.header.x-tenant`. Only sampled spans record
    /// it; the per-span attribute cap applies. Returns whether it was recorded.
    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool;

    /// Whether the span is known to the layer and sampled (its attributes are recorded).
    fn is_sampled(&self) -> bool;
}

impl SpanExt for tracing::Span {
    fn span_context(&self) -> Option<SpanContext> {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.cx.clone()))
            .flatten()
    }

    fn context(&self) -> Option<Context> {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.context()))
            .flatten()
    }

    fn set_baggage(&self, key: &str, value: &str) -> Result<(), BaggageError> {
        self.with_subscriber(|(id, d)| {
            with_state(d, id, |s| {
                s.baggage = s.baggage.with(key, value)?;
                Ok(())
            })
        })
        .flatten()
        .unwrap_or(Ok(()))
    }

    fn set_attribute(&self, key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> bool {
        let (key, value) = (key.into(), value.into());
        self.with_subscriber(|(id, d)| {
            with_state(d, id, |s| match s.recording.as_mut() {
                Some(rec) => {
                    let before = rec.dropped_attributes;
                    let max = rec.max_attributes;
                    push_attribute(rec, max, key, value, true);
                    rec.dropped_attributes == before
                }
                None => false,
            })
        })
        .flatten()
        .unwrap_or(false)
    }

    fn is_sampled(&self) -> bool {
        self.with_subscriber(|(id, d)| with_state(d, id, |s| s.recording.is_some()))
            .flatten()
            .unwrap_or(false)
    }
}

/// The ids of a span from its extensions, for the fmt layer.
#[cfg(feature = "fmt")]
pub(crate) fn span_ids(
    ext: &tracing_subscriber::registry::Extensions<'_>,
) -> Option<(TraceId, SpanId)> {
    ext.get::<SpanState>()
        .map(|s| (s.cx.trace_id(), s.cx.span_id()))
}
