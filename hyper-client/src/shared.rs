//! [`SharedClient`]: hyper-util's pooled client behind one reference count, the service the
//! default [`Client`](crate::Client) calls.

use std::error::Error as StdError;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::{Client as HyperClient, Error, ResponseFuture};
use tower_service::Service;

use crate::Connector;

/// hyper-util's pooled client shared behind one reference count: by default the
/// [`HttpClient`](crate::HttpClient) (over the [`Connector`], sending `Full<Bytes>`), or
/// hyper-util's client with any connector and body.
///
/// A tower service's `call` takes `&mut self`, so [`Client`](crate::Client) clones the
/// service it wraps for every call. hyper-util's client clones its connector, executor, pool
/// and protocol settings one by one (about seven reference counts raised, then dropped, with the
/// default connector); this handle clones as one, and calls the client through a shared
/// reference, as hyper-util allows.
/// It dereferences to hyper-util's client.
///
/// ```
/// use hyper_util::client::legacy::Client as HyperClient;
/// use hyper_util::client::legacy::connect::HttpConnector;
/// use hyper_util::rt::TokioExecutor;
/// use tracewire_hyper::{Client, SharedClient};
///
/// // hyper-util's client with settings and a connector of your own, traced without a clone
/// // of it per call.
/// let hyper: HyperClient<HttpConnector, String> = HyperClient::builder(TokioExecutor::new())
///     .pool_max_idle_per_host(8)
///     .build_http();
/// let client = Client::from_service(SharedClient::from(hyper));
/// # let _ = client;
/// ```
pub struct SharedClient<C = Connector, B = Full<Bytes>> {
    inner: Arc<HyperClient<C, B>>,
}

impl<C, B> From<HyperClient<C, B>> for SharedClient<C, B> {
    fn from(client: HyperClient<C, B>) -> Self {
        SharedClient {
            inner: Arc::new(client),
        }
    }
}

impl<C, B> Clone for SharedClient<C, B> {
    fn clone(&self) -> Self {
        SharedClient {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C, B> Deref for SharedClient<C, B> {
    type Target = HyperClient<C, B>;

    fn deref(&self) -> &HyperClient<C, B> {
        &self.inner
    }
}

impl<C, B> fmt::Debug for SharedClient<C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedClient").field(&*self.inner).finish()
    }
}

impl<C, B> Service<Request<B>> for SharedClient<C, B>
where
    C: Connect + Clone + Send + Sync + 'static,
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Response = http::Response<hyper::body::Incoming>;
    type Error = Error;
    type Future = ResponseFuture;

    /// Always ready: hyper-util's client waits for a connection in its response future.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        self.inner.request(req)
    }
}
