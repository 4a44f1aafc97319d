//! Who may talk to the collector: the loopback `Host` policy (against DNS rebinding), the
//! optional bearer token, and the UI's security headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use ring::digest;
use subtle::ConstantTimeEq;

/// The cookie the UI's sign-in sets, so a browser can send the token with every request.
pub(crate) const TOKEN_COOKIE: &str = "tracewire_token";
/// The query parameter that signs a browser in (`/ui/?token=...`).
const TOKEN_PARAM: &str = "token";

/// `Content-Security-Policy` of every API/UI response: the page loads only its own script and
/// style, and no other site may frame it.
pub(crate) const CSP: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A bearer token, kept as its SHA-256 so that comparing takes the same time whatever the
/// presented value (its length included).
pub(crate) struct AuthToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(..)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// Whether `token` is an RFC 6750 `b64token`: what may follow `Bearer ` in a header (and so
/// also safe in a cookie and a query string).
pub(crate) fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

impl AuthToken {
    /// `None` when `token` is not a `b64token`.
    pub(crate) fn new(token: &str) -> Option<Self> {
        is_b64token(token).then(|| AuthToken {
            digest: sha256(token.as_bytes()),
        })
    }

    fn matches(&self, presented: &[u8]) -> bool {
        bool::from(sha256(presented).ct_eq(&self.digest))
    }

    /// Whether the request carries the token: `Authorization: Bearer` (gRPC: `authorization`
    /// metadata), or, where `cookie` is set, the UI's sign-in cookie.
    pub(crate) fn admits(&self, headers: &HeaderMap, cookie: bool) -> bool {
        let bearer = headers.get_all(header::AUTHORIZATION).iter().any(|v| {
            let v = v.as_bytes();
            v.len() > 7
                && v[..7].eq_ignore_ascii_case(b"bearer ")
                && self.matches(v[7..].trim_ascii())
        });
        bearer
            || (cookie
                && headers
                    .get_all(header::COOKIE)
                    .iter()
                    .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
                    .filter_map(|pair| {
                        let pair = pair.trim_ascii();
                        pair.strip_prefix(TOKEN_COOKIE.as_bytes())?
                            .strip_prefix(b"=")
                    })
                    .any(|v| self.matches(v)))
    }

    /// A UI sign-in: `GET /ui...?token=<token>` with the right token answers a redirect to the
    /// same page without the token, setting the cookie. `None` when the request is not one.
    pub(crate) fn sign_in<B>(
        &self,
        req: &Request<B>,
        secure: bool,
    ) -> Option<Response<Full<Bytes>>> {
        if req.method() != http::Method::GET || !req.uri().path().starts_with("/ui") {
            return None;
        }
        let query = req.uri().query()?;
        let mut token = None;
        let mut rest = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((TOKEN_PARAM, v)) => token = Some(v),
                _ => rest.push(pair),
            }
        }
        let token = percent_encoding::percent_decode_str(token?).collect::<Vec<u8>>();
        if !self.matches(&token) {
            return None;
        }
        let mut location = req.uri().path().to_owned();
        if !rest.is_empty() {
            location.push('?');
            location.push_str(&rest.join("&"));
        }
        // `token` is a b64token (checked at start-up, and it matched), so it is cookie-safe.
        let cookie = format!(
            "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
            String::from_utf8_lossy(&token),
            if secure { "; Secure" } else { "" }
        );
        let mut r = Response::new(Full::default());
        *r.status_mut() = StatusCode::SEE_OTHER;
        let h = r.headers_mut();
        h.insert(header::LOCATION, HeaderValue::try_from(location).ok()?);
        h.insert(header::SET_COOKIE, HeaderValue::try_from(cookie).ok()?);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Some(r)
    }
}

/// On loopback binds, the `Host` names answered: `localhost`, `127.0.0.0/8`, `[::1]` (any
/// port) and the names added with `allow_host`. A page that rebinds its own name to 127.0.0.1
/// still sends its own name, and is refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostPolicy {
    extra: Vec<String>,
}

impl HostPolicy {
    pub(crate) fn new(extra: &[String]) -> Self {
        HostPolicy {
            extra: extra
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }

    /// The refused host name, if any. A request without any host (HTTP/1.0) is not from a
    /// browser and passes.
    pub(crate) fn refused<'a, B>(&self, req: &'a Request<B>) -> Option<&'a str> {
        if let Some(host) = req.uri().host()
            && !self.allows(host)
        {
            return Some(host);
        }
        req.headers()
            .get_all(header::HOST)
            .iter()
            .map(|v| v.to_str().unwrap_or("?"))
            .find(|v| !self.allows(strip_port(v)))
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        if let Some(v6) = bare {
            return v6.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return IpAddr::V4(ip).is_loopback();
        }
        self.extra.iter().any(|h| h.eq_ignore_ascii_case(host))
    }
}

/// `host[:port]` → `host` (an IPv6 literal keeps its brackets).
fn strip_port(v: &str) -> &str {
    let v = v.trim();
    if v.starts_with('[') {
        return v.find(']').map_or(v, |end| &v[..=end]);
    }
    match v.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => v,
    }
}

