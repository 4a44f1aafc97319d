//! Which RPCs get a span: [`RequestFilter`]s that read the gRPC method.

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use tracewire_tower::RequestFilter;

use crate::rpc::RpcPath;

/// Skips every method of the named services, e.g. health checks and reflection: requests whose
/// path starts with `/{service}/`.
///
/// ```
/// use tracewire_tonic::{GrpcServerLayer, SkipServices};
///
/// let layer = GrpcServerLayer::new().filter(SkipServices::health());
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct SkipServices {
    /// `/{service}/` for each service.
    prefixes: Arc<[String]>,
}

impl SkipServices {
    /// Skips the services named (fully qualified: `grpc.health.v1.Health`).
    pub fn new(services: impl IntoIterator<Item: AsRef<str>>) -> Self {
        let prefixes = services
            .into_iter()
            .map(|service| format!("/{}/", service.as_ref()))
            .collect();
        SkipServices { prefixes }
    }

    /// Skips the standard health service, `grpc.health.v1.Health`.
    pub fn health() -> Self {
        SkipServices::new(["grpc.health.v1.Health"])
    }
}

impl fmt::Debug for SkipServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let services = self.prefixes.iter().map(|p| p.trim_matches('/'));
        f.debug_tuple("SkipServices")
            .field(&services.collect::<Vec<_>>())
            .finish()
    }
}

impl RequestFilter for SkipServices {
    fn should_trace(&self, parts: &Parts) -> bool {
        let path = parts.uri.path();
        !self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// Traces the RPCs for which a closure over the [`RpcPath`] returns `true`; requests whose path
/// is not a gRPC method path are traced. (A closure over the whole request, `Fn(&Parts) ->
/// bool`, is a filter by itself.)
///
/// ```
/// use tracewire_tonic::{GrpcServerLayer, RpcPath, TraceRpcs};
///
/// let layer = GrpcServerLayer::new().filter(TraceRpcs::new(|rpc: &RpcPath<'_>| rpc.method() != "Ping"));
/// # let _ = layer;
/// ```
#[derive(Clone, Copy)]
pub struct TraceRpcs<F>(F);

impl<F> TraceRpcs<F>
where
    F: Fn(&RpcPath<'_>) -> bool,
{
    /// Traces the RPCs `f` accepts.
    pub fn new(f: F) -> Self {
        TraceRpcs(f)
    }
}

impl<F> fmt::Debug for TraceRpcs<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TraceRpcs")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}

impl<F> RequestFilter for TraceRpcs<F>
where
    F: Fn(&RpcPath<'_>) -> bool,
{
    fn should_trace(&self, parts: &Parts) -> bool {
        RpcPath::parse(parts.uri.path()).is_none_or(|rpc| (self.0)(&rpc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> Parts {
        http::Request::post(path).body(()).unwrap().into_parts().0
    }

    #[test]
    fn filters() {
        let health = parts("/grpc.health.v1.Health/Check");
        let echo = parts("/echo.Echo/UnaryEcho");
        let other = parts("/metrics");
        assert!(!SkipServices::health().should_trace(&health));
        assert!(SkipServices::health().should_trace(&echo));
        assert!(SkipServices::health().should_trace(&other));
        let only_echo = TraceRpcs::new(|rpc: &RpcPath<'_>| rpc.service() == "echo.Echo");
        assert!(only_echo.should_trace(&echo));
        assert!(!only_echo.should_trace(&health));
        assert!(only_echo.should_trace(&other));
        assert_eq!(
            format!("{:?}", SkipServices::health()),
            r#"SkipServices(["grpc.health.v1.Health"])"#
        );
    }
}
