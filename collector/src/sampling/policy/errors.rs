//! What makes a span an error, and other per-span facts the policies read, following the
//! OpenTelemetry semantic conventions (HTTP: v1.23 and later, stable; RPC: the `rpc.grpc.status_code`
//! integer of v1.37 and earlier, and the string status of the current RPC conventions).
//!
//! - Any span whose status is `ERROR`.
//! - An HTTP **server** span answering 5xx (`http.response.status_code`, or the older
//!   `http.status_code`), even when its status was left unset. 4xx is the client's fault, not an
//!   error of the server, as the conventions say.
//! - A gRPC **server** span ending with a server-error code: `UNKNOWN`, `DEADLINE_EXCEEDED`,
//!   `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` — read from `rpc.grpc.status_code`
//!   (integer), or from `rpc.response.status_code` / `rpc.status_code` (the code's name) when the
//!   span's `rpc.system.name` (or `rpc.system`) is `grpc` or absent.

use crate::ingest::{NewSpan, NewValue};
use crate::model::{SpanKind, StatusCode};

/// gRPC codes that mark a server span as failed.
const GRPC_SERVER_ERRORS: [i64; 6] = [2, 4, 12, 13, 14, 15];
const GRPC_SERVER_ERROR_NAMES: [&str; 6] = [
    "UNKNOWN",
    "DEADLINE_EXCEEDED",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
];

