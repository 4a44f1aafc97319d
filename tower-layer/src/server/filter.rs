//! The request-filter hook.

use http::request::Parts;

/// Decides which requests get a span, on a server or a client layer. On a server, a request
/// that is not traced still passes on the inbound context the
/// [`TrustPolicy`](super::TrustPolicy) allows (with the default policy, outbound calls continue
/// the caller's trace); on a client, it carries the current context on.
///
/// Implemented for [`TraceAll`], [`SkipPaths`], closures `Fn(&Parts) -> bool`, and
/// tracewire-tonic's `SkipServices` and `TraceRpcs`.
pub trait RequestFilter {
    /// Whether to start a span for this request.
    fn should_trace(&self, parts: &Parts) -> bool;
}

/// Traces every request (the default).
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct TraceAll;

impl RequestFilter for TraceAll {
    fn should_trace(&self, _: &Parts) -> bool {
        true
    }
}

/// Skips requests whose path is exactly one of a list (health checks, metrics scrapes).
///
/// ```
/// use tracewire_tower::{SkipPaths, HttpServerLayer};
///
/// let layer = HttpServerLayer::new().filter(SkipPaths::new(["/health", "/metrics"]));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct SkipPaths(std::sync::Arc<[Box<str>]>);

impl SkipPaths {
    /// Skips these exact paths.
    pub fn new<I, P>(paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        SkipPaths(paths.into_iter().map(|p| p.into().into()).collect())
    }
}

impl RequestFilter for SkipPaths {
    fn should_trace(&self, parts: &Parts) -> bool {
        let path = parts.uri.path();
        !self.0.iter().any(|p| **p == *path)
    }
}

impl<F> RequestFilter for F
where
    F: Fn(&Parts) -> bool,
{
    fn should_trace(&self, parts: &Parts) -> bool {
        self(parts)
    }
}
