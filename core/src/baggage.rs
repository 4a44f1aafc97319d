//! [`Baggage`]: W3C Baggage, the application key/value pairs that travel with a trace.

use std::fmt;
use std::sync::Arc;

use crate::error::BaggageError;
use crate::propagation::trim_ows;

/// One baggage member: a key, a decoded value, and the raw `;`-properties, kept as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaggageEntry {
    key: Box<str>,
    value: Box<str>,
    properties: Option<Box<str>>,
}

impl BaggageEntry {
    /// The key (a W3C token).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The percent-decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties after the value (`;k=v;flag`), as received, if any.
    pub fn properties(&self) -> Option<&str> {
        self.properties.as_deref()
    }

    /// The length of `key=value;properties` as [`Baggage::header`] writes it.
    fn encoded_len(&self) -> usize {
        self.key.len()
            + 1
            + percent_encoding::utf8_percent_encode(&self.value, BAGGAGE_VALUE_ENCODE)
                .map(str::len)
                .sum::<usize>()
            + self.properties.as_ref().map_or(0, |p| p.len() + 1)
    }
}

impl fmt::Debug for BaggageEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.key, self.value)?;
        if let Some(p) = &self.properties {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

/// W3C Baggage: application key/value pairs that travel with the trace.
///
/// Bounded to [`Baggage::MAX_MEMBERS`] members and [`Baggage::MAX_BYTES`] bytes on the wire.
/// Cloning is cheap (a reference count); empty baggage holds no allocation.
///
/// ```
/// use tracewire::Baggage;
///
/// let bag = Baggage::new().with("tenant", "acme corp").unwrap();
/// assert_eq!(bag.get("tenant"), Some("acme corp"));
/// assert_eq!(bag.header(), "tenant=acme%20corp");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Baggage(Option<Arc<[BaggageEntry]>>);

impl Baggage {
    /// The most members propagated (the W3C minimum an implementation must carry).
    pub const MAX_MEMBERS: usize = 64;
    /// The most bytes propagated (the W3C minimum an implementation must carry).
    pub const MAX_BYTES: usize = 8192;

    /// Empty baggage.
    pub const fn new() -> Self {
        Baggage(None)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |e| e.len())
    }

    /// The decoded value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(BaggageEntry::value)
    }

    /// The whole entry for `key`.
    pub fn entry(&self, key: &str) -> Option<&BaggageEntry> {
        self.iter().find(|e| &*e.key == key)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.0.iter().flat_map(|e| e.iter())
    }

    /// New baggage with `key=value` set (replacing any entry with that key).
    pub fn with(&self, key: &str, value: &str) -> Result<Baggage, BaggageError> {
        self.with_properties(key, value, None)
    }

    /// New baggage with `key=value;properties` set. `properties` is written as given.
    pub fn with_properties(
        &self,
        key: &str,
        value: &str,
        properties: Option<&str>,
    ) -> Result<Baggage, BaggageError> {
        if key.is_empty() || !key.bytes().all(is_tchar) {
            return Err(BaggageError::InvalidKey);
        }
        let entry = BaggageEntry {
            key: key.into(),
            value: value.into(),
            properties: properties.filter(|p| !p.is_empty()).map(Into::into),
        };
        let mut entries: Vec<BaggageEntry> =
            self.iter().filter(|e| &*e.key != key).cloned().collect();
        entries.push(entry);
        if entries.len() > Self::MAX_MEMBERS {
            return Err(BaggageError::TooManyMembers);
        }
        let b = Baggage(Some(entries.into()));
        if b.encoded_len() > Self::MAX_BYTES {
            return Err(BaggageError::TooLong);
        }
        Ok(b)
    }

    /// New baggage without `key`.
    #[must_use]
    pub fn without(&self, key: &str) -> Baggage {
        let entries: Vec<BaggageEntry> = self.iter().filter(|e| &*e.key != key).cloned().collect();
        if entries.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(entries.into()))
        }
    }

    /// The `baggage` header value, values percent-encoded (a literal `%` is sent as `%25`).
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.key);
            out.push('=');
            out.extend(percent_encoding::utf8_percent_encode(
                &e.value,
                BAGGAGE_VALUE_ENCODE,
            ));
            if let Some(p) = &e.properties {
                out.push(';');
                out.push_str(p);
            }
        }
        out
    }

    fn encoded_len(&self) -> usize {
        let entries = self.len();
        self.iter().map(BaggageEntry::encoded_len).sum::<usize>() + entries.saturating_sub(1)
    }

    /// Parses one or more `baggage` header values.
    ///
    /// Invalid members are skipped but still count against the member and byte limits, so a
    /// degenerate header stops the parser early instead of being scanned to the end. Returns the
    /// baggage and how many members were dropped (invalid or over a limit).
    pub fn parse_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> (Baggage, usize) {
        let mut entries: Vec<BaggageEntry> = Vec::new();
        let mut seen = 0usize;
        let mut bytes = 0usize;
        let mut dropped = 0usize;
        // Sum of the kept entries' encoded lengths, separators not included.
        let mut encoded = 0usize;
        'outer: for value in values {
            for raw in value.split(|&b| b == b',') {
                let member = trim_ows(raw);
                if member.is_empty() {
                    continue;
                }
                seen += 1;
                bytes += member.len() + usize::from(seen > 1);
                if seen > Self::MAX_MEMBERS || bytes > Self::MAX_BYTES {
                    dropped += 1;
                    // Stop scanning: everything after the limit is dropped, counted as one more.
                    break 'outer;
                }
                match parse_member(member) {
                    Some(entry) => {
                        // The limit is on what `header()` writes, and re-encoding can grow a
                        // value (a literal '%' becomes "%25"), so check the encoded length too.
                        let old = entries.iter().position(|e| e.key == entry.key);
                        let old_len = old.map_or(0, |pos| entries[pos].encoded_len());
                        let kept = entries.len() - usize::from(old.is_some());
                        let len = entry.encoded_len();
                        if encoded - old_len + len + kept > Self::MAX_BYTES {
                            dropped += 1;
                            break 'outer;
                        }
                        if let Some(pos) = old {
                            entries.remove(pos);
                            dropped += 1;
                        }
                        encoded = encoded - old_len + len;
                        entries.push(entry);
                    }
                    None => dropped += 1,
                }
            }
        }
        let bag = if entries.is_empty() {
            Baggage(None)
        } else {
            Baggage(Some(entries.into()))
        };
        (bag, dropped)
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `tchar` from RFC 9110: the characters a baggage key may use.
fn is_tchar(c: u8) -> bool {
    matches!(c,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Everything outside `baggage-octet`, plus `%` itself, is percent-encoded on the way out.
const BAGGAGE_VALUE_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

fn parse_member(member: &[u8]) -> Option<BaggageEntry> {
    let (kv, props) = match member.iter().position(|&b| b == b';') {
        Some(p) => (&member[..p], Some(&member[p + 1..])),
        None => (member, None),
    };
    let eq = kv.iter().position(|&b| b == b'=')?;
    let key = trim_ows(&kv[..eq]);
    let value = trim_ows(&kv[eq + 1..]);
    if key.is_empty() || !key.iter().all(|&c| is_tchar(c)) {
        return None;
    }
    if !value.iter().all(|&c| is_baggage_octet(c)) {
        return None;
    }
    let decoded = percent_encoding::percent_decode(value).decode_utf8().ok()?;
    let properties = match props {
        Some(p) => {
            let p = trim_ows(p);
            if !valid_properties(p) {
                return None;
            }
            // `valid_properties` admits only ASCII.
            Some(std::str::from_utf8(p).ok()?.into())
        }
        None => None,
    };
    Some(BaggageEntry {
        key: std::str::from_utf8(key).ok()?.into(),
        value: decoded.into(),
        properties,
    })
}

/// `property = key OWS "=" OWS value / key OWS`, separated by `OWS ";" OWS`.
fn valid_properties(p: &[u8]) -> bool {
    p.split(|&b| b == b';').all(|prop| {
        let prop = trim_ows(prop);
        match prop.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let k = trim_ows(&prop[..eq]);
                let v = trim_ows(&prop[eq + 1..]);
                !k.is_empty()
                    && k.iter().all(|&c| is_tchar(c))
                    && v.iter().all(|&c| is_baggage_octet(c))
            }
            None => !prop.is_empty() && prop.iter().all(|&c| is_tchar(c)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_round_trip_with_encoding_and_properties() {
        let (bag, dropped) =
            Baggage::parse_values([&b"userId=alice%20smith , pct=100%25;p1;p2=x,bad key=1"[..]]);
        assert_eq!(dropped, 1);
        assert_eq!(bag.get("userId"), Some("alice smith"));
        assert_eq!(bag.get("pct"), Some("100%"));
        assert_eq!(bag.entry("pct").unwrap().properties(), Some("p1;p2=x"));
        assert_eq!(bag.header(), "userId=alice%20smith,pct=100%25;p1;p2=x");
    }

    #[test]
    fn baggage_limits_stop_parsing_early() {
        let header: String = (0..100).map(|i| format!("k{i}=v,")).collect();
        let (bag, dropped) = Baggage::parse_values([header.as_bytes()]);
        assert_eq!(bag.len(), 64);
        assert_eq!(dropped, 1);
        // Invalid entries count against the member limit.
        let junk: String = (0..100).map(|_| "=,").collect::<String>() + "late=1";
        let (bag, _) = Baggage::parse_values([junk.as_bytes()]);
        assert!(bag.get("late").is_none());
    }

    #[test]
    fn baggage_byte_limit_counts_re_encoding() {
        // 4002 bytes in, but each literal '%' is sent on as "%25": 12002 bytes out.
        let header = format!("a={}", "%".repeat(4000));
        let (bag, dropped) = Baggage::parse_values([header.as_bytes(), b"b=1"]);
        assert!(bag.is_empty());
        assert_eq!(dropped, 1);
        // A replaced duplicate frees its bytes.
        let big = format!("k={}", "%".repeat(2000));
        let (bag, dropped) = Baggage::parse_values([big.as_bytes(), big.as_bytes(), b"k=1"]);
        assert_eq!(bag.header(), "k=1");
        assert_eq!(dropped, 2);
    }

    #[test]
    fn baggage_with_rejects_bad_keys_and_limits() {
        assert_eq!(
            Baggage::new().with("bad key", "v"),
            Err(BaggageError::InvalidKey)
        );
        let mut bag = Baggage::new();
        for i in 0..64 {
            bag = bag.with(&format!("k{i}"), "v").unwrap();
        }
        assert_eq!(bag.with("one-more", "v"), Err(BaggageError::TooManyMembers));
        assert_eq!(
            Baggage::new().with("k", &"x".repeat(9000)),
            Err(BaggageError::TooLong)
        );
    }
}
