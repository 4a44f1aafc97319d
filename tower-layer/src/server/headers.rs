//! Which request and response headers the server span can record.
//!
//! `tracing` span fields are declared when the span's call site is compiled, so the span
//! carries a field for each header of a fixed catalogue, named per the semantic conventions
//! (`http.request.header.<name>`); the allowlist picks among them. Sensitive headers
//! (`authorization`, `cookie`, `set-cookie`, ...) are not in the catalogue and are never recorded.

/// Request headers that can be recorded as `http.request.header.<name>`.
pub const RECORDABLE_REQUEST_HEADERS: [&str; 8] = [
    "accept",
    "content-type",
    "content-length",
    "x-request-id",
    "x-correlation-id",
    "x-forwarded-for",
    "referer",
    "origin",
];

/// Response headers that can be recorded as `http.response.header.<name>`.
pub const RECORDABLE_RESPONSE_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "cache-control",
    "x-request-id",
    "location",
    "retry-after",
];

/// A set of catalogue entries, as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeaderSet(pub(crate) u16);

impl HeaderSet {
    pub(crate) fn from_names<I, N>(catalogue: &[&str], names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let mut bits = 0u16;
        for name in names {
            let name = name.as_ref();
            if crate::attrs::is_sensitive_header(name) {
                continue;
            }
            if let Some(i) = catalogue.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                bits |= 1 << i;
            }
        }
        HeaderSet(bits)
    }

    pub(crate) fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_ignores_sensitive_and_unknown() {
        let set = HeaderSet::from_names(
            &RECORDABLE_REQUEST_HEADERS,
            ["X-Request-Id", "authorization", "cookie", "x-unknown"],
        );
        assert_eq!(set, HeaderSet(1 << 3));
    }
}
