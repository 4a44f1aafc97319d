use std::fmt;

use tower_layer::Layer;
use tracewire::propagation::Propagators;

use crate::server::TraceAll;
use crate::service::TraceService;

/// A [`Layer`] that traces the requests sent through the wrapped client service: one `CLIENT`
/// span per request, whose context is injected into the request headers.
///
/// Generic over the protocol `P` ([`HttpClientLayer`](crate::HttpClientLayer) is this layer
/// for HTTP; tracewire-tonic's `GrpcClientLayer` for gRPC) and the request filter `F`.
///
/// ```
/// use tracewire_tower::HttpClientLayer;
///
/// let client = tower::ServiceBuilder::new()
///     .layer(HttpClientLayer::new())
///     .service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     });
/// # let _ = client;
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientLayer<P, F> {
    pub(crate) propagators: Propagators,
    pub(crate) protocol: P,
    pub(crate) filter: F,
}

impl<P: Default> ClientLayer<P, TraceAll> {
    /// A layer injecting the process-wide propagation formats ([`Propagators::global`]:
    /// `OTEL_PROPAGATORS` once the set-up ran, else W3C Trace Context and Baggage), tracing
    /// every request.
    pub fn new() -> Self {
        Self::for_protocol(P::default())
    }
}

impl<P> ClientLayer<P, TraceAll> {
    /// A layer with the defaults for a protocol with these settings.
    pub fn for_protocol(protocol: P) -> Self {
        ClientLayer {
            propagators: Propagators::global(),
            protocol,
            filter: TraceAll,
        }
    }
}

impl<P: Default> Default for ClientLayer<P, TraceAll> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P, F> ClientLayer<P, F> {
    /// The propagation formats to inject (every format writes its headers; default:
    /// [`Propagators::global`]).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = propagators;
        self
    }

    /// Replaces the protocol's own settings.
    pub fn protocol(self, protocol: P) -> Self {
        ClientLayer { protocol, ..self }
    }

    /// Replaces the request filter. Requests it skips get no span and carry the current
    /// context on.
    pub fn filter<F2>(self, filter: F2) -> ClientLayer<P, F2> {
        ClientLayer {
            propagators: self.propagators,
            protocol: self.protocol,
            filter,
        }
    }
}

impl<P: fmt::Debug, F> fmt::Debug for ClientLayer<P, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientLayer")
            .field("propagators", &self.propagators)
            .field("protocol", &self.protocol)
            .field("filter", &std::any::type_name::<F>())
            .finish()
    }
}

impl<S, P: Clone, F: Clone> Layer<S> for ClientLayer<P, F> {
    type Service = TraceService<S, Self>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}
