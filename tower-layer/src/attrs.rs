//! Semantic-convention values computed from requests and responses, shared by the server and
//! client layers of every protocol (and reusable by other integrations).

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, Method, StatusCode, Uri, Version};
use tracing::Span;

/// The value of `http.request.method`: the method for the nine standard methods, `_OTHER`
/// otherwise (the original is then recorded as `http.request.method_original`).
pub fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// The span name's method part: the method, or `HTTP` for a non-standard one.
pub fn span_method(method: &Method) -> &'static str {
    match method_name(method) {
        "_OTHER" => "HTTP",
        m => m,
    }
}

/// The value of `network.protocol.version`.
pub fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// The host and port a request is addressed to (`server.address`, `server.port`), from the URI
/// authority or the `Host` header. The port is the explicit one (ASCII digits), else the
/// scheme's default. Userinfo is never returned, and an IPv6 address comes without its brackets:
///
/// ```
/// use http::{HeaderMap, Uri};
///
/// let uri: Uri = "http://user@[::1]:9000/x".parse().unwrap();
/// let headers = HeaderMap::new();
/// let (host, port) = tracewire_tower::attrs::server_address(&uri, &headers, "http");
/// assert_eq!((host, port), (Some("::1"), Some(9000)));
/// ```
pub fn server_address<'a>(
    uri: &'a Uri,
    headers: &'a HeaderMap,
    scheme: &str,
) -> (Option<&'a str>, Option<u16>) {
    let authority = match uri.authority() {
        Some(a) => a.as_str(),
        None => match headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(h) => h,
            None => return (None, None),
        },
    };
    let (host, port) = split_authority(authority);
    let port = port.or(match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    });
    (Some(host).filter(|h| !h.is_empty()), port)
}

/// The host and explicit port of `[userinfo@]host[:port]`: one pass from the end finds where
/// the userinfo ends (the last `@`, never recorded) and the colons of the rest. A host with
/// more than one colon and no brackets (a bare IPv6 address) has no port.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let bytes = authority.as_bytes();
    let mut start = 0;
    let mut colon = None;
    let mut colons = 0u32;
    for (i, &b) in bytes.iter().enumerate().rev() {
        match b {
            b'@' => {
                start = i + 1;
                break;
            }
            b':' => {
                colons += 1;
                colon.get_or_insert(i);
            }
            _ => {}
        }
    }
    let hostport = &authority[start..];
    if let Some(rest) = hostport.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(parse_port)),
            None => (hostport, None),
        };
    }
    match colon {
        Some(i) if colons == 1 => (&authority[start..i], parse_port(&authority[i + 1..])),
        _ => (hostport, None),
    }
}

/// A port: ASCII digits only (leading zeros allowed), at most 65535.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for &b in s.as_bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
        if n > u32::from(u16::MAX) {
            return None;
        }
    }
    u16::try_from(n).ok()
}

/// Whether a query or header key looks like it carries a credential: its value is never
/// recorded. Case-insensitive; matches the OpenTelemetry list (`AWSAccessKeyId`, `Signature`,
/// `sig`, `X-Goog-Signature`) and anything containing `token`, `secret`, `password`, `passwd`,
/// `pwd`, `key`, `auth`, `sig`, `credential`, `session` or `cookie`.
pub fn is_credential_key(key: &str) -> bool {
    const NEEDLES: [&str; 11] = [
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "key",
        "auth",
        "sig",
        "credential",
        "session",
        "cookie",
    ];
    // Case-insensitive substring match without allocating a lowercase copy.
    let key = key.as_bytes();
    NEEDLES.iter().any(|n| {
        key.windows(n.len())
            .any(|w| w.eq_ignore_ascii_case(n.as_bytes()))
    })
}

/// The placeholder recorded instead of a redacted value.
pub const REDACTED: &str = "REDACTED";

