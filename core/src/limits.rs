//! Limits on what a span keeps: [`SpanLimits`] (the OpenTelemetry span and attribute limits,
//! from code or the `OTEL_*` environment), and [`untrusted`], the cap for values copied from
//! request data.
//!
//! # Span limits
//!
//! | limit | variable (falls back to) | default |
//! |---|---|---|
//! | attributes per span | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (`OTEL_ATTRIBUTE_COUNT_LIMIT`) | 128 |
//! | characters per attribute value | `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`) | none |
//! | events per span | `OTEL_SPAN_EVENT_COUNT_LIMIT` | 128 |
//! | links per span | `OTEL_SPAN_LINK_COUNT_LIMIT` | 128 |
//! | attributes per event | `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT` (`OTEL_ATTRIBUTE_COUNT_LIMIT`) | 128 |
//! | attributes per link | `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` (`OTEL_ATTRIBUTE_COUNT_LIMIT`) | 128 |
//!
//! As the OpenTelemetry SDK specification asks: attributes, events and links over a count limit
//! are dropped and counted (`dropped_attributes`, `dropped_events`, `dropped_links` on
//! [`SpanData`](crate::SpanData), `dropped_attributes` on [`Event`](crate::Event) and
//! [`Link`](crate::Link)); a string value (or each string of a string array) longer than the
//! length limit is cut to that many characters, at a character boundary; other values are never
//! cut. The length limit applies to span, event and link attributes. A variable that is not a
//! non-negative integer is ignored (the default applies), as the specification says.
//!
//! # Values from requests
//!
//! Whatever a request carries (user agent, path, query, header values) is chosen by the caller,
//! so the HTTP and gRPC layers pass it through [`untrusted`] before recording it: at most
//! [`UNTRUSTED_MAX_BYTES`] bytes are kept, whatever the span limits say.
//!
//! ```
//! use tracewire::limits::{self, SpanLimits};
//!
//! let ua = "curl/8.5.0".repeat(1000);
//! assert_eq!(limits::untrusted(&ua).len(), limits::UNTRUSTED_MAX_BYTES);
//!
//! let mut l = SpanLimits::default();
//! l.attribute_value_length = Some(64);
//! let layer = tracewire::TracewireLayer::builder().limits(l);
//! # let _ = layer;
//! ```

use crate::value::{Array, Text, Value};

/// The most bytes [`untrusted`] keeps of a value copied from request data: 1024, cut back to a
/// character boundary. Long enough for real user agents, routes and header values; short
/// enough that a hostile request cannot make spans large.
pub const UNTRUSTED_MAX_BYTES: usize = 1024;

/// `s` cut to at most [`UNTRUSTED_MAX_BYTES`] bytes at a character boundary: the cap for values
/// a request chooses (user agent, path, query, header values) before they become attributes.
/// Borrows; never allocates.
pub fn untrusted(s: &str) -> &str {
    truncate_bytes(s, UNTRUSTED_MAX_BYTES)
}

/// `s` cut to at most `max` bytes at a character boundary. Borrows; never allocates.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` characters (`None` when it is not longer).
fn truncate_chars(s: &str, max: usize) -> Option<&str> {
    // A string of at most `max` bytes has at most `max` characters: no need to count.
    if s.len() <= max {
        return None;
    }
    s.char_indices().nth(max).map(|(end, _)| &s[..end])
}

/// The OpenTelemetry span limits. Build from [`Default`] or [`SpanLimits::from_env`], change
/// fields as needed, and hand to [`LayerBuilder::limits`](crate::LayerBuilder::limits) or
/// [`Builder::limits`](crate::Builder::limits). See the [module docs](self) for the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanLimits {
    /// The most attributes a span keeps.
    pub attribute_count: usize,
    /// The most characters a string attribute value keeps (`None`: no limit).
    pub attribute_value_length: Option<usize>,
    /// The most events a span keeps.
    pub event_count: usize,
    /// The most links a span keeps.
    pub link_count: usize,
    /// The most attributes an event keeps.
    pub attribute_per_event: usize,
    /// The most attributes a link keeps.
    pub attribute_per_link: usize,
}

impl Default for SpanLimits {
    /// The specification's defaults: 128 of each, no value length limit.
    fn default() -> Self {
        SpanLimits {
            attribute_count: 128,
            attribute_value_length: None,
            event_count: 128,
            link_count: 128,
            attribute_per_event: 128,
            attribute_per_link: 128,
        }
    }
}