fn as_int(v: &NewValue) -> Option<i64> {
    match v {
        NewValue::Int(i) => Some(*i),
        NewValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_str(v: &NewValue) -> Option<&str> {
    match v {
        NewValue::Str(s) => Some(s),
        _ => None,
    }
}

/// The HTTP response status of a span, if it recorded one.
pub(crate) fn http_status(span: &NewSpan) -> Option<i64> {
    span.attributes
        .iter()
        .find(|(k, _)| k == "http.response.status_code" || k == "http.status_code")
        .and_then(|(_, v)| as_int(v))
}

/// Whether the span failed (see the module docs).
#[cfg(test)]
pub(crate) fn is_error(span: &NewSpan) -> bool {
    flags(span, None).0
}

/// Whether the span failed, and whether it carries the force-keep attribute `force` with a
/// true value (`true`, a non-zero number, or the text `true`, `1`, `yes` or `on`, any case),
/// in one pass over its attributes.
pub(crate) fn flags(span: &NewSpan, force: Option<&str>) -> (bool, bool) {
    let server = span.kind == SpanKind::Server;
    let mut error = span.status == StatusCode::Error;
    let mut forced = false;
    if !server && force.is_none() {
        return (error, false);
    }
    let mut grpc_name: Option<&str> = None;
    let mut rpc_system: Option<&str> = None;
    for (k, v) in &span.attributes {
        if force.is_some_and(|f| k == f) {
            forced = truthy(v);
        }
        if !server || error {
            continue;
        }
        match &**k {
            "http.response.status_code" | "http.status_code" => {
                error = as_int(v).is_some_and(|c| (500..600).contains(&c));
            }
            "rpc.grpc.status_code" => {
                error = as_int(v).is_some_and(|c| GRPC_SERVER_ERRORS.contains(&c));
            }
            "rpc.response.status_code" | "rpc.status_code" => grpc_name = as_str(v),
            "rpc.system.name" | "rpc.system" => rpc_system = as_str(v),
            _ => {}
        }
    }
    error |= server
        && grpc_name.is_some_and(|n| GRPC_SERVER_ERROR_NAMES.contains(&n))
        && rpc_system.is_none_or(|s| s == "grpc");
    (error, forced)
}

/// Whether the span carries the force-keep attribute `key` with a true value.
#[cfg(test)]
pub(crate) fn is_forced(span: &NewSpan, key: &str) -> bool {
    flags(span, Some(key)).1
}

fn truthy(v: &NewValue) -> bool {
    match v {
        NewValue::Bool(b) => *b,
        NewValue::Int(i) => *i != 0,
        NewValue::Double(d) => *d != 0.0,
        NewValue::Str(s) => {
            let s = s.trim();
            ["true", "1", "yes", "on"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
        }
        NewValue::Json(_) => false,
    }
}

/// The dynamic sampler's status class of a trace: `error`, else the root's HTTP class, else
/// `ok`.
pub(crate) fn status_class(error: bool, root_http: Option<i64>) -> &'static str {
    if error {
        return "error";
    }
    match root_http {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "ok",
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::sampling::test_support::span;

    fn with(kind: SpanKind, attrs: &[(&'static str, NewValue)]) -> NewSpan {
        let mut s = span(1, 1, 0, 0, 10);
        s.kind = kind;
        s.attributes = attrs
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
            .collect();
        s
    }

    fn text(s: &'static str) -> NewValue {
        NewValue::Str(Cow::Borrowed(s))
    }

    #[test]
    fn status_http_and_grpc_errors() {
        let mut s = span(1, 1, 0, 0, 10);
        assert!(!is_error(&s));
        s.status = StatusCode::Error;
        assert!(is_error(&s));

        let server = SpanKind::Server;
        let code = |c| ("http.response.status_code", NewValue::Int(c));
        assert!(is_error(&with(server, &[code(503)])));
        assert!(!is_error(&with(server, &[code(404)])));
        assert!(!is_error(&with(SpanKind::Client, &[code(503)])));
        assert!(is_error(&with(
            server,
            &[("http.status_code", text("500"))]
        )));

        assert!(is_error(&with(
            server,
            &[("rpc.grpc.status_code", NewValue::Int(14))]
        )));
        assert!(!is_error(&with(
            server,
            &[("rpc.grpc.status_code", NewValue::Int(5))]
        )));
        assert!(is_error(&with(
            server,
            &[
                ("rpc.system.name", text("grpc")),
                ("rpc.response.status_code", text("INTERNAL"))
            ]
        )));
        assert!(is_error(&with(
            server,
            &[("rpc.status_code", text("DEADLINE_EXCEEDED"))]
        )));
        assert!(!is_error(&with(
            server,
            &[("rpc.status_code", text("NOT_FOUND"))]
        )));
        // Another RPC system's codes are not gRPC's.
        assert!(!is_error(&with(
            server,
            &[
                ("rpc.system.name", text("jsonrpc")),
                ("rpc.response.status_code", text("INTERNAL"))
            ]
        )));
        // On the client side only the status counts.
        assert!(!is_error(&with(
            SpanKind::Client,
            &[("rpc.grpc.status_code", NewValue::Int(14))]
        )));
    }

    #[test]
    fn forced_values() {
        let key = "tracewire.sampling.force";
        for (v, forced) in [
            (NewValue::Bool(true), true),
            (NewValue::Bool(false), false),
            (NewValue::Int(1), true),
            (NewValue::Int(0), false),
            (NewValue::Double(0.5), true),
            (text("TRUE"), true),
            (text(" yes "), true),
            (text("on"), true),
            (text("0"), false),
            (text("no"), false),
            (NewValue::Json("[true]".into()), false),
        ] {
            let s = with(
                SpanKind::Internal,
                &[("tracewire.sampling.force", v.clone())],
            );
            assert_eq!(is_forced(&s, key), forced, "{v:?}");
        }
        assert!(!is_forced(&span(1, 1, 0, 0, 1), key));
    }

    #[test]
    fn classes() {
        assert_eq!(status_class(true, Some(200)), "error");
        assert_eq!(status_class(false, Some(204)), "2xx");
        assert_eq!(status_class(false, Some(302)), "3xx");
        assert_eq!(status_class(false, Some(404)), "4xx");
        assert_eq!(status_class(false, Some(503)), "5xx");
        assert_eq!(status_class(false, None), "ok");
        let s = with(
            SpanKind::Server,
            &[("http.response.status_code", NewValue::Int(201))],
        );
        assert_eq!(http_status(&s), Some(201));
    }
}
