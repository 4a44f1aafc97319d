//! The request-info hook: what the framework knows that the request line does not say.

use std::borrow::Cow;
use std::net::SocketAddr;

use http::request::Parts;

/// The route template a request matched, put in request extensions by a router (or by any
/// middleware that knows it) before the server layer sees the request.
///
/// ```
/// use tracewire_tower::HttpRoute;
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(HttpRoute::new("/users/{id}"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRoute(Cow<'static, str>);

impl HttpRoute {
    /// A route template, e.g. `/users/{id}`.
    pub fn new(route: impl Into<Cow<'static, str>>) -> Self {
        HttpRoute(route.into())
    }

    /// The template.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Framework knowledge about a request: the matched route template and the peer's address.
///
/// [`DefaultRequestInfo`] reads the [`HttpRoute`] and [`SocketAddr`] request extensions;
/// `tracewire-axum` reads axum's `MatchedPath` and `ConnectInfo`.
pub trait RequestInfo {
    /// The route template (`/users/{id}`), if known. Never the raw path.
    fn route<'a>(&self, parts: &'a Parts) -> Option<&'a str>;

    /// The socket address of the peer that sent the request, if known: recorded as
    /// `network.peer.address`/`network.peer.port` and, with no proxy information, as
    /// `client.address`/`client.port`.
    fn peer_address(&self, parts: &Parts) -> Option<SocketAddr>;
}

/// Reads the [`HttpRoute`] and [`SocketAddr`] request extensions.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultRequestInfo;

impl RequestInfo for DefaultRequestInfo {
    fn route<'a>(&self, parts: &'a Parts) -> Option<&'a str> {
        parts.extensions.get::<HttpRoute>().map(HttpRoute::as_str)
    }

    fn peer_address(&self, parts: &Parts) -> Option<SocketAddr> {
        parts.extensions.get::<SocketAddr>().copied()
    }
}