/// The query string with the values of credential-like keys ([`is_credential_key`]) replaced by
/// `REDACTED`. Keys are matched both as written and percent-decoded, so an encoded key
/// (`api%5Fkey`) does not hide a credential.
///
/// ```
/// assert_eq!(
///     tracewire_tower::redact_query("q=rust&api_key=s3cr3t&page=2&sig=abc"),
///     "q=rust&api_key=REDACTED&page=2&sig=REDACTED"
/// );
/// ```
pub fn redact_query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(needs_redaction) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        if needs_redaction(pair) {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            out.push_str(key);
            out.push('=');
            out.push_str(REDACTED);
        } else {
            out.push_str(pair);
        }
    }
    Cow::Owned(out)
}

fn needs_redaction(pair: &str) -> bool {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    pair.contains('=')
        && (is_credential_key(key) || (key.contains('%') && is_credential_key(&decode_lossy(key))))
}

/// `s` percent-decoded, invalid UTF-8 replaced.
fn decode_lossy(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

/// The value of `url.full` for an outgoing request: scheme, host, port, path and the query with
/// credential-like values redacted; userinfo is replaced by `REDACTED:REDACTED`.
///
/// ```
/// let uri: http::Uri = "http://user:pw@example.com:8080/a/b?token=x&q=1".parse().unwrap();
/// assert_eq!(
///     tracewire_tower::url_full(&uri),
///     "http://REDACTED:REDACTED@example.com:8080/a/b?token=REDACTED&q=1"
/// );
/// ```
pub fn url_full(uri: &Uri) -> String {
    let len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len() + 18)
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    let mut out = String::with_capacity(len);
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        let a = authority.as_str();
        match a.rsplit_once('@') {
            Some((_, host)) => {
                out.push_str("REDACTED:REDACTED@");
                out.push_str(host);
            }
            None => out.push_str(a),
        }
    }
    out.push_str(uri.path());
    if let Some(q) = uri.query() {
        out.push('?');
        out.push_str(&redact_query(q));
    }
    out
}

/// Whether an HTTP *server* span with this response status is an error: 5xx only.
pub fn server_status_is_error(status: StatusCode) -> bool {
    status.is_server_error()
}

/// Whether an HTTP *client* span with this response status is an error: 4xx and 5xx.
pub fn client_status_is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// Marks `span` failed: `otel.status_code` error, `error.type` (low-cardinality: a status code
/// or an error kind, [`ErrorRef::error_type`](crate::ErrorRef::error_type)) and the message as
/// `otel.status_message`.
pub fn record_error(span: &Span, error_type: &str, message: impl fmt::Display) {
    span.record("otel.status_code", "error");
    span.record("error.type", error_type);
    span.record("otel.status_message", tracing::field::display(message));
}

/// Headers whose values are never recorded, whatever the allowlist says.
pub const SENSITIVE_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-csrf-token",
];

/// Whether a header must never be recorded.
pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || is_credential_key(name)
}

/// An IP address for `client.address` and `network.peer.address`, formatted only when the span
/// records it (sampled spans): an IPv4 address digit by digit on the stack, without the `fmt`
/// machinery that otherwise costs more than the rest of recording the span; an IPv6 one with
/// its own `Display`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerIp(pub(crate) std::net::IpAddr);

