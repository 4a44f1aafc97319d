//! Propagation: reading the in-band [`Context`] from request headers and writing it into outgoing
//! ones.
//!
//! A [`Propagator`] works over carriers: anything implementing [`Extractor`] (read side) or
//! [`Injector`] (write side). [`http::HeaderMap`] implements both, seeing every value of a
//! repeated header; gRPC metadata is HTTP/2 headers, so the same carrier serves tonic.
//!
//! Formats: W3C Trace Context ([`TraceContextPropagator`]), W3C Baggage
//! ([`BaggagePropagator`]), B3 single and multi header ([`B3Propagator`]) and Jaeger
//! ([`JaegerPropagator`]). [`Propagators`] composes them: on extraction the first format that
//! yields a valid span context wins (baggage from every format is merged); on injection every
//! format writes its headers.
//!
//! There is no global propagator: build a [`Propagators`] value (in code, or from
//! `OTEL_PROPAGATORS` with [`Propagators::from_env`]) and hand it to whoever needs it.
//!
//! ```
//! use http::HeaderMap;
//! use tracewire::propagation::Propagators;
//!
//! let propagators = Propagators::w3c();
//! let mut inbound = HeaderMap::new();
//! inbound.insert(
//!     "traceparent",
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
//! );
//! let cx = propagators.extract(&inbound).unwrap();
//! assert_eq!(
//!     cx.trace_id().unwrap().to_string(),
//!     "4bf92f3577b34da6a3ce929d0e0e4736"
//! );
//!
//! let mut outbound = HeaderMap::new();
//! propagators.inject(&cx, &mut outbound);
//! assert_eq!(
//!     outbound["traceparent"],
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
//! );
//! ```

mod b3;
mod baggage;
mod global;
mod jaeger;
#[cfg(test)]
mod test_support;
mod w3c;

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

pub use self::b3::{B3Encoding, B3Propagator};
pub use self::baggage::BaggagePropagator;
pub use self::jaeger::JaegerPropagator;
pub use self::w3c::TraceContextPropagator;
use crate::baggage::Baggage;
use crate::context::Context;
use crate::error::{ConfigError, ExtractError};

/// The read side of a carrier.
pub trait Extractor {
    /// Calls `f` with every value of the header `key` (names are case-insensitive), in order.
    fn values(&self, key: &str, f: &mut dyn FnMut(&[u8]));

    /// Calls `f` with every header name, once per distinct name.
    fn for_each_key(&self, f: &mut dyn FnMut(&str));

    /// The first value of `key`.
    fn first(&self, key: &str) -> Option<Vec<u8>> {
        let mut out = None;
        self.values(key, &mut |v| {
            if out.is_none() {
                out = Some(v.to_vec());
            }
        });
        out
    }
}

/// The write side of a carrier.
pub trait Injector {
    /// Sets the header `key` (lowercase, static) to `value`, replacing every existing value.
    /// Values that are not valid header values are skipped.
    fn set(&mut self, key: &'static str, value: &[u8]);

    /// Like [`set`](Injector::set) for a name built at run time (e.g. Jaeger's `uberctx-{key}`).
    fn set_dynamic(&mut self, key: &str, value: &[u8]);
}

/// The header names the built-in formats use, built once: looking one up by `HeaderName` skips
/// parsing and lowercasing the name on every request, and lending a static one skips building
/// and dropping it.
fn known_name(key: &str) -> Option<&'static HeaderName> {
    static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    static BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    static B3: HeaderName = HeaderName::from_static("b3");
    static UBER: HeaderName = HeaderName::from_static("uber-trace-id");
    Some(match key {
        "traceparent" => &TRACEPARENT,
        "tracestate" => &TRACESTATE,
        "baggage" => &BAGGAGE,
        "b3" => &B3,
        "uber-trace-id" => &UBER,
        _ => return None,
    })
}

impl Extractor for HeaderMap {
    fn values(&self, key: &str, f: &mut dyn FnMut(&[u8])) {
        let values = match known_name(key) {
            Some(name) => self.get_all(name),
            None => self.get_all(key),
        };
        for v in values {
            f(v.as_bytes());
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&str)) {
        for k in self.keys() {
            f(k.as_str());
        }
    }

    fn first(&self, key: &str) -> Option<Vec<u8>> {
        let value = match known_name(key) {
            Some(name) => self.get(name),
            None => self.get(key),
        };
        value.map(|v| v.as_bytes().to_vec())
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, key: &'static str, value: &[u8]) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            let name = known_name(key).map_or_else(|| HeaderName::from_static(key), Clone::clone);
            self.insert(name, value);
        }
    }

    fn set_dynamic(&mut self, key: &str, value: &[u8]) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            self.insert(name, value);
        }
    }
}

