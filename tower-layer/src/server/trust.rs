//! The trust-policy hook: how much of the inbound context a listener believes.

use http::request::Parts;
use tracewire::{Context, Parent};

/// What to do with a valid inbound trace context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trust {
    /// Continue the caller's trace: same trace id, the caller's span as parent, its sampling
    /// decision and baggage (the default, for internal listeners).
    #[default]
    Continue,
    /// Start a new trace and keep the inbound context only as a link; inbound baggage is
    /// dropped. For public endpoints, whose callers must not choose trace ids, sampling or
    /// baggage.
    RestartWithLink,
    /// Continue the caller's trace but take the sampling decision locally, ignoring the inbound
    /// sampled flag (a caller cannot force or suppress recording).
    IgnoreSampledFlag,
}

impl Trust {
    /// Applies the policy to an extracted inbound context, before anything else is decided
    /// about the request (whether it is traced included): returns the server span's parent and
    /// the context the request runs with when no span carries one (filtered out, or disabled by
    /// a `tracing` filter).
    ///
    /// | policy | span parent | context without a span |
    /// |---|---|---|
    /// | `Continue` | the inbound context | the inbound context |
    /// | `IgnoreSampledFlag` | the inbound ids, sampled locally | the inbound ids and baggage, sampled flag cleared |
    /// | `RestartWithLink` | a new root linked to the inbound span | an empty context: no ids, no baggage |
    ///
    /// Without a span no local sampling decision is taken, so `IgnoreSampledFlag` passes the
    /// trace on unsampled: a caller can neither force nor suppress recording downstream.
    pub(crate) fn apply(self, inbound: Context) -> (Parent, Context) {
        match self {
            Trust::Continue => (Parent::remote(inbound.clone()), inbound),
            Trust::IgnoreSampledFlag => {
                let parent = Parent::remote(inbound.clone()).ignore_sampled_flag();
                let fallback = match inbound.span_context() {
                    Some(sc) if sc.is_sampled() => {
                        let unsampled = sc.clone().with_flags(sc.flags().with_sampled(false));
                        inbound.with_span_context(unsampled)
                    }
                    _ => inbound,
                };
                (parent, fallback)
            }
            Trust::RestartWithLink => {
                let parent = match inbound.span_context().filter(|sc| sc.is_valid()) {
                    Some(sc) => Parent::root().with_link(sc.clone()),
                    None => Parent::root(),
                };
                (parent, Context::new())
            }
        }
    }
}

/// Chooses a [`Trust`] per request. Implemented for [`Trust`] itself (one policy for the whole
/// listener) and closures `Fn(&Parts) -> Trust`.
pub trait TrustPolicy {
    /// The policy for this request.
    fn trust(&self, parts: &Parts) -> Trust;
}

impl TrustPolicy for Trust {
    fn trust(&self, _: &Parts) -> Trust {
        *self
    }
}

impl<F> TrustPolicy for F
where
    F: Fn(&Parts) -> Trust,
{
    fn trust(&self, parts: &Parts) -> Trust {
        self(parts)
    }
}
