use tracewire::propagation::Propagators;

/// A `tonic::service::Interceptor` that only injects the current trace context into outgoing
/// metadata: no span, no status.
///
/// For users who want propagation alone, with `Client::with_interceptor`. Being a named type,
/// the full client type can be written out and stored:
/// `EchoClient<InterceptedService<Channel, PropagationInterceptor>>`.
///
/// An interceptor sees only the request's metadata and extensions, never the response, so it
/// cannot record a status or a duration; use [`GrpcClientLayer`](crate::GrpcClientLayer) for a
/// CLIENT span. Like the layer, it replaces any trace metadata the caller set.
///
/// ```
/// use tonic::service::Interceptor;
/// use tracewire_tonic::PropagationInterceptor;
///
/// let mut interceptor = PropagationInterceptor::new();
/// let request = interceptor.call(tonic::Request::new(())).unwrap();
/// // No span or scope is active here, so there is nothing to inject.
/// assert!(request.metadata().get("traceparent").is_none());
/// ```
#[derive(Clone, Debug)]
pub struct PropagationInterceptor {
    propagators: Propagators,
}

impl Default for PropagationInterceptor {
    fn default() -> Self {
        PropagationInterceptor::new()
    }
}

impl PropagationInterceptor {
    /// Injects with the process-wide formats ([`Propagators::global`]: `OTEL_PROPAGATORS` once
    /// the set-up ran, else W3C Trace Context + Baggage).
    pub fn new() -> Self {
        PropagationInterceptor {
            propagators: Propagators::global(),
        }
    }

    /// Injects with `propagators` instead.
    #[must_use]
    pub fn with_propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = propagators;
        self
    }
}

impl tonic::service::Interceptor for PropagationInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        tracewire_tower::inject_replacing(
            &self.propagators,
            &tracewire::current(),
            request.metadata_mut().as_mut(),
        );
        Ok(request)
    }
}
