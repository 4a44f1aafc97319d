//! Which RPCs get a span.

use std::fmt;
use std::sync::Arc;

use crate::rpc::RpcPath;

/// Decides whether an RPC gets a span. An RPC that is skipped still has its context propagated:
/// the server runs the handler with the inbound context in scope, and the client still injects
/// the current context.
///
/// Implemented for `()` (trace everything, the default), for closures
/// `Fn(&RpcPath<'_>) -> bool`, and by [`SkipServices`].
///
/// ```
/// use tracewire_tonic::{GrpcServerLayer, RpcPath};
///
/// let layer = GrpcServerLayer::new().filter(|rpc: &RpcPath<'_>| rpc.method() != "Ping");
/// # let _ = layer;
/// ```
pub trait RpcFilter {
    /// Whether `rpc` gets a span. Requests whose path is not a gRPC method path are passed as
    /// `None`.
    fn should_trace(&self, rpc: Option<&RpcPath<'_>>) -> bool;
}

impl RpcFilter for () {
    fn should_trace(&self, _rpc: Option<&RpcPath<'_>>) -> bool {
        true
    }
}

impl<F> RpcFilter for F
where
    F: Fn(&RpcPath<'_>) -> bool,
{
    fn should_trace(&self, rpc: Option<&RpcPath<'_>>) -> bool {
        rpc.is_none_or(self)
    }
}

/// Skips every method of the named services, e.g. health checks and reflection.
///
/// ```
/// use tracewire_tonic::{GrpcServerLayer, SkipServices};
///
/// let layer = GrpcServerLayer::new().filter(SkipServices::health());
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct SkipServices(Arc<[Box<str>]>);

impl SkipServices {
    /// Skips the services named (fully qualified: `grpc.health.v1.Health`).
    pub fn new<I, S>(services: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SkipServices(services.into_iter().map(|s| s.into().into()).collect())
    }

    /// Skips the standard health service, `grpc.health.v1.Health`.
    pub fn health() -> Self {
        SkipServices::new(["grpc.health.v1.Health"])
    }
}

impl fmt::Debug for SkipServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SkipServices").field(&&*self.0).finish()
    }
}

impl RpcFilter for SkipServices {
    fn should_trace(&self, rpc: Option<&RpcPath<'_>>) -> bool {
        rpc.is_none_or(|rpc| !self.0.iter().any(|s| **s == *rpc.service()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let health = RpcPath::parse("/grpc.health.v1.Health/Check").unwrap();
        let echo = RpcPath::parse("/echo.Echo/UnaryEcho").unwrap();
        assert!(().should_trace(Some(&health)));
        assert!(!SkipServices::health().should_trace(Some(&health)));
        assert!(SkipServices::health().should_trace(Some(&echo)));
        assert!(SkipServices::health().should_trace(None));
        let only_echo = |rpc: &RpcPath<'_>| rpc.service() == "echo.Echo";
        assert!(only_echo.should_trace(Some(&echo)));
        assert!(!only_echo.should_trace(Some(&health)));
        assert_eq!(
            format!("{:?}", SkipServices::health()),
            r#"SkipServices(["grpc.health.v1.Health"])"#
        );
    }
}
