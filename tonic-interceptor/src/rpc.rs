//! gRPC facts the layers need: the method from the request path, `grpc-timeout`, and which
//! semantic conventions to emit.

use std::time::Duration;

use http::{HeaderMap, HeaderName};

/// The method an RPC calls, parsed from its request path `/{package.Service}/{Method}`.
///
/// Given to [`TraceRpcs`](crate::TraceRpcs) filters. Borrowed from the request, so reading it
/// costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcPath<'a> {
    full: &'a str,
    slash: usize,
}

impl<'a> RpcPath<'a> {
    /// Parses a request path of the form `/{service}/{method}` (both parts non-empty, no further
    /// `/`). Anything else is `None`.
    ///
    /// ```
    /// use tracewire_tonic::RpcPath;
    ///
    /// let rpc = RpcPath::parse("/grpc.health.v1.Health/Check").unwrap();
    /// assert_eq!(rpc.service(), "grpc.health.v1.Health");
    /// assert_eq!(rpc.method(), "Check");
    /// assert_eq!(rpc.full_name(), "grpc.health.v1.Health/Check");
    /// assert!(RpcPath::parse("/health").is_none());
    /// ```
    pub fn parse(path: &'a str) -> Option<Self> {
        let full = path.strip_prefix('/')?;
        let slash = full.find('/')?;
        let method = &full[slash + 1..];
        if slash == 0 || method.is_empty() || method.contains('/') {
            return None;
        }
        Some(RpcPath { full, slash })
    }

    /// The fully-qualified service name, e.g. `echo.Echo`.
    pub fn service(&self) -> &'a str {
        &self.full[..self.slash]
    }

    /// The method name, e.g. `UnaryEcho`.
    pub fn method(&self) -> &'a str {
        &self.full[self.slash + 1..]
    }

    /// `{service}/{method}`: the span name and the `rpc.method` attribute.
    pub fn full_name(&self) -> &'a str {
        self.full
    }
}

/// Which set of RPC semantic-convention attributes the layers emit.
///
/// The layers read `OTEL_SEMCONV_STABILITY_OPT_IN` when they are built: `rpc/dup` in its
/// comma-separated list selects [`SemconvStability::StableAndLegacy`]; anything else the current
/// conventions only. [`Grpc::semconv`](crate::Grpc::semconv) overrides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SemconvStability {
    /// The current conventions: `rpc.system.name`, fully-qualified `rpc.method`,
    /// `rpc.response.status_code` as the code's name.
    #[default]
    Stable,
    /// The current conventions plus the older names many backends still read: `rpc.system`,
    /// `rpc.service` and `rpc.grpc.status_code` (an integer). `rpc.method` exists in both sets
    /// with different values (older: the short method name); it keeps the current,
    /// fully-qualified value, as OpenTelemetry's own instrumentations do in `rpc/dup` mode,
    /// since one key cannot hold both.
    StableAndLegacy,
}

impl SemconvStability {
    /// Reads `OTEL_SEMCONV_STABILITY_OPT_IN`.
    pub fn from_env() -> Self {
        match std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN") {
            Ok(v) => Self::from_opt_in(&v),
            Err(_) => SemconvStability::Stable,
        }
    }

    /// Parses an `OTEL_SEMCONV_STABILITY_OPT_IN` value.
    ///
    /// ```
    /// use tracewire_tonic::SemconvStability;
    ///
    /// assert_eq!(SemconvStability::from_opt_in("http, rpc/dup"), SemconvStability::StableAndLegacy);
    /// assert_eq!(SemconvStability::from_opt_in("rpc"), SemconvStability::Stable);
    /// ```
    pub fn from_opt_in(value: &str) -> Self {
        if value.split(',').any(|v| v.trim() == "rpc/dup") {
            SemconvStability::StableAndLegacy
        } else {
            SemconvStability::Stable
        }
    }

    pub(crate) fn legacy(self) -> bool {
        self == SemconvStability::StableAndLegacy
    }
}

/// `grpc-timeout`, named once (a `&str` name is parsed on every lookup).
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub(crate) fn parse_timeout(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(&GRPC_TIMEOUT)?.as_bytes();
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b"H" => Duration::from_secs(n * 3600),
        b"M" => Duration::from_secs(n * 60),
        b"S" => Duration::from_secs(n),
        b"m" => Duration::from_millis(n),
        b"u" => Duration::from_micros(n),
        b"n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = RpcPath::parse("/echo.Echo/UnaryEcho").unwrap();
        assert_eq!(
            (p.service(), p.method(), p.full_name()),
            ("echo.Echo", "UnaryEcho", "echo.Echo/UnaryEcho")
        );
        for bad in ["", "/", "//m", "/s/", "/s", "s/m", "/s/m/x"] {
            assert_eq!(RpcPath::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timeouts() {
        let t = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("grpc-timeout", v.parse().unwrap());
            parse_timeout(&h)
        };
        assert_eq!(t("100m"), Some(Duration::from_millis(100)));
        assert_eq!(t("2S"), Some(Duration::from_secs(2)));
        assert_eq!(t("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(t("5n"), Some(Duration::from_nanos(5)));
        assert_eq!(t("123456789S"), None);
        assert_eq!(t("S"), None);
        assert_eq!(t("10x"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn semconv_opt_in() {
        assert_eq!(
            SemconvStability::from_opt_in("rpc/dup"),
            SemconvStability::StableAndLegacy
        );
        assert_eq!(
            SemconvStability::from_opt_in("database,rpc"),
            SemconvStability::Stable
        );
        assert_eq!(SemconvStability::from_opt_in(""), SemconvStability::Stable);
    }
}
