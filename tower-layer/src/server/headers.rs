//! Which request and response headers the server span records.
//!
//! Any header can be allowlisted; each is recorded under the protocol's prefix
//! (`http.request.header.<name>`, `rpc.request.metadata.<key>`, ...; lowercase) as an array of
//! strings, one element per header line, as the semantic conventions ask. The attribute keys are
//! built once, when the layer is configured. Sensitive headers (`authorization`, `cookie`,
//! `set-cookie`, ...) are never recorded, whatever the allowlist says. Only sampled spans pay for
//! recording; values that are not visible ASCII are left out.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use tracewire::limits::untrusted;
use tracewire::{Array, SpanExt, Text, Value};

/// Allowlisted headers with their attribute keys.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeaderAllowlist(Arc<[(HeaderName, Cow<'static, str>)]>);

impl HeaderAllowlist {
    /// `prefix` is `http.request.header.` or `http.response.header.`. Invalid and sensitive
    /// names are left out.
    pub(crate) fn new<I, N>(prefix: &str, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let mut list: Vec<(HeaderName, Cow<'static, str>)> = Vec::new();
        for name in names {
            let Ok(name) = HeaderName::from_bytes(name.as_ref().trim().as_bytes()) else {
                continue;
            };
            if crate::attrs::is_sensitive_header(name.as_str())
                || list.iter().any(|(n, _)| *n == name)
            {
                continue;
            }
            let key = Cow::Owned(format!("{prefix}{}", name.as_str()));
            list.push((name, key));
        }
        HeaderAllowlist(list.into())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records the allowlisted headers present in `headers` on `span`.
    pub(crate) fn record(&self, span: &tracing::Span, headers: &HeaderMap) {
        for (name, key) in self.0.iter() {
            let values: Vec<Text> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                // Capped as request-chosen data; short values are stored inline: no
                // allocation per value.
                .map(|v| Text::new(untrusted(v)))
                .collect();
            if !values.is_empty() {
                span.set_attribute(key.clone(), Value::Array(Array::String(values)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_ignores_sensitive_invalid_and_duplicate_names() {
        let list = HeaderAllowlist::new(
            "http.request.header.",
            [
                "X-Request-Id",
                "authorization",
                "cookie",
                "x-tenant",
                "bad name",
                "x-request-id",
            ],
        );
        let keys: Vec<&str> = list.0.iter().map(|(_, k)| k.as_ref()).collect();
        assert_eq!(
            keys,
            [
                "http.request.header.x-request-id",
                "http.request.header.x-tenant"
            ]
        );
    }
}
