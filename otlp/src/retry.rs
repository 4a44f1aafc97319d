//! Retry helpers: jitter, and the server's own wait (`Retry-After` over HTTP, `RetryInfo` over
//! gRPC). Both come from the peer, so both are parsed strictly and with checked arithmetic: a
//! hostile value is ignored or saturates, never overflows; the caller caps the wait at its
//! retry budget.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// `d` scaled by a random factor in [0.5, 1.0], so that many exporters backing off from one
/// struggling collector do not come back in step.
pub(crate) fn jitter(d: Duration) -> Duration {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS once per thread and varied per instance; hashing a
    // counter through it gives well-mixed bits without another dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let r = (h.finish() >> 11) as f64 / (1u64 << 53) as f64; // in [0, 1)
    d.mul_f64(0.5 + r / 2.0)
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date in any of the
/// three forms recipients must accept, turned into a wait from `now` (zero if it is past).
/// Numbers too large for a `u64` saturate; dates must have the exact shape of their form (a
/// four-digit year, two-digit fields), so no arithmetic on them can overflow.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A run of exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn month(s: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == s).map(|i| i as u32 + 1)
}

/// `HH:MM:SS`.
fn time_of_day(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.split(':');
    let t = (
        digits(it.next()?, 2)?,
        digits(it.next()?, 2)?,
        digits(it.next()?, 2)?,
    );
    it.next().is_none().then_some(t)
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// or asctime (`Sun Nov  6 08:49:37 1994`).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let (year, month, day, hms) = if let Some((_, rest)) = s.split_once(", ") {
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            [day, mon, year, hms, "GMT"] => (digits(year, 4)?, month(mon)?, digits(day, 2)?, *hms),
            [date, hms, "GMT"] => {
                let mut d = date.split('-');
                let (day, mon, yy) = (d.next()?, d.next()?, d.next()?);
                if d.next().is_some() {
                    return None;
                }
                // RFC 9110: a two-digit year more than 50 years in the future is in the past
                // century; the current century is assumed to be 2000–2099 here.
                let yy = digits(yy, 2)?;
                let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
                (year, month(mon)?, digits(day, 2)?, *hms)
            }
            _ => return None,
        }
    } else {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [_, mon, day, hms, year] if (1..=2).contains(&day.len()) => {
                (digits(year, 4)?, month(mon)?, digits(day, day.len())?, *hms)
            }
            _ => return None,
        }
    };
    let (h, m, sec) = time_of_day(hms)?;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Four-digit years only, so these products stay far inside every type's range.
    let days = u64::try_from(days_from_civil(i64::from(year), month, day)).ok()?;
    let secs = days * 86_400 + u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(sec);
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(feature = "grpc")]
pub(crate) use self::grpc::retry_info;

#[cfg(feature = "grpc")]
mod grpc {
    //! `google.rpc.RetryInfo` in a gRPC status's details (`grpc-status-details-bin`), which the
    //! OTLP specification asks clients to honour on `UNAVAILABLE` and `RESOURCE_EXHAUSTED`.

    use std::time::Duration;

    use prost::Message as _;

    /// `google.rpc.Status`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<ProtoAny>,
    }

    /// `google.protobuf.Any`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoAny {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }

    /// `google.rpc.RetryInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<ProtoDuration>,
    }

    /// `google.protobuf.Duration`.
    #[derive(Clone, PartialEq, prost::Message)]
    struct ProtoDuration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }

    const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

    /// The retry delay in encoded `google.rpc.Status` details, if any. Negative or malformed
    /// values are ignored; the delay saturates.
    pub(crate) fn retry_info(details: &[u8]) -> Option<Duration> {
        if details.is_empty() {
            return None;
        }
        let status = RpcStatus::decode(details).ok()?;
        let any = status.details.iter().find(|a| a.type_url == RETRY_INFO)?;
        let d = RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
        let secs = u64::try_from(d.seconds).ok()?;
        let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000)?;
        Some(Duration::from_secs(secs).saturating_add(Duration::from_nanos(u64::from(nanos))))
    }

    #[cfg(test)]
    pub(crate) fn encode_retry_info(seconds: i64, nanos: i32) -> Vec<u8> {
        RpcStatus {
            code: 14,
            message: "busy".into(),
            details: vec![ProtoAny {
                type_url: RETRY_INFO.into(),
                value: RetryInfo {
                    retry_delay: Some(ProtoDuration { seconds, nanos }),
                }
                .encode_to_vec(),
            }],
        }
        .encode_to_vec()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn retry_info_is_read_and_hostile_values_ignored() {
            assert_eq!(
                retry_info(&encode_retry_info(2, 500_000_000)),
                Some(Duration::from_millis(2500))
            );
            assert_eq!(
                retry_info(&encode_retry_info(i64::MAX, 999_999_999)),
                Some(Duration::from_secs(i64::MAX as u64) + Duration::from_nanos(999_999_999))
            );
            assert_eq!(retry_info(&encode_retry_info(-1, 0)), None);
            assert_eq!(retry_info(&encode_retry_info(1, -1)), None);
            assert_eq!(retry_info(&encode_retry_info(1, 1_000_000_000)), None);
            assert_eq!(retry_info(b"\xff\xff\xff"), None);
            assert_eq!(retry_info(b""), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_767) // 1994-11-06 08:49:27
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3", now()), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(date, now()),
                Some(Duration::from_secs(10)),
                "{date}"
            );
        }
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now()),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now()), None, "{bad:?}");
        }
    }

    /// Regression: these panicked (SystemTime and Instant overflow) and killed the export
    /// thread.
    #[test]
    fn hostile_retry_after_never_panics() {
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 400000000000 08:49:37 GMT", now()),
            None
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 99999999999999999999", now()),
            None
        );
        assert_eq!(
            parse_retry_after("18446744073709551615", now()),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
        // The latest date the format can carry is fine.
        assert!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now()).is_some());
        // Before 1970: ignored.
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 0000 23:59:59 GMT", now()),
            None
        );
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let d = Duration::from_millis(1000);
        for _ in 0..1000 {
            let j = jitter(d);
            assert!(j >= d / 2 && j <= d, "{j:?}");
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
