//! Query-string parsing for the JSON API: search conditions, durations and pages.

use std::time::Duration;

use crate::query::TraceQuery;

/// The message for a search with more distinct tags than [`TraceQuery::MAX_TAGS`].
pub(crate) fn too_many_tags() -> String {
    format!(
        "at most {} distinct `tags` per search; narrow the search",
        TraceQuery::MAX_TAGS
    )
}

/// A page of a trace: `offset` (default 0) and `limit` (default [`Page::DEFAULT_LIMIT`], at
/// most [`Page::MAX_LIMIT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) offset: usize,
    pub(crate) limit: usize,
}

impl Page {
    pub(crate) const DEFAULT_LIMIT: usize = 1000;
    pub(crate) const MAX_LIMIT: usize = 10_000;
}

/// Parses `offset=&limit=` (nothing else is accepted).
pub(super) fn parse_page(raw: &str) -> Result<Page, String> {
    let mut page = Page {
        offset: 0,
        limit: Page::DEFAULT_LIMIT,
    };
    for pair in decoded_pairs(raw) {
        let (k, v) = pair?;
        match k.as_str() {
            "offset" => page.offset = non_negative("offset", &v)?,
            "limit" => {
                let n = non_negative("limit", &v)?;
                if n == 0 || n > Page::MAX_LIMIT {
                    return Err(format!(
                        "`limit` must be between 1 and {}, got {n}",
                        Page::MAX_LIMIT
                    ));
                }
                page.limit = n;
            }
            other => return Err(format!("unknown query parameter `{other}`")),
        }
    }
    Ok(page)
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
/// `percent_decode` passes a malformed escape through unchanged; a query is refused instead.
pub(super) fn form_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let malformed = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(format!("invalid percent-encoding in `{s}`"));
    }
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| format!("`{s}` is not UTF-8"))
}

/// The decoded `key=value` pairs of a query string, in order (a pair that does not decode is
/// an error in its place).
fn decoded_pairs(raw: &str) -> impl Iterator<Item = Result<(String, String), String>> + '_ {
    raw.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        Ok((form_decode(k)?, form_decode(v)?))
    })
}

/// A parameter's value as a non-negative integer.
fn non_negative<T: std::str::FromStr>(what: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("`{what}` must be a non-negative integer, got `{v}`"))
}

/// The decoded `key=value` pairs of a query string; a key outside `allowed` is refused.
pub(crate) fn query_pairs(raw: &str, allowed: &[&str]) -> Result<Vec<(String, String)>, String> {
    decoded_pairs(raw)
        .map(|pair| {
            let (k, v) = pair?;
            if allowed.contains(&k.as_str()) {
                Ok((k, v))
            } else {
                Err(format!("unknown query parameter `{k}`"))
            }
        })
        .collect()
}

/// A time window ending at `end_ns`: `window=` (a duration with a unit, default and at most
/// `longest`) and `end=` (microseconds since the Unix epoch, as `/api/traces` takes them;
/// default `now_ns`). Nothing else is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) window: Duration,
    pub(crate) end_ns: u64,
}

impl Window {
    pub(crate) fn parse(raw: &str, longest: Duration, now_ns: u64) -> Result<Window, String> {
        let mut w = Window {
            window: longest,
            end_ns: now_ns,
        };
        for (k, v) in query_pairs(raw, &["window", "end"])? {
            match k.as_str() {
                "window" => {
                    let d = parse_duration(&v)?;
                    if d.is_zero() {
                        return Err(format!("`window` must be longer than zero, got `{v}`"));
                    }
                    w.window = d.min(longest);
                }
                _ => {
                    let us = v.parse::<u64>().map_err(|_| {
                        format!("`end` must be microseconds since the Unix epoch, got `{v}`")
                    })?;
                    w.end_ns = us.saturating_mul(1000);
                }
            }
        }
        Ok(w)
    }
}

/// Parses a duration with a unit: `250us`, `1.5ms`, `2s`, `1m`, `100ns` (`µs` also accepted).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration `{s}` needs a unit (ns, us, ms, s, m or h)"))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration `{s}`"))?;
    let nanos_per = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return Err(format!("unknown duration unit `{unit}` in `{s}`")),
    };
    Ok(Duration::from_nanos((n * nanos_per) as u64))
}

