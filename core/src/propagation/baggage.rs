//! W3C Baggage: the `baggage` header.

use super::{Extractor, Injector, Propagator, merge_baggage};
use crate::baggage::Baggage;
use crate::context::Context;
use crate::error::ExtractError;

const BAGGAGE: &str = "baggage";

/// W3C Baggage (`baggage` header).
///
/// Values are percent-decoded on extraction and percent-encoded on injection (a literal `%` is
/// sent as `%25`); properties are kept. At most [`Baggage::MAX_MEMBERS`] members and
/// [`Baggage::MAX_BYTES`] bytes are propagated; invalid members are skipped but count against
/// those limits, so degenerate input stops the parser early.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct BaggagePropagator;

impl BaggagePropagator {
    /// The propagator.
    pub const fn new() -> Self {
        BaggagePropagator
    }
}

impl Propagator for BaggagePropagator {
    fn extract(&self, carrier: &dyn Extractor, cx: &mut Context) -> Result<bool, ExtractError> {
        let mut owned: Vec<Vec<u8>> = Vec::new();
        carrier.values(BAGGAGE, &mut |v| owned.push(v.to_vec()));
        if owned.is_empty() {
            return Ok(false);
        }
        let (bag, _dropped) = Baggage::parse_values(owned.iter().map(Vec::as_slice));
        let found = !bag.is_empty();
        merge_baggage(cx, bag);
        Ok(found)
    }

    fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        if !cx.baggage().is_empty() {
            carrier.set(BAGGAGE, cx.baggage().header().as_bytes());
        }
    }

    fn fields(&self) -> &[&'static str] {
        &[BAGGAGE]
    }

    fn carries_span_context(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    #[test]
    fn repeated_headers_combine() {
        let mut h = HeaderMap::new();
        h.append("baggage", "a=1".parse().unwrap());
        h.append("baggage", "b=%E2%9C%93;prop".parse().unwrap());
        let mut cx = Context::new();
        assert_eq!(BaggagePropagator.extract(&h, &mut cx), Ok(true));
        assert_eq!(cx.baggage().get("b"), Some("✓"));
        let mut out = HeaderMap::new();
        BaggagePropagator.inject(&cx, &mut out);
        assert_eq!(out["baggage"], "a=1,b=%E2%9C%93;prop");
    }

    #[test]
    fn literal_percent_is_encoded() {
        let cx = Context::new().with_baggage(Baggage::new().with("p", "50% off, now").unwrap());
        let mut out = HeaderMap::new();
        BaggagePropagator.inject(&cx, &mut out);
        assert_eq!(out["baggage"], "p=50%25%20off%2C%20now");
    }

    #[test]
    fn propagates_64_members_and_8192_bytes() {
        // W3C Baggage §3.3.1: at least 64 members and 8192 bytes.
        let value = "v".repeat(120);
        let header: String = (0..64)
            .map(|i| format!("key{i:02}={value}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(header.len() <= 8192);
        let mut h = HeaderMap::new();
        h.insert("baggage", header.parse().unwrap());
        let mut cx = Context::new();
        BaggagePropagator.extract(&h, &mut cx).unwrap();
        assert_eq!(cx.baggage().len(), 64);
        let mut out = HeaderMap::new();
        BaggagePropagator.inject(&cx, &mut out);
        assert_eq!(out["baggage"], header.as_str());
    }
}