impl SpanLimits {
    /// The defaults, overridden by the `OTEL_*` limit variables that are set.
    pub fn from_env() -> Self {
        SpanLimits::from_lookup(|var| std::env::var(var).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let num = |var: &str| get(var).and_then(|v| v.trim().parse::<usize>().ok());
        // An attribute count: its own variable, else the general `OTEL_ATTRIBUTE_COUNT_LIMIT`.
        let attributes = |var: &str| num(var).or_else(|| num("OTEL_ATTRIBUTE_COUNT_LIMIT"));
        let d = SpanLimits::default();
        SpanLimits {
            attribute_count: attributes("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")
                .unwrap_or(d.attribute_count),
            attribute_value_length: num("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
                .or_else(|| num("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"))
                .or(d.attribute_value_length),
            event_count: num("OTEL_SPAN_EVENT_COUNT_LIMIT").unwrap_or(d.event_count),
            link_count: num("OTEL_SPAN_LINK_COUNT_LIMIT").unwrap_or(d.link_count),
            attribute_per_event: attributes("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT")
                .unwrap_or(d.attribute_per_event),
            attribute_per_link: attributes("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")
                .unwrap_or(d.attribute_per_link),
        }
    }

    /// `s` cut to the value length limit, if it is longer.
    pub(crate) fn cut_str<'a>(&self, s: &'a str) -> &'a str {
        match self.attribute_value_length {
            Some(max) => truncate_chars(s, max).unwrap_or(s),
            None => s,
        }
    }

    /// `value` with its strings cut to the value length limit.
    #[inline]
    pub(crate) fn cut_value(&self, value: Value) -> Value {
        match self.attribute_value_length {
            None => value,
            Some(max) => cut_value_to(value, max),
        }
    }
}

/// `value` with its strings cut to `max` characters.
fn cut_value_to(value: Value, max: usize) -> Value {
    match value {
        Value::String(s) => match truncate_chars(&s, max) {
            Some(cut) => Value::String(Text::new(cut)),
            None => Value::String(s),
        },
        Value::Array(Array::String(items)) => Value::Array(Array::String(
            items
                .into_iter()
                .map(|s| match truncate_chars(&s, max) {
                    Some(cut) => Text::new(cut),
                    None => s,
                })
                .collect(),
        )),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> SpanLimits {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SpanLimits::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn environment_precedence() {
        assert_eq!(from(&[]), SpanLimits::default());
        let general = from(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
        ]);
        // The general variables set the span's and its events' and links' limits alike.
        let expected = SpanLimits {
            attribute_count: 10,
            attribute_value_length: Some(20),
            attribute_per_event: 10,
            attribute_per_link: 10,
            ..SpanLimits::default()
        };
        assert_eq!(general, expected);
        let specific = from(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "1"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "2"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "4"),
            ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", " 0 "),
        ]);
        let expected = SpanLimits {
            attribute_count: 1,
            attribute_value_length: Some(2),
            event_count: 3,
            link_count: 4,
            attribute_per_event: 5,
            attribute_per_link: 0,
        };
        assert_eq!(specific, expected);
        // Not a non-negative integer: ignored, the next source applies.
        let bad = from(&[
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1"),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "many"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1e3"),
        ]);
        assert_eq!(bad.attribute_count, 7);
        assert_eq!(bad.event_count, 128);
        assert_eq!(bad.attribute_value_length, None);
    }

    #[test]
    fn strings_are_cut_at_character_boundaries() {
        let mut l = SpanLimits {
            attribute_value_length: Some(3),
            ..SpanLimits::default()
        };
        assert_eq!(l.cut_str("abcdef"), "abc");
        assert_eq!(l.cut_str("ab"), "ab");
        // Characters, not bytes: "é" is two bytes, "日" three.
        assert_eq!(l.cut_str("éé日日"), "éé日");
        assert_eq!(l.cut_value(Value::from("abcdef")), Value::from("abc"));
        assert_eq!(
            l.cut_value(Value::from(vec!["abcdef", "x"])),
            Value::from(vec!["abc", "x"])
        );
        assert_eq!(l.cut_value(Value::from(123456i64)), Value::from(123456i64));
        l.attribute_value_length = Some(0);
        assert_eq!(l.cut_str("abc"), "");
        l.attribute_value_length = None;
        assert_eq!(l.cut_str(&"x".repeat(10_000)).len(), 10_000);
    }

    #[test]
    fn untrusted_values_are_capped_in_bytes_at_a_character_boundary() {
        assert_eq!(untrusted("Mozilla/5.0"), "Mozilla/5.0");
        let long = "a".repeat(5000);
        assert_eq!(untrusted(&long).len(), UNTRUSTED_MAX_BYTES);
        // 1023 ASCII bytes then a 3-byte character straddling the cap: it goes entirely.
        let straddle = format!("{}日", "a".repeat(1023));
        assert_eq!(untrusted(&straddle), &straddle[..1023]);
        assert_eq!(truncate_bytes("日本", 4), "日");
        assert_eq!(truncate_bytes("日本", 0), "");
    }
}