impl<S: std::hash::BuildHasher> Extractor for std::collections::HashMap<String, String, S> {
    fn values(&self, key: &str, f: &mut dyn FnMut(&[u8])) {
        for (k, v) in self {
            if k.eq_ignore_ascii_case(key) {
                f(v.as_bytes());
            }
        }
    }

    fn for_each_key(&self, f: &mut dyn FnMut(&str)) {
        for k in self.keys() {
            f(k);
        }
    }
}

impl<S: std::hash::BuildHasher> Injector for std::collections::HashMap<String, String, S> {
    fn set(&mut self, key: &'static str, value: &[u8]) {
        self.set_dynamic(key, value);
    }

    fn set_dynamic(&mut self, key: &str, value: &[u8]) {
        if let Ok(v) = std::str::from_utf8(value) {
            self.retain(|k, _| !k.eq_ignore_ascii_case(key));
            self.insert(key.to_owned(), v.to_owned());
        }
    }
}

/// One propagation format.
///
/// Implement it for a custom format and add it with [`Propagators::with`].
pub trait Propagator: Send + Sync + fmt::Debug {
    /// Reads this format's headers into `cx`.
    ///
    /// Returns `Ok(true)` when the format found and applied its context, `Ok(false)` when its
    /// headers are absent, and an error when they are present but invalid (`cx` is then left
    /// without a span context from this format; the caller starts a fresh trace).
    fn extract(&self, carrier: &dyn Extractor, cx: &mut Context) -> Result<bool, ExtractError>;

    /// Writes `cx` as this format's headers, replacing any the carrier already has.
    fn inject(&self, cx: &Context, carrier: &mut dyn Injector);

    /// The header names this format reads and writes.
    fn fields(&self) -> &[&'static str];

    /// Whether this format carries a span context (as opposed to only baggage). In a
    /// [`Propagators`] list, once one span-context format succeeds the others are skipped.
    fn carries_span_context(&self) -> bool {
        true
    }
}

#[derive(Clone, Debug)]
enum AnyPropagator {
    TraceContext(TraceContextPropagator),
    Baggage(BaggagePropagator),
    B3(B3Propagator),
    Jaeger(JaegerPropagator),
    Custom(Arc<dyn Propagator>),
}

impl AnyPropagator {
    fn get(&self) -> &dyn Propagator {
        match self {
            AnyPropagator::TraceContext(p) => p,
            AnyPropagator::Baggage(p) => p,
            AnyPropagator::B3(p) => p,
            AnyPropagator::Jaeger(p) => p,
            AnyPropagator::Custom(p) => &**p,
        }
    }
}

/// An ordered list of propagation formats used together.
///
/// Extraction: the first span-context format that yields a valid context wins; baggage from
/// every format is merged. Injection: every format writes its headers. The default is W3C Trace
/// Context plus W3C Baggage, matching `OTEL_PROPAGATORS`'s default.
#[derive(Clone)]
pub struct Propagators {
    /// One shared allocation, so a clone (a client layer's, for each call) is one reference
    /// count.
    formats: Arc<Formats>,
}

struct Formats {
    list: Box<[AnyPropagator]>,
    fields: Box<[&'static str]>,
}

impl Default for Propagators {
    fn default() -> Self {
        Propagators::w3c()
    }
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.formats.list.iter().map(|p| p.get()))
            .finish()
    }
}

impl Propagators {
    fn from_list(list: Vec<AnyPropagator>) -> Self {
        let mut fields: Vec<&'static str> = Vec::new();
        for p in &list {
            for f in p.get().fields() {
                if !fields.contains(f) {
                    fields.push(f);
                }
            }
        }
        Propagators {
            formats: Arc::new(Formats {
                list: list.into(),
                fields: fields.into(),
            }),
        }
    }

    /// W3C Trace Context and W3C Baggage (the default).
    pub fn w3c() -> Self {
        Propagators::from_list(vec![
            AnyPropagator::TraceContext(TraceContextPropagator::new()),
            AnyPropagator::Baggage(BaggagePropagator::new()),
        ])
    }

    /// No formats: nothing is extracted and nothing injected.
    pub fn none() -> Self {
        Propagators::from_list(Vec::new())
    }

