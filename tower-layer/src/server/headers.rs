//! Which request and response headers the server span records.
//!
//! Any header can be allowlisted; each is recorded as `http.request.header.<name>` or
//! `http.response.header.<name>` (lowercase, per the semantic conventions), repeated values
//! joined with `,`. The attribute keys are built once, when the layer is configured. Sensitive
//! headers (`authorization`, `cookie`, `set-cookie`, ...) are never recorded, whatever the
//! allowlist says. Only sampled spans pay for recording.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use tracewire::{SpanExt, Text};

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
            let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
            let Some(first) = values.next() else {
                continue;
            };
            let value = match values.next() {
                // Short values are stored inline: no allocation.
                None => Text::new(first),
                Some(second) => {
                    let mut joined = format!("{first},{second}");
                    for v in values {
                        joined.push(',');
                        joined.push_str(v);
                    }
                    Text::from(joined)
                }
            };
            span.set_attribute(key.clone(), value);
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
