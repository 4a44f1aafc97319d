//! The in-band context: [`SpanContext`] and the [`Context`] that carries it together with the
//! [`Baggage`] across process boundaries. [`TraceState`] and [`Baggage`] have their own modules.

use std::fmt;

use crate::baggage::Baggage;
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::tracestate::TraceState;

/// The identity of one span as other spans and other services see it.
///
/// ```
/// use tracewire::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
///
/// let cx = SpanContext::new(
///     TraceId::from_u128(1),
///     SpanId::from_u64(2),
///     TraceFlags::SAMPLED,
///     TraceState::default(),
///     true,
/// );
/// assert!(cx.is_valid() && cx.is_sampled() && cx.is_remote());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: TraceState,
    remote: bool,
}

impl SpanContext {
    /// A span context from its parts.
    pub const fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        state: TraceState,
        remote: bool,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            flags,
            state,
            remote,
        }
    }

    /// The trace id.
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The vendor `tracestate`.
    pub const fn trace_state(&self) -> &TraceState {
        &self.state
    }

    /// Whether the sampled flag is set.
    pub const fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// Whether this context was received from another process.
    pub const fn is_remote(&self) -> bool {
        self.remote
    }

    /// Whether both ids are non-zero.
    pub const fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// The same context with other flags.
    #[must_use]
    pub fn with_flags(mut self, flags: TraceFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The same context with another `tracestate`.
    #[must_use]
    pub fn with_trace_state(mut self, state: TraceState) -> Self {
        self.state = state;
        self
    }

    /// The same context marked as remote or local.
    #[must_use]
    pub fn with_remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("flags", &format_args!("{}", self.flags))
            .field("state", &self.state)
            .field("remote", &self.remote)
            .finish()
    }
}

/// Everything that travels in-band: the span context of the caller (if any) and the baggage.
///
/// This is what propagators extract from and inject into headers, what middleware hands to the
/// `tracing` layer as a remote parent, and what [`current()`](crate::current) returns.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    span: Option<SpanContext>,
    baggage: Baggage,
}

impl Context {
    /// An empty context: no span, no baggage.
    pub const fn new() -> Self {
        Context {
            span: None,
            baggage: Baggage::new(),
        }
    }

    /// A context holding a span context and no baggage.
    pub fn from_span_context(span: SpanContext) -> Self {
        Context {
            span: Some(span),
            baggage: Baggage::new(),
        }
    }

    /// The span context, if one is set and valid.
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.span.as_ref()
    }

    /// The baggage.
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// The trace id, if a span context is set.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.span.as_ref().map(SpanContext::trace_id)
    }

    /// The span id, if a span context is set.
    pub fn span_id(&self) -> Option<SpanId> {
        self.span.as_ref().map(SpanContext::span_id)
    }

    /// The same context with the span context replaced.
    #[must_use]
    pub fn with_span_context(mut self, span: SpanContext) -> Self {
        self.span = Some(span);
        self
    }

    /// The same context without a span context.
    #[must_use]
    pub fn without_span_context(mut self) -> Self {
        self.span = None;
        self
    }

    /// The same context with the baggage replaced.
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    pub(crate) fn set_span_context(&mut self, span: SpanContext) {
        self.span = Some(span);
    }

    pub(crate) fn set_baggage(&mut self, baggage: Baggage) {
        self.baggage = baggage;
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("baggage", &self.baggage)
            .finish()
    }
}