impl fmt::Display for PeerIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v4 = match self.0 {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(v6) => return v6.fmt(f),
        };
        let mut buf = [0u8; 15];
        let mut len = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if octet >= 100 {
                buf[len] = b'0' + octet / 100;
                len += 1;
            }
            if octet >= 10 {
                buf[len] = b'0' + octet / 10 % 10;
                len += 1;
            }
            buf[len] = b'0' + octet % 10;
            len += 1;
        }
        // Only ASCII digits and dots were written.
        f.pad(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(method_name(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_name(&custom), "_OTHER");
        assert_eq!(span_method(&custom), "HTTP");
    }

    #[test]
    fn addresses() {
        let h = HeaderMap::new();
        let uri: Uri = "http://[::1]:9000/x".parse().unwrap();
        assert_eq!(server_address(&uri, &h, "http"), (Some("::1"), Some(9000)));
        let uri: Uri = "/x".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", "example.com".parse().unwrap());
        assert_eq!(
            server_address(&uri, &h, "https"),
            (Some("example.com"), Some(443))
        );
        h.insert("host", "example.com:8080".parse().unwrap());
        assert_eq!(
            server_address(&uri, &h, "http"),
            (Some("example.com"), Some(8080))
        );
        assert_eq!(
            server_address(&uri, &HeaderMap::new(), "http"),
            (None, None)
        );
    }

    #[test]
    fn authority_table() {
        for (authority, expected) in [
            ("api.local:8080", ("api.local", Some(8080))),
            ("api.local", ("api.local", None)),
            ("user:pw@api.local:81", ("api.local", Some(81))),
            ("a@b@api.local", ("api.local", None)),
            ("[::1]:9000", ("::1", Some(9000))),
            ("[::1]", ("::1", None)),
            ("[::1", ("[::1", None)),
            ("::1", ("::1", None)),
            ("fe80::1:80", ("fe80::1:80", None)),
            ("host:", ("host", None)),
            ("host:00080", ("host", Some(80))),
            ("host:65535", ("host", Some(65535))),
            ("host:65536", ("host", None)),
            ("host:99999999999", ("host", None)),
            ("host:+80", ("host", None)),
            ("host:8o", ("host", None)),
            (":80", ("", Some(80))),
            ("", ("", None)),
        ] {
            assert_eq!(split_authority(authority), expected, "{authority}");
        }
        let uri: Uri = "/x".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", ":80".parse().unwrap());
        assert_eq!(server_address(&uri, &h, "http"), (None, Some(80)));
    }

    #[test]
    fn redaction_table() {
        for (input, expected) in [
            ("a=1&b=2", "a=1&b=2"),
            ("access_token=abc", "access_token=REDACTED"),
            (
                "AWSAccessKeyId=AK&Signature=zz&x=1",
                "AWSAccessKeyId=REDACTED&Signature=REDACTED&x=1",
            ),
            ("X-Goog-Signature=1", "X-Goog-Signature=REDACTED"),
            ("password=hunter2&user=bob", "password=REDACTED&user=bob"),
            ("api%5Fkey=v", "api%5Fkey=REDACTED"),
            ("flag&sessionid=9", "flag&sessionid=REDACTED"),
            ("", ""),
        ] {
            assert_eq!(redact_query(input), expected, "{input}");
        }
    }

    #[test]
    fn status_tables() {
        for (code, server, client) in [
            (200, false, false),
            (204, false, false),
            (301, false, false),
            (399, false, false),
            (400, false, true),
            (404, false, true),
            (499, false, true),
            (500, true, true),
            (503, true, true),
            (599, true, true),
        ] {
            let s = StatusCode::from_u16(code).unwrap();
            assert_eq!(server_status_is_error(s), server, "server {code}");
            assert_eq!(client_status_is_error(s), client, "client {code}");
        }
    }

    #[test]
    fn sensitive_headers() {
        for h in [
            "Authorization",
            "cookie",
            "Set-Cookie",
            "x-api-key",
            "X-Upstream-Token",
        ] {
            assert!(is_sensitive_header(h), "{h}");
        }
        for h in ["content-type", "x-request-id", "accept"] {
            assert!(!is_sensitive_header(h), "{h}");
        }
    }

    #[test]
    fn peer_ip_matches_display() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let cases = [
            IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)),
            IpAddr::V4(Ipv4Addr::new(9, 10, 99, 100)),
            IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6("2001:db8::7".parse().unwrap()),
            IpAddr::V6("::ffff:255.255.255.255".parse().unwrap()),
            IpAddr::V6(Ipv6Addr::new(
                0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
            )),
        ];
        for ip in cases {
            assert_eq!(PeerIp(ip).to_string(), ip.to_string());
            assert_eq!(format!("{:>20}", PeerIp(ip)), format!("{ip:>20}"));
        }
    }
}
