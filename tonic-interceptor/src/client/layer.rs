use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;
use tracewire::propagation::Propagators;

use super::GrpcClient;
use crate::filter::RpcFilter;
use crate::rpc::SemconvStability;

/// Settings shared by every clone of the client service.
#[derive(Clone, Debug)]
pub(crate) struct ClientConfig {
    pub(crate) propagators: Propagators,
    pub(crate) semconv: SemconvStability,
    pub(crate) server_address: Option<(Box<str>, Option<u16>)>,
}

/// A tower layer that traces gRPC client calls made through a `tonic::transport::Channel` (or
/// any service taking `http::Request<tonic::body::Body>`).
///
/// For each RPC it starts a CLIENT span named `{package.Service}/{Method}` as a child of the
/// current span (or ambient context), injects its context into the request metadata, and ends
/// it when the response stream ends. Every code but OK marks the span as failed.
///
/// ```no_run
/// use tower::ServiceBuilder;
/// use tracewire_tonic::GrpcClientLayer;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = tonic::transport::Endpoint::from_static("http://dispatch:50051")
///     .connect()
///     .await?;
/// let traced = ServiceBuilder::new()
///     .layer(GrpcClientLayer::new().server_address("dispatch", 50051))
///     .service(channel);
/// // let client = DispatchClient::new(traced);
/// # let _ = traced;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct GrpcClientLayer<F = ()> {
    config: Arc<ClientConfig>,
    filter: F,
}

impl GrpcClientLayer {
    /// W3C Trace Context + Baggage, every RPC traced, semantic conventions from
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn new() -> Self {
        GrpcClientLayer {
            config: Arc::new(ClientConfig {
                propagators: Propagators::w3c(),
                semconv: SemconvStability::from_env(),
                server_address: None,
            }),
            filter: (),
        }
    }
}

impl Default for GrpcClientLayer {
    fn default() -> Self {
        GrpcClientLayer::new()
    }
}

impl<F> GrpcClientLayer<F> {
    fn config_mut(&mut self) -> &mut ClientConfig {
        Arc::make_mut(&mut self.config)
    }

    /// The propagation formats to write the context with (default: W3C Trace Context +
    /// Baggage).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.config_mut().propagators = propagators;
        self
    }

    /// Which semantic-convention attribute set to emit, overriding
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn semconv(mut self, semconv: SemconvStability) -> Self {
        self.config_mut().semconv = semconv;
        self
    }

    /// The `server.address` and `server.port` to record. A `Channel` adds the endpoint's
    /// authority below this layer, so requests reaching it carry only a path; requests whose
    /// URI has an authority use it instead.
    pub fn server_address(mut self, host: impl Into<String>, port: u16) -> Self {
        self.config_mut().server_address = Some((host.into().into(), Some(port)));
        self
    }

    /// Which RPCs get a span. Skipped RPCs still carry the current context.
    pub fn filter<F2: RpcFilter>(self, filter: F2) -> GrpcClientLayer<F2> {
        GrpcClientLayer {
            config: self.config,
            filter,
        }
    }
}

impl<F: Clone> Clone for GrpcClientLayer<F> {
    fn clone(&self) -> Self {
        GrpcClientLayer {
            config: self.config.clone(),
            filter: self.filter.clone(),
        }
    }
}

impl<F> fmt::Debug for GrpcClientLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcClientLayer")
            .field("config", &self.config)
            .field("filter", &std::any::type_name::<F>())
            .finish()
    }
}

impl<S, F: Clone> Layer<S> for GrpcClientLayer<F> {
    type Service = GrpcClient<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClient::from_parts(inner, self.config.clone(), self.filter.clone())
    }
}
