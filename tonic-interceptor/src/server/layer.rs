use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;
use tracewire::propagation::Propagators;

use super::GrpcServer;
use crate::filter::RpcFilter;
use crate::rpc::SemconvStability;
use crate::trust::TrustPolicy;

/// Settings shared by every clone of the server service.
#[derive(Clone, Debug)]
pub(crate) struct ServerConfig {
    pub(crate) propagators: Propagators,
    pub(crate) trust: TrustPolicy,
    pub(crate) semconv: SemconvStability,
}

/// A tower layer that traces gRPC server calls: add it with
/// `tonic::transport::Server::builder().layer(..)`.
///
/// For each RPC it extracts the caller's context from the request metadata, starts a SERVER span
/// named `{package.Service}/{Method}`, runs the handler inside it, and ends it when the response
/// stream ends. See the [crate docs](crate) for the attributes and status mapping.
///
/// ```
/// use tracewire_tonic::{GrpcServerLayer, SkipServices, TrustPolicy};
///
/// let layer = GrpcServerLayer::new()
///     .trust(TrustPolicy::RestartWithLink)
///     .filter(SkipServices::health());
/// // tonic::transport::Server::builder().layer(layer).add_service(..)
/// # let _ = layer;
/// ```
#[must_use]
pub struct GrpcServerLayer<F = ()> {
    config: Arc<ServerConfig>,
    filter: F,
}

impl GrpcServerLayer {
    /// W3C Trace Context + Baggage, [`TrustPolicy::Continue`], every RPC traced, semantic
    /// conventions from `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn new() -> Self {
        GrpcServerLayer {
            config: Arc::new(ServerConfig {
                propagators: Propagators::w3c(),
                trust: TrustPolicy::default(),
                semconv: SemconvStability::from_env(),
            }),
            filter: (),
        }
    }
}

impl Default for GrpcServerLayer {
    fn default() -> Self {
        GrpcServerLayer::new()
    }
}

impl<F> GrpcServerLayer<F> {
    fn config_mut(&mut self) -> &mut ServerConfig {
        // Builders run before the layer is shared, so this never clones in practice.
        Arc::make_mut(&mut self.config)
    }

    /// The propagation formats to read the caller's context with (default: W3C Trace Context +
    /// Baggage).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.config_mut().propagators = propagators;
        self
    }

    /// How far to trust the caller's context (default [`TrustPolicy::Continue`]).
    pub fn trust(mut self, trust: TrustPolicy) -> Self {
        self.config_mut().trust = trust;
        self
    }

    /// Which semantic-convention attribute set to emit, overriding
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn semconv(mut self, semconv: SemconvStability) -> Self {
        self.config_mut().semconv = semconv;
        self
    }

    /// Which RPCs get a span, e.g. [`SkipServices::health()`](crate::SkipServices::health).
    /// Skipped RPCs still run with the caller's context in scope.
    pub fn filter<F2: RpcFilter>(self, filter: F2) -> GrpcServerLayer<F2> {
        GrpcServerLayer {
            config: self.config,
            filter,
        }
    }
}

impl<F: Clone> Clone for GrpcServerLayer<F> {
    fn clone(&self) -> Self {
        GrpcServerLayer {
            config: self.config.clone(),
            filter: self.filter.clone(),
        }
    }
}

impl<F> fmt::Debug for GrpcServerLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcServerLayer")
            .field("propagators", &self.config.propagators)
            .field("trust", &self.config.trust)
            .field("semconv", &self.config.semconv)
            .field("filter", &std::any::type_name::<F>())
            .finish()
    }
}

impl<S, F: Clone> Layer<S> for GrpcServerLayer<F> {
    type Service = GrpcServer<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServer::from_parts(inner, self.config.clone(), self.filter.clone())
    }
}
