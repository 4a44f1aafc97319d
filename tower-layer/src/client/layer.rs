use tower_layer::Layer;
use tracewire::propagation::Propagators;

use super::TraceClient;

/// A [`Layer`] that traces the HTTP requests sent through the wrapped client service.
///
/// ```
/// use tracewire_tower::TraceClientLayer;
///
/// let client = tower::ServiceBuilder::new()
///     .layer(TraceClientLayer::new())
///     .service_fn(|_req: http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     });
/// # let _ = client;
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct TraceClientLayer {
    pub(crate) propagators: Propagators,
}

impl TraceClientLayer {
    /// A layer injecting W3C Trace Context and Baggage.
    pub fn new() -> Self {
        TraceClientLayer {
            propagators: Propagators::w3c(),
        }
    }

    /// The propagation formats to inject (every format writes its headers).
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = propagators;
        self
    }
}

impl<S> Layer<S> for TraceClientLayer {
    type Service = TraceClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceClient {
            inner,
            propagators: self.propagators.clone(),
        }
    }
}