    /// A new list with `p` appended.
    #[must_use]
    pub fn with<P: Propagator + 'static>(&self, p: P) -> Self {
        let mut list = self.formats.list.to_vec();
        list.push(AnyPropagator::Custom(Arc::new(p)));
        Propagators::from_list(list)
    }

    /// Builds a list from `OTEL_PROPAGATORS`-style names: `tracecontext`, `baggage`, `b3`
    /// (single header), `b3multi`, `jaeger`, `none`. Unknown names are an error, not ignored.
    ///
    /// ```
    /// use tracewire::propagation::Propagators;
    ///
    /// let p = Propagators::from_names("tracecontext,b3multi").unwrap();
    /// assert_eq!(
    ///     p.fields(),
    ///     ["traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"]
    /// );
    /// assert!(Propagators::from_names("tracecontext,xray").is_err());
    /// ```
    pub fn from_names(names: &str) -> Result<Self, ConfigError> {
        let mut list = Vec::new();
        let mut saw_none = false;
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let p = match name.to_ascii_lowercase().as_str() {
                "tracecontext" => AnyPropagator::TraceContext(TraceContextPropagator::new()),
                "baggage" => AnyPropagator::Baggage(BaggagePropagator::new()),
                "b3" => AnyPropagator::B3(B3Propagator::new(B3Encoding::SingleHeader)),
                "b3multi" => AnyPropagator::B3(B3Propagator::new(B3Encoding::MultiHeader)),
                "jaeger" => AnyPropagator::Jaeger(JaegerPropagator::new()),
                "none" => {
                    saw_none = true;
                    continue;
                }
                _ => return Err(ConfigError::UnknownPropagator(name.to_owned())),
            };
            list.push(p);
        }
        if saw_none {
            list.clear();
        }
        Ok(Propagators::from_list(list))
    }

    /// Reads `OTEL_PROPAGATORS`; unset or empty means the default (`tracecontext,baggage`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Propagators::from_var(std::env::var("OTEL_PROPAGATORS").ok().as_deref())
    }

    /// `OTEL_PROPAGATORS`'s value, when set, read as [`from_env`](Propagators::from_env) does.
    pub(crate) fn from_var(value: Option<&str>) -> Result<Self, ConfigError> {
        match value {
            Some(v) if !v.trim().is_empty() => Propagators::from_names(v),
            _ => Ok(Propagators::w3c()),
        }
    }

    /// Every header name the formats read or write, without duplicates.
    pub fn fields(&self) -> &[&'static str] {
        &self.formats.fields
    }

    /// Extracts a context from `carrier`.
    ///
    /// On error the returned error explains the first rejected header; the baggage found is
    /// still available through [`Propagators::extract_into`]. Absent headers are not an error:
    /// the result is an empty [`Context`].
    pub fn extract(&self, carrier: &dyn Extractor) -> Result<Context, ExtractError> {
        let mut cx = Context::new();
        self.extract_into(carrier, &mut cx).map(|()| cx)
    }

    /// Extracts into `cx`, which keeps whatever was valid (e.g. baggage) even when an error is
    /// returned for a malformed trace header.
    pub fn extract_into(
        &self,
        carrier: &dyn Extractor,
        cx: &mut Context,
    ) -> Result<(), ExtractError> {
        let mut first_err = None;
        let mut have_span = false;
        for p in self.formats.list.iter().map(AnyPropagator::get) {
            let carries_span = p.carries_span_context();
            if carries_span && have_span {
                // A span context was already found: later formats contribute only baggage.
                let mut scratch = Context::new();
                let _ = p.extract(carrier, &mut scratch);
                merge_baggage(cx, scratch.baggage().clone());
                continue;
            }
            match p.extract(carrier, cx) {
                Ok(found) => have_span |= found && carries_span,
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) if !have_span => Err(e),
            _ => Ok(()),
        }
    }

    /// Injects `cx` with every format.
    pub fn inject(&self, cx: &Context, carrier: &mut dyn Injector) {
        for p in self.formats.list.iter() {
            p.get().inject(cx, carrier);
        }
    }
}

/// Merges `found` into `cx`'s baggage: entries already present keep their value.
pub(crate) fn merge_baggage(cx: &mut Context, found: Baggage) {
    if found.is_empty() {
        return;
    }
    if cx.baggage().is_empty() {
        cx.set_baggage(found);
        return;
    }
    let mut merged = cx.baggage().clone();
    for e in found.iter() {
        if merged.get(e.key()).is_none()
            && let Ok(m) = merged.with_properties(e.key(), e.value(), e.properties())
        {
            merged = m;
        }
    }
    cx.set_baggage(merged);
}

/// A header value with its optional whitespace trimmed, refused when longer than `limit` bytes.
pub(crate) fn trimmed<'a>(
    value: &'a [u8],
    header: &'static str,
    limit: usize,
) -> Result<&'a [u8], ExtractError> {
    let v = trim_ows(value);
    if v.len() > limit {
        return Err(ExtractError::TooLong { header, limit });
    }
    Ok(v)
}

/// The span context a peer sent in a format that carries only ids and a sampled flag.
pub(crate) fn received(
    trace_id: crate::TraceId,
    span_id: crate::SpanId,
    sampled: bool,
) -> crate::SpanContext {
    crate::SpanContext::new(
        trace_id,
        span_id,
        crate::TraceFlags::NONE.with_sampled(sampled),
        crate::TraceState::new(),
        true,
    )
}

/// Strips optional whitespace (spaces and tabs) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests;
