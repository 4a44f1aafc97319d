//! The trust-policy hook: how much of the inbound context a listener believes.

use http::request::Parts;

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