pub(super) fn parse_query(raw: &str) -> Result<TraceQuery, String> {
    let mut q = TraceQuery::new();
    for pair in decoded_pairs(raw) {
        let (k, v) = pair?;
        let int = |what: &str| non_negative::<u64>(what, &v);
        match k.as_str() {
            "service" if !v.is_empty() => q.service = Some(v),
            "operation" if !v.is_empty() => q.operation = Some(v),
            "minDuration" if !v.is_empty() => {
                q.min_duration_nanos = Some(parse_duration(&v)?.as_nanos() as u64)
            }
            "maxDuration" if !v.is_empty() => {
                q.max_duration_nanos = Some(parse_duration(&v)?.as_nanos() as u64)
            }
            "error" => {
                q.error_only = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(format!("`error` must be true or false, got `{v}`")),
                }
            }
            "tags" | "tag" => {
                let (tk, tv) = v
                    .split_once('=')
                    .ok_or_else(|| format!("tag `{v}` must be key=value"))?;
                let pair = (tk.to_owned(), tv.to_owned());
                // The same condition twice is one condition.
                if !q.tags.contains(&pair) {
                    if q.tags.len() == TraceQuery::MAX_TAGS {
                        return Err(too_many_tags());
                    }
                    q.tags.push(pair);
                }
            }
            "start" if !v.is_empty() => {
                q.start_unix_nano = Some(int("start")?.saturating_mul(1000))
            }
            "end" if !v.is_empty() => q.end_unix_nano = Some(int("end")?.saturating_mul(1000)),
            "limit" if !v.is_empty() => {
                let n = int("limit")? as usize;
                if n == 0 || n > TraceQuery::MAX_LIMIT {
                    return Err(format!(
                        "`limit` must be between 1 and {}, got {n}",
                        TraceQuery::MAX_LIMIT
                    ));
                }
                q.limit = n;
            }
            "service" | "operation" | "minDuration" | "maxDuration" | "start" | "end" | "limit" => {
            }
            other => return Err(format!("unknown query parameter `{other}`")),
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_components_decode_strictly() {
        for (raw, decoded) in [
            ("a+b", "a b"),
            ("a%2Bb", "a+b"),
            ("%E2%82%AC", "\u{20ac}"),
            ("http.route=%2Fusers%2F%7Bid%7D", "http.route=/users/{id}"),
            ("", ""),
        ] {
            assert_eq!(form_decode(raw).as_deref(), Ok(decoded), "{raw}");
        }
        for raw in ["%", "a%4", "%zz", "%%41", "a%4g"] {
            assert_eq!(
                form_decode(raw),
                Err(format!("invalid percent-encoding in `{raw}`")),
                "{raw}"
            );
        }
        assert_eq!(form_decode("%FF"), Err("`%FF` is not UTF-8".to_owned()));
    }

    #[test]
    fn windows() {
        let longest = Duration::from_secs(900);
        assert_eq!(
            Window::parse("", longest, 7),
            Ok(Window {
                window: longest,
                end_ns: 7
            })
        );
        assert_eq!(
            Window::parse("window=5m&end=1718000000000000", longest, 7),
            Ok(Window {
                window: Duration::from_secs(300),
                end_ns: 1_718_000_000_000_000_000
            })
        );
        assert_eq!(
            Window::parse("window=2h", longest, 7).unwrap().window,
            longest
        );
        for (query, error) in [
            ("window=0s", "`window` must be longer than zero, got `0s`"),
            (
                "window=60",
                "duration `60` needs a unit (ns, us, ms, s, m or h)",
            ),
            (
                "end=soon",
                "`end` must be microseconds since the Unix epoch, got `soon`",
            ),
            ("window_s=60", "unknown query parameter `window_s`"),
        ] {
            assert_eq!(
                Window::parse(query, longest, 7),
                Err(error.to_owned()),
                "{query}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("1.5ms").unwrap(),
            Duration::from_micros(1500)
        );
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("100").unwrap_err().contains("needs a unit"));
        assert!(
            parse_duration("1d")
                .unwrap_err()
                .contains("unknown duration unit")
        );
    }

    #[test]
    fn query_parameters() {
        let q = parse_query(
            "service=check+out&operation=GET%20%2Forders&minDuration=1ms&maxDuration=2s&error=true\
             &tags=http.route%3D%2Forders&tags=k=v%3Dw&start=10&end=20&limit=5",
        )
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("check out"));
        assert_eq!(q.operation.as_deref(), Some("GET /orders"));
        assert_eq!(q.min_duration_nanos, Some(1_000_000));
        assert_eq!(q.max_duration_nanos, Some(2_000_000_000));
        assert!(q.error_only);
        assert_eq!(
            q.tags,
            vec![
                ("http.route".to_owned(), "/orders".to_owned()),
                ("k".to_owned(), "v=w".to_owned())
            ]
        );
        assert_eq!(
            (q.start_unix_nano, q.end_unix_nano),
            (Some(10_000), Some(20_000))
        );
        assert_eq!(q.limit, 5);
        for (query, error) in [
            ("limit=0", "`limit` must be between 1 and 1000, got 0"),
            ("colour=red", "unknown query parameter `colour`"),
            ("tags=novalue", "tag `novalue` must be key=value"),
        ] {
            assert_eq!(parse_query(query).unwrap_err(), error, "{query}");
        }
    }

    #[test]
    fn tags_are_deduplicated_and_capped() {
        let same = vec!["tags=k%3Dv"; 5000].join("&");
        assert_eq!(
            parse_query(&same).unwrap().tags,
            vec![("k".to_owned(), "v".to_owned())]
        );
        let sixteen: Vec<String> = (0..16).map(|i| format!("tags=k{i}=v")).collect();
        assert_eq!(parse_query(&sixteen.join("&")).unwrap().tags.len(), 16);
        let seventeen: Vec<String> = (0..17).map(|i| format!("tags=k{i}=v")).collect();
        assert_eq!(
            parse_query(&seventeen.join("&")).unwrap_err(),
            "at most 16 distinct `tags` per search; narrow the search"
        );
    }

    #[test]
    fn pages() {
        assert_eq!(
            parse_page("").unwrap(),
            Page {
                offset: 0,
                limit: 1000
            }
        );
        assert_eq!(
            parse_page("offset=2000&limit=10000").unwrap(),
            Page {
                offset: 2000,
                limit: 10_000
            }
        );
        for (query, error) in [
            (
                "limit=10001",
                "`limit` must be between 1 and 10000, got 10001",
            ),
            (
                "offset=-1",
                "`offset` must be a non-negative integer, got `-1`",
            ),
            ("spans=all", "unknown query parameter `spans`"),
        ] {
            assert_eq!(parse_page(query).unwrap_err(), error, "{query}");
        }
    }
}
