//! The inbound request headers the propagation benches extract from: shared by the criterion
//! and instruction-count benches of `tracewire`.

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};

/// A request's headers: `traceparent`, `content-type`, `user-agent` and `extra` more (a hostile
/// peer's hundreds of headers).
pub(crate) fn inbound(traceparent: &'static str, extra: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("traceparent", HeaderValue::from_static(traceparent));
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    for i in 0..extra {
        let name = HeaderName::try_from(format!("x-extra-{i:03}")).expect("a valid name");
        h.append(name, HeaderValue::from_static("v"));
    }
    h
}
