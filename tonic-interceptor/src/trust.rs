//! How far a server trusts the inbound trace context.

use tracewire::{Context, Parent};

/// What a server does with the trace context a caller sent.
///
/// The variants match the HTTP server layer's in `tracewire-tower`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrustPolicy {
    /// Continue the caller's trace, honouring its sampled flag (the default; for internal
    /// services behind a trusted edge).
    #[default]
    Continue,
    /// Start a new trace and link the span to the caller's context (for public endpoints: a
    /// caller cannot join or force-sample your traces). Inbound baggage is dropped.
    RestartWithLink,
    /// Continue the caller's trace ids but take the sampling decision locally.
    IgnoreSampledFlag,
}

impl TrustPolicy {
    /// The span's parent for an inbound context.
    pub(crate) fn parent(self, inbound: &Context) -> Parent {
        match self {
            TrustPolicy::Continue => Parent::remote(inbound.clone()),
            TrustPolicy::IgnoreSampledFlag => Parent::remote(inbound.clone()).ignore_sampled_flag(),
            TrustPolicy::RestartWithLink => match inbound.span_context() {
                Some(sc) if sc.is_valid() => Parent::root().with_link(sc.clone()),
                _ => Parent::root(),
            },
        }
    }

    /// The context the handler runs with when the span is disabled or skipped.
    pub(crate) fn ambient(self, inbound: Context) -> Context {
        match self {
            TrustPolicy::Continue | TrustPolicy::IgnoreSampledFlag => inbound,
            TrustPolicy::RestartWithLink => Context::new(),
        }
    }
}