/// A short plain-text answer from the edge itself.
pub(crate) fn plain(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(message)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// 401 with the `WWW-Authenticate` challenge.
pub(crate) fn unauthorized(grpc: bool) -> Response<Full<Bytes>> {
    const MESSAGE: &str = "missing or wrong bearer token: send `authorization: Bearer <token>`";
    if grpc {
        return tonic::Status::unauthenticated(MESSAGE).into_http();
    }
    let mut r = plain(StatusCode::UNAUTHORIZED, format!("{MESSAGE}\n"));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tracewire-collector\""),
    );
    r
}

/// 421 for a `Host` a loopback listener does not answer.
pub(crate) fn misdirected(host: &str) -> Response<Full<Bytes>> {
    plain(
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "host `{}` is not served here: this collector listens on loopback and answers only \
             localhost, 127.0.0.1 and [::1] (add names with --allow-host)\n",
            host.escape_debug()
        ),
    )
}

/// Adds the UI's security headers where the handler set none.
pub(crate) fn secure_headers(headers: &mut HeaderMap) {
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn loopback_hosts_pass_others_are_named() {
        let p = HostPolicy::new(&["Collector.Internal".to_owned()]);
        for ok in [
            "localhost",
            "LOCALHOST:16686",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:4318",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:16686",
            "collector.internal:16686",
        ] {
            assert_eq!(p.refused(&req("/", &[("host", ok)])), None, "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:16686",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]:80",
            "[::1",
            "",
        ] {
            assert_eq!(p.refused(&req("/", &[("host", bad)])), Some(bad), "{bad}");
        }
        // HTTP/2 carries the authority in the URI.
        assert_eq!(
            p.refused(&req("http://evil.example:4318/v1/traces", &[])),
            Some("evil.example")
        );
        assert_eq!(p.refused(&req("http://localhost:4318/", &[])), None);
        // No host at all: not a browser.
        assert_eq!(p.refused(&req("/", &[])), None);
        // Two Host headers: both must pass.
        assert_eq!(
            p.refused(&req(
                "/",
                &[("host", "localhost"), ("host", "evil.example")]
            )),
            Some("evil.example")
        );
    }

    #[test]
    fn tokens_by_header_and_cookie() {
        assert!(AuthToken::new("").is_none());
        assert!(AuthToken::new("has space").is_none());
        assert!(AuthToken::new("semi;colon").is_none());
        assert!(AuthToken::new("===").is_none());
        let t = AuthToken::new("s3cr3t-Token_~+/==").unwrap();
        let h = |pairs: &[(&str, &str)]| req("/", pairs).headers().clone();
        assert!(t.admits(&h(&[("authorization", "Bearer s3cr3t-Token_~+/==")]), false));
        assert!(t.admits(
            &h(&[("authorization", "bearer  s3cr3t-Token_~+/== ")]),
            false
        ));
        assert!(!t.admits(&h(&[("authorization", "Bearer s3cr3t-Token_~+/")]), false));
        assert!(!t.admits(&h(&[("authorization", "Basic s3cr3t-Token_~+/==")]), false));
        assert!(!t.admits(&h(&[]), true));
        let cookie = [("cookie", "a=b; tracewire_token=s3cr3t-Token_~+/==; c=d")];
        assert!(t.admits(&h(&cookie), true));
        assert!(!t.admits(&h(&cookie), false), "cookies only where allowed");
        assert!(!t.admits(&h(&[("cookie", "tracewire_token=nope")]), true));
    }

    #[test]
    fn sign_in_sets_the_cookie_and_drops_the_token_from_the_url() {
        let t = AuthToken::new("abc123").unwrap();
        let r = t
            .sign_in(&req("/ui/?service=x&token=abc123&errors=1", &[]), false)
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/ui/?service=x&errors=1");
        assert_eq!(
            r.headers()["set-cookie"],
            "tracewire_token=abc123; Path=/; HttpOnly; SameSite=Strict"
        );
        let r = t
            .sign_in(&req("/ui/map?token=abc%31%323", &[]), true)
            .unwrap();
        assert_eq!(r.headers()["location"], "/ui/map");
        assert!(
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        assert!(t.sign_in(&req("/ui/?token=wrong", &[]), false).is_none());
        assert!(
            t.sign_in(&req("/api/services?token=abc123", &[]), false)
                .is_none()
        );
        assert!(t.sign_in(&req("/ui/", &[]), false).is_none());
    }

    #[test]
    fn headers_and_answers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        secure_headers(&mut h);
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h.get_all(header::X_CONTENT_TYPE_OPTIONS).iter().count(), 1);
        let r = unauthorized(true);
        assert_eq!(r.headers()["grpc-status"], "16");
        let r = unauthorized(false);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"tracewire-collector\""
        );
        assert_eq!(
            misdirected("a\"b").status(),
            StatusCode::MISDIRECTED_REQUEST
        );
    }
}
