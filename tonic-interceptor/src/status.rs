//! gRPC status codes: their names, which are errors on which side, and reading a status from
//! headers or trailers.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName};

/// The names of the gRPC status codes, indexed by code (the one table: spans, tests and the
/// cross-crate tests all read it through [`code_name`]).
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub(crate) const OK: i32 = 0;
pub(crate) const CANCELLED: i32 = 1;
pub(crate) const UNKNOWN: i32 = 2;
pub(crate) const DEADLINE_EXCEEDED: i32 = 4;

/// The name of gRPC status code `code` as the semantic conventions record it
/// (`rpc.response.status_code`, `error.type`): `"NOT_FOUND"`, or the decimal form for a code
/// gRPC does not define.
///
/// ```
/// assert_eq!(tracewire_tonic::code_name(5), "NOT_FOUND");
/// assert_eq!(tracewire_tonic::code_name(tonic::Code::DeadlineExceeded as i32), "DEADLINE_EXCEEDED");
/// assert_eq!(tracewire_tonic::code_name(42), "42");
/// ```
pub fn code_name(code: i32) -> Cow<'static, str> {
    match usize::try_from(code).ok().and_then(|i| CODE_NAMES.get(i)) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(code.to_string()),
    }
}

/// Which side of the call a span describes; it decides which codes are errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl Side {
    /// Whether `code` marks the span as failed. On the server only UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS are errors (the others are the
    /// caller's doing); on the client every code but OK is.
    pub(crate) fn is_error(self, code: i32) -> bool {
        match self {
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
            Side::Client => code != OK,
        }
    }
}

/// A final status read from `grpc-status` / `grpc-message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GrpcStatus<'a> {
    pub(crate) code: i32,
    pub(crate) message: Option<Cow<'a, str>>,
}

/// The status headers, named once: `HeaderMap::get` with a `&str` parses the name on every call.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Reads `grpc-status` (and `grpc-message`, percent-decoded) from a header or trailer map. A
/// `grpc-status` that is not a number counts as UNKNOWN, as gRPC clients treat it.
pub(crate) fn status_from_headers(map: &HeaderMap) -> Option<GrpcStatus<'_>> {
    let raw = map.get(&GRPC_STATUS)?;
    let code = std::str::from_utf8(raw.as_bytes())
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|c| *c >= 0)
        .unwrap_or(UNKNOWN);
    let message = map
        .get(&GRPC_MESSAGE)
        .map(|m| percent_encoding::percent_decode(m.as_bytes()).decode_utf8_lossy())
        .filter(|m| !m.is_empty());
    Some(GrpcStatus { code, message })
}

/// The gRPC code a client infers from a non-200 HTTP status without `grpc-status`
/// (gRPC's `http-grpc-status-mapping`).
pub(crate) fn code_from_http(status: http::StatusCode) -> i32 {
    match status.as_u16() {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502..=504 => 14,
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NOT_FOUND` from tonic's `NotFound`: the names derived independently of the table, so a
    /// typo in it fails here.
    fn screaming_snake(code: tonic::Code) -> String {
        let mut out = String::new();
        for (i, c) in format!("{code:?}").chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn code_names_match_tonic() {
        for code in 0..=16 {
            let expected = screaming_snake(tonic::Code::from_i32(code));
            assert_eq!(code_name(code), expected, "code {code}");
        }
        assert_eq!(code_name(17), "17");
        assert_eq!(code_name(-1), "-1");
    }

    #[test]
    fn statuses() {
        let mut h = HeaderMap::new();
        assert_eq!(status_from_headers(&h), None);
        h.insert("grpc-status", "5".parse().unwrap());
        h.insert("grpc-message", "no%20such%20ride%E2%9C%93".parse().unwrap());
        assert_eq!(
            status_from_headers(&h),
            Some(GrpcStatus {
                code: 5,
                message: Some("no such ride✓".into())
            })
        );
        h.insert("grpc-status", "banana".parse().unwrap());
        h.remove("grpc-message");
        assert_eq!(
            status_from_headers(&h),
            Some(GrpcStatus {
                code: UNKNOWN,
                message: None
            })
        );
    }

    #[test]
    fn http_mapping() {
        assert_eq!(code_from_http(http::StatusCode::NOT_FOUND), 12);
        assert_eq!(code_from_http(http::StatusCode::SERVICE_UNAVAILABLE), 14);
        assert_eq!(code_from_http(http::StatusCode::IM_A_TEAPOT), UNKNOWN);
    }
}
